/**
 * The http2 gRPC engine (--grpc-engine http2): gRPC served on node:http2 directly,
 * without grpc-js's server layer (the same HTTP/2 stack, nghttp2, below both), so each
 * call costs the main thread less. Services are added as to grpc-js's Server
 * (addService with proto-loader's definitions), so the same handlers and
 * @grpc/reflection serve on either engine; calls are unary.ts's and bidi.ts's objects.
 *
 * Routing, connection options and shutdown follow grpc-js 1.14's server (server.js):
 * a content-type not application/grpc* is HTTP 415; an unknown path UNIMPLEMENTED
 * "The server does not implement the method <path>"; session memory unbounded and
 * header blocks of any length; TLS with ALPN h2, the client certificate requested and
 * required for mutual TLS; close() sends GOAWAY, lets calls in flight finish and cuts
 * the rest after the timeout.
 */
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { TlsMaterial } from '../../../config/tls.js';
import type { RequestBytesBudget } from '../../request-bytes.js';
import type { DirectUnaryHandler } from '../direct-unary.js';
import { listenNet, type NetListener } from '../net/server.js';
import { type BidiHandler, startBidi } from './bidi.js';
import type { CallStream, MethodRecord, ReceiveLimits } from './call.js';
import { type Keepalive, keepConnectionAlive } from '../net/keepalive.js';
import { END_STREAM, UNSUPPORTED_MEDIA_TYPE, unroutedAnswer } from './status.js';
import { UnaryCall } from './unary.js';

/** One method of a proto-loader service definition (what grpc-js's addService reads). */
interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  originalName?: string;
}

interface Route extends MethodRecord {
  readonly unary: DirectUnaryHandler<unknown, unknown> | undefined;
  readonly bidi: BidiHandler | undefined;
}

export interface H2ServerOptions extends ReceiveLimits {
  keepalive?: Keepalive;
  tls?: TlsMaterial;
  /** Which HTTP/2 carries the calls: node:http2 (default), or the net engine's own (net/). */
  transport?: 'http2' | 'net';
}

function noop(): void {}

function unimplemented(path: string): DirectUnaryHandler<unknown, unknown> {
  return (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED, details: `The server does not implement the method ${path}` });
}

export class H2GrpcServer {
  readonly #routes = new Map<string, Route>();
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #opts: H2ServerOptions;
  readonly #limits: ReceiveLimits;
  #server: http2.Http2Server | http2.Http2SecureServer | undefined;
  #net: NetListener | undefined;

  constructor(opts: H2ServerOptions) {
    this.#opts = opts;
    this.#limits = { maxReceiveBytes: opts.maxReceiveBytes, budget: opts.budget };
  }

  /** grpc-js's Server.addService: unary and bidirectional methods (all this server has). */
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    const names = Object.keys(service);
    if (names.length === 0) throw new Error('Cannot add an empty service to a server');
    for (const name of names) {
      const m = service[name] as unknown as MethodDefinition;
      const impl = (implementation[name] ?? (m.originalName === undefined ? undefined : implementation[m.originalName])) as unknown;
      if (m.requestStream !== m.responseStream) throw new Error(`the http2 gRPC engine serves unary and bidirectional methods only, not ${m.path}`);
      const fn = typeof impl === 'function' ? impl : undefined;
      this.#routes.set(m.path, {
        path: m.path,
        serialize: m.responseSerialize,
        deserialize: m.requestDeserialize,
        unary: m.requestStream ? undefined : (fn as DirectUnaryHandler<unknown, unknown> | undefined) ?? unimplemented(name),
        bidi: m.requestStream ? (fn as BidiHandler | undefined) ?? ((call) => call.fail({ code: grpc.status.UNIMPLEMENTED, details: `The server does not implement the method ${name}` })) : undefined,
      });
    }
  }

  /** Listen on host (an address or name, IPv6 without brackets):port (0: an ephemeral port); the bound port. */
  listen(host: string, port: number): Promise<number> {
    if (this.#opts.transport === 'net') {
      const { tls, keepalive } = this.#opts;
      return listenNet({ host, port, ...(tls === undefined ? {} : { tls }), ...(keepalive === undefined ? {} : { keepalive }) },
        (stream, headers) => this.#onStream(stream, headers)).then((l) => {
        this.#net = l;
        return l.port;
      });
    }
    const common = { maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER, maxSessionMemory: Number.MAX_SAFE_INTEGER };
    const tls = this.#opts.tls;
    let server: http2.Http2Server | http2.Http2SecureServer;
    if (tls === undefined) {
      server = http2.createServer(common);
    } else {
      server = http2.createSecureServer({
        ...common,
        key: [tls.key], cert: [tls.cert],
        ...(tls.mutual && tls.rootCert !== undefined ? { ca: tls.rootCert } : {}),
        requestCert: tls.mutual,
      });
      // Errors of TLS sockets are the server's to handle (nodejs/node#35824), as grpc-js does.
      server.on('secureConnection', (socket: import('node:tls').TLSSocket) => socket.on('error', noop));
    }
    server.setTimeout(0, noop);
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.#onStream(stream as unknown as CallStream, headers));
    server.on('session', (session: ServerHttp2Session) => this.#onSession(session));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : port);
      });
    });
  }

  /** GOAWAY to every connection; calls in flight finish; whatever is left after `timeoutMs` is cut. */
  close(timeoutMs: number): Promise<void> {
    if (this.#net !== undefined) return this.#net.close(timeoutMs);
    const server = this.#server;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.#sessions) s.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
        resolve();
      }, timeoutMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const s of this.#sessions) if (!s.closed) s.close();
    });
  }

  #onSession(session: ServerHttp2Session): void {
    this.#sessions.add(session);
    session.on('close', () => this.#sessions.delete(session));
    session.on('error', noop);
    const k = this.#opts.keepalive;
    if (k !== undefined) keepConnectionAlive(session, k);
  }

  #onStream(stream: CallStream, headers: IncomingHttpHeaders): void {
    // Every error of a stream also closes it, which ends its call (grpc-js ignores them so too).
    stream.on('error', noop);
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond(UNSUPPORTED_MEDIA_TYPE, END_STREAM);
      return;
    }
    const path = headers[':path'] ?? '';
    const route = this.#routes.get(path);
    if (route === undefined) {
      stream.respond(unroutedAnswer({ code: grpc.status.UNIMPLEMENTED, details: `The server does not implement the method ${path}` }), END_STREAM);
      return;
    }
    if (route.unary !== undefined) new UnaryCall(stream, headers, route, this.#limits, route.unary);
    else startBidi(stream, headers, route, this.#limits, route.bidi!);
  }
}
