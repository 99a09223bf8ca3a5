/**
 * A unary call as its handler sees it (the members service.ts, guard.ts and early.ts
 * read of grpc-js's ServerUnaryCall: DirectUnaryCall) and grpc-js's unary rules: one
 * request message, else UNIMPLEMENTED with grpc-js's texts; the handler runs at the
 * half-close; its callback answers once (grpc-js's error -> status rule); a throwing
 * handler is UNKNOWN "Unknown error"; an answer after the call ended is dropped.
 */
import * as grpc from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http2';
import { type DirectUnaryCall, type DirectUnaryHandler, statusOf } from '../direct-unary.js';
import { type CallStream, H2Call, type MethodRecord, type ReceiveLimits } from './call.js';

export class UnaryCall extends H2Call implements DirectUnaryCall<unknown> {
  request: unknown = undefined;
  readonly #handler: DirectUnaryHandler<unknown, unknown>;
  #received = false;
  #onCancel: (() => void) | undefined = undefined;

  constructor(stream: CallStream, headers: IncomingHttpHeaders, method: MethodRecord, limits: ReceiveLimits, handler: DirectUnaryHandler<unknown, unknown>) {
    super(stream, headers, method, limits);
    this.#handler = handler;
  }

  /** Only 'cancelled' (one listener: CallCancellation's). */
  on(_event: 'cancelled', listener: () => void): this {
    this.#onCancel = listener;
    return this;
  }

  protected onMessage(value: unknown): void {
    if (this.#received) {
      this.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${this.method.path}` });
      return;
    }
    this.#received = true;
    this.request = value;
  }

  protected onHalfClose(): void {
    if (!this.#received) {
      this.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${this.method.path}` });
      return;
    }
    try {
      this.#handler(this, (err, value) => {
        if (err !== null && err !== undefined) this.sendStatus(statusOf(err));
        else this.sendLast(value);
      });
    } catch {
      this.sendStatus({ code: grpc.status.UNKNOWN, details: 'Unknown error' });
    }
  }

  protected onCancel(): void {
    this.#onCancel?.();
  }
}
