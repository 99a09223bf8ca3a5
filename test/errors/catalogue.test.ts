/**
 * The error catalogue is complete: every code has an HTTP and a gRPC status, and
 * every error class (errors.ts and config/errors.ts) is documented in
 * src/errors/README.md with its code, and the code with its two statuses. A class
 * added without a row, or a status changed without the table, fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as configErrors from '../../src/config/errors.js';
import * as errors from '../../src/errors/errors.js';
import { ERROR_CODES, OspreyError } from '../../src/errors/errors.js';
import { GRPC_STATUS, HTTP_STATUS } from '../../src/errors/status.js';

const README = readFileSync(fileURLToPath(new URL('../../../src/errors/README.md', import.meta.url)), 'utf8');
const GRPC_NAMES: Record<number, string> = {
  1: 'CANCELLED', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE',
};

/** Every OspreyError subclass the modules export, with an instance made from sample arguments. */
function classes(): Array<[string, OspreyError]> {
  const out: Array<[string, OspreyError]> = [];
  for (const mod of [errors, configErrors] as Array<Record<string, unknown>>) {
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || value === OspreyError || !(value.prototype instanceof OspreyError)) continue;
      const Ctor = value as new (...args: unknown[]) => OspreyError;
      // Classes with a default message are made with it; the others with a sample argument.
      const sample = name === 'PayloadTooLarge' ? [1024] : name === 'RemoteAdminRefused' ? ['logging', 'http'] : ['m'];
      out.push([name, value.length === 0 ? new Ctor() : new Ctor(...sample)]);
    }
  }
  return out;
}

test('every code has an HTTP status (4xx/5xx) and a gRPC status, and the tables hold nothing else', () => {
  for (const code of ERROR_CODES) {
    const http = HTTP_STATUS[code];
    const grpc = GRPC_STATUS[code];
    assert.ok(Number.isInteger(http) && http >= 400 && http <= 599, `${code}: HTTP ${http}`);
    assert.ok(GRPC_NAMES[grpc] !== undefined, `${code}: gRPC ${grpc}`);
  }
  assert.deepEqual(Object.keys(HTTP_STATUS).sort(), [...ERROR_CODES].sort());
  assert.deepEqual(Object.keys(GRPC_STATUS).sort(), [...ERROR_CODES].sort());
});

test('every code is documented with its two statuses', () => {
  for (const code of ERROR_CODES) {
    const row = `| \`${code}\` | ${HTTP_STATUS[code]} | ${GRPC_STATUS[code]} ${GRPC_NAMES[GRPC_STATUS[code]]} |`;
    assert.ok(README.includes(row), `missing or stale row: ${row}`);
  }
});

test('every error class is documented with its code and a message that matches what it says', () => {
  const found = classes();
  assert.ok(found.length >= 14, `found ${found.length} classes`);
  for (const [name, err] of found) {
    assert.ok((ERROR_CODES as readonly string[]).includes(err.code), `${name}: code ${err.code}`);
    assert.equal(err.name, name);
    assert.ok(err.message.length > 0, `${name}: empty message`);
    const row = README.split('\n').find((l) => l.startsWith(`| \`${name}\``));
    assert.ok(row !== undefined, `${name} is not in src/errors/README.md`);
    const [, code, message] = row.replace(/ \|$/, '').split(' | ');
    assert.equal(code, `\`${err.code}\``, `${name}: documented code`);
    // The documented message: its exact parts (between <placeholders>) appear in order.
    const first = message!.split(/`(?:,| \(|$)/)[0]!.replace(/^`/, '');
    const parts = first.split(/<[^>]+>/).filter((p) => p.length > 0);
    let at = 0;
    for (const p of parts) {
      const i = err.message.indexOf(p, at);
      assert.ok(i >= 0, `${name}: message ${JSON.stringify(err.message)} does not match the documented ${JSON.stringify(first)}`);
      at = i + p.length;
    }
  }
});
