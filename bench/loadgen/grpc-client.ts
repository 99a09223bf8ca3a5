/**
 * gRPC client for load: prebuilt frames over a few lean HTTP/2 connections
 * (h2/connection.ts), reading grpc-status from the trailers and never decoding the
 * response message. A @grpc/grpc-js client tops out near 7k req/s on a 2-core box
 * whatever the server, and node:http2 streams cost ~100 us of CPU each; this leaves
 * the cores to the server being measured. Streams are spread round-robin.
 */
import { encodeHeaderBlock } from 'osprey/hpack';
import { grpcFrame } from './kserve-pb.js';
import { H2Connection, H2Stream } from './h2/connection.js';

export type Done = (err: string | null) => void;

const GRPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
export const grpcCodeName = (code: number): string => GRPC_CODES[code] ?? String(code);

export interface UnaryResult {
  status: number;
  message: string;
  body: Buffer;
}

/** null for OK, else the key errors are tallied under. */
function outcome(s: H2Stream): string | null {
  if (s.error !== null) return s.error;
  if (s.httpStatus !== 200) return `http:${s.httpStatus}`;
  if (s.grpcStatus === 0) return null;
  return s.grpcStatus < 0 ? 'grpc:NO_STATUS' : `grpc:${grpcCodeName(s.grpcStatus)}`;
}

export class GrpcClient {
  readonly #host: string;
  readonly #port: number;
  readonly #authority: string;
  readonly #conns: (H2Connection | null)[];
  readonly #blocks = new Map<string, Buffer>();
  #next = 0;
  inFlight = 0;

  constructor(hostPort: string, connections: number) {
    const i = hostPort.lastIndexOf(':');
    this.#host = hostPort.slice(0, i) || '127.0.0.1';
    this.#port = Number(hostPort.slice(i + 1));
    this.#authority = hostPort;
    this.#conns = new Array(Math.max(1, connections)).fill(null);
  }

  #conn(): H2Connection {
    const i = this.#next;
    this.#next = i + 1 === this.#conns.length ? 0 : i + 1;
    let c = this.#conns[i];
    if (c === null || c.closing) c = this.#conns[i] = new H2Connection(this.#host, this.#port);
    return c;
  }

  /** The request header block for a method path, encoded once. */
  #block(path: string): Buffer {
    let b = this.#blocks.get(path);
    if (!b) {
      b = encodeHeaderBlock([
        [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', this.#authority],
        ['content-type', 'application/grpc'], ['te', 'trailers'],
      ]);
      this.#blocks.set(path, b);
    }
    return b;
  }

  /** Send one prebuilt frame (see grpcFrame) on `path`; `done` gets null or an error key. */
  send(path: string, frame: Buffer, done: Done): void {
    this.inFlight++;
    this.#conn().request(new H2Stream(this.#block(path), frame, false, (s) => {
      this.inFlight--;
      done(outcome(s));
    }));
  }

  /** A unary call whose reply message is wanted (metadata, config, statistics, the probe). */
  unary(path: string, request: Uint8Array, timeoutMs = 10_000): Promise<UnaryResult> {
    return new Promise((resolve, reject) => {
      const conn = this.#conn();
      const timer = setTimeout(() => conn.cancel(stream, 'client:timeout'), timeoutMs);
      const stream = new H2Stream(this.#block(path), grpcFrame(request), true, (s) => {
        clearTimeout(timer);
        if (s.error !== null || s.httpStatus !== 200) {
          return reject(new Error(`gRPC ${path}: ${s.error ?? `HTTP ${s.httpStatus}`}`));
        }
        const all = Buffer.concat(s.chunks ?? []);
        const body = all.length >= 5 ? all.subarray(5, 5 + all.readUInt32BE(1)) : Buffer.alloc(0);
        resolve({ status: s.grpcStatus, message: decodeURIComponent(s.grpcMessage), body });
      });
      conn.request(stream);
    });
  }

  /** Drop every connection: in-flight calls finish with `client:closed`. */
  close(): void {
    for (const c of this.#conns) c?.close();
    this.#conns.fill(null);
  }
}
