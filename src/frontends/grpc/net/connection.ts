/**
 * One HTTP/2 connection of the net engine (RFC 9113), server side, written for gRPC:
 * the frame reader, SETTINGS, flow control both ways, PING, RST_STREAM, GOAWAY, and a
 * write path that gathers every frame produced in one turn of the event loop (all the
 * answers of a finished batch, say) into one socket write. node:http2 pays a Duplex
 * stream, several events and a C++ round trip per frame for each call; here a call is
 * one small object and its answer three frames appended to a buffer.
 *
 * The server's side of the protocol as nghttp2 plays it for node:http2, where a client
 * can tell: errors that concern one stream reset it (RST_STREAM), the rest end the
 * connection (GOAWAY with the code, then close); a client flooding the server with
 * frames that each need an answer (PING, SETTINGS) or with resets is cut off
 * (ENHANCE_YOUR_CALM), as nghttp2's flood limits do.
 */
import type { Socket } from 'node:net';
import type { OutgoingHttpHeaders } from 'node:http2';
import {
  CANCEL, COMPRESSION_ERROR, CONTINUATION, DATA, DEFAULT_WINDOW, ENHANCE_YOUR_CALM, FLAG_ACK, FLAG_END_HEADERS,
  FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY, FLOW_CONTROL_ERROR, FRAME_HEADER, FRAME_SIZE_ERROR, GOAWAY, HEADERS, INTERNAL_ERROR,
  MAX_MAX_FRAME_SIZE, MAX_WINDOW, MIN_MAX_FRAME_SIZE, NO_ERROR, PING, PREFACE, PRIORITY, PROTOCOL_ERROR, PUSH_PROMISE,
  RST_STREAM, SETTINGS, SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE,
  STREAM_CLOSED, WINDOW_UPDATE, frame, frame32, goawayFrame, paddedEnd,
} from './frames.js';
import {
  CONNECTION_WINDOW, MAX_FRAME, MAX_INVALID_FRAMES, MAX_QUEUED_ACKS,
  MAX_SETTINGS_ENTRIES, OUR_SETTINGS, GLITCH_BURST, GLITCH_RATE, RESET_BURST, RESET_RATE, RateLimit, SETTINGS_ACK, STREAM_WINDOW,
} from './limits.js';
import { PendingHeaderBlock } from './header-block.js';
import { Outbox } from './outbox.js';
import { Pings } from './pings.js';
import { headerBlockOf } from './response-headers.js';
import { HpackDecoder, HpackError } from './hpack.js';
import { type HeaderObject, MAX_HEADER_LIST_SIZE, RequestHeaderList } from './request-headers.js';
import { NetStream, type StreamOwner } from './stream.js';

export type StreamHandler = (stream: NetStream, headers: HeaderObject) => void;

export class NetConnection implements StreamOwner {
  readonly session: { readonly socket: Socket };
  readonly #socket: Socket;
  readonly #onStream: StreamHandler;
  readonly #onClosed: (c: NetConnection) => void;
  readonly #decoder = new HpackDecoder();
  readonly #headerList = new RequestHeaderList();
  readonly #streams = new Map<number, NetStream>();
  #rest: Buffer | undefined;
  #preface = false;
  #lastStreamId = 0;
  #continuation: PendingHeaderBlock | undefined;
  #peerInitialWindow = DEFAULT_WINDOW;
  #recvWindow = CONNECTION_WINDOW;
  #recvUncredited = 0;
  readonly #out: Outbox;
  #acks = 0;
  #invalid = 0;
  /** Streams whose END_STREAM came in the read being parsed (see #lastData). */
  readonly #endedNow = new Set<number>();
  readonly #resets = new RateLimit(RESET_BURST, RESET_RATE);
  readonly #glitches = new RateLimit(GLITCH_BURST, GLITCH_RATE);
  /** GOAWAY sent: no new streams; the socket ends once the last one closes. */
  #goaway = false;
  #dead = false;
  readonly #pings = new Pings();
  #closeListeners: Array<() => void> = [];

  constructor(socket: Socket, onStream: StreamHandler, onClosed: (c: NetConnection) => void) {
    this.#socket = socket;
    this.session = { socket };
    this.#onStream = onStream;
    this.#onClosed = onClosed;
    this.#out = new Outbox(socket, (stream) => this.#localEnd(stream));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.#closed());
    this.#queue(OUR_SETTINGS);
  }

  get destroyed(): boolean { return this.#dead; }

  // ---- reading ----

  #read(chunk: Buffer): void {
    if (this.#dead) return;
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    let p = 0;
    if (!this.#preface) {
      const n = Math.min(buf.length, PREFACE.length);
      if (buf.compare(PREFACE, 0, n, 0, n) !== 0) { this.#fail(INTERNAL_ERROR); return; } // node:http2's code for it
      if (buf.length < PREFACE.length) { this.#rest = buf; return; }
      this.#preface = true;
      p = PREFACE.length;
    }
    this.#acks = 0;
    this.#endedNow.clear();
    while (buf.length - p >= FRAME_HEADER) {
      const len = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
      if (len > MAX_FRAME) { this.#fail(FRAME_SIZE_ERROR); return; }
      const end = p + FRAME_HEADER + len;
      if (end > buf.length) break;
      this.#frame(buf[p + 3]!, buf[p + 4]!, buf.readUInt32BE(p + 5) & 0x7fffffff, buf, p + FRAME_HEADER, end);
      if (this.#dead) return;
      p = end;
    }
    this.#rest = p === buf.length ? undefined : buf.subarray(p);
    // A small remainder is copied, so that it does not keep the whole read alive.
    if (this.#rest !== undefined && p > 0 && this.#rest.length < 1024) this.#rest = Buffer.from(this.#rest);
  }

  #frame(type: number, flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (this.#continuation !== undefined && type !== CONTINUATION) { this.#fail(PROTOCOL_ERROR); return; }
    switch (type) {
      case DATA: this.#data(flags, id, buf, s, e); return;
      case HEADERS: this.#headers(flags, id, buf, s, e); return;
      case CONTINUATION: this.#continue(flags, id, buf, s, e); return;
      case RST_STREAM: this.#rstStream(id, s, e); return;
      case SETTINGS: this.#settings(flags, id, buf, s, e); return;
      case PING: this.#ping(flags, id, buf, s, e); return;
      case WINDOW_UPDATE: this.#windowUpdate(id, buf, s, e); return;
      case PRIORITY:
        // nghttp2 ends the connection where RFC 9113 would reset the stream; so do we
        // (and ignores one on stream 0, as Node 24's nghttp2).
        if (e - s !== 5) this.#fail(FRAME_SIZE_ERROR);
        else if (id !== 0 && (buf.readUInt32BE(s) & 0x7fffffff) === id) this.#fail(PROTOCOL_ERROR);
        else this.#glitch();
        return;
      case GOAWAY:
        if (id !== 0) this.#fail(PROTOCOL_ERROR);
        else if (e - s < 8) this.#fail(FRAME_SIZE_ERROR);
        else this.shutdown(); // the client is leaving: as node:http2, GOAWAY back, finish what runs, no new streams
        return;
      case PUSH_PROMISE: this.#fail(PROTOCOL_ERROR); return;
      default: this.#glitch(); return; // unknown types are ignored (9113 4.1), but counted
    }
  }

  /** Where a payload ends without its padding, or undefined after a connection error. */
  #unpad(flags: number, buf: Buffer, s: number, e: number): number | undefined {
    const end = paddedEnd(flags, buf, s, e);
    if (end >= 0) return end;
    this.#fail(-end);
    return undefined;
  }

  #data(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id === 0) { this.#fail(PROTOCOL_ERROR); return; }
    const size = e - s;
    const end = this.#unpad(flags, buf, s, e);
    if (end === undefined) return;
    const from = (flags & FLAG_PADDED) === 0 ? s : s + 1;
    // The whole payload counts against both windows; the connection's is given back at once.
    this.#recvWindow -= size;
    if (this.#recvWindow < 0) { this.#fail(FLOW_CONTROL_ERROR); return; }
    this.#creditConnection(size);
    const last = (flags & FLAG_END_STREAM) !== 0;
    if (size === 0 && !last && !this.#counted()) return;
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      if (id > this.#lastStreamId) this.#fail(PROTOCOL_ERROR);
      else if (this.#endedNow.has(id)) this.#fail(STREAM_CLOSED);
      return; // a stream closed before this read: what was in flight is dropped
    }
    if (stream.lastData) { this.#fail(STREAM_CLOSED); return; }
    stream.recvWindow -= size;
    if (stream.recvWindow < 0) { this.#refuse(stream, FLOW_CONTROL_ERROR); return; }
    // The last DATA of a stream: nothing to credit back to it.
    if (last) this.#lastData(stream);
    if (end - from !== size) this.consumed(stream, size - (end - from));
    stream.received += end - from;
    // More than content-length said: nghttp2 ends the connection at once (Node's code for it).
    if (stream.contentLength >= 0 && stream.received > stream.contentLength) { this.#fail(INTERNAL_ERROR); return; }
    if (end > from) stream.data(buf.subarray(from, end));
    if (last && !stream.closed) this.#remoteEnd(stream);
  }

  /**
   * The client's END_STREAM for `stream`. Frames after it on the stream are a connection
   * error STREAM_CLOSED (9113 5.1) while nghttp2 would still hold the stream half-closed:
   * until it is closed, or, since the net engine may answer and close it within the same
   * read, in the rest of that read. Frames on a stream closed earlier are dropped.
   */
  #lastData(stream: NetStream): void {
    stream.lastData = true;
    this.#endedNow.add(stream.id);
  }

  #remoteEnd(stream: NetStream): void {
    this.#lastData(stream);
    if (stream.contentLength >= 0 && stream.received !== stream.contentLength) { this.#refuse(stream, PROTOCOL_ERROR); return; }
    // Answered already: closed now. Else the handler's answer closes it (#localEnd).
    if (stream.localEnded) { stream.remoteEnded = true; this.#close(stream); return; }
    stream.remoteEnd();
  }

  #headers(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id === 0 || id % 2 === 0) { this.#fail(PROTOCOL_ERROR); return; }
    let from = (flags & FLAG_PADDED) === 0 ? s : s + 1;
    const end = this.#unpad(flags, buf, s, e);
    if (end === undefined) return;
    if ((flags & FLAG_PRIORITY) !== 0) {
      if (end - from < 5) { this.#fail(FRAME_SIZE_ERROR); return; }
      if ((buf.readUInt32BE(from) & 0x7fffffff) === id) { this.#fail(PROTOCOL_ERROR); return; }
      from += 5;
    }
    if ((flags & FLAG_END_HEADERS) === 0) {
      this.#continuation = new PendingHeaderBlock(id, flags, buf.subarray(from, end));
      return;
    }
    this.#headerBlock(flags, id, buf, from, end);
  }

  #continue(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    const c = this.#continuation;
    if (c === undefined || c.id !== id) { this.#fail(PROTOCOL_ERROR); return; }
    const error = c.add(buf.subarray(s, e));
    if (error !== undefined) { this.#fail(error); return; }
    if ((flags & FLAG_END_HEADERS) === 0) return;
    this.#continuation = undefined;
    const block = c.block();
    this.#headerBlock(c.flags, id, block, 0, block.length);
  }

  #headerBlock(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    const existing = this.#streams.get(id);
    const trailers = existing !== undefined || id <= this.#lastStreamId;
    const list = this.#headerList;
    list.begin(trailers);
    let size: number;
    try {
      size = this.#decoder.decode(buf, s, e, list.add, MAX_HEADER_LIST_SIZE);
    } catch (err) {
      this.#fail(err instanceof HpackError ? COMPRESSION_ERROR : PROTOCOL_ERROR);
      return;
    }
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (trailers) {
      // A stream already closed: the decoder still had to see the block.
      if (existing === undefined) { if (this.#endedNow.has(id)) this.#fail(STREAM_CLOSED); return; }
      if (existing.lastData) { this.#fail(STREAM_CLOSED); return; }
      const refusal = list.finish(size);
      if (!endStream) this.#refuse(existing, PROTOCOL_ERROR);
      else if (refusal !== undefined) this.#refuse(existing, refusal);
      else this.#remoteEnd(existing);
      return;
    }
    // After our GOAWAY, streams the client opens are ignored (9113 6.8).
    if (this.#goaway) return;
    this.#lastStreamId = id;
    const refusal = list.finish(size);
    if (refusal !== undefined) { this.#refuseId(id, refusal); return; }
    const headers = list.object;
    const cl = headers['content-length'];
    let contentLength = -1;
    if (cl !== undefined) {
      contentLength = /^[0-9]{1,15}$/.test(cl as string) ? Number(cl) : -2;
      if (contentLength === -2) { this.#refuseId(id, PROTOCOL_ERROR); return; }
    }
    const stream = new NetStream(this, id, this.#peerInitialWindow, STREAM_WINDOW, contentLength);
    this.#streams.set(id, stream);
    this.#onStream(stream, headers);
    if (endStream && !stream.closed) this.#remoteEnd(stream);
  }

  #rstStream(id: number, s: number, e: number): void {
    if (e - s !== 4) { this.#fail(FRAME_SIZE_ERROR); return; }
    if (id === 0 || id > this.#lastStreamId) { this.#fail(PROTOCOL_ERROR); return; }
    const stream = this.#streams.get(id);
    if (stream === undefined) return;
    // Past the rate limit the connection ends, closing this stream with the rest.
    if (!this.#resets.take()) { this.#fail(INTERNAL_ERROR); return; }
    this.#close(stream);
  }

  #settings(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id !== 0) { this.#fail(PROTOCOL_ERROR); return; }
    if ((flags & FLAG_ACK) !== 0) {
      if (e !== s) this.#fail(FRAME_SIZE_ERROR);
      return;
    }
    if ((e - s) % 6 !== 0) { this.#fail(FRAME_SIZE_ERROR); return; }
    if ((e - s) / 6 > MAX_SETTINGS_ENTRIES) { this.#fail(ENHANCE_YOUR_CALM); return; }
    let initialWindow = -1;
    for (let p = s; p < e; p += 6) {
      const key = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      if (key === SETTINGS_ENABLE_PUSH && value > 1) { this.#fail(PROTOCOL_ERROR); return; }
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) { this.#fail(FLOW_CONTROL_ERROR); return; }
        initialWindow = value; // the frame's last one counts: one pass over the streams per frame
      } else if (key === SETTINGS_MAX_FRAME_SIZE) {
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) { this.#fail(PROTOCOL_ERROR); return; }
        this.#out.peerMaxFrame = value;
      }
    }
    if (initialWindow >= 0 && initialWindow !== this.#peerInitialWindow) {
      const delta = initialWindow - this.#peerInitialWindow;
      this.#peerInitialWindow = initialWindow;
      for (const st of this.#streams.values()) {
        st.sendWindow += delta;
        if (st.sendWindow > MAX_WINDOW) { this.#fail(FLOW_CONTROL_ERROR); return; }
      }
    }
    if (!this.#ack(SETTINGS_ACK)) return;
    this.#out.drainAll();
  }

  #ping(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id !== 0) { this.#fail(PROTOCOL_ERROR); return; }
    if (e - s !== 8) { this.#fail(FRAME_SIZE_ERROR); return; }
    if ((flags & FLAG_ACK) !== 0) {
      // An acknowledgement of no PING of ours: node:http2 ends the connection.
      if (!this.#pings.acked(buf, s)) this.#fail(INTERNAL_ERROR);
      return;
    }
    this.#ack(frame(PING, FLAG_ACK, 0, buf.subarray(s, e)));
  }

  /** Queue an answer the client's frame asked for; too many in one read is a flood. */
  #ack(f: Buffer): boolean {
    if (++this.#acks > MAX_QUEUED_ACKS) { this.#fail(INTERNAL_ERROR); return false; }
    this.#queue(f);
    return true;
  }

  #windowUpdate(id: number, buf: Buffer, s: number, e: number): void {
    if (e - s !== 4) { this.#fail(FRAME_SIZE_ERROR); return; }
    const inc = buf.readUInt32BE(s) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) { this.#fail(PROTOCOL_ERROR); return; }
      if (!this.#out.connectionWindow(inc)) this.#fail(FLOW_CONTROL_ERROR);
      return;
    }
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      if (id > this.#lastStreamId) this.#fail(PROTOCOL_ERROR);
      return;
    }
    // nghttp2 ends the connection on both (RFC 9113 would reset the stream).
    if (inc === 0) { this.#fail(PROTOCOL_ERROR); return; }
    stream.sendWindow += inc;
    if (stream.sendWindow > MAX_WINDOW) { this.#fail(FLOW_CONTROL_ERROR); return; }
    this.#out.drain(stream);
  }

  // ---- flow control of what we receive ----

  #creditConnection(n: number): void {
    this.#recvUncredited += n;
    if (this.#recvUncredited >= CONNECTION_WINDOW / 2) {
      this.#queue(frame32(WINDOW_UPDATE, 0, this.#recvUncredited));
      this.#recvWindow += this.#recvUncredited;
      this.#recvUncredited = 0;
    }
  }

  consumed(stream: NetStream, n: number): void {
    const inc = stream.credit(n, STREAM_WINDOW);
    if (inc > 0) this.#queue(frame32(WINDOW_UPDATE, stream.id, inc));
  }

  // ---- writing ----

  sendHeaders(stream: NetStream, headers: OutgoingHttpHeaders, endStream: boolean): void {
    this.#out.headers(stream, headerBlockOf(headers), endStream);
  }

  sendData(stream: NetStream, data: Buffer | undefined, endStream: boolean): void {
    this.#out.data(stream, data, endStream);
  }

  /** Our END_STREAM is out: closed if the client's came, else half-closed (no RST_STREAM NO_ERROR, as node:http2). */
  #localEnd(stream: NetStream): void {
    stream.localEnded = true;
    if (stream.remoteEnded) this.#close(stream);
  }

  #close(stream: NetStream): void {
    this.#streams.delete(stream.id);
    this.#out.forget(stream);
    stream.closedNow();
    this.#maybeEnd();
  }

  #reset(stream: NetStream, code: number): void {
    if (stream.closed) return;
    this.#queue(frame32(RST_STREAM, stream.id, code));
    this.#close(stream);
  }

  /** A frame refused with a stream error: counted (maxSessionInvalidFrames), then the stream reset. */
  #refuse(stream: NetStream, code: number): void {
    if (this.#counted()) this.#reset(stream, code);
  }

  #refuseId(id: number, code: number): void {
    if (this.#counted()) this.#queue(frame32(RST_STREAM, id, code));
  }

  /** A frame that does nothing for a server: too many too fast end the connection, as nghttp2's glitch limit. */
  #glitch(): void {
    if (!this.#glitches.take()) this.#fail(ENHANCE_YOUR_CALM);
  }

  /** One more invalid frame; false (and the connection ended) past the bound (node: the 1002nd). */
  #counted(): boolean {
    if (this.#invalid++ <= MAX_INVALID_FRAMES) return true;
    this.#fail(INTERNAL_ERROR);
    return false;
  }

  #queue(b: Buffer): void {
    this.#out.queue(b);
  }

  flush(): void {
    this.#out.flush();
  }

  // ---- the connection's end ----

  /**
   * Stop taking streams; the connection ends when the last open one closes. Two GOAWAYs
   * NO_ERROR, as node:http2's close() sends them: the notice (last stream 2^31-1), then
   * the last stream we took.
   */
  shutdown(): void {
    if (this.#dead || this.#goaway) return;
    this.#goaway = true;
    this.#queue(goawayFrame(0x7fffffff, NO_ERROR));
    this.#queue(goawayFrame(this.#lastStreamId, NO_ERROR));
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#goaway && this.#streams.size === 0 && !this.#dead) {
      this.flush();
      this.#socket.end();
    }
  }

  /** A connection error: GOAWAY with `code`, every stream closed, the socket ended. */
  #fail(code: number): void {
    if (this.#dead) return;
    // What this read produced is not sent: nghttp2 answers a broken read with the GOAWAY alone.
    this.#out.discard();
    this.#queue(goawayFrame(this.#lastStreamId, code));
    this.flush();
    this.#out.close();
    this.#dead = true;
    this.#socket.end();
    this.#closeStreams();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  /** Cut now (the shutdown timeout, a keepalive PING unanswered). */
  destroy(code = CANCEL): void {
    if (!this.#dead && !this.#goaway) {
      this.#queue(goawayFrame(this.#lastStreamId, code));
      this.flush();
    }
    this.#out.close();
    this.#dead = true;
    this.#socket.destroy();
    this.#closeStreams();
  }

  #closeStreams(): void {
    const all = [...this.#streams.values()];
    this.#streams.clear();
    for (const s of all) s.closedNow();
  }

  #closed(): void {
    this.#dead = true;
    this.#out.close();
    this.#closeStreams();
    this.#pings.failAll();
    for (const l of this.#closeListeners) l();
    this.#closeListeners = [];
    this.#onClosed(this);
  }

  // ---- what keepalive.ts uses of a session ----

  ping(cb: (err: Error | null) => void): boolean {
    if (this.#dead) return false;
    this.#queue(this.#pings.frame(cb));
    return true;
  }

  on(event: 'close', listener: () => void): this {
    if (event === 'close') this.#closeListeners.push(listener);
    return this;
  }
}

