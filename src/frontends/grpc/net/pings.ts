/**
 * The PINGs a net-engine connection sent (server keepalive, keepalive.ts) and waits to
 * see acknowledged, told apart by their 8-byte payload.
 */
import { PING, frame } from './frames.js';

export class Pings {
  readonly #waiting = new Map<string, (err: Error | null) => void>();
  #seq = 0;

  /** A PING frame to send; `cb` learns of its acknowledgement (null) or the connection's end. */
  frame(cb: (err: Error | null) => void): Buffer {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.#seq >>> 0, 4);
    this.#waiting.set(payload.toString('latin1'), cb);
    return frame(PING, 0, 0, payload);
  }

  /** A PING ACK's payload (buf[s, s + 8)): false when it acknowledges no PING of ours. */
  acked(buf: Buffer, s: number): boolean {
    const key = buf.toString('latin1', s, s + 8);
    const cb = this.#waiting.get(key);
    if (cb === undefined) return false;
    this.#waiting.delete(key);
    cb(null);
    return true;
  }

  /** The connection closed: every PING still waiting fails. */
  failAll(): void {
    for (const cb of this.#waiting.values()) cb(new Error('connection closed'));
    this.#waiting.clear();
  }
}
