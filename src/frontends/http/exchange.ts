/**
 * One HTTP request/response pair, engine-neutral: the routes, codecs and error answers
 * above it are the same on every HTTP engine. Each engine (engines/) subclasses
 * Exchange with its two transport primitives, reading the body and writing one answer;
 * everything else (compression, error bodies, status texts, abort handling) is here.
 */
import { asOspreyError, OspreyError } from '../../errors/errors.js';
import { HTTP_STATUS } from '../../errors/status.js';
import { Cancellation } from '../../types/cancel.js';
import { type Coding, compressBody, COMPRESS_MIN_BYTES, negotiateCoding } from './compress.js';

export const JSON_TYPE = 'application/json';
export const OCTET_TYPE = 'application/octet-stream';

export interface HttpLogger { error(obj: object, msg?: string): void }

const STATUS_LINE: Record<number, string> = {
  200: '200 OK', 400: '400 Bad Request', 403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed',
  408: '408 Request Timeout', 409: '409 Conflict', 413: '413 Payload Too Large', 417: '417 Expectation Failed',
  431: '431 Request Header Fields Too Large', 429: '429 Too Many Requests', 499: '499 Client Closed Request',
  500: '500 Internal Server Error', 501: '501 Not Implemented', 503: '503 Service Unavailable', 504: '504 Gateway Timeout',
};

/** `200 OK`: the status line's code and reason phrase, as uWS's writeStatus takes it. */
export function statusLine(status: number): string {
  return STATUS_LINE[status] ?? String(status);
}

/** The reason phrase alone (`OK`), as node:http's writeHead takes it. */
export function reasonPhrase(status: number): string {
  const line = STATUS_LINE[status];
  return line === undefined ? '' : line.slice(4);
}

/** What an answer carries besides status and body. */
export interface ResponseHead {
  readonly contentType?: string;
  /** One extra header, e.g. Inference-Header-Content-Length. */
  readonly header?: readonly [string, string];
  /** 405 answers name the allowed methods. */
  readonly allow?: string;
  /** The body's Content-Encoding. */
  readonly coding?: Coding;
}

/** A body chunk, valid only during the callback (uWS neuters it afterwards). */
export type BodyChunkHandler = (chunk: Uint8Array, isLast: boolean) => void;

/**
 * The exchange is its request's cancellation too (as gRPC's CallCancellation is its
 * call's): `aborted` once the client went away, when the transport is dead. One object
 * fewer per request than a Cancellation of its own.
 */
export abstract class Exchange extends Cancellation {
  /** An answer was written (or the client aborted): the in-flight slot is released. */
  finished = false;
  /** Called with the status once the answer is written (audit lines of admin calls). */
  answered: ((status: number) => void) | undefined = undefined;
  /** Body bytes this request holds, counted in the server's RequestBytesBudget until it finishes. */
  heldBytes = 0;

  /** `acceptEncoding` is read from the request inside the engine's handler. */
  constructor(
    readonly acceptEncoding: string,
    private readonly release: (ex: Exchange) => void,
  ) {
    super();
  }

  /**
   * Start reading the body; `onChunk` gets every chunk, the last with `isLast`. Called
   * synchronously from the engine's request handler, at most once.
   */
  abstract onData(onChunk: BodyChunkHandler): void;

  /**
   * The engine's chunks may be kept past their callback: each one that spans its whole
   * ArrayBuffer is a copy nobody else holds, so a body that arrives in one chunk can
   * be that chunk (body.ts) instead of a copy of it. False: chunks are valid only
   * during the callback (uWS neuters them).
   */
  get chunksKeepable(): boolean {
    return false;
  }

  /** The peer's address as the transport reports it; read only inside the engine's request handler. */
  abstract remoteAddress(): string;

  /**
   * Write the whole answer; `close` ends the connection after it. Called at most once,
   * never after an abort.
   */
  protected abstract send(status: number, head: ResponseHead, body: string | Uint8Array | undefined, close: boolean): void;

  /** The engine calls this when the client goes away before the answer: the transport is dead. */
  protected clientGone(): void {
    this.cancel();
    this.finish();
  }

  /** Cancelled when the client disconnects. */
  signal(): Cancellation {
    return this;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.release(this);
  }

  /**
   * Set by the front end during the shutdown grace period: every answer then says
   * `Connection: close` and ends its connection, so keep-alive clients reconnect
   * (through the load balancer, to another pod) instead of riding this one to its end.
   */
  closeConnection = false;

  /** Write the answer once; later calls, and calls after an abort, do nothing. */
  write(status: number, head: ResponseHead, body: string | Uint8Array | undefined, close: boolean): void {
    if (this.finished) return;
    this.send(status, head, body, close || this.closeConnection);
    this.finish();
    this.answered?.(status);
  }
}

export interface ReplyOptions extends Omit<ResponseHead, 'coding'> {
  /** Close the connection after the answer (the request body was not read). */
  readonly close?: boolean;
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
  const head: ResponseHead = coding === undefined ? opts : { ...opts, coding };
  ex.write(status, head, body, opts.close === true);
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
