/**
 * Request body reading with a size cap, on any engine. Must be called synchronously
 * from the engine's request handler (uWS needs onData registered before it returns).
 */
import { PayloadTooLarge } from '../../errors/errors.js';
import { type Exchange, replyError } from './exchange.js';

const EMPTY = Buffer.alloc(0);

/**
 * Collect the body into one Buffer and hand it to `onBody`. Chunks are only valid
 * during the callback (uWS neuters them), so each is copied: straight into a buffer of
 * the declared Content-Length when there is one (a single copy), else into a list.
 * Over `limit`: answer 413 and close the connection without reading the rest.
 */
export function readBody(ex: Exchange, contentLength: string, limit: number, onBody: (body: Buffer) => void): void {
  const declared = contentLength === '' ? -1 : Number(contentLength);
  if (declared > limit) {
    replyError(ex, new PayloadTooLarge(limit), undefined, { close: true });
    return;
  }
  // allocUnsafeSlow: the body gets an ArrayBuffer of its own (not a slice of Node's
  // shared pool), since the input tensors are views of it for the request's lifetime.
  const whole = declared > 0 ? Buffer.allocUnsafeSlow(declared) : undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  let failed = false;
  ex.onData((chunk, isLast) => {
    if (failed || ex.finished) return;
    const n = chunk.byteLength;
    if (size + n > limit || (whole !== undefined && size + n > whole.length)) {
      failed = true;
      replyError(ex, new PayloadTooLarge(limit), undefined, { close: true });
      return;
    }
    if (n > 0) {
      if (whole !== undefined) whole.set(chunk, size);
      else (chunks ??= []).push(Buffer.from(chunk));
      size += n;
    }
    if (!isLast) return;
    if (whole !== undefined) onBody(size === whole.length ? whole : whole.subarray(0, size));
    else if (chunks === undefined) onBody(EMPTY);
    else onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  });
}
