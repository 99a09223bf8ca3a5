/**
 * readBody (src/frontends/http/body.ts) on its own, with an Exchange that hands over
 * chunks as the test says: a body that arrives whole in one chunk of its own is kept
 * without a copy only where the engine says its chunks may be kept; a chunk that is a
 * view into a larger buffer (one that may be reused) is always copied.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readBody } from '../../../src/frontends/http/body.js';
import { type BodyChunkHandler, Exchange, type ResponseHead } from '../../../src/frontends/http/exchange.js';
import { RequestBytesBudget } from '../../../src/frontends/request-bytes.js';

class TestExchange extends Exchange {
  onChunk: BodyChunkHandler | undefined;
  status = 0;
  constructor(private readonly keepable: boolean) {
    super('', () => {});
  }
  override get chunksKeepable(): boolean { return this.keepable; }
  onData(onChunk: BodyChunkHandler): void { this.onChunk = onChunk; }
  remoteAddress(): string { return '127.0.0.1'; }
  protected send(status: number, _head: ResponseHead, _body: string | Uint8Array | undefined, _close: boolean): void {
    this.status = status;
  }
}

/** A Buffer that is all of its own ArrayBuffer (as llhttp's binding hands body pieces over). */
function own(text: string): Buffer {
  const b = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  b.write(text);
  return b;
}

/** Feed `chunks` (the last with isLast) and return the body readBody hands on. */
function read(keepable: boolean, declared: number, chunks: Uint8Array[]): { body: Buffer | undefined; ex: TestExchange; budget: RequestBytesBudget } {
  const ex = new TestExchange(keepable);
  const budget = new RequestBytesBudget(1 << 20);
  let body: Buffer | undefined;
  readBody(ex, declared < 0 ? '' : String(declared), { maxBodyBytes: 1 << 16, bodyBudget: budget }, (b) => { body = b; });
  chunks.forEach((c, i) => ex.onChunk!(c, i === chunks.length - 1));
  if (chunks.length === 0) ex.onChunk!(new Uint8Array(0), true);
  return { body, ex, budget };
}

describe('readBody: keeping the engine\'s chunk', () => {
  test('a whole body in one chunk of its own is kept as is where the engine allows it, and counted', () => {
    const chunk = own('{"inputs":[]}');
    const { body, ex, budget } = read(true, chunk.length, [chunk]);
    assert.equal(body, chunk, 'the chunk itself, not a copy');
    assert.equal(ex.heldBytes, chunk.length);
    assert.equal(budget.held, chunk.length);
  });

  test('where the engine does not allow it (uWS neuters chunks), the body is a copy', () => {
    const chunk = own('{"inputs":[]}');
    const { body } = read(false, chunk.length, [chunk]);
    assert.notEqual(body, chunk);
    assert.deepEqual(body, chunk);
  });

  test('a chunk that is a view into a larger buffer is copied: rewriting that buffer later changes nothing', () => {
    const shared = own('xx{"inputs":[1]}yy');
    const chunk = shared.subarray(2, 16);
    const { body } = read(true, chunk.length, [chunk]);
    shared.fill(0);
    assert.equal(body!.toString(), '{"inputs":[1]}');
  });

  test('a body in pieces is still collected into one buffer; a chunked body (no length) from kept chunks too', () => {
    const a = Buffer.from('{"in');
    const b = Buffer.from('puts":[]}');
    const { body } = read(true, a.length + b.length, [a, b]);
    assert.equal(body!.toString(), '{"inputs":[]}');
    const chunked = read(true, -1, [own('{"in'), own('puts":[]}')]);
    assert.equal(chunked.body!.toString(), '{"inputs":[]}');
    // Node's pool: a small Buffer.from is a view into a shared 8 KiB buffer, never kept.
    const pooled = Buffer.from('{"inputs":[]}');
    assert.notEqual(read(true, pooled.length, [pooled]).body, pooled);
  });

  test('a kept chunk is still bounded: over the in-flight budget it is refused with 503', () => {
    const ex = new TestExchange(true);
    const budget = new RequestBytesBudget(8);
    let body: Buffer | undefined;
    readBody(ex, '13', { maxBodyBytes: 1 << 16, bodyBudget: budget }, (x) => { body = x; });
    ex.onChunk!(own('{"inputs":[]}'), true);
    assert.equal(body, undefined);
    assert.equal(ex.status, 503);
    assert.equal(budget.held, 0);
  });
});
