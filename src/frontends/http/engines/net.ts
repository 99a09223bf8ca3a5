/**
 * The net engine (the default): node:net (or node:tls) sockets, Node's own llhttp
 * parser (llhttp.ts), and Osprey's connection handling (net-connection.ts), without
 * node:http's IncomingMessage/ServerResponse streams and per-request objects, listeners
 * and header maps. Measured here with wrk, a prebuilt answer on each: ~2x node:http's
 * requests/s (bench/README.md). Pipelined requests are worked on together and answered
 * in order, which uWS cannot do.
 *
 * Timeouts are node:http's defaults, so the engines behave alike: an idle keep-alive
 * connection closes after 5 s (told to clients as `Keep-Alive: timeout=5`), a request
 * head must arrive within 60 s and a whole request within 300 s (408 and close).
 */
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import type { TlsMaterial } from '../../../config/tls.js';
import type { FrontEnd, HttpEngine, Listening } from './engine.js';
import { advanceClock, Connection, type ConnectionHost, type Timeouts } from './net-connection.js';
import { answerTails } from './wire-answer.js';

export const NODE_TIMEOUTS: Timeouts = Object.freeze({ keepAliveMs: 5_000, headersMs: 60_000, requestMs: 300_000 });

/** How often the timeouts are checked (and the coarse clock advanced). */
const SWEEP_MS = 1_000;

export function netEngine(timeouts: Timeouts = NODE_TIMEOUTS): HttpEngine {
  return {
    name: 'net',
    description: `node:net + llhttp (Node ${process.version})`,
    listen(host: string, port: number, front: FrontEnd, material?: TlsMaterial): Promise<Listening> {
      const conns = new Set<Connection>();
      const tails = answerTails(Math.max(1, Math.floor(timeouts.keepAliveMs / 1000)));
      const shared: ConnectionHost = { front, maxHeaderSize: http.maxHeaderSize, timeouts, tails, forget: (c) => conns.delete(c) };
      const onSocket = (socket: Socket): void => { conns.add(new Connection(socket, shared, Date.now())); };
      const server: net.Server = material === undefined
        ? net.createServer({ noDelay: true }, onSocket)
        : tls.createServer({
          noDelay: true, cert: material.cert, key: material.key,
          // Mutual TLS: the handshake fails for a client without a certificate from this CA.
          ...(material.mutual ? { ca: material.rootCert, requestCert: true, rejectUnauthorized: true } : {}),
        }, onSocket);
      // The coarse clock only moves with a sweep: set it now, or a connection answered
      // before this server's first sweep would read a time from before it started (the
      // module's load, a stopped server's last sweep) and be closed as idle, or a request
      // head timed out, at that sweep.
      advanceClock(Date.now());
      const sweep = setInterval(() => {
        const now = Date.now();
        advanceClock(now);
        for (const c of conns) c.tick(now);
      }, SWEEP_MS);
      sweep.unref();
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => {
          clearInterval(sweep);
          reject(new Error(`HTTP server failed to listen on ${host}:${port}: ${err.message}`));
        };
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          // accept() failures (EMFILE) are the kernel's to retry; they must not end the process.
          server.on('error', () => {});
          resolve({
            port: (server.address() as AddressInfo).port,
            stopListening: () => { server.close(); },
            closeConnections: () => {
              clearInterval(sweep);
              for (const c of conns) c.destroy();
            },
          });
        });
      });
    },
  };
}
