/**
 * A header block split over HEADERS and CONTINUATION frames (RFC 9113 6.10), gathered
 * until END_HEADERS. nghttp2's bounds hold: at most 8 CONTINUATION frames, and (ours)
 * at most MAX_HEADER_BLOCK octets, past which the connection ends (INTERNAL_ERROR, the
 * code node:http2 sends for it).
 */
import { INTERNAL_ERROR } from './frames.js';
import { MAX_CONTINUATIONS, MAX_HEADER_BLOCK } from './limits.js';

export class PendingHeaderBlock {
  readonly id: number;
  /** The HEADERS frame's flags (END_STREAM counts from there). */
  readonly flags: number;
  readonly #parts: Buffer[];
  #bytes: number;
  #count = 0;

  constructor(id: number, flags: number, first: Buffer) {
    this.id = id;
    this.flags = flags;
    this.#parts = [Buffer.from(first)];
    this.#bytes = first.length;
  }

  /** One CONTINUATION payload: a connection error code when a bound is passed, else undefined. */
  add(fragment: Buffer): number | undefined {
    this.#bytes += fragment.length;
    if (this.#bytes > MAX_HEADER_BLOCK || ++this.#count > MAX_CONTINUATIONS) return INTERNAL_ERROR;
    this.#parts.push(Buffer.from(fragment));
    return undefined;
  }

  /** The whole block, once END_HEADERS came. */
  block(): Buffer {
    return Buffer.concat(this.#parts, this.#bytes);
  }
}
