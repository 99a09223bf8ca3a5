/**
 * One gRPC call on one HTTP/2 stream, below the handler: reading (deframing, the
 * compressed flag and grpc-encoding, bounds), the deadline, answering (response
 * headers, messages, trailers or a trailers-only status) and the end of the stream.
 * unary.ts and bidi.ts give handlers the call objects grpc-js would.
 *
 * Lean on purpose: the stream's listeners are functions shared by every call (the
 * call rides on the stream under a symbol), the metadata is built only when a handler
 * reads it, a whole message in one DATA chunk is a view of it, and an answer is one
 * buffer (prefix + message) ended with the trailers (waitForTrailers).
 *
 * What a client can see follows grpc-js 1.14's server (server-interceptors.js): a
 * status before any message is trailers-only; a compressed message (flag 1) is inflated
 * per grpc-encoding, an unknown one is UNIMPLEMENTED, the flag under identity is read
 * as is; the size limit holds before the body arrives and while inflating; a status
 * ends the call (later messages and answers dropped) and cancels it for the handler.
 */
import * as grpc from '@grpc/grpc-js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { BytesHolder, RequestBytesBudget } from '../../request-bytes.js';
import { type InflateFailure, inflateCounted } from '../inflate.js';
import { headerValue, legalHeaderValue, timeoutMs } from './deadline.js';
import { Deframer } from './deframer.js';
import { type CallStatus, END_STREAM, OK_TRAILERS, RESPONSE_HEADERS, WAIT_FOR_TRAILERS, trailersOf, trailersOnly } from './status.js';

/** A method as registered (grpc-js's handler record, the parts a call uses). */
export interface MethodRecord {
  readonly path: string;
  readonly serialize: (value: unknown) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
}

/** The server-wide bounds on what a call receives. */
export interface ReceiveLimits {
  /** --max-request-bytes, after decompression (-1: none). */
  readonly maxReceiveBytes: number;
  /** --max-inflight-request-bytes: bytes of messages still arriving or inflating count here. */
  readonly budget: RequestBytesBudget | undefined;
}

/**
 * The members of node:http2's ServerHttp2Stream a call uses: the http2 engine passes
 * its streams, the net engine (net/stream.ts) its own.
 */
export interface CallStream {
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly session?: { readonly socket?: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } } | undefined;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close' | 'wantTrailers' | 'error', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  write(chunk: Buffer): unknown;
  end(chunk?: Buffer): unknown;
  respond(headers: OutgoingHttpHeaders, options: { endStream?: boolean; waitForTrailers?: boolean }): void;
  sendTrailers(headers: OutgoingHttpHeaders): void;
}

const CALL = Symbol('osprey.h2.call');
type Stream = CallStream & { [CALL]?: H2Call };

// The stream's listeners, shared by every call.
function onData(this: Stream, chunk: Buffer): void { this[CALL]!.received(chunk); }
function onEnd(this: Stream): void { this[CALL]!.halfClosed(); }
function onClose(this: Stream): void { this[CALL]!.streamClosed(); }
function onWantTrailers(this: Stream): void { this.sendTrailers(this[CALL]!.trailers); }
function onDeadline(call: H2Call): void { call.sendStatus(DEADLINE_EXCEEDED); }

const DEADLINE_EXCEEDED: CallStatus = { code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' };
const DESERIALIZE_FAILED: CallStatus = { code: grpc.status.INTERNAL, details: 'Error deserializing request' };
const SERIALIZE_FAILED: CallStatus = { code: grpc.status.INTERNAL, details: 'Error serializing response' };

/** Headers grpc-js keeps out of the metadata handlers see. */
const NOT_METADATA = ['grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding', 'te', 'content-type'] as const;

/** A message waiting its turn behind a compressed one (order is kept), or the half-close. */
interface Queued { body: Buffer | undefined; compressed: boolean; end: boolean; inflating: boolean }

export abstract class H2Call extends Deframer implements BytesHolder {
  /** Set once the call is over for the handler: answered, failed, reset by the client or past its deadline. */
  cancelled = false;
  /** Bytes of this call's messages still arriving or inflating, in the in-flight budget. */
  heldBytes = 0;
  /** The trailers 'wantTrailers' sends. */
  trailers = OK_TRAILERS;
  readonly method: MethodRecord;
  readonly #stream: Stream;
  readonly #headers: IncomingHttpHeaders;
  readonly #limits: ReceiveLimits;
  #metadata: grpc.Metadata | undefined;
  #deadline = Infinity;
  #timer: NodeJS.Timeout | undefined;
  #invalidTimeout: string | undefined;
  #encoding = 'identity';
  #queue: Queued[] | undefined;
  #headersSent = false;
  /** The status is sent, or the stream is gone: nothing more is read or written. */
  #over = false;

  constructor(stream: CallStream, headers: IncomingHttpHeaders, method: MethodRecord, limits: ReceiveLimits) {
    super(limits.maxReceiveBytes);
    this.#stream = stream as Stream;
    this.#headers = headers;
    this.method = method;
    this.#limits = limits;
    this.#stream[CALL] = this;
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onClose);
    const timeout = headerValue(headers['grpc-timeout']);
    if (timeout !== undefined) this.#startDeadline(timeout);
    const encoding = headerValue(headers['grpc-encoding']);
    if (encoding !== undefined && legalHeaderValue(encoding)) this.#encoding = encoding;
  }

  // ---- what handlers read ----

  /** The request metadata (grpc-js's Metadata of the headers, less grpc-js's transport ones), built on first read. */
  get metadata(): grpc.Metadata {
    if (this.#metadata === undefined) {
      const md = grpc.Metadata.fromHttp2Headers(this.#headers);
      for (const k of NOT_METADATA) md.remove(k);
      this.#metadata = md;
    }
    return this.#metadata;
  }

  /** grpc-js's getPeer(): `<address>:<port>` of the client. */
  getPeer(): string {
    const socket = this.#stream.session?.socket;
    if (socket?.remoteAddress === undefined) return 'unknown';
    return socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : socket.remoteAddress;
  }

  /** grpc-js's getDeadline(): wall-clock milliseconds, Infinity without grpc-timeout. */
  getDeadline(): number { return this.#deadline; }

  getPath(): string { return this.method.path; }

  getHost(): string | undefined { return this.#headers[':authority'] ?? this.#headers.host; }

  // ---- what subclasses implement ----

  /** A whole, decoded request message. */
  protected abstract onMessage(value: unknown): void;
  /** The client half-closed, after every message before it was delivered. */
  protected abstract onHalfClose(): void;
  /** The call ended without the handler answering it (reset, deadline, a receive error). */
  protected abstract onCancel(): void;

  // ---- receiving ----

  protected get ended(): boolean { return this.#over; }

  received(chunk: Buffer): void {
    if (this.#gone() || this.#failTimeout()) return;
    const budget = this.#limits.budget;
    if (budget !== undefined && !budget.take(this, chunk.length)) {
      // Given back at once: calls arriving beside this one go on (as receive-bound.ts).
      budget.giveBack(this);
      this.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: budget.exceeded().message });
      return;
    }
    this.deframe(chunk);
  }

  protected tooLarge(details: string): void {
    this.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details });
  }

  protected message(flag: number, body: Buffer): void {
    this.#limits.budget?.release(this, body.length + 5);
    // grpc-js: the flag byte 1 means compressed with grpc-encoding; any other value, or identity, is read as is.
    const compressed = flag === 1 && this.#encoding !== 'identity';
    if (compressed && this.#encoding !== 'gzip' && this.#encoding !== 'deflate') {
      this.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received message compressed with unsupported encoding "${this.#encoding}"` });
      return;
    }
    if (!compressed && this.#queue === undefined) {
      this.#deliver(body);
      return;
    }
    this.#enqueue({ body, compressed, end: false, inflating: false });
  }

  halfClosed(): void {
    if (this.#over || this.#failTimeout()) return;
    if (this.#queue === undefined) this.onHalfClose();
    else this.#enqueue({ body: undefined, compressed: false, end: true, inflating: false });
  }

  /**
   * Behind a compressed message, everything waits its turn, and the stream is paused
   * until the queue drains: one message inflates at a time, as grpc-js (which pauses
   * the stream per message), so many compressed messages on one stream never inflate
   * all at once.
   */
  #enqueue(e: Queued): void {
    const q = (this.#queue ??= []);
    q.push(e);
    if (q.length === 1) {
      this.#stream.pause();
      this.#pump();
    }
  }

  #pump(): void {
    const q = this.#queue!;
    while (q.length > 0 && !this.#over) {
      const e = q[0]!;
      if (e.inflating) return;
      if (e.compressed) {
        e.inflating = true;
        inflateCounted(e.body!, this.#encoding as 'gzip' | 'deflate', this.#limits.budget, this.maxMessageBytes).then((inflated) => {
          e.body = inflated;
          e.compressed = false;
          e.inflating = false;
          this.#pump();
        }, (failure: InflateFailure) => this.sendStatus(failure));
        return;
      }
      q.shift();
      if (e.end) this.onHalfClose();
      else this.#deliver(e.body!);
    }
    this.#queue = undefined;
    if (!this.#over) this.#stream.resume();
  }

  #deliver(body: Buffer): void {
    let value: unknown;
    try {
      value = this.method.deserialize(body);
    } catch {
      this.sendStatus(DESERIALIZE_FAILED);
      return;
    }
    this.onMessage(value);
  }

  // ---- answering ----

  /** Send one message (response headers first if not yet sent). */
  sendMessage(value: unknown): void {
    if (this.#gone()) return;
    const frame = this.#frame(value);
    if (frame === undefined) return;
    this.#respond();
    this.#stream.write(frame);
  }

  /** Send one message and the OK status: a unary answer. */
  sendLast(value: unknown): void {
    if (this.#gone()) return;
    const frame = this.#frame(value);
    if (frame === undefined) return;
    this.#respond();
    this.#finish();
    this.#stream.end(frame);
  }

  /** End the call with `status`: trailers after messages, trailers-only before any. */
  sendStatus(status: CallStatus): void {
    if (this.#gone()) return;
    const answered = this.#headersSent;
    this.#finish();
    if (answered) {
      this.trailers = trailersOf(status);
      this.#stream.end();
    } else {
      this.#stream.respond(trailersOnly(status), END_STREAM);
    }
    if (status.code !== grpc.status.OK) this.#cancel();
  }

  #frame(value: unknown): Buffer | undefined {
    let message: Buffer;
    try {
      message = this.method.serialize(value);
    } catch {
      this.sendStatus(SERIALIZE_FAILED);
      return undefined;
    }
    const frame = Buffer.allocUnsafe(message.length + 5);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    return frame;
  }

  #respond(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.#stream.on('wantTrailers', onWantTrailers);
    this.#stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
  }

  // ---- the end ----

  #finish(): void {
    this.#over = true;
    this.cancelled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    // Paused behind an inflation: flowing again, so what still arrives is read and dropped.
    if (this.#queue !== undefined) this.#stream.resume();
  }

  /** The handler learns that the call is over (once). */
  #cancel(): void {
    this.onCancel();
  }

  /** The status is out, or the stream went away under the call (grpc-js's checkCancelled). */
  #gone(): boolean {
    if (this.#over) return true;
    const s = this.#stream;
    if (s.destroyed || s.closed) { this.streamClosed(); return true; }
    return false;
  }

  streamClosed(): void {
    this.#limits.budget?.giveBack(this);
    if (this.#over) return;
    this.#finish();
    this.#cancel();
  }

  /** An invalid grpc-timeout: INTERNAL, once, before the call reads anything. */
  #failTimeout(): boolean {
    const value = this.#invalidTimeout;
    if (value === undefined) return false;
    this.#invalidTimeout = undefined;
    this.sendStatus({ code: grpc.status.INTERNAL, details: `Invalid grpc-timeout value "${value}"` });
    return true;
  }

  #startDeadline(value: string): void {
    const ms = timeoutMs(value);
    if (ms === undefined) return;
    if (Number.isNaN(ms)) {
      // After the constructor, as grpc-js (the handler is in place by then), and before
      // anything the call receives: the net engine may hand the messages over in the same turn.
      this.#invalidTimeout = value;
      process.nextTick(() => this.#failTimeout());
      return;
    }
    this.#deadline = Date.now() + ms;
    this.#timer = setTimeout(onDeadline, ms, this);
  }
}
