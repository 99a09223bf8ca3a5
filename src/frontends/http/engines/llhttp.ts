/**
 * Node's own HTTP/1.1 request parser (llhttp, through the binding node:http itself is
 * built on), without node:http's IncomingMessage and ServerResponse streams around
 * it. No public API exposes llhttp; `_http_common` is the module node:http takes it
 * from, and its shape is the same on Node 20, 22 and 24 (the engine tests run on 20
 * and 24 in CI). Used strictly (no lenient flags), so its refusals are node:http's:
 * Content-Length with Transfer-Encoding, repeated or malformed Content-Length, bare
 * LF, obs-fold, invalid token characters, header overflow.
 *
 * The binding CHECKs its arguments in C++ (a wrong type aborts the process), so they
 * are typed exactly here and nowhere else.
 */
import { createRequire } from 'node:module';

/** What `execute` returns when llhttp refuses the bytes. */
export interface ParseError extends Error {
  /** llhttp's error name, e.g. HPE_HEADER_OVERFLOW. */
  readonly code: string;
  readonly reason?: string;
}

/**
 * `headers` is a flat [name, value, ...] list. When the head came in pieces (or has
 * over 32 fields) the binding hands them over early through `onHeaders`, and
 * `onHeadersComplete` gets null for headers and url.
 */
export interface RequestCallbacks {
  onMessageBegin(): void;
  onHeaders(headers: string[], url: string): void;
  onHeadersComplete(versionMajor: number, versionMinor: number, headers: string[] | null | undefined, method: number,
    url: string | null | undefined, statusCode: unknown, statusMessage: unknown, upgrade: boolean, shouldKeepAlive: boolean): number;
  /** A slice of the buffer being executed: valid only during the call. */
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
  /** After each read the parser took off a consumed socket (`consume`): what `execute` would have returned. */
  onExecute(result: number | ParseError): void;
}

export interface RequestParser {
  /** Bytes consumed (fewer than given after an upgrade request), or the refusal. */
  execute(data: Buffer): number | ParseError;
  /**
   * Let the parser read the socket's handle itself, as node:http does: no 'data' event,
   * no JavaScript Buffer per read (it reads into one native buffer). Results come to
   * `onExecute`. False where the handle is not one it can read (then use `execute`).
   */
  consume(socket: object): boolean;
  /** Give the handle back before freeing (only after `consume`). */
  unconsume(): void;
  /** Frees the native parser; never while `execute` is on the stack. */
  close(): void;
}

interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  consume(handle: object): void;
  unconsume(): void;
  close(): void;
  [slot: number]: unknown;
}

interface Binding {
  readonly HTTPParser: {
    new (): NativeParser;
    readonly REQUEST: number;
    readonly kOnMessageBegin: number;
    readonly kOnHeaders: number;
    readonly kOnHeadersComplete: number;
    readonly kOnBody: number;
    readonly kOnMessageComplete: number;
    readonly kOnExecute: number;
    readonly kLenientNone: number;
  };
  readonly methods: readonly string[];
}

const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common') as Binding;

/**
 * llhttp's method number -> lower-case name. node exports its HTTP methods in llhttp's
 * enum order up to SOURCE (33); QUERY, listed after it, is 46 in the enum (the RTSP
 * methods sit between). Anything else reads as '', which no route allows (405).
 */
const METHOD_NAMES: string[] = methods.slice(0, methods.indexOf('SOURCE') + 1).map((m) => m.toLowerCase());
if (methods.includes('QUERY')) METHOD_NAMES[46] = 'query';

export function methodName(n: number): string {
  return METHOD_NAMES[n] ?? '';
}

/** A strict request parser calling `cb` (its methods are called with `cb` as `this`). */
export function requestParser(cb: RequestCallbacks, maxHeaderSize: number): RequestParser {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, maxHeaderSize, HTTPParser.kLenientNone);
  p[HTTPParser.kOnMessageBegin] = cb.onMessageBegin.bind(cb);
  p[HTTPParser.kOnHeaders] = cb.onHeaders.bind(cb);
  p[HTTPParser.kOnHeadersComplete] = cb.onHeadersComplete.bind(cb);
  p[HTTPParser.kOnBody] = cb.onBody.bind(cb);
  p[HTTPParser.kOnMessageComplete] = cb.onMessageComplete.bind(cb);
  p[HTTPParser.kOnExecute] = cb.onExecute.bind(cb);
  return {
    execute: (data) => p.execute(data),
    consume(socket) {
      // node:http's own test (_http_server.js): a StreamBase handle nobody consumes yet.
      const handle = (socket as { _handle?: { isStreamBase?: boolean; _consumed?: boolean } })._handle;
      if (handle?.isStreamBase !== true || handle._consumed === true) return false;
      handle._consumed = true;
      p.consume(handle);
      return true;
    },
    unconsume: () => p.unconsume(),
    close: () => p.close(),
  };
}
