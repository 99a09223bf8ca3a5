/**
 * Issue 16, items 4 and 7 on gRPC: received inference messages count in the one bound
 * on request bytes in flight (--max-inflight-request-bytes), the same bound HTTP
 * bodies count in. Messages held by running requests add up; one that would pass the
 * bound is refused with RESOURCE_EXHAUSTED (in-band on a stream, which stays open),
 * counted after decompression; answered messages give their bytes back; HTTP and
 * gRPC share the bound. Afterwards the server serves and memory is back near start.
 *
 * Messages are padded with an unknown protobuf field (number 15), which the server
 * skips: a request for `slow` (~150-300 ms a run, 2 instances) that holds N bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { settledRss } from '../../helpers/memory.js';
import { rawHttp, rawPost } from '../../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const BOUND = 1024 * 1024;
const KIB = 1024;
const INFER = '/inference.GRPCInferenceService/ModelInfer';
const STREAM = '/inference.GRPCInferenceService/ModelStreamInfer';
const service = loadPackageDefinition()[INFERENCE_SERVICE] as ServiceDefinition;
const same = (b: Buffer): Buffer => b;

interface Answer { model_name: string; raw_output_contents: Uint8Array[] }
interface StreamAnswer { error_message: string; infer_response: Answer | null }

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return Buffer.from(out);
}

/** A ModelInferRequest for `model` with input `x` = [v], padded to about `bytes` with field 15. */
function request(model: string, v: number, bytes: number): Buffer {
  const x = Buffer.alloc(4);
  x.writeFloatLE(v);
  const base = service['ModelInfer']!.requestSerialize({
    model_name: model, inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [x],
  });
  const pad = Math.max(0, bytes - base.length - 8);
  return Buffer.concat([base, Buffer.from([(15 << 3) | 2]), varint(pad), Buffer.alloc(pad)]);
}

function unary(c: grpc.Client, msg: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(INFER, same, same, msg, (err, res) => {
      if (err) reject(err);
      else resolve(service['ModelInfer']!.responseDeserialize(res!) as Answer);
    });
  });
}

function exhausted(e: grpc.ServiceError): boolean {
  assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED, `${e.code} ${e.details}`);
  assert.match(e.details, /request bytes in flight exceed the server's limit of 1048576 bytes \(--max-inflight-request-bytes\); retry later/);
  return true;
}

function y(a: Answer): number {
  return Buffer.from(a.raw_output_contents[0]!).readFloatLE(0);
}

describe('gRPC messages in the in-flight request-bytes bound', () => {
  let s: TestServer;
  let plain: grpc.Client;
  let gzip: grpc.Client;
  let rssStart = 0;

  before(async () => {
    s = await startTestServer({ maxInflightRequestBytes: BOUND, allowMetrics: false, modelControlMode: 'explicit', loadModels: ['slow', 'scaler'] });
    plain = new grpc.Client(s.grpcAddress, grpc.credentials.createInsecure());
    // 2 = gzip: every message this client sends is compressed.
    gzip = new grpc.Client(s.grpcAddress, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    assert.equal(y(await unary(plain, request('slow', 1, 0))), 1);
    rssStart = await settledRss();
  });
  after(async () => {
    plain?.close();
    gzip?.close();
    await s?.shutdown();
  });

  it('messages held by running requests add up: past the bound RESOURCE_EXHAUSTED, the others served, bytes given back', async () => {
    // 10 x 200 KiB at once; slow runs two at a time for 150+ ms each, so most are still
    // held when the sixth arrives (5 x 200 KiB < 1 MiB < 6 x 200 KiB).
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => unary(plain, request('slow', i, 200 * KIB))));
    const refused = results.filter((r) => r.status === 'rejected');
    assert.ok(refused.length >= 1, 'no message was refused');
    for (const r of refused) exhausted((r as PromiseRejectedResult).reason as grpc.ServiceError);
    results.forEach((r, i) => { if (r.status === 'fulfilled') assert.equal(y(r.value), i); });
    // Every answered message gave its bytes back: five at once fit again.
    const again = await Promise.all(Array.from({ length: 5 }, (_, i) => unary(plain, request('slow', 20 + i, 200 * KIB))));
    assert.deepEqual(again.map(y), [20, 21, 22, 23, 24]);
  });

  it('counted after decompression: a small gzip frame that inflates past the bound is refused', async () => {
    // ~1.2 MB of zeros travels as a few kB; within --max-request-bytes (64 MiB), over the 1 MiB bound.
    await assert.rejects(unary(gzip, request('slow', 5, 1200 * KIB)), exhausted);
    assert.equal(y(await unary(gzip, request('slow', 5, 600 * KIB))), 5);
  });

  it('on ModelStreamInfer the refusal is in-band and the stream goes on', async () => {
    const call = plain.makeBidiStreamRequest(STREAM, same, same);
    const answers: StreamAnswer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (b: Buffer) => answers.push(service['ModelStreamInfer']!.responseDeserialize(b) as StreamAnswer));
      call.on('error', reject);
      call.on('end', resolve);
    });
    for (let i = 0; i < 10; i++) call.write(request('slow', i, 200 * KIB));
    while (answers.length < 10) await new Promise((r) => setTimeout(r, 20));
    // The stream is still open: one more is served.
    call.write(request('slow', 30, 200 * KIB));
    call.end();
    await done;
    assert.equal(answers.length, 11);
    const errors = answers.filter((x) => x.error_message !== '').map((x) => x.error_message);
    assert.ok(errors.length >= 1, 'no message was refused');
    for (const e of errors) assert.match(e, /request bytes in flight exceed the server's limit of 1048576 bytes/);
    const served = answers.filter((x) => x.error_message === '').map((x) => y(x.infer_response!));
    assert.equal(served.length, 11 - errors.length);
    assert.equal(served.at(-1), 30);
  });

  it('HTTP bodies and gRPC messages share the one bound', async () => {
    // An HTTP body of 900 KiB arrives slowly: 800 KiB now, the rest 1.5 s later.
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [10] }] }).padEnd(900 * KIB, ' '));
    const head = rawPost('/v2/models/slow/infer', body);
    const cut = head.length - 100 * KIB;
    const held = rawHttp(s.httpPort, head.subarray(0, cut), { expect: 1, later: [[1500, head.subarray(cut)]] });
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(unary(plain, request('slow', 11, 300 * KIB)), exhausted);
    const r = await held;
    assert.equal(r.responses[0]?.status, 200, JSON.stringify(r.responses[0]));
    assert.equal(y(await unary(plain, request('slow', 11, 300 * KIB))), 11);
  });

  it('a good request is served afterwards and memory is back near where it started', async () => {
    assert.equal(y(await unary(plain, request('slow', 12, 0))), 12);
    const grown = await settledRss() - rssStart;
    assert.ok(grown < 128 * 1024 * 1024, `rss grew ${(grown / 1048576).toFixed(1)} MiB`);
  });
});
