/**
 * One HTTP/2 stream of the net engine, as the call layer (h2/call.ts) drives it: the
 * members of node:http2's ServerHttp2Stream it uses (CallStream), no more. Listeners
 * are plain fields, not an EventEmitter: one of each kind, which is all a call sets.
 *
 * Lifecycle (RFC 9113 5.1): open when its HEADERS arrive; the client's END_STREAM
 * half-closes it ('end' once the data before it was delivered); the server's END_STREAM
 * (trailers, or a trailers-only answer) or a RST_STREAM either way closes it ('close',
 * once). A server that ends before the client did resets the stream with NO_ERROR
 * (9113 8.1), so the client stops sending what no one reads.
 *
 * While paused (a compressed message inflating), received DATA waits here and is not
 * credited back to the client's window, so a paused stream holds at most its window.
 */
import type { OutgoingHttpHeaders } from 'node:http2';

/** What a stream asks of its connection. */
export interface StreamOwner {
  readonly session: { readonly socket: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } };
  sendHeaders(stream: NetStream, headers: OutgoingHttpHeaders, endStream: boolean): void;
  sendData(stream: NetStream, data: Buffer | undefined, endStream: boolean): void;
  /** Give back `n` received bytes to the client's window for the stream (the connection's was given back on arrival). */
  consumed(stream: NetStream, n: number): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (this: NetStream, arg: any) => void;
const noop = (): void => {};

export class NetStream {
  readonly id: number;
  /** Send window: the client's SETTINGS_INITIAL_WINDOW_SIZE, then its WINDOW_UPDATEs. */
  sendWindow: number;
  /** Bytes the client may still send before we credit the stream. */
  recvWindow: number;
  /** DATA waiting for window (flow control), in order; then END_STREAM if `endPending`. */
  pending: Buffer[] | undefined;
  endPending = false;
  /** Trailers (encoded frames) waiting behind `pending`. */
  pendingTrailers: Buffer | undefined;
  /** Received bytes delivered but not yet credited back to the client. */
  uncredited = 0;
  /** Declared content-length (-1: none): more DATA ends the connection, less is refused at END_STREAM. */
  readonly contentLength: number;
  received = 0;
  remoteEnded = false;
  /** The client's END_STREAM was read (its 'end' may still wait behind held data). */
  lastData = false;
  localEnded = false;
  closed = false;
  readonly #owner: StreamOwner;
  #onData: Listener = noop;
  #onEnd: Listener = noop;
  #onClose: Listener = noop;
  #onWantTrailers: Listener = noop;
  #waitForTrailers = false;
  #paused = false;
  #held: Buffer[] | undefined;
  #endHeld = false;
  #resumeQueued = false;

  constructor(owner: StreamOwner, id: number, sendWindow: number, recvWindow: number, contentLength: number) {
    this.#owner = owner;
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    this.contentLength = contentLength;
  }

  get session(): StreamOwner['session'] { return this.#owner.session; }
  get destroyed(): boolean { return this.closed; }

  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end' | 'close' | 'wantTrailers' | 'error', listener: () => void): this;
  on(event: string, listener: Listener): this {
    switch (event) {
      case 'data': this.#onData = listener; break;
      case 'end': this.#onEnd = listener; break;
      case 'close': this.#onClose = listener; break;
      case 'wantTrailers': this.#onWantTrailers = listener; break;
      default: break; // 'error': a stream's errors close it, which ends its call
    }
    return this;
  }

  // ---- receiving (the connection calls these) ----

  /** `n` received bytes delivered: what to give back to the client's window now (0: not yet; half the window at a time). */
  credit(n: number, window: number): number {
    if (this.lastData) return 0;
    this.uncredited += n;
    if (this.uncredited < window / 2) return 0;
    const inc = this.uncredited;
    this.recvWindow += inc;
    this.uncredited = 0;
    return inc;
  }

  /** A DATA payload for this stream. */
  data(chunk: Buffer): void {
    if (this.closed) return;
    if (this.#paused) {
      (this.#held ??= []).push(chunk);
      return;
    }
    this.#owner.consumed(this, chunk.length);
    this.#onData.call(this, chunk);
  }

  /** The client's END_STREAM, after its last DATA (the connection has set `lastData`). */
  remoteEnd(): void {
    this.remoteEnded = true;
    if (this.closed) return;
    if (this.#paused) { this.#endHeld = true; return; }
    this.#onEnd.call(this, undefined);
  }

  pause(): this {
    this.#paused = true;
    return this;
  }

  /** Flowing again, on a later tick as a Readable resumes (the caller may be mid-way through its own queue). */
  resume(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    if ((this.#held !== undefined || this.#endHeld) && !this.#resumeQueued) {
      this.#resumeQueued = true;
      process.nextTick(() => this.#flowHeld());
    }
    return this;
  }

  #flowHeld(): void {
    this.#resumeQueued = false;
    while (!this.#paused && !this.closed && this.#held !== undefined) {
      const chunk = this.#held.shift()!;
      if (this.#held.length === 0) this.#held = undefined;
      this.#owner.consumed(this, chunk.length);
      this.#onData.call(this, chunk);
    }
    if (!this.#paused && !this.closed && this.#held === undefined && this.#endHeld) {
      this.#endHeld = false;
      this.#onEnd.call(this, undefined);
    }
  }

  // ---- answering (the call layer calls these) ----

  respond(headers: OutgoingHttpHeaders, options: { endStream?: boolean; waitForTrailers?: boolean }): void {
    if (this.closed || this.localEnded) return;
    const end = options.endStream === true;
    this.#waitForTrailers = options.waitForTrailers === true;
    this.#owner.sendHeaders(this, headers, end);
  }

  write(chunk: Buffer): boolean {
    if (!this.closed && !this.localEnded) this.#owner.sendData(this, chunk, false);
    return true;
  }

  /** The last DATA (if any), then the trailers ('wantTrailers') or END_STREAM on the data. */
  end(chunk?: Buffer): this {
    if (this.closed || this.localEnded) return this;
    if (this.#waitForTrailers) {
      if (chunk !== undefined && chunk.length > 0) this.#owner.sendData(this, chunk, false);
      this.#onWantTrailers.call(this, undefined);
    } else {
      this.#owner.sendData(this, chunk, true);
    }
    return this;
  }

  sendTrailers(headers: OutgoingHttpHeaders): void {
    if (this.closed || this.localEnded) return;
    this.#owner.sendHeaders(this, headers, true);
  }

  /** Closed, whichever side closed it: 'close' once; what was held is dropped. */
  closedNow(): void {
    if (this.closed) return;
    this.closed = true;
    this.#held = undefined;
    this.pending = undefined;
    this.pendingTrailers = undefined;
    this.#onClose.call(this, undefined);
  }
}
