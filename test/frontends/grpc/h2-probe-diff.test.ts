/**
 * Differential: the http2 and net engines must answer every request as grpc-js 1.14's server
 * does, wherever a client can see it (HTTP/2 status, response headers, trailers,
 * message bytes, a reset and its code, whether the stream is left open). Both engines
 * run in this process over the same FakeDataPlane front end; each case is sent to both
 * by a raw node:http2 client and the answers must be equal, and grpc-js's status is
 * pinned too (so a case cannot pass by both engines breaking the same way unnoticed).
 * Cases: routing, content-type, te, grpc-timeout forms, the compressed flag under every
 * grpc-encoding, framing (limits before the body, cut-off messages, one-byte DATA
 * frames, empty bodies, two messages), header values grpc-js's Metadata refuses,
 * END_STREAM on HEADERS, client trailers. After all of them both servers still answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync, deflateSync, deflateRawSync } from 'node:zlib';
import type http2 from 'node:http2';
import type { GrpcEngineChoice } from '../../../src/config/cli.js';
import {
  ENGINES, type ProbeServer, SVC, type Send, type Seen, frame, grpcStatus, rawCall, requestHeaders, sleep, startProbeServer,
} from './h2-probe-raw.js';

const LIVE = `${SVC}/ServerLive`;
const READY = `${SVC}/ModelReady`;
const LIMIT = 1000;
const EMPTY = frame();
/** ModelReadyRequest{name: 'echo'}. */
const READY_ECHO = Buffer.from([0x0a, 4, ...Buffer.from('echo')]);

/** ModelReadyRequest whose encoding is exactly `n` bytes (a name of n - 3 'a's; n >= 131). */
function readyOfSize(n: number): Buffer {
  const len = n - 3;
  return Buffer.concat([Buffer.from([0x0a, (len & 0x7f) | 0x80, len >> 7]), Buffer.alloc(len, 0x61)]);
}

interface Case {
  name: string;
  path?: string;
  headers?: http2.OutgoingHttpHeaders;
  /** Header names to leave out of the request. */
  drop?: string[];
  send: Send;
  /** grpc-js's grpc-status ('none': no gRPC status at all). */
  status: string;
  /** How long the client waits for the end of the stream (a call the server leaves open). */
  timeoutMs?: number;
  headersOnly?: boolean;
  trailers?: http2.OutgoingHttpHeaders;
}

const end = (body: Buffer): Send => (req) => { req.end(body); };
const open = (body: Buffer): Send => (req) => { req.write(body); };

const CASES: Case[] = [
  { name: 'a plain unary call', send: end(EMPTY), status: '0' },
  { name: 'an unknown method', path: `${SVC}/Nope`, send: end(EMPTY), status: '12' },
  { name: 'an unknown service', path: '/x.Y/Z', send: end(EMPTY), status: '12' },
  { name: 'a path with a query', path: `${LIVE}?x=1`, send: end(EMPTY), status: '12' },
  { name: 'a percent-encoded path', path: `${SVC}/Server%4Cive`, send: end(EMPTY), status: '12' },
  { name: ':method GET', headers: { ':method': 'GET' }, send: end(EMPTY), status: '0' },
  { name: 'no content-type', drop: ['content-type'], send: end(EMPTY), status: 'none' },
  { name: 'content-type text/plain', headers: { 'content-type': 'text/plain' }, send: end(EMPTY), status: 'none' },
  { name: 'content-type APPLICATION/GRPC', headers: { 'content-type': 'APPLICATION/GRPC' }, send: end(EMPTY), status: 'none' },
  { name: 'content-type application/grpc+proto', headers: { 'content-type': 'application/grpc+proto' }, send: end(EMPTY), status: '0' },
  { name: 'content-type application/grpc+json', headers: { 'content-type': 'application/grpc+json' }, send: end(EMPTY), status: '0' },
  { name: 'content-type with parameters', headers: { 'content-type': 'application/grpc; charset=utf-8' }, send: end(EMPTY), status: '0' },
  { name: 'content-type application/grpcfoo', headers: { 'content-type': 'application/grpcfoo' }, send: end(EMPTY), status: '0' },
  { name: 'no te: trailers', drop: ['te'], send: end(EMPTY), status: '0' },
  { name: 'no :authority', drop: [':authority'], send: end(EMPTY), status: '0' },
  // grpc-timeout: the first <1-8 digits><unit> anywhere counts; none is INTERNAL.
  ...['1H', '1M', '1S', '100m', '1000000u', '99999999S', '999999999S', '-1S', 'x5S', '5Sjunk', '1.5S', '1 S'].map((t): Case =>
    ({ name: `grpc-timeout "${t}"`, headers: { 'grpc-timeout': t }, send: end(EMPTY), status: '0' })),
  ...['abc', '', '5', '1s', 'S'].map((t): Case => ({ name: `grpc-timeout "${t}"`, headers: { 'grpc-timeout': t }, send: end(EMPTY), status: '13' })),
  { name: 'grpc-timeout 50m, never half-closed', headers: { 'grpc-timeout': '50m' }, send: open(EMPTY), status: '4', timeoutMs: 600 },
  // Milliseconds truncated to 32 bits, as grpc-js does: 99999999M wraps negative (expires at once), 4294968S to 704 ms.
  { name: 'grpc-timeout 99999999M, never half-closed', headers: { 'grpc-timeout': '99999999M' }, send: open(EMPTY), status: '4', timeoutMs: 600 },
  { name: 'grpc-timeout 4294968S, never half-closed', headers: { 'grpc-timeout': '4294968S' }, send: open(EMPTY), status: '4', timeoutMs: 1500 },
  // The compressed flag: 1 means grpc-encoding; identity (or none) reads it as is; any other value is read as is.
  { name: 'flag 1, no grpc-encoding', send: end(frame(Buffer.alloc(0), 1)), status: '0' },
  { name: 'flag 1, identity', headers: { 'grpc-encoding': 'identity' }, send: end(frame(Buffer.alloc(0), 1)), status: '0' },
  { name: 'flag 1, gzip', headers: { 'grpc-encoding': 'gzip' }, path: READY, send: end(frame(gzipSync(READY_ECHO), 1)), status: '0' },
  { name: 'flag 1, deflate', headers: { 'grpc-encoding': 'deflate' }, path: READY, send: end(frame(deflateSync(READY_ECHO), 1)), status: '0' },
  { name: 'flag 1, raw deflate under deflate', headers: { 'grpc-encoding': 'deflate' }, send: end(frame(deflateRawSync(Buffer.alloc(0)), 1)), status: '13' },
  { name: 'flag 1, gzip, corrupt', headers: { 'grpc-encoding': 'gzip' }, send: end(frame(Buffer.from('nonsense'), 1)), status: '13' },
  { name: 'flag 1, gzip, truncated', headers: { 'grpc-encoding': 'gzip' }, send: end(frame(gzipSync(Buffer.alloc(100)).subarray(0, 15), 1)), status: '13' },
  { name: 'flag 1, gzip, two members', headers: { 'grpc-encoding': 'gzip' }, send: end(frame(Buffer.concat([gzipSync(Buffer.alloc(0)), gzipSync(Buffer.alloc(0))]), 1)), status: '0' },
  { name: 'flag 1, unknown encoding', headers: { 'grpc-encoding': 'snappy' }, send: end(frame(Buffer.alloc(3), 1)), status: '12' },
  { name: 'flag 1, encoding in upper case', headers: { 'grpc-encoding': 'GZIP' }, send: end(frame(gzipSync(Buffer.alloc(0)), 1)), status: '12' },
  { name: 'flag 0, unknown encoding', headers: { 'grpc-encoding': 'snappy' }, send: end(EMPTY), status: '0' },
  { name: 'flag 0, gzip', headers: { 'grpc-encoding': 'gzip' }, send: end(EMPTY), status: '0' },
  ...[2, 3, 128, 255].map((f): Case => ({ name: `flag ${f}`, send: end(frame(Buffer.alloc(0), f)), status: '0' })),
  { name: 'flag 2 with a gzip body (read as is)', headers: { 'grpc-encoding': 'gzip' }, send: end(frame(gzipSync(Buffer.alloc(0)), 2)), status: '13' },
  // Framing and limits (--max-request-bytes 1000 here).
  { name: 'a message of exactly the limit', path: READY, send: end(frame(readyOfSize(LIMIT))), status: '0' },
  { name: 'a message one byte over the limit', path: READY, send: end(frame(readyOfSize(LIMIT + 1))), status: '8' },
  { name: 'a length over the limit, before any body (call left open)', send: open(frame(Buffer.alloc(0), 0, 0x7fffffff)), status: '8', timeoutMs: 600 },
  { name: 'length 0xffffffff', send: end(frame(Buffer.alloc(0), 0, 0xffffffff)), status: '8' },
  { name: 'gzip inflating to exactly the limit', path: READY, headers: { 'grpc-encoding': 'gzip' }, send: end(frame(gzipSync(readyOfSize(LIMIT)), 1)), status: '0' },
  { name: 'gzip inflating one byte past the limit', path: READY, headers: { 'grpc-encoding': 'gzip' }, send: end(frame(gzipSync(readyOfSize(LIMIT + 1)), 1)), status: '8' },
  { name: 'a prefix cut off by END_STREAM', send: end(Buffer.from([0, 0, 0])), status: '12' },
  { name: 'a message cut off by END_STREAM', send: end(Buffer.concat([frame(Buffer.alloc(0), 0, 10), Buffer.from([8, 1])])), status: '12' },
  { name: 'a message, then a partial prefix', send: end(Buffer.concat([EMPTY, Buffer.from([0, 0])])), status: '0' },
  { name: 'an empty body', send: end(Buffer.alloc(0)), status: '12' },
  { name: 'two messages on a unary call', send: end(Buffer.concat([EMPTY, EMPTY])), status: '12' },
  { name: 'an undecodable message', send: end(frame(Buffer.from([0xff, 0xff, 0xff]))), status: '13' },
  { name: 'a message of unknown fields', send: end(frame(Buffer.from([0x08, 0x01]))), status: '0' },
  {
    name: 'a message in one-byte DATA frames', path: READY, status: '0',
    send: async (req) => { for (const b of frame(READY_ECHO)) { req.write(Buffer.from([b])); await sleep(1); } req.end(); },
  },
  // Header values: what grpc-js's Metadata refuses (not printable ASCII) it drops.
  { name: 'grpc-encoding latin1 "gzip\\xe9", flag 1 plain body', headers: { 'grpc-encoding': 'gzip\u00e9' }, send: end(frame(Buffer.alloc(0), 1)), status: '0' },
  { name: 'grpc-encoding latin1 "\\xe9", flag 1 gzip body', headers: { 'grpc-encoding': '\u00e9' }, send: end(frame(gzipSync(Buffer.alloc(0)), 1)), status: '13' },
  { name: 'grpc-timeout "1m\\t" (no deadline), never half-closed', headers: { 'grpc-timeout': '1m\t' }, send: open(EMPTY), status: 'none', timeoutMs: 600 },
  { name: 'grpc-timeout latin1 "\\xe91m" (no deadline), never half-closed', headers: { 'grpc-timeout': '\u00e91m' }, send: open(EMPTY), status: 'none', timeoutMs: 600 },
  { name: 'grpc-encoding repeated', headers: { 'grpc-encoding': ['gzip', 'identity'] }, send: end(frame(gzipSync(Buffer.alloc(0)), 1)), status: '12' },
  { name: '-bin metadata that is not base64', headers: { 'x-foo-bin': '!!!@@@' }, send: end(EMPTY), status: '0' },
  { name: 'grpc-status / grpc-message request headers', headers: { 'grpc-status': '5', 'grpc-message': 'hi' }, send: end(EMPTY), status: '0' },
  { name: 'a 16 KiB header value', headers: { 'x-big': 'a'.repeat(16384) }, send: end(EMPTY), status: '0' },
  // Client trailers end the request as END_STREAM does.
  { name: 'client trailers after the message', send: end(EMPTY), trailers: { 'x-client-trailer': '1' }, status: '0' },
  { name: 'client trailers after the message on ModelStreamInfer', path: `${SVC}/ModelStreamInfer`, send: end(frame(Buffer.alloc(0))), trailers: { 'x-t': '1' }, status: '0' },
  // END_STREAM on the HEADERS frame: no body at all.
  { name: 'HEADERS with END_STREAM, unary', send: () => undefined, headersOnly: true, status: '12' },
  { name: 'HEADERS with END_STREAM, ModelStreamInfer', path: `${SVC}/ModelStreamInfer`, send: () => undefined, headersOnly: true, status: '0' },
  { name: 'HEADERS with END_STREAM, unknown method', path: `${SVC}/Nope`, send: () => undefined, headersOnly: true, status: '12' },
];

describe('h2-probe: the http2 and net engines answer raw HTTP/2 requests as grpc-js does', { timeout: 120_000 }, () => {
  const servers = new Map<GrpcEngineChoice, ProbeServer>();
  before(async () => {
    for (const e of ENGINES) servers.set(e, await startProbeServer(e, { maxReceiveBytes: LIMIT }));
  });
  after(async () => {
    for (const s of servers.values()) await s.server.close();
  });

  async function both(c: Case): Promise<Record<GrpcEngineChoice, Seen>> {
    const out = {} as Record<GrpcEngineChoice, Seen>;
    for (const [e, s] of servers) {
      const headers = requestHeaders(c.path ?? LIVE, c.headers);
      for (const d of c.drop ?? []) delete headers[d];
      out[e] = await rawCall(s.port, headers, c.send, {
        timeoutMs: c.timeoutMs ?? 3000,
        ...(c.headersOnly === true ? { headersOnly: true } : {}),
        ...(c.trailers === undefined ? {} : { trailers: c.trailers }),
      });
    }
    return out;
  }

  for (const c of CASES) {
    it(c.name, async () => {
      const seen = await both(c);
      assert.equal(grpcStatus(seen['grpc-js']) ?? 'none', c.status, `grpc-js's status: ${JSON.stringify(seen['grpc-js'])}`);
      for (const e of ENGINES) assert.deepEqual(seen[e], seen['grpc-js'], e);
    });
  }

  it('both servers still answer, and nothing was logged as a server error', async () => {
    for (const s of servers.values()) {
      const seen = await rawCall(s.port, requestHeaders(LIVE), end(EMPTY));
      assert.equal(grpcStatus(seen), '0', s.engine);
      assert.deepEqual(s.logged, [], s.engine);
    }
  });
});
