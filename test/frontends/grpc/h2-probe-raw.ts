/**
 * Helpers of the h2-probe tests: a gRPC server per engine over the FakeDataPlane (the
 * real gRPC front end: services, guard, budget), and a raw node:http2 client that sends
 * what grpc-js's client never would (bad framing, odd headers, resets) and returns
 * everything a client can see of the answer, in a form two engines' answers can be
 * compared by (the date header left out).
 */
import http2 from 'node:http2';
import type { GrpcEngineChoice } from '../../../src/config/cli.js';
import { DEFAULT_OPTIONS } from '../../../src/config/cli.js';
import { type GrpcServerHandle, type GrpcServerOptions, startGrpcServer } from '../../../src/frontends/grpc/server.js';
import { FakeDataPlane } from './fixtures.js';

export const ENGINES: readonly GrpcEngineChoice[] = ['grpc-js', 'http2', 'net'];
export const SVC = '/inference.GRPCInferenceService';

export interface ProbeServer {
  engine: GrpcEngineChoice;
  dp: FakeDataPlane;
  server: GrpcServerHandle;
  port: number;
  /** Unexpected errors the front end logged. */
  logged: Array<{ obj: object; msg?: string }>;
}

/** One server of `engine` on 127.0.0.1:0 over a FakeDataPlane. */
export async function startProbeServer(engine: GrpcEngineChoice, opts: Partial<GrpcServerOptions> = {}): Promise<ProbeServer> {
  const dp = new FakeDataPlane();
  const logged: ProbeServer['logged'] = [];
  const server = await startGrpcServer(dp, {
    engine, host: '127.0.0.1', port: 0, shutdownTimeoutMs: 2000, maxReceiveBytes: DEFAULT_OPTIONS.maxRequestBytes,
    logger: { error(obj, msg) { logged.push({ obj, msg }); } },
    ...opts,
  });
  return { engine, dp, server, port: server.port, logged };
}

/** A gRPC length-prefixed message: flag byte, 4-byte length (`length` may lie), body. */
export function frame(body: Buffer = Buffer.alloc(0), flag = 0, length = body.length): Buffer {
  const f = Buffer.alloc(5 + body.length);
  f[0] = flag;
  f.writeUInt32BE(length, 1);
  body.copy(f, 5);
  return f;
}

/** The length-prefixed messages of a response body. */
export function messages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p + 5 <= body.length;) {
    const n = body.readUInt32BE(p + 1);
    out.push(body.subarray(p + 5, p + 5 + n));
    p += 5 + n;
  }
  return out;
}

export function requestHeaders(path: string, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders {
  return { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extra };
}

/** Everything a client sees of one call. */
export interface Seen {
  headers: http2.IncomingHttpHeaders | undefined;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: string;
  /** RST_STREAM code the stream closed with (0: closed normally). */
  rst: number | undefined;
  /** The client gave up waiting (the server left the stream open). */
  timedOut: boolean;
}

export type Send = (req: http2.ClientHttp2Stream) => void | Promise<void>;

function strip(h: http2.IncomingHttpHeaders | undefined): http2.IncomingHttpHeaders | undefined {
  if (h === undefined) return undefined;
  const { date: _date, ...rest } = h;
  return rest;
}

/** One raw call on `session` (or a connection of its own); `send` writes the request. */
export interface CallOptions {
  timeoutMs?: number;
  session?: http2.ClientHttp2Session;
  /** END_STREAM on the HEADERS frame (no body at all; `send` is not called). */
  headersOnly?: boolean;
  /** Trailers the client sends after its body (they end the request). */
  trailers?: http2.OutgoingHttpHeaders;
}

export async function rawCall(port: number, headers: http2.OutgoingHttpHeaders, send: Send, opts: CallOptions = {}): Promise<Seen> {
  const session = opts.session ?? http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    const trailers = opts.trailers;
    const req = session.request(headers, { endStream: opts.headersOnly === true, waitForTrailers: trailers !== undefined });
    if (trailers !== undefined) req.on('wantTrailers', () => req.sendTrailers(trailers));
    const seen: Seen = { headers: undefined, trailers: undefined, body: '', rst: undefined, timedOut: false };
    const parts: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        seen.timedOut = true;
        req.close(http2.constants.NGHTTP2_CANCEL);
      }, opts.timeoutMs ?? 3000);
      req.on('response', (h) => { seen.headers = strip(h); });
      req.on('trailers', (t) => { seen.trailers = strip(t); });
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('error', () => undefined);
      req.on('close', () => {
        clearTimeout(timer);
        seen.rst = seen.timedOut ? undefined : req.rstCode;
        resolve();
      });
      if (opts.headersOnly !== true) void Promise.resolve(send(req)).catch(() => undefined);
    });
    seen.body = Buffer.concat(parts).toString('hex');
    return seen;
  } finally {
    if (opts.session === undefined) session.destroy();
  }
}

/** The gRPC status of an answer: trailers, or the trailers-only headers. */
export function grpcStatus(s: Seen): string | undefined {
  return (s.trailers?.['grpc-status'] ?? s.headers?.['grpc-status']) as string | undefined;
}

export function grpcMessage(s: Seen): string | undefined {
  const m = (s.trailers?.['grpc-message'] ?? s.headers?.['grpc-message']) as string | undefined;
  return m === undefined ? undefined : decodeURIComponent(m);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
