/**
 * The raw HTTP/2 client of the h2-probe-frames test: frames built by hand (any length,
 * flags, stream id), a request's HPACK block as literals without indexing (so any bytes
 * go through), and a connection that writes the preface, SETTINGS and a case's frames on
 * a plain TCP socket, then reads everything the server sends back (decoding its header
 * blocks with our HPACK decoder) into what a client can tell of the answer: GOAWAY codes,
 * resets, answered streams, whether the connection is over.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { HpackDecoder } from '../../../src/frontends/grpc/net/hpack.js';
import { SVC, frame as grpcFrame, sleep } from './h2-probe-raw.js';

export const LIVE = `${SVC}/ServerLive`;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

// Frame types and flags (RFC 9113 section 6).
export const DATA = 0, HEADERS = 1, PRIORITY = 2, RST = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6, GOAWAY = 7, WU = 8, CONT = 9;
export const ES = 0x1, ACK = 0x1, EH = 0x4, PADDED = 0x8, PRIO = 0x20;
export const CODES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR',
  'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];
export const code = (c: number): string => CODES[c] ?? `0x${c.toString(16)}`;

/** One frame; `length` may lie about the payload. */
export function h2(type: number, flags: number, id: number, payload: Buffer | number[] = Buffer.alloc(0), length?: number): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const b = Buffer.alloc(9 + p.length);
  b.writeUIntBE(length ?? p.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(id >>> 0, 5);
  p.copy(b, 9);
  return b;
}
export const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
export const settings = (...pairs: Array<[number, number]>): Buffer => {
  const b = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([k, v], i) => { b.writeUInt16BE(k, 6 * i); b.writeUInt32BE(v >>> 0, 6 * i + 2); });
  return h2(SETTINGS, 0, 0, b);
};
export const times = (n: number, f: (i: number) => Buffer): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => f(i)));

// ---- HPACK, the client's side: literals without indexing, no Huffman (any bytes go through) ----

export function hpackInt(v: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (v < max) return [first | v];
  const out = [first | max];
  v -= max;
  while (v >= 0x80) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
  out.push(v);
  return out;
}
export const str = (s: string): Buffer => { const b = Buffer.from(s, 'latin1'); return Buffer.concat([Buffer.from(hpackInt(b.length, 7, 0)), b]); };
export type Fields = Array<[string, string]>;
export const block = (fields: Fields): Buffer => Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0x00]), str(n), str(v)]));

export const GOOD: Fields = [[':method', 'POST'], [':scheme', 'http'], [':path', LIVE], [':authority', 'probe'], ['content-type', 'application/grpc'], ['te', 'trailers']];
export const without = (name: string): Fields => GOOD.filter(([n]) => n !== name);
export const headers = (id: number, fields: Fields = GOOD, flags = EH): Buffer => h2(HEADERS, flags, id, block(fields));
/** A complete good ServerLive call on stream `id`. */
export const goodCall = (id: number): Buffer => Buffer.concat([headers(id), h2(DATA, ES, id, grpcFrame())]);
/** A header block in pieces of `size`: HEADERS then CONTINUATIONs, END_HEADERS on the last. */
export function split(id: number, b: Buffer, size: number, first = 0): Buffer {
  const out: Buffer[] = [];
  for (let p = 0; p < b.length; p += size) {
    const last = p + size >= b.length;
    out.push(h2(p === 0 ? HEADERS : CONT, (p === 0 ? first : 0) | (last ? EH : 0), id, b.subarray(p, p + size)));
  }
  return Buffer.concat(out);
}

// ---- the raw client ----

export interface Outcome {
  /** GOAWAY codes the server sent, in order. */
  goaway: string[];
  /** `id:CODE` of each RST_STREAM the server sent. */
  rst: string[];
  /** `id:status/grpc-status` of each stream the server answered (HEADERS), `+end` once it ended (more than two header blocks are counted: a second answer). */
  answered: string[];
  /**
   * The connection is over: the server closed it, or sent a GOAWAY with an error code.
   * (nghttp2 leaves the socket open after its own GOAWAY until the client closes it; the
   * net engine closes it: a client cannot use either connection again, so both count.)
   */
  ended: boolean;
  /** What the case itself observed (flow control: bytes received at each step). */
  extra?: unknown;
}

export class RawConn {
  readonly socket: net.Socket;
  closed = false;
  lastRecv = Date.now();
  readonly goaway: string[] = [];
  readonly rst: string[] = [];
  readonly status = new Map<number, { status?: string; grpc?: string; end: boolean; blocks: number }>();
  readonly dataBytes = new Map<number, number>();
  readonly body = new Map<number, Buffer[]>();
  #buf = Buffer.alloc(0);
  #decoder = new HpackDecoder();
  #block: { id: number; flags: number; parts: Buffer[] } | undefined;
  #ackSettings: boolean;
  /** SETTINGS ACKs held back until the client's preface and SETTINGS are out. */
  #heldAcks = 0;
  #started = false;
  hpackError = false;

  constructor(port: number, ackSettings = true) {
    this.#ackSettings = ackSettings;
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (c: Buffer) => this.#read(c));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => { this.closed = true; });
  }

  connected(): Promise<void> {
    return new Promise((resolve) => { this.socket.once('connect', () => resolve()); });
  }

  write(...b: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(b.length === 1 ? b[0]! : Buffer.concat(b));
  }

  #read(chunk: Buffer): void {
    this.lastRecv = Date.now();
    this.#buf = Buffer.concat([this.#buf, chunk]);
    let p = 0;
    while (this.#buf.length - p >= 9) {
      const len = this.#buf.readUIntBE(p, 3);
      if (this.#buf.length - p < 9 + len) break;
      const type = this.#buf[p + 3]!;
      const flags = this.#buf[p + 4]!;
      const id = this.#buf.readUInt32BE(p + 5) & 0x7fffffff;
      this.#frame(type, flags, id, this.#buf.subarray(p + 9, p + 9 + len));
      p += 9 + len;
    }
    this.#buf = this.#buf.subarray(p);
  }

  #frame(type: number, flags: number, id: number, payload: Buffer): void {
    switch (type) {
      case SETTINGS:
        if ((flags & ACK) === 0 && this.#ackSettings) {
          if (this.#started) this.write(h2(SETTINGS, ACK, 0));
          else this.#heldAcks++;
        }
        return;
      case GOAWAY: this.goaway.push(code(payload.readUInt32BE(4))); return;
      case RST: this.rst.push(`${id}:${code(payload.readUInt32BE(0))}`); return;
      case DATA:
        this.dataBytes.set(id, (this.dataBytes.get(id) ?? 0) + payload.length);
        (this.body.get(id) ?? this.body.set(id, []).get(id)!).push(Buffer.from(payload));
        if ((flags & ES) !== 0) this.#entry(id).end = true;
        return;
      case HEADERS: case CONT: {
        if (type === HEADERS) this.#block = { id, flags, parts: [] };
        const b = this.#block;
        if (b === undefined) return;
        let from = 0;
        let to = payload.length;
        if (type === HEADERS && (flags & PADDED) !== 0) { from = 1; to -= payload[0]!; }
        if (type === HEADERS && (flags & PRIO) !== 0) from += 5;
        b.parts.push(Buffer.from(payload.subarray(from, to)));
        if ((flags & EH) === 0) return;
        this.#block = undefined;
        const all = Buffer.concat(b.parts);
        const e = this.#entry(b.id);
        e.blocks++;
        try {
          this.#decoder.decode(all, 0, all.length, (n, v) => {
            if (n === ':status') e.status = v;
            if (n === 'grpc-status') e.grpc = v;
          });
        } catch { this.hpackError = true; }
        if ((b.flags & ES) !== 0) e.end = true;
        return;
      }
      default:
    }
  }

  /** The preface and the client's SETTINGS are written: ACK what came meanwhile. */
  start(): void {
    this.#started = true;
    for (; this.#heldAcks > 0; this.#heldAcks--) this.write(h2(SETTINGS, ACK, 0));
  }

  #entry(id: number): { status?: string; grpc?: string; end: boolean; blocks: number } {
    let e = this.status.get(id);
    if (e === undefined) this.status.set(id, e = { end: false, blocks: 0 });
    return e;
  }

  /** Until the server closes, or `ms` have passed and it has been quiet for 100 ms (at most 2 s). */
  async settle(ms = 300): Promise<void> {
    const t0 = Date.now();
    while (!this.closed) {
      const now = Date.now();
      if (now - t0 >= 2000 || (now - t0 >= ms && now - this.lastRecv >= 100)) break;
      await sleep(20);
    }
  }

  outcome(extra?: unknown): Outcome {
    const answered = [...this.status].sort(([a], [b]) => a - b)
      .map(([id, e]) => `${id}:${e.status ?? '-'}/${e.grpc ?? '-'}${e.end ? '+end' : ''}${e.blocks > 2 ? ` x${e.blocks} header blocks` : ''}`);
    const ended = this.closed || this.goaway.some((g) => g !== 'NO_ERROR');
    const o: Outcome = { goaway: this.goaway, rst: this.rst, answered, ended };
    if (extra !== undefined) o.extra = extra;
    return o;
  }
}

/** A compact line for pinning nghttp2's answer and for the board. */
export function line(o: Outcome): string {
  const parts: string[] = [];
  if (o.goaway.length > 0) parts.push(`goaway ${o.goaway.join(',')}`);
  if (o.rst.length > 0) parts.push(`rst ${o.rst.join(',')}`);
  if (o.answered.length > 0) parts.push(`ans ${o.answered.join(',')}`);
  parts.push(o.ended ? 'ended' : 'open');
  if (o.extra !== undefined) parts.push(`extra ${JSON.stringify(o.extra)}`);
  return parts.join('; ');
}

export interface Case {
  name: string;
  /** The bytes before the first frame (default: the preface, as one write). */
  preface?: Buffer[];
  /** The client's first SETTINGS frame (default: empty). */
  settings?: Buffer;
  /** Leave the server's SETTINGS unacknowledged. */
  noAck?: boolean;
  /** Write the case; what it returns is compared too. */
  send(c: RawConn): unknown;
  /** How long to read the answers for (ms). */
  ms?: number;
  /** What to compare (default: the whole outcome); a racy case compares only its robust part. */
  project?: (o: Outcome) => unknown;
  /** nghttp2's answer under Node 20 (`line` of the projection's outcome, or of the whole outcome). */
  want: string;
  /** nghttp2's answer under Node 22+ where it differs (a newer nghttp2, and Node no longer turns its errors into INTERNAL_ERROR); null: not pinned (it depends on load). */
  want24?: string | null;
  /** What the net engine must answer, where that is neither (default: want24, else want). */
  net?: string;
}

export async function probe(port: number, c: Case): Promise<Outcome> {
  const conn = new RawConn(port, c.noAck !== true);
  await conn.connected();
  for (const [i, b] of (c.preface ?? [PREFACE]).entries()) {
    if (i > 0) await sleep(20);
    conn.write(b);
  }
  conn.write(c.settings ?? h2(SETTINGS, 0, 0));
  conn.start();
  const extra = await c.send(conn);
  await conn.settle(c.ms);
  const o = conn.outcome(extra);
  assert.equal(conn.hpackError, false, 'the server\'s header blocks decode');
  conn.socket.destroy();
  return o;
}

