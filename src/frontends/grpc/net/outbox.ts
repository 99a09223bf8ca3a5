/**
 * The sending side of one net-engine connection: frames are appended to a list and
 * written once per turn of the event loop (process.nextTick), so every answer a batch
 * finishes, with its HEADERS, DATA and trailers, leaves in one socket write; and the
 * client's flow control (RFC 9113 6.9) holds DATA that does not fit the stream's or the
 * connection's window, with the trailers or END_STREAM behind it, until WINDOW_UPDATEs
 * make room. HEADERS are not flow-controlled and go at once, except a stream's last
 * ones, which wait behind its DATA.
 */
import type { Socket } from 'node:net';
import {
  CONTINUATION, DATA, DEFAULT_WINDOW, FLAG_END_HEADERS, FLAG_END_STREAM, FRAME_HEADER, HEADERS, MAX_WINDOW,
  MIN_MAX_FRAME_SIZE, frame, writeFrameHeader,
} from './frames.js';
import type { NetStream } from './stream.js';

function flushOutbox(o: Outbox): void { o.flush(); }

/** Bytes written but not yet taken by the client past which the connection stops reading. */
const WRITE_HIGH_WATER = 1 << 20;

export class Outbox {
  /** The client's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrame = MIN_MAX_FRAME_SIZE;
  readonly #socket: Socket;
  /** Called when a stream's END_STREAM has been queued. */
  readonly #ended: (stream: NetStream) => void;
  readonly #blocked = new Set<NetStream>();
  #sendWindow = DEFAULT_WINDOW;
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushQueued = false;
  #closed = false;

  constructor(socket: Socket, ended: (stream: NetStream) => void) {
    this.#socket = socket;
    this.#ended = ended;
  }

  queue(b: Buffer): void {
    if (this.#closed) return;
    this.#out.push(b);
    this.#outBytes += b.length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(flushOutbox, this);
    }
  }

  /**
   * Everything queued so far, in one write. A client that does not read its answers
   * fills the socket's buffer: past WRITE_HIGH_WATER the connection stops reading
   * (`backedUp`) until the buffer drains, as node:http2 does, so such a client cannot
   * make the server hold its answers without bound.
   */
  flush(): void {
    this.#flushQueued = false;
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    const bytes = this.#outBytes;
    this.#outBytes = 0;
    const socket = this.#socket;
    if (socket.destroyed) return;
    socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, bytes));
    if (socket.writableLength > WRITE_HIGH_WATER && !socket.isPaused()) {
      socket.pause();
      socket.once('drain', () => { if (!socket.destroyed) socket.resume(); });
    }
  }

  /** Drop what is queued and not yet written. */
  discard(): void {
    this.#out = [];
    this.#outBytes = 0;
  }

  /** Nothing more is written (the connection ended); what is queued is dropped. */
  close(): void {
    this.#closed = true;
    this.discard();
    this.#blocked.clear();
  }

  /** A header block as HEADERS (+ CONTINUATION past the client's frame size); a stream's last waits behind its DATA. */
  headers(stream: NetStream, block: Buffer, endStream: boolean): void {
    const frames = this.#headerFrames(stream.id, block, endStream);
    if (!endStream) { this.queue(frames); return; }
    if (stream.pending !== undefined) { stream.pendingTrailers = frames; return; }
    this.queue(frames);
    this.#ended(stream);
  }

  #headerFrames(id: number, block: Buffer, endStream: boolean): Buffer {
    const max = this.peerMaxFrame;
    const es = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= max) {
      const f = Buffer.allocUnsafe(FRAME_HEADER + block.length);
      writeFrameHeader(f, 0, block.length, HEADERS, FLAG_END_HEADERS | es, id);
      block.copy(f, FRAME_HEADER);
      return f;
    }
    const parts: Buffer[] = [];
    for (let p = 0; p < block.length; p += max) {
      const last = p + max >= block.length;
      const piece = block.subarray(p, Math.min(block.length, p + max));
      parts.push(frame(p === 0 ? HEADERS : CONTINUATION, (p === 0 ? es : 0) | (last ? FLAG_END_HEADERS : 0), id, piece));
    }
    return Buffer.concat(parts);
  }

  /** DATA (optional) and END_STREAM (optional), as far as the windows allow; the rest waits. */
  data(stream: NetStream, data: Buffer | undefined, endStream: boolean): void {
    if (stream.pending !== undefined) {
      if (data !== undefined && data.length > 0) stream.pending.push(data);
      if (endStream) stream.endPending = true;
      return;
    }
    const rest = data === undefined ? undefined : this.#sendWithin(stream, data);
    if (rest !== undefined) {
      stream.pending = [rest];
      stream.endPending = endStream;
      this.#blocked.add(stream);
      return;
    }
    if (endStream) {
      this.queue(frame(DATA, FLAG_END_STREAM, stream.id));
      this.#ended(stream);
    }
  }

  /** DATA frames of `data` as far as the windows allow; what is left, if any. */
  #sendWithin(stream: NetStream, data: Buffer): Buffer | undefined {
    let p = 0;
    while (p < data.length) {
      const room = Math.min(stream.sendWindow, this.#sendWindow, this.peerMaxFrame, data.length - p);
      if (room <= 0) return data.subarray(p);
      const h = Buffer.allocUnsafe(FRAME_HEADER);
      writeFrameHeader(h, 0, room, DATA, 0, stream.id);
      this.queue(h);
      this.queue(data.subarray(p, p + room));
      stream.sendWindow -= room;
      this.#sendWindow -= room;
      p += room;
    }
    return undefined;
  }

  /** What waited on `stream`, now that a window grew. */
  drain(stream: NetStream): void {
    const q = stream.pending;
    if (q === undefined) return;
    while (q.length > 0) {
      const rest = this.#sendWithin(stream, q[0]!);
      if (rest !== undefined) { q[0] = rest; return; }
      q.shift();
    }
    stream.pending = undefined;
    this.#blocked.delete(stream);
    const trailers = stream.pendingTrailers;
    if (trailers !== undefined) {
      stream.pendingTrailers = undefined;
      this.queue(trailers);
      this.#ended(stream);
    } else if (stream.endPending) {
      this.queue(frame(DATA, FLAG_END_STREAM, stream.id));
      this.#ended(stream);
    }
  }

  /** The connection's window grew by `inc` (WINDOW_UPDATE on stream 0); false if past 2^31-1. */
  connectionWindow(inc: number): boolean {
    this.#sendWindow += inc;
    if (this.#sendWindow > MAX_WINDOW) return false;
    this.drainAll();
    return true;
  }

  /** Every waiting stream, in the order they began waiting, while the connection has room. */
  drainAll(): void {
    for (const s of this.#blocked) {
      if (this.#sendWindow <= 0) return;
      this.drain(s);
    }
  }

  /** A stream closed: nothing of it waits any more. */
  forget(stream: NetStream): void {
    this.#blocked.delete(stream);
  }
}
