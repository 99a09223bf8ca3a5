/**
 * gRPC framing and protocol edge cases with a raw node:http2 client (not grpc-js, which
 * never sends most of these), against BOTH engines: the http2 engine must answer each
 * exactly as grpc-js's server does, so every expectation is checked on both.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import type { GrpcEngineChoice } from '../../../src/config/cli.js';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { rawInferRequest, tensor } from '../../helpers/grpc-client.js';
import { type Harness, f32, startHarness } from './fixtures.js';

const SVC = loadPackageDefinition()[INFERENCE_SERVICE] as Record<string, { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): any }>;
const READY = `/${INFERENCE_SERVICE}/ModelReady`;
const INFER = `/${INFERENCE_SERVICE}/ModelInfer`;
const STREAM = `/${INFERENCE_SERVICE}/ModelStreamInfer`;
const LIMIT = 64 * 1024;

function frame(message: Buffer, flag = 0, length = message.length): Buffer {
  const f = Buffer.alloc(5 + message.length);
  f[0] = flag;
  f.writeUInt32BE(length, 1);
  message.copy(f, 5);
  return f;
}

/** The response messages of a body (length-prefixed). */
function messages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < body.length;) {
    const n = body.readUInt32BE(p + 1);
    out.push(body.subarray(p + 5, p + 5 + n));
    p += 5 + n;
  }
  return out;
}

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
}

type Req = http2.ClientHttp2Stream;

/** One call; `send` writes the request (default: nothing more, END_STREAM). */
function rawCall(session: http2.ClientHttp2Session, path: string, send: (req: Req) => void | Promise<void>, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  return new Promise((resolve, reject) => {
    let h: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const parts: Buffer[] = [];
    req.on('response', (x) => { h = x; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('error', () => {});
    // The answer is complete at the end of the response, whether or not this side ended.
    req.on('end', () => {
      if (!req.closed) req.close();
      const t = trailers ?? h;
      resolve({
        status: Number(h[':status']), headers: h, trailers, body: Buffer.concat(parts),
        grpcStatus: t['grpc-status'] as string | undefined, grpcMessage: t['grpc-message'] as string | undefined,
      });
    });
    Promise.resolve(send(req)).catch(reject);
  });
}

const readyRequest = (name = 'echo') => SVC['ModelReady']!.requestSerialize({ name, version: '' });

for (const engine of ['grpc-js', 'http2', 'net'] as GrpcEngineChoice[]) {
  describe(`raw HTTP/2 client against the ${engine} engine`, { timeout: 20_000 }, () => {
    let h: Harness;
    let session: http2.ClientHttp2Session;
    before(async () => {
      h = await startHarness(LIMIT, engine);
      session = http2.connect(`http://127.0.0.1:${h.server.port}`);
    });
    after(async () => {
      session.close();
      await h.close();
    });

    it('a unary answer: grpc-js\'s response headers, one message, OK trailers', async () => {
      const a = await rawCall(session, READY, (r) => { r.end(frame(readyRequest())); });
      assert.equal(a.status, 200);
      assert.equal(a.headers['content-type'], 'application/grpc+proto');
      assert.equal(a.headers['grpc-accept-encoding'], 'identity,deflate,gzip');
      assert.equal(a.headers['grpc-encoding'], 'identity');
      assert.deepEqual([a.trailers?.['grpc-status'], a.trailers?.['grpc-message']], ['0', 'OK']);
      assert.deepEqual(SVC['ModelReady']!.responseDeserialize(messages(a.body)[0]!), { ready: true });
    });

    it('a message split over many DATA frames is read whole', async () => {
      const f = frame(readyRequest('echo'));
      const a = await rawCall(session, READY, async (r) => {
        for (let i = 0; i < f.length; i++) {
          r.write(f.subarray(i, i + 1));
          await tick();
        }
        r.end();
      });
      assert.equal(a.grpcStatus, '0');
      assert.deepEqual(SVC['ModelReady']!.responseDeserialize(messages(a.body)[0]!), { ready: true });
    });

    it('several messages in one DATA frame on ModelStreamInfer: one answer each, then OK', async () => {
      const req = (id: string) => frame(SVC['ModelStreamInfer']!.requestSerialize(rawInferRequest('echo', [tensor('INPUT0', 'FP32', [1, 4], f32(1, 2, 3, 4))], { id })));
      const a = await rawCall(session, STREAM, (r) => { r.end(Buffer.concat([req('a'), req('b'), req('c')])); });
      assert.equal(a.grpcStatus, '0');
      const ids = messages(a.body).map((m) => SVC['ModelStreamInfer']!.responseDeserialize(m).infer_response.id).sort();
      assert.deepEqual(ids, ['a', 'b', 'c']);
    });

    it('a length prefix over the limit is refused before the body arrives', async () => {
      const a = await rawCall(session, READY, (r) => { r.write(frame(Buffer.alloc(0), 0, LIMIT + 1)); });
      assert.equal(a.grpcStatus, '8');
      assert.equal(decodeURIComponent(a.grpcMessage!), `Received message larger than max (${LIMIT + 1} vs ${LIMIT})`);
      assert.equal(a.trailers, undefined, 'trailers-only');
    });

    it('a message cut off by END_STREAM is no message', async () => {
      const f = frame(readyRequest());
      const a = await rawCall(session, READY, (r) => { r.end(f.subarray(0, f.length - 2)); });
      assert.equal(a.grpcStatus, '12');
      assert.equal(decodeURIComponent(a.grpcMessage!), `Received no request message for server streaming method ${READY}`);
    });

    it('a second message on a unary call is UNIMPLEMENTED', async () => {
      const f = frame(readyRequest());
      const a = await rawCall(session, READY, (r) => { r.end(Buffer.concat([f, f])); });
      assert.equal(a.grpcStatus, '12');
      assert.equal(decodeURIComponent(a.grpcMessage!), `Received a second request message for server streaming method ${READY}`);
    });

    it('the compressed flag under identity encoding is read as is; gzip and deflate are inflated', async () => {
      for (const [flagged, headers] of [
        [frame(readyRequest(), 1), {}],
        [frame(gzipSync(readyRequest()), 1), { 'grpc-encoding': 'gzip' }],
        [frame((await import('node:zlib')).deflateSync(readyRequest()), 1), { 'grpc-encoding': 'deflate' }],
        [frame(readyRequest(), 0), { 'grpc-encoding': 'br' }],
      ] as Array<[Buffer, Record<string, string>]>) {
        const a = await rawCall(session, READY, (r) => { r.end(flagged); }, headers);
        assert.equal(a.grpcStatus, '0', JSON.stringify(headers));
        assert.deepEqual(SVC['ModelReady']!.responseDeserialize(messages(a.body)[0]!), { ready: true });
      }
    });

    it('a compressed message in an unknown encoding is UNIMPLEMENTED', async () => {
      const a = await rawCall(session, READY, (r) => { r.end(frame(readyRequest(), 1)); }, { 'grpc-encoding': 'br' });
      assert.equal(a.grpcStatus, '12');
      assert.equal(decodeURIComponent(a.grpcMessage!), 'Received message compressed with unsupported encoding "br"');
    });

    it('a grpc-encoding that is not printable ASCII is dropped (grpc-js\'s Metadata): the call reads as identity', async () => {
      const a = await rawCall(session, READY, (r) => { r.end(frame(readyRequest(), 1)); }, { 'grpc-encoding': 'gzip\u00e9' });
      assert.equal(a.grpcStatus, '0');
      assert.deepEqual(SVC['ModelReady']!.responseDeserialize(messages(a.body)[0]!), { ready: true });
      const b = await rawCall(session, READY, (r) => { r.end(frame(gzipSync(readyRequest()), 1)); }, { 'grpc-encoding': 'gzip\u00e9' });
      assert.deepEqual([b.grpcStatus, decodeURIComponent(b.grpcMessage!)], ['13', 'Error deserializing request']);
    });

    it('a gzip bomb stops inflating at the limit: RESOURCE_EXHAUSTED', async () => {
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
      assert.ok(bomb.length < LIMIT);
      const a = await rawCall(session, READY, (r) => { r.end(frame(bomb, 1)); }, { 'grpc-encoding': 'gzip' });
      assert.equal(a.grpcStatus, '8');
      assert.equal(decodeURIComponent(a.grpcMessage!), `Received message that decompresses to a size larger than ${LIMIT}`);
    });

    it('a corrupt gzip message is INTERNAL "Failed to decompress message"', async () => {
      const a = await rawCall(session, READY, (r) => { r.end(frame(Buffer.from('not gzip at all'), 1)); }, { 'grpc-encoding': 'gzip' });
      assert.deepEqual([a.grpcStatus, decodeURIComponent(a.grpcMessage!)], ['13', 'Failed to decompress message']);
    });

    it('a malformed grpc-timeout is INTERNAL with grpc-js\'s text, percent-encoded', async () => {
      const a = await rawCall(session, READY, (r) => { r.end(frame(readyRequest())); }, { 'grpc-timeout': 'soon' });
      assert.equal(a.grpcStatus, '13');
      assert.equal(a.grpcMessage, 'Invalid%20grpc-timeout%20value%20%22soon%22');
    });

    it('a grpc-timeout that expires: DEADLINE_EXCEEDED "Deadline exceeded"; an unanchored one counts', async () => {
      for (const t of ['50m', 'x50000u!']) {
        const a = await rawCall(session, READY, (r) => { r.write(frame(readyRequest()).subarray(0, 3)); }, { 'grpc-timeout': t });
        assert.deepEqual([a.grpcStatus, a.grpcMessage], ['4', 'Deadline%20exceeded'], t);
      }
    });

    it('an unknown method is UNIMPLEMENTED, its text not percent-encoded', async () => {
      const a = await rawCall(session, '/no.Such/Method', (r) => { r.end(frame(readyRequest())); });
      assert.equal(a.status, 200);
      assert.deepEqual([a.grpcStatus, a.grpcMessage], ['12', 'The server does not implement the method /no.Such/Method']);
    });

    it('a content-type other than application/grpc* is HTTP 415', async () => {
      const a = await rawCall(session, READY, (r) => { r.end(frame(readyRequest())); }, { 'content-type': 'application/json' });
      assert.equal(a.status, 415);
      assert.equal(a.grpcStatus, undefined);
    });

    it('RST_STREAM mid-call cancels the handler; the connection goes on', async () => {
      const msg = frame(SVC['ModelInfer']!.requestSerialize(rawInferRequest('slow', [tensor('A', 'FP32', [1], f32(1))])));
      const req = session.request({ ':method': 'POST', ':path': INFER, 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(msg);
      while (h.dp.aborted === undefined) await tick();
      req.close(http2.constants.NGHTTP2_CANCEL);
      assert.ok((await h.dp.aborted) instanceof Error);
      const a = await rawCall(session, READY, (r) => { r.end(frame(readyRequest())); });
      assert.equal(a.grpcStatus, '0');
    });
  });
}
