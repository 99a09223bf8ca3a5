/**
 * The contract between the shared HTTP front end (server.ts, dispatch.ts and below)
 * and a transport engine. An engine only accepts connections, parses requests, makes
 * an Exchange (its body reader and answer writer) and hands each request to the
 * front end; routes, codecs, limits and error texts live above it, once.
 */
import type { Exchange } from '../exchange.js';
import type { HeaderReader } from '../dispatch.js';
import type { TlsMaterial } from '../../../config/tls.js';
export type { HttpEngineChoice } from '../../../config/cli.js';

export type HttpEngineName = 'net' | 'uws' | 'node';

/** The request target without its query string (the front end routes on the path). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Most bytes a request line and its headers may take, on every engine: node:http's
 * own limit (http.maxHeaderSize, 16 KiB by default), which uws.ts applies too.
 */
export function headersTooLarge(limit: number): string {
  return `request headers exceed the server's limit of ${limit} bytes`;
}

/** What the front end gives an engine. */
export interface FrontEnd {
  /** Released by the exchange once its answer is written or the client went away. */
  readonly release: (ex: Exchange) => void;
  /**
   * Handle one request: `method` lower case, `path` without the query string. Called
   * synchronously from the engine's request handler, after the exchange is made.
   */
  handle<R>(ex: Exchange, method: string, path: string, req: R, header: HeaderReader<R>): void;
}

export interface Listening {
  /** The bound port (the one picked when 0 was asked). */
  readonly port: number;
  /** Stop accepting connections; open ones stay until closeConnections(). */
  stopListening(): void;
  /** Drop every connection. Called once nothing is in flight, outside any engine callback. */
  closeConnections(): void;
}

export interface HttpEngine {
  readonly name: HttpEngineName;
  /** What serves, for the startup log line. */
  readonly description: string;
  /** `tls`: serve HTTPS (and, when it says mutual, only to clients with a certificate signed by its root). */
  listen(host: string, port: number, front: FrontEnd, tls?: TlsMaterial): Promise<Listening>;
}
