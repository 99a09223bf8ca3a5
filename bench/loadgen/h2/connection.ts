/**
 * A lean HTTP/2 client connection for gRPC load (RFC 9113): requests are a prebuilt
 * header block plus a shared payload Buffer, written with a per-request 18-byte
 * frame header and nothing else; responses are parsed frame by frame, with HPACK
 * decoding only to learn :status and grpc-status. node:http2 builds a Duplex stream
 * and several event listeners per request, which costs ~100 us of CPU each on this
 * box: more than the servers it measures spend on the request.
 * Handles flow control both ways, SETTINGS, PING, GOAWAY, RST_STREAM, CONTINUATION.
 * Runs on the load generator's thread.
 */
import net from 'node:net';
import {
  CONTINUATION, DATA, FLAG_ACK as ACK, FLAG_END_HEADERS as END_HEADERS, FLAG_END_STREAM as END_STREAM, FLAG_PADDED as PADDED,
  FLAG_PRIORITY as PRIORITY, GOAWAY, HEADERS, MAX_WINDOW, PING, PREFACE, RST_STREAM, SETTINGS, WINDOW_UPDATE, frame,
  writeFrameHeader as frameHeader,
} from 'osprey/h2-frames';
import { HpackDecoder } from 'osprey/hpack';

const LAST_STREAM_ID = 2 ** 31 - 1;

/** One request/response exchange. `done` is called exactly once. */
export class H2Stream {
  id = 0;
  httpStatus = 0;
  grpcStatus = -1;
  grpcMessage = '';
  error: string | null = null;
  sendWindow = 0;
  sent = 0;
  chunks: Buffer[] | null;
  constructor(readonly headerBlock: Buffer, readonly body: Buffer, collect: boolean, readonly done: (s: H2Stream) => void) {
    this.chunks = collect ? [] : null;
  }
}

export class H2Connection {
  readonly socket: net.Socket;
  readonly #hpack = new HpackDecoder();
  readonly #active = new Map<number, H2Stream>();
  #waiting: H2Stream[] = []; // over the peer's MAX_CONCURRENT_STREAMS
  #blocked: H2Stream[] = []; // body waiting for flow-control window
  #nextId = 1;
  #connWindow = 65_535;
  #peerInitialWindow = 65_535;
  #maxFrame = 16_384;
  #maxStreams = Infinity;
  #recvUnacked = 0;
  #buf: Buffer | null = null;
  #corked = false;
  // Header block being assembled across CONTINUATION frames.
  #hbStream = 0;
  #hbParts: Buffer[] = [];
  #hbEndStream = false;
  #cur: H2Stream | null = null;
  #dead = false;
  /** No new streams: the peer sent GOAWAY, the socket died, or stream ids ran out. */
  closing = false;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (c: Buffer) => this.#onData(c));
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.#die(`net:${e.code ?? 'ERROR'}`));
    this.socket.on('close', () => this.#die('net:CLOSED'));
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH = 0
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE: streams never need WINDOW_UPDATEs from us
    settings.writeUInt32BE(MAX_WINDOW, 8);
    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(MAX_WINDOW - 65_535, 0);
    this.socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), frame(WINDOW_UPDATE, 0, 0, inc)]));
  }

  get load(): number {
    return this.#active.size + this.#waiting.length;
  }

  request(s: H2Stream): void {
    if (this.closing) {
      s.error = 'net:GOAWAY';
      queueMicrotask(() => s.done(s));
    } else if (this.#active.size >= this.#maxStreams) {
      this.#waiting.push(s);
    } else {
      this.#start(s);
    }
  }

  /** Coalesce every write of one tick into a single writev. */
  #write(b: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(b);
  }

  #start(s: H2Stream): void {
    const id = (s.id = this.#nextId);
    this.#nextId += 2;
    if (this.#nextId > LAST_STREAM_ID) this.closing = true;
    s.sendWindow = this.#peerInitialWindow;
    this.#active.set(id, s);
    const hb = s.headerBlock;
    const empty = s.body.length === 0;
    const h = Buffer.allocUnsafe(9 + hb.length);
    frameHeader(h, 0, hb.length, HEADERS, END_HEADERS | (empty ? END_STREAM : 0), id);
    hb.copy(h, 9);
    this.#write(h);
    if (!empty && !this.#sendBody(s)) this.#blocked.push(s);
  }

  /** Send as much body as the windows allow; true when all of it is out. */
  #sendBody(s: H2Stream): boolean {
    const body = s.body;
    while (s.sent < body.length) {
      const n = Math.min(body.length - s.sent, this.#maxFrame, this.#connWindow, s.sendWindow);
      if (n <= 0) return false;
      const last = s.sent + n === body.length;
      const h = Buffer.allocUnsafe(9);
      frameHeader(h, 0, n, DATA, last ? END_STREAM : 0, s.id);
      this.#write(h);
      this.#write(s.sent === 0 && last ? body : body.subarray(s.sent, s.sent + n));
      s.sent += n;
      this.#connWindow -= n;
      s.sendWindow -= n;
    }
    return true;
  }

  #flushBlocked(): void {
    if (this.#blocked.length === 0) return;
    const still: H2Stream[] = [];
    for (const s of this.#blocked) if (this.#active.has(s.id) && !this.#sendBody(s)) still.push(s);
    this.#blocked = still;
  }

  #finish(s: H2Stream): void {
    if (!this.#active.delete(s.id)) return;
    s.done(s);
    if (this.#waiting.length > 0 && this.#active.size < this.#maxStreams && !this.closing) {
      this.#start(this.#waiting.shift()!);
    }
  }

  #die(err: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.closing = true;
    this.socket.destroy();
    const all = [...this.#active.values(), ...this.#waiting];
    this.#active.clear();
    this.#waiting = [];
    this.#blocked = [];
    for (const s of all) {
      s.error ??= err;
      s.done(s);
    }
  }

  /** Give up on one stream (RST_STREAM CANCEL); it finishes with `err`. */
  cancel(s: H2Stream, err: string): void {
    if (!this.#active.has(s.id)) return;
    const code = Buffer.alloc(4);
    code.writeUInt32BE(0x8, 0);
    this.#write(frame(RST_STREAM, 0, s.id, code));
    s.error ??= err;
    this.#finish(s);
  }

  close(): void {
    this.#die('client:closed');
  }

  readonly #onHeader = (name: string, value: string): void => {
    const s = this.#cur;
    if (s === null) return;
    if (name === 'grpc-status') s.grpcStatus = Number(value);
    else if (name === ':status') s.httpStatus = Number(value);
    else if (name === 'grpc-message') s.grpcMessage = value;
  };

  #headerBlock(streamId: number, block: Buffer, endStream: boolean): void {
    const s = this.#active.get(streamId) ?? null;
    this.#cur = s;
    this.#hpack.decode(block, 0, block.length, this.#onHeader); // always, to keep the table in step
    this.#cur = null;
    if (s && endStream) this.#finish(s);
  }

  #onData(chunk: Buffer): void {
    const buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    let off = 0;
    try {
      while (buf.length - off >= 9) {
        const len = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
        if (buf.length - off < 9 + len) break;
        const type = buf[off + 3];
        const flags = buf[off + 4];
        const id = buf.readUInt32BE(off + 5) & 0x7fffffff;
        const p = buf.subarray(off + 9, off + 9 + len);
        off += 9 + len;
        this.#frame(type, flags, id, p);
      }
    } catch (e) {
      this.#die(`net:PROTOCOL(${(e as Error).message})`);
      return;
    }
    // Keep a partial frame for the next chunk (payload views above were used synchronously).
    this.#buf = off === buf.length ? null : buf.subarray(off);
  }

  #frame(type: number, flags: number, id: number, p: Buffer): void {
    switch (type) {
      case DATA: {
        this.#recvUnacked += p.length;
        if (this.#recvUnacked > 1 << 28) {
          const inc = Buffer.alloc(4);
          inc.writeUInt32BE(this.#recvUnacked, 0);
          this.#write(frame(WINDOW_UPDATE, 0, 0, inc));
          this.#recvUnacked = 0;
        }
        const s = this.#active.get(id);
        if (!s) return;
        if (s.chunks) {
          const pad = flags & PADDED ? p[0] : 0;
          s.chunks.push(Buffer.from(p.subarray(flags & PADDED ? 1 : 0, p.length - pad)));
        }
        if (flags & END_STREAM) this.#finish(s);
        return;
      }
      case HEADERS: {
        let start = 0;
        let end = p.length;
        if (flags & PADDED) {
          end -= p[0];
          start = 1;
        }
        if (flags & PRIORITY) start += 5;
        const block = p.subarray(start, end);
        if (flags & END_HEADERS) return this.#headerBlock(id, block, (flags & END_STREAM) !== 0);
        this.#hbStream = id;
        this.#hbParts = [Buffer.from(block)];
        this.#hbEndStream = (flags & END_STREAM) !== 0;
        return;
      }
      case CONTINUATION: {
        this.#hbParts.push(Buffer.from(p));
        if (flags & END_HEADERS) {
          const parts = this.#hbParts;
          this.#hbParts = [];
          this.#headerBlock(this.#hbStream, Buffer.concat(parts), this.#hbEndStream);
        }
        return;
      }
      case RST_STREAM: {
        const s = this.#active.get(id);
        if (s) {
          s.error ??= `h2:RST_STREAM(${p.readUInt32BE(0)})`;
          this.#finish(s);
        }
        return;
      }
      case SETTINGS: {
        if (flags & ACK) return;
        for (let i = 0; i + 6 <= p.length; i += 6) {
          const key = p.readUInt16BE(i);
          const v = p.readUInt32BE(i + 2);
          if (key === 0x3) this.#maxStreams = v;
          else if (key === 0x5) this.#maxFrame = v;
          else if (key === 0x4) {
            const delta = v - this.#peerInitialWindow;
            this.#peerInitialWindow = v;
            for (const s of this.#active.values()) s.sendWindow += delta;
          }
        }
        this.#write(frame(SETTINGS, ACK, 0));
        this.#flushBlocked();
        return;
      }
      case PING:
        if (!(flags & ACK)) this.#write(frame(PING, ACK, 0, Buffer.from(p)));
        return;
      case GOAWAY: {
        const last = p.readUInt32BE(0) & 0x7fffffff;
        this.closing = true;
        for (const s of [...this.#active.values()]) {
          if (s.id > last) {
            s.error ??= 'net:GOAWAY';
            this.#finish(s);
          }
        }
        for (const s of this.#waiting) {
          s.error ??= 'net:GOAWAY';
          s.done(s);
        }
        this.#waiting = [];
        return;
      }
      case WINDOW_UPDATE: {
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) this.#connWindow += inc;
        else {
          const s = this.#active.get(id);
          if (s) s.sendWindow += inc;
        }
        this.#flushBlocked();
        return;
      }
      default:
        return; // PRIORITY, PUSH_PROMISE (disabled), unknown: ignore
    }
  }
}
