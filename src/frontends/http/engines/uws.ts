/**
 * The uWebSockets.js engine: a native uWS App with one catch-all handler (uWS's own
 * patterns hand back percent-encoded parameters and cannot answer 405).
 *
 * uWS rules this file enforces: `onAborted` is registered when the exchange is made
 * (before any async work); after an abort, or once the answer is written, `res` is
 * never touched again; every write happens inside `res.cork()`; the request object is
 * read only inside the handler.
 */
import http from 'node:http';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uws-btc-vision';
import type { TlsMaterial } from '../../../config/tls.js';
import type { HeaderReader } from '../dispatch.js';
import { type BodyChunkHandler, errorJson, Exchange, type ResponseHead, statusLine } from '../exchange.js';
import { type FrontEnd, headersTooLarge, type HttpEngine, type Listening } from './engine.js';
import type { NativeUws } from './uws-native.js';

class UwsExchange extends Exchange {
  constructor(private readonly res: HttpResponse, acceptEncoding: string, release: (ex: Exchange) => void) {
    super(acceptEncoding, release);
    res.onAborted(() => this.clientGone());
  }

  remoteAddress(): string {
    return Buffer.from(this.res.getRemoteAddressAsText()).toString('latin1');
  }

  onData(onChunk: BodyChunkHandler): void {
    this.res.onData((chunk, isLast) => onChunk(new Uint8Array(chunk), isLast));
  }

  protected send(status: number, head: ResponseHead, body: string | Uint8Array | undefined, close: boolean): void {
    const res = this.res;
    res.cork(() => {
      // uWS writes "200 OK" itself when the first header or end() comes without a status: one native call less on the hot path.
      if (status !== 200) res.writeStatus(statusLine(status));
      if (head.contentType !== undefined) res.writeHeader('Content-Type', head.contentType);
      if (head.header !== undefined) res.writeHeader(head.header[0], head.header[1]);
      if (head.allow !== undefined) res.writeHeader('Allow', head.allow);
      if (head.coding !== undefined) res.writeHeader('Content-Encoding', head.coding);
      res.end(body, close);
    });
  }
}

/** node:http's limit on a request line and headers (16 KiB unless --max-http-header-size), on uWS too. */
const MAX_HEADER_BYTES = http.maxHeaderSize;

/**
 * Every Content-Length of the request in the handler now running (uWS handlers never
 * nest, and its request object dies when the handler returns). uWS's getHeader gives
 * the first of repeated headers, and uWS frames the body by the first: all are joined
 * here as node:http joins repeats, so body.ts refuses differing ones (400 and close,
 * RFC 9112 6.3).
 */
let contentLength = '';

/**
 * One pass over the headers: collects Content-Length, and returns the size of the
 * request line and headers as sent (uWS v20.30 takes any size that arrives in one
 * read; newer ones refuse past UWS_HTTP_MAX_HEADERS_SIZE, set in uws-native.ts).
 */
function readHead(req: HttpRequest, url: string): number {
  let all = '';
  let bytes = url.length + (req.getQuery() ?? '').length + 16;
  req.forEach((k, v) => {
    bytes += k.length + v.length + 4;
    if (k === 'content-length') all = all === '' ? v : `${all}, ${v}`;
  });
  contentLength = all;
  return bytes;
}

const header: HeaderReader<HttpRequest> = (req, name) => (name === 'content-length' ? contentLength : req.getHeader(name));

/** 431 with a JSON error and the connection closed, as node:http answers it (engines/node.ts). */
function refuseHead(res: HttpResponse): void {
  res.cork(() => {
    res.writeStatus(statusLine(431));
    res.writeHeader('Content-Type', 'application/json');
    res.end(errorJson(headersTooLarge(MAX_HEADER_BYTES)), true);
  });
}

export function uwsEngine(native: NativeUws): HttpEngine {
  const uws = native.uws;
  return {
    name: 'uws',
    description: `uWebSockets.js ${native.description}`,
    listen(host: string, port: number, front: FrontEnd, tls?: TlsMaterial): Promise<Listening> {
      // uSockets reads the PEM files itself. Mutual TLS never comes here: uSockets
      // cannot require a client certificate (select.ts refuses it).
      if (tls?.mutual === true) throw new Error('mutual TLS is served by the net and node engines');
      const app: TemplatedApp = tls === undefined ? uws.App() : uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
      app.any('/*', (res: HttpResponse, req: HttpRequest) => {
        // uWS gives the method in lower case and the path without the query string.
        const url = req.getUrl();
        if (readHead(req, url) > MAX_HEADER_BYTES) { refuseHead(res); return; }
        const ex = new UwsExchange(res, req.getHeader('accept-encoding'), front.release);
        front.handle(ex, req.getMethod(), url, req, header);
      });
      return new Promise((resolve, reject) => {
        app.listen(host, port, (socket: us_listen_socket | false) => {
          if (socket === false) {
            reject(new Error(`HTTP server failed to listen on ${host}:${port}`));
            return;
          }
          resolve({
            port: uws.us_socket_local_port(socket as unknown as us_socket),
            stopListening: () => uws.us_listen_socket_close(socket),
            // Not from inside a uWS callback (the caller guarantees it): closing the app
            // there would free the socket that callback is still using.
            closeConnections: () => app.close(),
          });
        });
      });
    },
  };
}
