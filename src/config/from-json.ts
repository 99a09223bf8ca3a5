/**
 * The load API's `config` parameter (a ModelConfig in proto JSON) ->
 * PartialModelConfig, against the same schema as config.pbtxt. Accepts what
 * protobuf's JSON parser accepts: proto or lowerCamelCase field names, 64-bit
 * integers as numbers or decimal strings, enums by name or number, `null` as
 * "unset". Errors name the field by its path, e.g. `input[0].data_type`.
 */

import { ConfigParseError } from './errors.js';
import type { PartialModelConfig } from './model-config.js';
import {
  enumByNumber, intValue, isIntType, MODEL_CONFIG_SCHEMA,
  type FieldType, type MessageSchema, type ScalarType,
} from './schema.js';

const PREFIX = 'invalid model config JSON';

export function fromJsonConfig(text: string): PartialModelConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigParseError(`${PREFIX}: ${(err as Error).message}`);
  }
  return readMessage(doc, MODEL_CONFIG_SCHEMA, '') as PartialModelConfig;
}

function fail(path: string, detail: string): never {
  throw new ConfigParseError(path === '' ? `${PREFIX}: ${detail}` : `${PREFIX}: field '${path}': ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** JSON name -> proto name, built once per message schema. */
const nameTables = new WeakMap<MessageSchema, Map<string, string>>();
function protoName(schema: MessageSchema, key: string): string | undefined {
  let table = nameTables.get(schema);
  if (!table) {
    table = new Map();
    for (const n of Object.keys(schema.fields)) {
      table.set(n, n);
      table.set(camel(n), n);
    }
    nameTables.set(schema, table);
  }
  return table.get(key);
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function readMessage(v: unknown, schema: MessageSchema, path: string): Record<string, unknown> {
  if (!isObject(v)) fail(path, `expected an object for ${schema.name}`);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(v)) {
    const name = protoName(schema, key);
    const at = join(path, key);
    if (name === undefined) fail(at, `unknown field '${key}' in ${schema.name}`);
    if (name in out) fail(at, `field '${name}' is given twice (as '${name}' and '${camel(name)}')`);
    const fs = schema.fields[name]!;
    if (raw === null || fs.type.kind === 'ignored') continue;
    const { type } = fs;
    if (type.kind === 'map') {
      if (!isObject(raw)) fail(at, 'expected an object for a map field');
      const m: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(raw)) {
        if (type.key === 'uint64') {
          const n = /^(0|[1-9][0-9]*)$/.test(k) ? intValue('uint64', BigInt(k)) : 'expected a non-negative integer';
          if (typeof n === 'string') fail(`${at}[${JSON.stringify(k)}]`, `invalid map key: ${n}`);
        }
        m[k] = readValue(val, `${at}[${JSON.stringify(k)}]`, type.value);
      }
      out[name] = m;
    } else if (fs.repeated) {
      if (!Array.isArray(raw)) fail(at, 'expected an array for a repeated field');
      out[name] = raw.map((item, i) => readValue(item, `${at}[${i}]`, type));
    } else {
      out[name] = readValue(raw, at, type);
    }
  }
  for (const group of schema.oneofs ?? []) {
    const set = group.filter((n) => n in out);
    if (set.length > 1) fail(join(path, set[1]!), `cannot be set along with '${set[0]}' (same oneof)`);
  }
  return out;
}

function readValue(v: unknown, path: string, type: FieldType): unknown {
  switch (type.kind) {
    case 'message':
      return readMessage(v, type.message, path);
    case 'enum': {
      if (typeof v === 'string' && type.values.includes(v)) return v;
      if (typeof v === 'number' && Number.isInteger(v)) {
        const name = enumByNumber(type.values, BigInt(v));
        if (name !== undefined) return name;
      }
      return fail(path, `invalid value ${JSON.stringify(v)} for enum ${type.name}`);
    }
    case 'scalar':
      return readScalar(v, path, type.type);
    default:
      return fail(path, 'unexpected value');
  }
}

function readScalar(v: unknown, path: string, type: ScalarType): string | number | boolean {
  if (type === 'string') {
    if (typeof v === 'string') return v;
    return fail(path, `expected a string, found ${JSON.stringify(v)}`);
  }
  if (type === 'bool') {
    if (typeof v === 'boolean') return v;
    return fail(path, `expected true or false, found ${JSON.stringify(v)}`);
  }
  if (isIntType(type)) {
    let big: bigint | undefined;
    if (typeof v === 'number' && Number.isInteger(v)) big = BigInt(v);
    else if (typeof v === 'string' && /^-?(0|[1-9][0-9]*)$/.test(v)) big = BigInt(v);
    if (big === undefined) return fail(path, `expected an integer, found ${JSON.stringify(v)}`);
    const n = intValue(type, big);
    if (typeof n === 'string') return fail(path, n);
    return n;
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    if (v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  }
  return fail(path, `expected a number, found ${JSON.stringify(v)}`);
}
