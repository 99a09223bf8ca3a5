/**
 * gRPC's length-prefixed messages out of a stream's DATA chunks: a 1-byte compressed
 * flag, a 4-byte big-endian length, the message. A chunk holding whole messages (the
 * usual case) yields views of it, no copy; a message split over chunks is gathered and
 * joined once. The length is checked against the limit as soon as the prefix is read,
 * before any of the body arrives (grpc-js's StreamDecoder, with its text). Bytes of a
 * message cut off by END_STREAM are dropped, as grpc-js drops them.
 *
 * A base class (the call extends it), so a call is one object, not a call and a decoder.
 */
const EMPTY = Buffer.alloc(0);

export abstract class Deframer {
  /** Largest message length accepted (-1: any). */
  protected readonly maxMessageBytes: number;
  /** Prefix bytes read so far of the next message (0-5), kept in #prefix. */
  #prefixRead = 0;
  #prefix: Buffer | undefined;
  #flag = 0;
  /** Body bytes still missing of the message now arriving, and its parts. */
  #missing = 0;
  #length = 0;
  #parts: Buffer[] | undefined;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** One whole message: its flag byte and its body (a view: do not keep past the call's life if it matters). */
  protected abstract message(flag: number, body: Buffer): void;

  /** A prefix announced `length` bytes, over the limit: the call ends here (grpc-js's text in `details`). */
  protected abstract tooLarge(details: string): void;

  /** Whether the call has ended (its status sent): the rest of the chunk is dropped. */
  protected abstract get ended(): boolean;

  /** Feed one DATA chunk. */
  protected deframe(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n && !this.ended) {
      if (this.#missing > 0) {
        const take = Math.min(this.#missing, n - pos);
        this.#parts!.push(take === n && pos === 0 ? chunk : chunk.subarray(pos, pos + take));
        this.#missing -= take;
        pos += take;
        if (this.#missing === 0) {
          const parts = this.#parts!;
          this.#parts = undefined;
          this.message(this.#flag, parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#length));
        }
        continue;
      }
      let length: number;
      if (this.#prefixRead === 0 && n - pos >= 5) {
        this.#flag = chunk[pos]!;
        length = chunk.readUInt32BE(pos + 1);
        pos += 5;
      } else {
        const prefix = (this.#prefix ??= Buffer.alloc(5));
        const take = Math.min(5 - this.#prefixRead, n - pos);
        chunk.copy(prefix, this.#prefixRead, pos, pos + take);
        this.#prefixRead += take;
        pos += take;
        if (this.#prefixRead < 5) return;
        this.#prefixRead = 0;
        this.#flag = prefix[0]!;
        length = prefix.readUInt32BE(1);
      }
      if (this.maxMessageBytes !== -1 && length > this.maxMessageBytes) {
        this.tooLarge(`Received message larger than max (${length} vs ${this.maxMessageBytes})`);
        return;
      }
      if (n - pos >= length) {
        this.message(this.#flag, length === 0 ? EMPTY : chunk.subarray(pos, pos + length));
        pos += length;
      } else {
        this.#length = length;
        this.#missing = length - (n - pos);
        this.#parts = [chunk.subarray(pos)];
        pos = n;
      }
    }
  }
}
