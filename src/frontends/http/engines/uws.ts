/**
 * The uWebSockets.js engine: a native uWS App with one catch-all handler (uWS's own
 * patterns hand back percent-encoded parameters and cannot answer 405).
 *
 * uWS rules this file enforces: `onAborted` is registered when the exchange is made
 * (before any async work); after an abort, or once the answer is written, `res` is
 * never touched again; every write happens inside `res.cork()`; the request object is
 * read only inside the handler.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uws-btc-vision';
import type { TlsMaterial } from '../../../config/tls.js';
import type { HeaderReader } from '../dispatch.js';
import { type BodyChunkHandler, Exchange, type ResponseHead, statusLine } from '../exchange.js';
import type { FrontEnd, HttpEngine, Listening } from './engine.js';
import type { NativeUws } from './uws-native.js';

class UwsExchange extends Exchange {
  constructor(private readonly res: HttpResponse, acceptEncoding: string, release: () => void) {
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

const header: HeaderReader<HttpRequest> = (req, name) => req.getHeader(name);

export function uwsEngine(native: NativeUws): HttpEngine {
  const uws = native.uws;
  return {
    name: 'uws',
    description: `uWebSockets.js ${native.description}`,
    listen(host: string, port: number, front: FrontEnd, tls?: TlsMaterial): Promise<Listening> {
      // uSockets reads the PEM files itself. Mutual TLS never comes here: uSockets
      // cannot require a client certificate (select.ts sends it to node:https).
      if (tls?.mutual === true) throw new Error('mutual TLS is served by node:https');
      const app: TemplatedApp = tls === undefined ? uws.App() : uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
      app.any('/*', (res: HttpResponse, req: HttpRequest) => {
        const ex = new UwsExchange(res, req.getHeader('accept-encoding'), front.release);
        // uWS gives the method in lower case and the path without the query string.
        front.handle(ex, req.getMethod(), req.getUrl(), req, header);
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
