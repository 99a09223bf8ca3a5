/**
 * ModelInfer is answered from grpc-js's call object directly (direct-unary.ts), not
 * through grpc-js's unary wrapper. What that wrapper did must still hold, seen on the
 * wire with a raw HTTP/2 client (a gRPC client cannot send these cases): one message
 * is answered with HEADERS, DATA and OK trailers; a second message or none at all is
 * UNIMPLEMENTED with grpc-js's words; an error status carries its metadata; and the
 * other methods do not go through the interceptor.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { directUnary } from '../../../src/frontends/grpc/direct-unary.js';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { rawInferRequest, type ModelInferResponseMsg } from '../../helpers/grpc-client.js';
import { type Harness, f32, startHarness } from './fixtures.js';

const PATH = `/${INFERENCE_SERVICE}/ModelInfer`;

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

interface RawAnswer { status: number; headers: http2.IncomingHttpHeaders; data: Buffer; trailers: http2.IncomingHttpHeaders }

/** One ModelInfer stream carrying `frames` (0, 1 or more gRPC messages), then half-closed. */
function rawCall(port: number, frames: Buffer[]): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => { headers = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('close', () => {
      session.close();
      resolve({ status: Number(headers[':status']), headers, data: Buffer.concat(chunks), trailers });
    });
    for (const f of frames) req.write(f);
    req.end();
  });
}

describe('ModelInfer without grpc-js unary wrapper', () => {
  let h: Harness;
  let method: MethodDefinition<object, ModelInferResponseMsg>;
  const request = (id: string) => frame(method.requestSerialize(rawInferRequest('echo', [{ name: 'A', datatype: 'FP32', shape: [2], data: f32(1, 2) }], { id })));

  before(async () => {
    h = await startHarness();
    method = (loadPackageDefinition()[INFERENCE_SERVICE] as Record<string, MethodDefinition<object, ModelInferResponseMsg>>)['ModelInfer']!;
  });
  after(() => h.close());

  it('one message: HEADERS, one DATA message with the answer, trailers grpc-status 0', async () => {
    const a = await rawCall(h.server.port, [request('one')]);
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'application/grpc+proto');
    assert.deepEqual([a.trailers['grpc-status'], a.trailers['grpc-message']], ['0', 'OK']);
    assert.equal(a.data.readUInt32BE(1), a.data.length - 5, 'exactly one length-prefixed message');
    const res = method.responseDeserialize(a.data.subarray(5));
    assert.equal(res.id, 'one');
    assert.deepEqual(res.outputs.map((o) => o.name), ['A']);
    assert.deepEqual(new Float32Array(new Uint8Array(res.raw_output_contents[0]!).buffer), f32Array(1, 2));
  });

  it('a second message is UNIMPLEMENTED, as grpc-js words it, and nothing is answered', async () => {
    const before = h.dp.requests.length;
    const a = await rawCall(h.server.port, [request('a'), request('b')]);
    assert.equal(a.trailers['grpc-status'] ?? a.headers['grpc-status'], String(grpc.status.UNIMPLEMENTED));
    assert.equal(decodeURIComponent(String(a.trailers['grpc-message'] ?? a.headers['grpc-message'])),
      `Received a second request message for server streaming method ${PATH}`);
    assert.equal(a.data.length, 0);
    assert.equal(h.dp.requests.length, before, 'the handler never ran');
  });

  it('no message at all is UNIMPLEMENTED, as grpc-js words it', async () => {
    const a = await rawCall(h.server.port, []);
    assert.equal(a.trailers['grpc-status'] ?? a.headers['grpc-status'], String(grpc.status.UNIMPLEMENTED));
    assert.equal(decodeURIComponent(String(a.trailers['grpc-message'] ?? a.headers['grpc-message'])),
      `Received no request message for server streaming method ${PATH}`);
  });

  it('an error answer is a status with its details (unknown model)', async () => {
    const bytes = frame(method.requestSerialize(rawInferRequest('nope', [{ name: 'A', datatype: 'FP32', shape: [1], data: f32(1) }])));
    const a = await rawCall(h.server.port, [bytes]);
    const status = a.trailers['grpc-status'] ?? a.headers['grpc-status'];
    assert.notEqual(status, '0');
    assert.match(decodeURIComponent(String(a.trailers['grpc-message'] ?? a.headers['grpc-message'])), /nope/);
  });

  it('the interceptor hands every other method the call it got', () => {
    const intercept = directUnary(PATH, () => undefined);
    const call = {} as never;
    const def = (path: string) => ({ path, requestStream: false, responseStream: false }) as never;
    assert.equal(intercept(def(`/${INFERENCE_SERVICE}/ModelMetadata`), call), call);
    assert.notEqual(intercept(def(PATH), call), call);
  });
});

function f32Array(...v: number[]): Float32Array {
  return new Float32Array(v);
}
