/**
 * A bidirectional streaming call as its handler sees it (ModelStreamInfer in
 * service.ts, guard.ts, @grpc/reflection): what they use of grpc-js's
 * ServerDuplexStreamImpl. Messages arrive as 'data' events, the half-close as 'end';
 * write() sends one message; end() sends the status (OK, or the one an 'error' event
 * carried: grpc-js's error -> status rule); a call ended under the handler (reset,
 * deadline, a receive error) emits 'cancelled' and then nothing more.
 */
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http2';
import { statusOf } from '../direct-unary.js';
import { type CallStream, H2Call, type MethodRecord, type ReceiveLimits } from './call.js';
import type { CallStatus } from './status.js';

export type BidiHandler = (call: BidiCall) => void;

/** The stream below the handler's call object, forwarding what it reads. */
class BidiStream extends H2Call {
  readonly #call: BidiCall;
  constructor(stream: CallStream, headers: IncomingHttpHeaders, method: MethodRecord, limits: ReceiveLimits, call: BidiCall) {
    super(stream, headers, method, limits);
    this.#call = call;
  }
  // A listener that throws ends the call UNKNOWN, as a throwing handler does, not the process.
  protected onMessage(value: unknown): void { this.#emit('data', value); }
  protected onHalfClose(): void { this.#emit('end', undefined); }
  #emit(event: 'data' | 'end', value: unknown): void {
    try {
      this.#call.emit(event, value);
    } catch {
      this.#call.fail({ code: grpc.status.UNKNOWN, details: 'Unknown error' });
    }
  }
  protected onCancel(): void { this.#call.cancel(); }
}

const OK: CallStatus = { code: grpc.status.OK, details: 'OK' };

function onError(this: BidiCall, err: Partial<grpc.StatusObject> & { message?: string }): void {
  this.fail(err);
}

export class BidiCall extends EventEmitter {
  cancelled = false;
  readonly #stream: BidiStream;
  #status: CallStatus = OK;
  #ended = false;

  constructor(stream: CallStream, headers: IncomingHttpHeaders, method: MethodRecord, limits: ReceiveLimits) {
    super();
    this.#stream = new BidiStream(stream, headers, method, limits, this);
    // grpc-js: an 'error' emitted on the call ends it with that error's status.
    this.on('error', onError);
  }

  get metadata(): grpc.Metadata { return this.#stream.metadata; }
  getPeer(): string { return this.#stream.getPeer(); }
  getDeadline(): number { return this.#stream.getDeadline(); }
  getPath(): string { return this.#stream.getPath(); }
  getHost(): string | undefined { return this.#stream.getHost(); }

  write(message: unknown): boolean {
    if (!this.#ended) this.#stream.sendMessage(message);
    return true;
  }

  /** End the call: the status an 'error' set, else OK (trailing metadata if given). */
  end(metadata?: grpc.Metadata): this {
    if (this.#ended) return this;
    this.#ended = true;
    const s = this.#status;
    this.#stream.sendStatus(s.metadata === undefined || s.metadata === null ? (metadata === undefined ? s : { ...s, metadata }) : s);
    return this;
  }

  /** An 'error' emitted by the handler: its status, then the end. */
  fail(err: Partial<grpc.StatusObject> & { message?: string }): void {
    this.#status = statusOf(err);
    this.end();
  }

  /** The call ended under the handler. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.#ended = true;
    this.emit('cancelled', 'cancelled');
  }
}

export function startBidi(stream: CallStream, headers: IncomingHttpHeaders, method: MethodRecord, limits: ReceiveLimits, handler: BidiHandler): void {
  const call = new BidiCall(stream, headers, method, limits);
  try {
    handler(call);
  } catch {
    call.fail({ code: grpc.status.UNKNOWN, details: 'Unknown error' });
  }
}
