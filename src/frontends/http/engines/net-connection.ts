/**
 * One HTTP/1.1 connection of the net engine. llhttp parses what arrives; each request
 * becomes a NetExchange handed to the front end as soon as its head is parsed, so
 * pipelined requests are worked on together, while their answers go out strictly in
 * request order (an answer that is ready early waits in its exchange).
 *
 * Bounds: at most MAX_PIPELINED unanswered requests per connection (reading pauses
 * beyond, and while the client does not read what was written); the head's size is
 * llhttp's limit (431); the timeouts are node:http's (see net.ts), checked by the
 * engine's one sweep timer against a coarse clock, so a request costs no timer.
 *
 * Rules: nothing here destroys the socket or frees the parser while `execute` runs
 * (answers written from inside a callback only write); after the connection stops
 * parsing (a request without keep-alive, an upgrade, an answer that closes, a parse
 * error) later requests in the same bytes are dropped unanswered, as HTTP/1.1 allows.
 */
import type { Socket } from 'node:net';
import { type BodyChunkHandler, errorJson, Exchange, JSON_TYPE, type ResponseHead } from '../exchange.js';
import type { HeaderReader } from '../dispatch.js';
import { clientErrorAnswer, REQUEST_TIMEOUT } from './client-error.js';
import { type FrontEnd, pathOf } from './engine.js';
import { methodName, type ParseError, type RequestCallbacks, requestParser, type RequestParser } from './llhttp.js';
import { answerHead, CONTINUE, Next } from './wire-answer.js';

/** Unanswered requests one connection may have before reading pauses. */
export const MAX_PIPELINED = 16;
/** Header fields kept per request (node:http's maxHeadersCount); the size limit comes first in practice. */
const MAX_HEADER_FIELDS = 2000;

export interface Timeouts {
  /** An idle keep-alive connection closes after this. */
  readonly keepAliveMs: number;
  /** A request's head must arrive within this (408). */
  readonly headersMs: number;
  /** A whole request must arrive within this (408). */
  readonly requestMs: number;
}

/** What every connection of one server shares. */
export interface ConnectionHost {
  readonly front: FrontEnd;
  readonly maxHeaderSize: number;
  readonly timeouts: Timeouts;
  /** The end of an answer's head for each Next (wire-answer.ts answerTails), made once per server. */
  readonly tails: readonly string[];
  /** Called once, when the socket has closed. */
  forget(conn: Connection): void;
}

const EMPTY = new Uint8Array(0);
const NO_RELEASE = (): void => {};
/** Strings of this size and bodies up to this are joined to their head: one write, one syscall. */
const JOIN_BODY_BYTES = 16 * 1024;

class NetExchange extends Exchange {
  onChunk: BodyChunkHandler | undefined = undefined;
  /** An answer ready before the ones ahead of it: written when they are. */
  outHead: string | undefined = undefined;
  outBody: string | Uint8Array | undefined = undefined;
  outLast = false;
  /** The client waits for `100 Continue` before sending the body. */
  wantsContinue = false;

  constructor(
    private readonly conn: Connection,
    /** Request headers, flat [name, value, ...], names as sent. */
    readonly headers: readonly string[],
    readonly isHead: boolean,
    /** How the connection may go on after this request, if the answer does not close it. */
    readonly next: Next,
    release: (ex: Exchange) => void,
  ) {
    super(headerOf(headers, 'accept-encoding'), release);
  }

  remoteAddress(): string {
    return this.conn.remoteAddress();
  }

  onData(onChunk: BodyChunkHandler): void {
    this.onChunk = onChunk;
  }

  /** llhttp's binding hands each body piece over as a fresh copy (Buffer::Copy, Node 20-24). */
  override get chunksKeepable(): boolean {
    return true;
  }

  protected send(status: number, head: ResponseHead, body: string | Uint8Array | undefined, close: boolean): void {
    this.conn.answer(this, status, head, body, close);
  }

  /** The connection ended before this request could be answered. */
  abandon(): void {
    if (!this.finished) this.clientGone();
  }
}

/**
 * Headers that must not repeat keep their first value (node:http discards repeats of
 * these, and uWS's getHeader gives the first): a second Authorization cannot
 * override the first. Others are joined with ', ' (RFC 9110 5.3), as node:http does.
 */
const FIRST_ONLY = new Set(['authorization', 'proxy-authorization', 'content-type', 'host', 'user-agent', 'referer',
  'from', 'age', 'etag', 'expires', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location',
  'max-forwards', 'retry-after', 'server', 'content-length']);

/** One request header by its lower-case name; '' when absent. */
export function headerOf(headers: readonly string[], name: string): string {
  let value: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i]!;
    if (k.length !== name.length || (k !== name && k.toLowerCase() !== name)) continue;
    if (value === undefined) {
      value = headers[i + 1]!;
      if (FIRST_ONLY.has(name)) return value;
    } else {
      value = `${value}${name === 'cookie' ? '; ' : ', '}${headers[i + 1]!}`;
    }
  }
  return value ?? '';
}

const readHeader: HeaderReader<NetExchange> = (ex, name) => headerOf(ex.headers, name);

export class Connection implements RequestCallbacks {
  private readonly parser: RequestParser;
  /** Requests not yet answered on the wire, in request order. */
  private readonly queue: NetExchange[] = [];
  /** The request whose body is being parsed. */
  private current: NetExchange | undefined = undefined;
  /** A head that came in pieces, collected (llhttp's binding hands it over early). */
  private pendingHeaders: string[] = [];
  private pendingUrl = '';
  /** The request being parsed is the last: no keep-alive, or an upgrade. */
  private lastRequest = false;
  /** No more requests are parsed; the connection closes once the queue is written. */
  private stopped = false;
  /** The socket is gone: answers are dropped. */
  private dead = false;
  private executing = false;
  /** The parser reads the socket's handle itself (`consume`). */
  private readonly consumed: boolean;
  private paused = false;
  /** Coarse time the request being parsed began (0: none), and whether its head is complete. */
  private messageStart = 0;
  private headDone = false;
  private idleSince: number;

  constructor(private readonly socket: Socket, private readonly host: ConnectionHost, now: number) {
    this.idleSince = now;
    this.parser = requestParser(this, host.maxHeaderSize);
    // The parser reads the socket itself where it can (as node:http does): no Buffer
    // and no 'data' event per read, ~15% less CPU per request than 'data' events on a
    // JSON echo (bench/README.md, "HTTP engines").
    this.consumed = this.parser.consume(socket);
    if (!this.consumed) socket.on('data', (d: Buffer) => this.onSocketData(d));
    socket.on('end', () => this.onSocketEnd());
    socket.on('drain', () => this.maybeResume());
    // 'close' follows every error; the exchanges learn of it there.
    socket.on('error', () => {});
    socket.on('close', () => this.onSocketClose());
  }

  remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  // --- reading -------------------------------------------------------------------

  /** Without `consume`: each read executed here. */
  private onSocketData(d: Buffer): void {
    if (this.stopped) return;
    this.executing = true;
    const r = this.parser.execute(d);
    this.executing = false;
    this.onExecute(r);
  }

  /** After each read is parsed (called by the parser itself when it consumes the socket). */
  onExecute(r: number | ParseError): void {
    // A consumed parser calls this from inside its own read: it is freed on 'close' instead.
    if (this.dead) { if (!this.consumed) this.closeParser(); return; }
    // After a request that ends the connection, what follows is never a request.
    if (typeof r !== 'number' && !this.stopped) this.fail(clientErrorAnswer(r));
    if (!this.stopped && !this.paused && (this.queue.length >= MAX_PIPELINED || this.socket.writableNeedDrain)) {
      this.paused = true;
      this.readStop();
    }
  }

  private maybeResume(): void {
    if (this.paused && !this.stopped && this.queue.length < MAX_PIPELINED / 2 && !this.socket.writableNeedDrain) {
      this.paused = false;
      this.readStart();
    }
  }

  /**
   * A consumed socket's stream never sees the bytes, so pausing the stream would not
   * stop the reads: the handle itself stops and starts.
   */
  private readStop(): void {
    if (this.consumed) (this.socket as unknown as { _handle?: { readStop(): number } })._handle?.readStop();
    else this.socket.pause();
  }

  private readStart(): void {
    if (this.consumed) (this.socket as unknown as { _handle?: { readStart(): number } })._handle?.readStart();
    else this.socket.resume();
  }

  onMessageBegin(): void {
    if (this.stopped) return;
    this.messageStart = coarseNow;
    this.headDone = false;
  }

  onHeaders(headers: string[], url: string): void {
    if (this.pendingHeaders.length < MAX_HEADER_FIELDS * 2) for (const h of headers) this.pendingHeaders.push(h);
    this.pendingUrl += url;
  }

  onHeadersComplete(versionMajor: number, versionMinor: number, headers: string[] | null | undefined, method: number,
    url: string | null | undefined, _statusCode: unknown, _statusMessage: unknown, upgrade: boolean, shouldKeepAlive: boolean): number {
    if (headers == null) { headers = this.pendingHeaders; this.pendingHeaders = []; }
    if (url == null) { url = this.pendingUrl; this.pendingUrl = ''; }
    this.headDone = true;
    if (this.stopped) return 0;
    // An upgrade (or CONNECT) is answered as a plain request; llhttp parses nothing after it.
    this.lastRequest = upgrade || !shouldKeepAlive;
    const http10 = versionMajor === 1 && versionMinor === 0;
    const next = this.lastRequest ? Next.Close : http10 ? Next.KeepAlive10 : Next.KeepAlive;
    const name = methodName(method);
    const expect = headerOf(headers, 'expect');
    if (expect !== '' && (http10 || expect.toLowerCase() !== '100-continue')) {
      // The body (if any) is skipped by llhttp; the connection stays usable.
      this.current = this.engineAnswer(headers, name === 'head', next, 417, `unsupported Expect: ${expect.slice(0, 64)}`, false);
      return 0;
    }
    const ex = new NetExchange(this, headers, name === 'head', next, this.host.front.release);
    this.current = ex;
    this.queue.push(ex);
    this.host.front.handle(ex, name, pathOf(url), ex, readHeader);
    if (expect !== '' && !ex.finished) {
      ex.wantsContinue = true;
      if (this.queue[0] === ex) this.sendContinue(ex);
    }
    return 0;
  }

  onBody(chunk: Buffer): void {
    const ex = this.current;
    if (ex !== undefined && ex.onChunk !== undefined && !ex.finished) ex.onChunk(chunk, false);
  }

  onMessageComplete(): void {
    this.messageStart = 0;
    // Trailers of a chunked body come as headers: not kept.
    if (this.pendingHeaders.length !== 0) this.pendingHeaders = [];
    this.pendingUrl = '';
    const ex = this.current;
    this.current = undefined;
    if (ex !== undefined && ex.onChunk !== undefined && !ex.finished) ex.onChunk(EMPTY, true);
    if (this.lastRequest) this.stop();
  }

  private sendContinue(ex: NetExchange): void {
    ex.wantsContinue = false;
    if (this.current === ex && !this.dead) this.socket.write(CONTINUE, 'latin1');
  }

  // --- answering -----------------------------------------------------------------

  /** Called by an exchange's send: written now if every answer ahead of it is out, else kept. */
  answer(ex: NetExchange, status: number, head: ResponseHead, body: string | Uint8Array | undefined, close: boolean): void {
    if (this.dead) return;
    const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    const last = close || ex.next === Next.Close;
    const text = answerHead(status, head, length, this.host.tails[last ? Next.Close : ex.next]!);
    // An answer that closes: nothing after it is parsed (its unread body included).
    if (last) this.stop();
    if (this.queue[0] !== ex) {
      ex.outHead = text;
      ex.outBody = ex.isHead ? undefined : body;
      ex.outLast = last;
      return;
    }
    this.queue.shift();
    this.put(text, ex.isHead ? undefined : body);
    if (last) { this.closeAfterWrites(); return; }
    this.flushReady();
  }

  /** Write the answers that waited for the one just written; then settle the connection's state. */
  private flushReady(): void {
    let ex = this.queue[0];
    while (ex !== undefined && ex.outHead !== undefined) {
      this.queue.shift();
      this.put(ex.outHead, ex.outBody);
      if (ex.outLast) { this.closeAfterWrites(); return; }
      ex = this.queue[0];
    }
    if (ex === undefined) {
      if (this.stopped) { this.closeAfterWrites(); return; }
      this.idleSince = coarseNow;
    } else if (ex.wantsContinue) {
      this.sendContinue(ex);
    }
    this.maybeResume();
  }

  private put(head: string, body: string | Uint8Array | undefined): void {
    const s = this.socket;
    if (body === undefined || body.length === 0) {
      s.write(head, 'latin1');
    } else if (typeof body === 'string' && body.length <= JOIN_BODY_BYTES) {
      s.write(head + body, 'utf8'); // the head is ASCII: the same bytes in UTF-8
    } else if (typeof body !== 'string' && body.byteLength <= JOIN_BODY_BYTES) {
      const out = Buffer.allocUnsafe(head.length + body.byteLength);
      out.write(head, 0, 'latin1');
      out.set(body, head.length);
      s.write(out);
    } else {
      // Large: one writev of head and body, no copy of the body.
      s.cork();
      s.write(head, 'latin1');
      s.write(body);
      s.uncork();
    }
  }

  /** Stop parsing: the connection closes once the answers ahead are written. */
  private stop(): void {
    this.stopped = true;
    this.messageStart = 0;
  }

  private closeAfterWrites(): void {
    this.stop();
    if (this.dead) return;
    this.dead = true;
    // Answers still queued behind the closing one can never be written.
    this.abandonAll();
    const s = this.socket;
    s.end(() => s.destroy());
  }

  /**
   * Refuse what the client is sending (a parse error, a timeout): the request being
   * parsed gets `status` in its place in the answer order, and the connection closes.
   */
  private fail([status, message]: [number, string]): void {
    const cur = this.current;
    this.current = undefined;
    if (cur !== undefined && !cur.finished) {
      this.queue.splice(this.queue.indexOf(cur), 1);
      cur.abandon();
    }
    this.stop();
    this.engineAnswer([], false, Next.Close, status, message, true);
  }

  /**
   * An answer of the engine's own (not the front end's: it never counted the request
   * in flight, so nothing is released), in its place in the answer order.
   */
  private engineAnswer(headers: readonly string[], isHead: boolean, next: Next, status: number, message: string, close: boolean): NetExchange {
    const ex = new NetExchange(this, headers, isHead, next, NO_RELEASE);
    this.queue.push(ex);
    ex.write(status, { contentType: JSON_TYPE }, errorJson(message), close);
    return ex;
  }

  // --- ending --------------------------------------------------------------------

  /**
   * The client sent FIN. Like node:http (httpAllowHalfOpen false), that is the client
   * gone: what it asked is abandoned (cancelled), not answered into a closing socket.
   */
  private onSocketEnd(): void {
    this.socket.destroy();
  }

  private onSocketClose(): void {
    this.dead = true;
    this.stopped = true;
    this.current?.abandon();
    this.current = undefined;
    this.abandonAll();
    this.closeParser();
    this.host.forget(this);
  }

  private parserClosed = false;

  /** Free the native parser once, never from inside its own execute (onSocketData frees it after). */
  private closeParser(): void {
    if (this.parserClosed || this.executing) return;
    this.parserClosed = true;
    if (this.consumed) this.parser.unconsume();
    this.parser.close();
  }

  private abandonAll(): void {
    const q = this.queue.splice(0);
    for (const ex of q) ex.abandon();
  }

  /** The sweep: node:http's timeouts, on the coarse clock. */
  tick(now: number): void {
    if (this.dead || this.stopped) return;
    if (this.messageStart !== 0) {
      const age = now - this.messageStart;
      const t = this.host.timeouts;
      if ((!this.headDone && age > t.headersMs) || age > t.requestMs) this.fail([408, REQUEST_TIMEOUT]);
    } else if (this.queue.length === 0 && now - this.idleSince > this.host.timeouts.keepAliveMs) {
      this.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The engine's coarse clock (ms), advanced by its sweep: requests read it instead of Date.now(). */
let coarseNow = Date.now();

export function advanceClock(now: number): void {
  coarseNow = now;
}
