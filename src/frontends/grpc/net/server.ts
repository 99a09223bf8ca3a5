/**
 * The net engine's listener (--grpc-engine net): HTTP/2 with prior knowledge (h2c) on a
 * node:net server, or over TLS (ALPN h2; the client certificate requested and required
 * for mutual TLS, as the http2 engine); each accepted socket is one NetConnection. Its
 * streams go to the same dispatch as the http2 engine's (h2/server.ts), so routing,
 * calls, texts and limits are one code for both.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { TlsMaterial } from '../../../config/tls.js';
import { type Keepalive, keepConnectionAlive } from './keepalive.js';
import { NetConnection, type StreamHandler } from './connection.js';

export interface NetListenOptions {
  host: string;
  port: number;
  tls?: TlsMaterial;
  keepalive?: Keepalive;
}

export interface NetListener {
  port: number;
  close(timeoutMs: number): Promise<void>;
}

export function listenNet(opts: NetListenOptions, onStream: StreamHandler): Promise<NetListener> {
  const connections = new Set<NetConnection>();
  const accept = (socket: net.Socket): void => {
    const c = new NetConnection(socket, onStream, (gone) => connections.delete(gone));
    connections.add(c);
    if (opts.keepalive !== undefined) keepConnectionAlive(c, opts.keepalive);
  };
  const t = opts.tls;
  const server: net.Server = t === undefined
    ? net.createServer(accept)
    : tls.createServer({
      key: [t.key], cert: [t.cert], ALPNProtocols: ['h2'],
      ...(t.mutual && t.rootCert !== undefined ? { ca: t.rootCert } : {}),
      requestCert: t.mutual, rejectUnauthorized: t.mutual,
    }, accept);
  // Errors of TLS handshakes are the client's (nodejs/node#35824): the socket is dropped.
  server.on('tlsClientError', () => undefined);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : opts.port;
      resolve({
        port,
        close: (timeoutMs) => new Promise<void>((done) => {
          const timer = setTimeout(() => {
            for (const c of connections) c.destroy();
            done();
          }, timeoutMs);
          server.close(() => {
            clearTimeout(timer);
            done();
          });
          for (const c of connections) c.shutdown();
        }),
      });
    });
  });
}
