/**
 * The metrics endpoint (tritonserver's --metrics-port, 8002): GET /metrics answers
 * the registry in Prometheus text format; any other path is 404, another method on
 * /metrics is 405. A plain node:http server: scrapes are rare and must not share
 * the inference front end's event handling or limits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  logger?: Logger;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export function startMetricsServer(source: MetricsSource, o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }).end('Method Not Allowed\n');
      return;
    }
    source.metrics().then((text) => {
      res.writeHead(200, { 'content-type': source.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (err: unknown) => {
      o.logger?.error({ err }, 'metrics collection failed');
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
    });
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          // Scrapers keep connections alive; a shutdown must not wait for them.
          server.closeAllConnections();
        }),
      });
    });
  });
}
