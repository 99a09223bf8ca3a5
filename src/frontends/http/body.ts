/**
 * Request body reading with a size cap, on any engine. Must be called synchronously
 * from the engine's request handler (uWS needs onData registered before it returns).
 *
 * Memory follows the bytes that arrived, never what a header declares: a client that
 * declares 60 MiB and sends 10 bytes holds 64 KiB. All bodies in flight together are
 * bounded by the server's RequestBytesBudget (--max-inflight-request-bytes, shared with
 * gRPC); over it: 503 and close.
 */
import { InvalidArgument, PayloadTooLarge } from '../../errors/errors.js';
import type { RequestBytesBudget } from '../request-bytes.js';
import { type Exchange, replyError } from './exchange.js';

const EMPTY = Buffer.alloc(0);
/** First buffer of a body that arrives in pieces; it doubles (up to the declared size) as bytes come. */
const FIRST_PIECE = 64 * 1024;

export interface BodyLimits {
  /** Largest one body may be (413 above). */
  readonly maxBodyBytes: number;
  /** Request bytes held by every request in flight, both front ends (--max-inflight-request-bytes). */
  readonly bodyBudget: RequestBytesBudget;
}

const DIGITS = /^[0-9]+$/;

/**
 * The Content-Length header as the engine reports it ('' when absent) -> the declared
 * size, -1 for none, or the error that ends the request. Engines join repeated
 * headers with ', ' (RFC 9110 5.3); identical repeats are one length (RFC 9112 6.3),
 * differing ones are a framing error: 400 and close, since client and server (or a
 * proxy in between) would disagree on where this request ends.
 */
export function declaredLength(value: string): number | InvalidArgument {
  if (value === '') return -1;
  if (DIGITS.test(value)) return Number(value);
  const parts = value.split(',').map((s) => s.trim());
  if (parts.every((p) => DIGITS.test(p))) {
    if (parts.every((p) => Number(p) === Number(parts[0]))) return Number(parts[0]);
    return new InvalidArgument('conflicting Content-Length headers');
  }
  return new InvalidArgument('invalid Content-Length header: expected a non-negative decimal integer');
}

/** End a body that cannot be read: its error, and the connection closes (the rest of the body is never read). */
function refuse(ex: Exchange, err: Error): void {
  replyError(ex, err, undefined, { close: true });
}

/**
 * A decompressed body is held as well: counted like the bytes that arrived, 503 over
 * the bound. (While it inflates it is bounded by --max-request-bytes per body and by
 * libuv's thread pool, which runs four inflations at once.)
 */
export function holdDecoded(ex: Exchange, budget: RequestBytesBudget, decoded: Buffer): void {
  if (!budget.take(ex, decoded.byteLength)) throw budget.exceeded();
}

/**
 * A Buffer that is all of its ArrayBuffer: not a slice of Node's shared pool or of a
 * read buffer that is reused (a body may be kept as the backing of its input tensors).
 */
function ownsItsMemory(chunk: Uint8Array): chunk is Buffer {
  return Buffer.isBuffer(chunk) && chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.byteLength;
}

/**
 * Collect the body into one Buffer and hand it to `onBody`. A body that comes whole
 * in one chunk (most) is that chunk where the engine's chunks may be kept (the net
 * engine: an allocation and a copy less per request), else a copy of it of its size;
 * chunks valid only during the callback (uWS neuters them) are copied: one that comes
 * in pieces into a buffer that grows as they arrive. Over `maxBodyBytes`: 413; over
 * the budget: 503; a bad Content-Length: 400. Each closes the connection without
 * reading the rest.
 */
export function readBody(ex: Exchange, contentLength: string, limits: BodyLimits, onBody: (body: Buffer) => void): void {
  const declared = declaredLength(contentLength);
  if (typeof declared !== 'number') return refuse(ex, declared);
  const limit = limits.maxBodyBytes;
  if (declared > limit) return refuse(ex, new PayloadTooLarge(limit));
  const budget = limits.bodyBudget;
  // allocUnsafeSlow: the body gets an ArrayBuffer of its own (not a slice of Node's
  // shared pool), since the input tensors are views of it for the request's lifetime.
  let whole: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  let failed = false;
  const keepable = ex.chunksKeepable;
  ex.onData((chunk, isLast) => {
    if (failed || ex.finished) return;
    const n = chunk.byteLength;
    const need = size + n;
    if (need > limit || (declared >= 0 && need > declared)) { failed = true; return refuse(ex, new PayloadTooLarge(limit)); }
    if (n > 0) {
      if (declared > 0 && whole === undefined && n === declared && keepable && ownsItsMemory(chunk)) {
        // The whole body in one chunk of its own (most requests): kept, not copied.
        if (!budget.take(ex, n)) { failed = true; return refuse(ex, budget.exceeded()); }
        whole = chunk;
      } else if (declared > 0) {
        if (whole === undefined || need > whole.length) {
          const had = whole === undefined ? 0 : whole.length;
          const cap = need === declared ? declared : Math.min(declared, Math.max(need, had * 2, FIRST_PIECE));
          if (!budget.take(ex, cap - had)) { failed = true; return refuse(ex, budget.exceeded()); }
          const grown = Buffer.allocUnsafeSlow(cap);
          if (whole !== undefined) grown.set(whole.subarray(0, size));
          whole = grown;
        }
        whole.set(chunk, size);
      } else {
        if (!budget.take(ex, n)) { failed = true; return refuse(ex, budget.exceeded()); }
        (chunks ??= []).push(keepable && ownsItsMemory(chunk) ? chunk : Buffer.from(chunk));
      }
      size = need;
    }
    if (!isLast) return;
    if (whole !== undefined) onBody(size === whole.length ? whole : whole.subarray(0, size));
    else if (chunks === undefined) onBody(EMPTY);
    else onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  });
}
