/**
 * config.pbtxt -> PartialModelConfig: the generic text-format tree checked
 * against the ModelConfig schema. Errors point at the offending token
 * (`file:line:col: detail`). Proto3 has no presence for scalars, but the tree
 * does: a field is in the result only when the file wrote it, which lets
 * auto-complete tell "max_batch_size unset" from "max_batch_size: 0".
 */

import { ConfigParseError } from './errors.js';
import type { PartialModelConfig } from './model-config.js';
import {
  enumByNumber, intValue, isIntType, MODEL_CONFIG_SCHEMA,
  type FieldType, type MessageSchema, type ScalarType,
} from './schema.js';
import { parsePbtxt, type PbMessage, type PbScalar, type PbValue } from './pbtxt.js';

export { fromJsonConfig } from './from-json.js';

/** Parses config.pbtxt text; `file` names it in error messages. */
export function fromPbtxt(text: string, file = 'config.pbtxt'): PartialModelConfig {
  const root = parsePbtxt(text, file);
  return readMessage(root, MODEL_CONFIG_SCHEMA, file) as PartialModelConfig;
}

interface At { line: number; col: number }

function fail(file: string, at: At, detail: string): never {
  throw ConfigParseError.at(file, at.line, at.col, detail);
}

function readMessage(msg: PbMessage, schema: MessageSchema, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Map<string, At>();
  for (const f of msg.fields) {
    const fs = schema.fields[f.name];
    if (!fs) fail(file, f, `unknown field '${f.name}' in ${schema.name}`);
    const { type } = fs;
    if (type.kind === 'ignored') continue;

    if (type.kind === 'map') {
      const target = (out[f.name] ??= {}) as Record<string, unknown>;
      for (const entry of itemsOf(f.value)) {
        const [k, v] = readMapEntry(entry, f.name, type.key, type.value, file);
        target[k] = v; // a repeated key: the last one wins, as in protobuf
      }
    } else if (fs.repeated) {
      const target = (out[f.name] ??= []) as unknown[];
      for (const item of itemsOf(f.value)) target.push(readValue(item, f.name, type, file));
    } else {
      if (f.value.kind === 'list') fail(file, f, `field '${f.name}' is not repeated and cannot take a list`);
      if (seen.has(f.name)) fail(file, f, `non-repeated field '${f.name}' is specified multiple times`);
      out[f.name] = readValue(f.value, f.name, type, file);
    }
    if (!seen.has(f.name)) seen.set(f.name, f);
  }
  for (const group of schema.oneofs ?? []) {
    const set = group.filter((n) => seen.has(n));
    if (set.length > 1) {
      fail(file, seen.get(set[1]!)!, `field '${set[1]}' is specified along with field '${set[0]}', another member of the same oneof`);
    }
  }
  return out;
}

function itemsOf(v: PbValue): (PbScalar | PbMessage)[] {
  return v.kind === 'list' ? v.items : [v];
}

function readMapEntry(
  v: PbScalar | PbMessage, field: string, keyType: 'string' | 'uint64', valueType: FieldType, file: string,
): [string, unknown] {
  if (v.kind !== 'message') fail(file, v, `expected a { key: ... value: ... } entry for map field '${field}'`);
  let key: PbScalar | undefined;
  let value: PbScalar | PbMessage | undefined;
  for (const f of v.fields) {
    if (f.name !== 'key' && f.name !== 'value') fail(file, f, `unknown field '${f.name}' in an entry of map field '${field}'`);
    if (f.value.kind === 'list') fail(file, f, `field '${f.name}' of a map entry cannot take a list`);
    if ((f.name === 'key' ? key : value) !== undefined) {
      fail(file, f, `non-repeated field '${f.name}' is specified multiple times`);
    }
    if (f.name === 'key') {
      if (f.value.kind === 'message') fail(file, f.value, `expected a scalar key for map field '${field}'`);
      key = f.value;
    } else {
      value = f.value;
    }
  }
  // A missing key or value means the default, as protobuf does.
  let k = '';
  if (keyType === 'uint64') {
    k = key === undefined ? '0' : String(readScalar(key, `${field}.key`, 'uint64', file));
  } else if (key !== undefined) {
    k = readScalar(key, `${field}.key`, 'string', file) as string;
  }
  let out: unknown;
  if (value !== undefined) {
    out = readValue(value, `${field}.value`, valueType, file);
  } else if (valueType.kind === 'message') {
    out = {};
  } else {
    out = '';
  }
  return [k, out];
}

function readValue(v: PbScalar | PbMessage, field: string, type: FieldType, file: string): unknown {
  if (type.kind === 'message') {
    if (v.kind !== 'message') fail(file, v, `expected a message for field '${field}', found a value`);
    return readMessage(v, type.message, file);
  }
  if (v.kind === 'message') fail(file, v, `expected a value for field '${field}', found a message`);
  if (type.kind === 'enum') {
    if (v.kind === 'ident') {
      if (type.values.includes(v.value)) return v.value;
    } else if (v.kind === 'int') {
      const name = enumByNumber(type.values, v.value);
      if (name !== undefined) return name;
    }
    return fail(file, v, `invalid value ${show(v)} for enum field '${field}' (${type.name})`);
  }
  if (type.kind === 'scalar') return readScalar(v, field, type.type, file);
  return fail(file, v, `unexpected value for field '${field}'`);
}

function readScalar(v: PbScalar, field: string, type: ScalarType, file: string): string | number | boolean {
  if (type === 'string') {
    if (v.kind === 'string') return v.value;
    return fail(file, v, `expected a string for field '${field}', found ${show(v)}`);
  }
  if (type === 'bool') {
    if (v.kind === 'ident' && /^(true|True|t)$/.test(v.value)) return true;
    if (v.kind === 'ident' && /^(false|False|f)$/.test(v.value)) return false;
    if (v.kind === 'int' && (v.value === 0n || v.value === 1n)) return v.value === 1n;
    return fail(file, v, `expected true or false for field '${field}', found ${show(v)}`);
  }
  if (isIntType(type)) {
    if (v.kind !== 'int') return fail(file, v, `expected an integer for field '${field}', found ${show(v)}`);
    const n = intValue(type, v.value);
    if (typeof n === 'string') return fail(file, v, `${n} for field '${field}'`);
    return n;
  }
  // float
  if (v.kind === 'int') return Number(v.value);
  if (v.kind === 'float') return v.value;
  if (v.kind === 'ident' && /^(inf|infinity)$/i.test(v.value)) return Infinity;
  if (v.kind === 'ident' && /^nan$/i.test(v.value)) return NaN;
  return fail(file, v, `expected a number for field '${field}', found ${show(v)}`);
}

function show(v: PbScalar): string {
  return v.kind === 'string' ? JSON.stringify(v.value) : `'${String(v.value)}'`;
}
