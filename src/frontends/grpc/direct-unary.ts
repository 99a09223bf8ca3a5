/**
 * ModelInfer served straight from grpc-js's call object, without grpc-js's unary
 * wrapper. grpc-js 1.14 answers every unary call through `handleUnary`, which makes
 * a `ServerWritableStreamImpl` per call (a Writable stream with its state, an 'error'
 * listener and trailing Metadata) and closures for its listener, and sends the status
 * from the message's write callback. A server interceptor (grpc-js's public
 * `interceptors` option) takes the call before that wrapper runs: it reads the
 * metadata and the one message itself, runs the same handler, and sends message and
 * status back to back. On the wire nothing changes: the trailers still leave once
 * nghttp2 has sent the data (counted with strace: about as many socket writes per
 * answer as before).
 *
 * What grpc-js's wrapper does is kept: a second request message or none at all
 * gets UNIMPLEMENTED with its wording; a cancelled call drops its answer. Deadlines,
 * decompression, size limits and metadata parsing stay grpc-js's (they happen in the
 * call object below the interceptor).
 */
import * as grpc from '@grpc/grpc-js';
import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';

/** The call as a unary handler sees it (what service.ts's handlers read from grpc-js's). */
export interface DirectUnaryCall<Req> {
  readonly request: Req;
  readonly metadata: grpc.Metadata;
  readonly cancelled: boolean;
  getPeer(): string;
  getDeadline(): grpc.Deadline;
  /** Only 'cancelled', one listener (CallCancellation's). */
  on(event: 'cancelled', listener: () => void): unknown;
}

export type DirectUnaryHandler<Req, Res> = (call: DirectUnaryCall<Req>, callback: (err: Partial<grpc.StatusObject> | null, value?: Res) => void) => void;

/** grpc-js's PartialStatusObject (not exported by name). */
type Status = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

const OK_STATUS: Status = { code: grpc.status.OK, details: 'OK', metadata: null };
const NO_OP = (): void => {};

/** The handler's error answer as a full status, by grpc-js's own rule (serverErrorToStatus); the http2 engine's too. */
export function statusOf(err: Partial<grpc.StatusObject> & { message?: string }): Status {
  const status: Status = { code: grpc.status.UNKNOWN, details: 'message' in err ? String(err.message) : 'Unknown Error', metadata: err.metadata ?? null };
  if (typeof err.code === 'number' && Number.isInteger(err.code)) {
    status.code = err.code;
    if (typeof err.details === 'string') status.details = err.details;
  }
  return status;
}

/**
 * An interceptor answering `path` with `handler`; every other method passes through
 * untouched. The interceptor replaces the call grpc-js hands its unary wrapper, so
 * that wrapper's start() and startRead() land here and are ignored.
 */
export function directUnary<Req, Res>(path: string, handler: DirectUnaryHandler<Req, Res>): ServerInterceptor {
  // grpc-js types an interceptor's result as its ServerInterceptingCall class; it only
  // ever uses the interface (it hands the call to its handlers as is).
  return ((method, call) => (method.path === path ? new DirectUnary(call, path, handler) : call)) as ServerInterceptor;
}

/**
 * One object per call: the call grpc-js sees (the interface), the listener it starts
 * the call below with (the on* methods; grpc-js calls them as methods of the object it
 * was given, also through its own ServerInterceptingCall), and the call the handler
 * sees (DirectUnaryCall). Closures per call cost allocations the garbage collector
 * then pays for on every request.
 */
class DirectUnary<Req, Res> implements ServerInterceptingCallInterface, DirectUnaryCall<Req> {
  request!: Req;
  metadata!: grpc.Metadata;
  cancelled = false;
  readonly #call: ServerInterceptingCallInterface;
  readonly #path: string;
  readonly #handler: DirectUnaryHandler<Req, Res>;
  #onCancel: (() => void) | undefined = undefined;
  #received = false;
  #finished = false;

  constructor(call: ServerInterceptingCallInterface, path: string, handler: DirectUnaryHandler<Req, Res>) {
    this.#call = call;
    this.#path = path;
    this.#handler = handler;
  }

  start(): void {
    this.#call.start(this);
  }

  // ---- the listener of the call below ----

  onReceiveMetadata(metadata: grpc.Metadata): void {
    this.metadata = metadata;
    this.#call.startRead();
  }

  onReceiveMessage(message: Req): void {
    if (this.#received) {
      this.#end({ code: grpc.status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${this.#path}`, metadata: null });
      return;
    }
    this.#received = true;
    this.request = message;
    this.#call.startRead();
  }

  onReceiveHalfClose(): void {
    if (!this.#received) {
      this.#end({ code: grpc.status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${this.#path}`, metadata: null });
      return;
    }
    this.#run();
  }

  onCancel(): void {
    this.#finished = true;
    if (this.cancelled) return;
    this.cancelled = true;
    this.#onCancel?.();
  }

  // ---- the handler's side ----

  on(_event: 'cancelled', listener: () => void): this {
    this.#onCancel = listener;
    return this;
  }

  #run(): void {
    try {
      this.#handler(this, (err, value) => {
        if (err !== null) { this.#end(statusOf(err)); return; }
        if (this.#finished) return;
        this.#finished = true;
        this.#call.sendMessage(value, NO_OP);
        this.#call.sendStatus(OK_STATUS);
      });
    } catch {
      // grpc-js's wrapper answers a throwing handler so (its details unless debugging is on).
      this.#end({ code: grpc.status.UNKNOWN, details: 'Unknown error', metadata: null });
    }
  }

  #end(status: Status): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#call.sendStatus(status);
  }

  // ---- the rest of the call interface ----
  // The wrapper's own reads and writes never happen (its listener is not started);
  // the rest passes through.
  startRead(): void {}
  sendMetadata(metadata: grpc.Metadata): void { this.#call.sendMetadata(metadata); }
  sendMessage(message: unknown, callback: () => void): void { this.#call.sendMessage(message, callback); }
  sendStatus(status: Status): void { this.#call.sendStatus(status); }
  getPeer(): string { return this.#call.getPeer(); }
  getDeadline(): grpc.Deadline { return this.#call.getDeadline(); }
  getHost(): string { return this.#call.getHost(); }
  getAuthContext(): ReturnType<ServerInterceptingCallInterface['getAuthContext']> { return this.#call.getAuthContext(); }
  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface['getConnectionInfo']> { return this.#call.getConnectionInfo(); }
  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface['getMetricsRecorder']> { return this.#call.getMetricsRecorder(); }
}
