/**
 * The node:http engine: the fallback where no native uWebSockets.js loads (Node 22+ on
 * glibc < 2.38, musl, other platforms) and `--http-engine node`. Same front end, same
 * answers; it costs more CPU per request than uWS (see bench/README.md).
 */
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsMaterial } from '../../../config/tls.js';
import type { HeaderReader } from '../dispatch.js';
import { type BodyChunkHandler, errorJson, Exchange, reasonPhrase, type ResponseHead, statusLine } from '../exchange.js';
import { clientErrorAnswer } from './client-error.js';
import { type FrontEnd, type HttpEngine, type Listening, pathOf } from './engine.js';

const EMPTY = new Uint8Array(0);

class NodeExchange extends Exchange {
  constructor(private readonly req: http.IncomingMessage, private readonly res: http.ServerResponse, acceptEncoding: string, release: (ex: Exchange) => void) {
    super(acceptEncoding, release);
    // 'close' comes after our answer is flushed too; before it, the client went away.
    res.on('close', () => { if (!this.finished) this.clientGone(); });
  }

  remoteAddress(): string {
    return this.req.socket.remoteAddress ?? '';
  }

  onData(onChunk: BodyChunkHandler): void {
    const req = this.req;
    req.on('data', (chunk: Buffer) => onChunk(chunk, false));
    req.on('end', () => onChunk(EMPTY, true));
    // A reset mid-body surfaces as 'close' on the response; this keeps the request's
    // 'error' from being unhandled.
    req.on('error', () => {});
  }

  protected send(status: number, head: ResponseHead, body: string | Uint8Array | undefined, close: boolean): void {
    const headers: http.OutgoingHttpHeaders = {
      'Content-Length': body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    };
    if (head.contentType !== undefined) headers['Content-Type'] = head.contentType;
    if (head.header !== undefined) headers[head.header[0]] = head.header[1];
    if (head.allow !== undefined) headers['Allow'] = head.allow;
    if (head.coding !== undefined) headers['Content-Encoding'] = head.coding;
    // Node closes the connection once this answer is flushed; an unread body is dropped.
    if (close) headers['Connection'] = 'close';
    this.res.writeHead(status, reasonPhrase(status), headers);
    this.res.end(body);
  }
}

const header: HeaderReader<http.IncomingMessage> = (req, name) => {
  const v = req.headers[name];
  return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
};

/** Method names node:http accepts, lower-cased once. */
const LOWER = new Map<string, string>(http.METHODS.map((m) => [m, m.toLowerCase()]));

/**
 * node:http's own refusals, which it would answer with a bare status line, answered
 * like every other error: JSON body, then the connection closes (the framing of what
 * follows cannot be trusted). As node's default: only where no answer is half written.
 */
function onClientError(err: Error & { code?: string; reason?: string }, socket: Duplex): void {
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, message] = clientErrorAnswer(err);
  const body = errorJson(message);
  socket.end(`HTTP/1.1 ${statusLine(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export const nodeEngine: HttpEngine = {
  name: 'node',
  description: `node:http (Node ${process.version})`,
  listen(host: string, port: number, front: FrontEnd, tls?: TlsMaterial): Promise<Listening> {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const ex = new NodeExchange(req, res, header(req, 'accept-encoding'), front.release);
      const method = req.method ?? 'GET';
      front.handle(ex, LOWER.get(method) ?? method.toLowerCase(), pathOf(req.url ?? '/'), req, header);
    };
    // https.Server is an http.Server over TLS sockets: everything below applies to both.
    const server: http.Server = tls === undefined ? http.createServer({ noDelay: true }, onRequest) : https.createServer({
      noDelay: true, cert: tls.cert, key: tls.key,
      // Mutual TLS: the handshake fails for a client without a certificate from this CA.
      ...(tls.mutual ? { ca: tls.rootCert, requestCert: true, rejectUnauthorized: true } : {}),
    }, onRequest);
    server.on('clientError', onClientError);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`HTTP server failed to listen on ${host}:${port}: ${err.message}`));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve({
          port: (server.address() as AddressInfo).port,
          // net.Server's close only stops accepting: http.Server's would also drop idle
          // keep-alive connections at once, where uWS (and the shared front end) lets
          // them send and answers 503 until the in-flight requests are done.
          stopListening: () => net.Server.prototype.close.call(server),
          closeConnections: () => {
            server.closeAllConnections();
            server.close(); // also stops node's request-timeout timer
          },
        });
      });
    });
  },
};
