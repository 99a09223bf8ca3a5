/**
 * One HTTP request/response pair and the only code that writes to a uWS HttpResponse.
 *
 * uWS rules this file enforces: `onAborted` is registered in the constructor (before
 * any async work); after an abort, or once the answer is written, `res` is never
 * touched again; every write happens inside `res.cork()`.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { asOspreyError, OspreyError } from '../../errors/errors.js';
import { HTTP_STATUS } from '../../errors/status.js';
import { Cancellation } from '../../types/cancel.js';
import { type Coding, compressBody, COMPRESS_MIN_BYTES, negotiateCoding } from './compress.js';

export const JSON_TYPE = 'application/json';
export const OCTET_TYPE = 'application/octet-stream';

export interface HttpLogger { error(obj: object, msg?: string): void }

const STATUS_LINE: Record<number, string> = {
  200: '200 OK', 400: '400 Bad Request', 404: '404 Not Found', 405: '405 Method Not Allowed',
  409: '409 Conflict', 413: '413 Payload Too Large', 499: '499 Client Closed Request',
  500: '500 Internal Server Error', 503: '503 Service Unavailable', 504: '504 Gateway Timeout',
};

function statusLine(status: number): string {
  return STATUS_LINE[status] ?? String(status);
}

export class Exchange {
  /** The client went away: `res` is dead. */
  aborted = false;
  /** An answer was written (or the client aborted): the in-flight slot is released. */
  finished = false;
  private cancellation: Cancellation | undefined = undefined;

  /** `acceptEncoding` must be read from the request inside the uWS handler. */
  constructor(
    readonly res: HttpResponse,
    readonly acceptEncoding: string,
    private readonly release: () => void,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.cancellation?.cancel();
      this.finish();
    });
  }

  /** Cancelled when the client disconnects; created only for requests that need it. */
  signal(): Cancellation {
    this.cancellation ??= new Cancellation();
    return this.cancellation;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }
}

export interface ReplyOptions {
  contentType?: string;
  /** One extra header, e.g. Inference-Header-Content-Length. */
  header?: readonly [string, string];
  /** Close the connection after the answer (the request body was not read). */
  close?: boolean;
  /** 405 answers name the allowed methods. */
  allow?: string;
}

/** Write the answer, compressing it when the client accepts that and it is worth it. */
export function reply(ex: Exchange, status: number, body: string | Uint8Array | undefined, opts: ReplyOptions = {}): void {
  if (ex.finished) return;
  if (body !== undefined && ex.acceptEncoding !== '' && !opts.close && body.length >= COMPRESS_MIN_BYTES) {
    const coding = negotiateCoding(ex.acceptEncoding);
    if (coding !== undefined) {
      compressBody(coding, body).then(
        (z) => write(ex, status, z, opts, coding),
        () => write(ex, status, body, opts, undefined),
      );
      return;
    }
  }
  write(ex, status, body, opts, undefined);
}

function write(ex: Exchange, status: number, body: string | Uint8Array | undefined, opts: ReplyOptions, coding: Coding | undefined): void {
  if (ex.finished) return;
  const res = ex.res;
  res.cork(() => {
    res.writeStatus(statusLine(status));
    if (opts.contentType !== undefined) res.writeHeader('Content-Type', opts.contentType);
    if (opts.header !== undefined) res.writeHeader(opts.header[0], opts.header[1]);
    if (opts.allow !== undefined) res.writeHeader('Allow', opts.allow);
    if (coding !== undefined) res.writeHeader('Content-Encoding', coding);
    res.end(body, opts.close === true);
  });
  ex.finish();
}

export function replyJson(ex: Exchange, json: string): void {
  reply(ex, 200, json, { contentType: JSON_TYPE });
}

export function errorJson(message: string): string {
  return '{"error":' + JSON.stringify(message) + '}';
}

/** Every non-2xx answer: `{"error": "<message>"}` with the status from HTTP_STATUS. */
export function replyError(ex: Exchange, err: unknown, logger?: HttpLogger, opts: ReplyOptions = {}): void {
  if (ex.finished) return;
  if (!(err instanceof OspreyError)) logger?.error({ err }, 'unexpected error in the HTTP front end');
  const e = asOspreyError(err);
  reply(ex, HTTP_STATUS[e.code], errorJson(e.message), { ...opts, contentType: JSON_TYPE });
}
