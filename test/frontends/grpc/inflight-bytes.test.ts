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
import http2 from 'node:http2';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { settledRss } from '../../helpers/memory.js';
import { parseResponses, rawPost, type RawResponse } from '../../helpers/raw-http.js';
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

/** One gRPC call over a raw HTTP/2 stream: `frames` as sent (5-byte prefix included); the status it ends with. */
function rawCall(session: http2.ClientHttp2Session, frames: Buffer, headers: Record<string, string> = {}, end = true): Promise<{ code: number; message: string }> {
  return new Promise((resolve, reject) => {
    const st = session.request({ ':method': 'POST', ':path': INFER, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let code = -1;
    let message = '';
    // Settled by the status: a stream this side never ends does not close.
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] === undefined) return;
      code = Number(h['grpc-status']);
      message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      resolve({ code, message });
    };
    st.on('response', take);
    st.on('trailers', take);
    st.on('data', () => {});
    st.on('close', () => resolve({ code, message }));
    st.on('error', reject);
    if (end) st.end(frames);
    else st.write(frames);
  });
}

function frame(flag: 0 | 1, payload: Buffer, declared = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flag, 0);
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, payload]);
}

function y(a: Answer): number {
  return Buffer.from(a.raw_output_contents[0]!).readFloatLE(0);
}

/**
 * An HTTP request sent up to `cut` now and the rest on sendRest(); `answer` is the first
 * response (undefined when none came within `waitMs` or the connection closed first).
 */
function heldPost(port: number, data: Buffer, cut: number, waitMs: number): { sendRest(): void; answer: Promise<RawResponse | undefined> } {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const answer = new Promise<RawResponse | undefined>((resolve) => {
    const settle = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponses(Buffer.concat(chunks))[0]);
    };
    const timer = setTimeout(settle, waitMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (parseResponses(Buffer.concat(chunks)).length > 0) settle();
    });
    socket.on('error', () => {});
    socket.on('close', settle);
  });
  socket.write(data.subarray(0, cut));
  return { sendRest: () => { if (!socket.destroyed) socket.write(data.subarray(cut)); }, answer };
}

// A bound that is not enforced leaves some calls waiting forever: fail, do not hang.
describe('gRPC messages in the in-flight request-bytes bound', { timeout: 180_000 }, () => {
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

  it('on ModelStreamInfer a message arriving past the bound ends the stream RESOURCE_EXHAUSTED; a new stream is served', async () => {
    // grpc-js cannot skip the rest of a message in-band, so a refusal while a message
    // arrives ends its stream, as grpc-js's own per-message limit does.
    const stream = (): { call: grpc.ClientDuplexStream<Buffer, Buffer>; answers: StreamAnswer[]; done: Promise<grpc.StatusObject> } => {
      const call = plain.makeBidiStreamRequest(STREAM, same, same);
      const answers: StreamAnswer[] = [];
      call.on('data', (b: Buffer) => answers.push(service['ModelStreamInfer']!.responseDeserialize(b) as StreamAnswer));
      const done = new Promise<grpc.StatusObject>((resolve) => {
        call.on('error', () => {});
        call.on('status', resolve);
      });
      return { call, answers, done };
    };
    const a = stream();
    for (let i = 0; i < 10; i++) a.call.write(request('slow', i, 200 * KIB));
    const status = await a.done;
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED, status.details);
    assert.match(status.details, /request bytes in flight exceed the server's limit of 1048576 bytes/);
    const b = stream();
    b.call.write(request('slow', 30, 0));
    b.call.end();
    assert.equal((await b.done).code, grpc.status.OK);
    assert.deepEqual(b.answers.map((x) => [x.error_message, y(x.infer_response!)]), [['', 30]]);
  });

  it('HTTP bodies and gRPC messages share the one bound', async () => {
    // An HTTP body of 900 KiB arrives slowly: 800 KiB now, the rest once the test has
    // seen what it waits for (not at a fixed time: under load the server may take
    // seconds to read the first part).
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [10] }] }).padEnd(900 * KIB, ' '));
    const head = rawPost('/v2/models/slow/infer', body);
    let refused: unknown;
    let r: RawResponse | undefined;
    // A gRPC try still running (holding its 300 KiB) when the server grows the HTTP
    // body's buffer to 900 KiB makes the HTTP request the one refused (503): the bound
    // is shared then too, but this test wants the gRPC side refused, so it starts over
    // (on a loaded machine the server reads the first part late, and that race is likely).
    for (let attempt = 0; attempt < 4 && refused === undefined; attempt++) {
      const held = heldPost(s.httpPort, head, head.length - 100 * KIB, 20_000);
      let httpAnswered = false;
      void held.answer.then(() => { httpAnswered = true; });
      // Once the server holds the 800 KiB, 300 KiB more over gRPC is past the 1 MiB
      // bound. With the bound not shared every try is served and this fails.
      for (const until = performance.now() + 8000; refused === undefined && !httpAnswered && performance.now() < until;) {
        await new Promise((res) => setTimeout(res, 100));
        try {
          await unary(plain, request('slow', 11, 300 * KIB));
        } catch (err) {
          refused = err;
        }
      }
      held.sendRest();
      r = await held.answer;
      if (refused === undefined && r !== undefined) {
        assert.equal(r.status, 503, `the HTTP request was answered before the rest of its body: ${JSON.stringify(r)}`);
        assert.match(r.body, /request bytes in flight exceed/);
      }
    }
    assert.ok(refused !== undefined, 'a gRPC message past the bound shared with a held HTTP body was served');
    assert.ok(exhausted(refused as grpc.ServiceError));
    assert.equal(r?.status, 200, JSON.stringify(r));
    assert.equal(y(await unary(plain, request('slow', 11, 300 * KIB))), 11);
  });

  it('inflating messages together stay within the bound: 16 concurrent gzip frames of 48 MiB each', async () => {
    // Each ~48 KB frame inflates to 48 MiB (within --max-request-bytes, 64 MiB): inflated
    // side by side without the bound, they would take ~768 MiB here.
    const bomb = frame(1, gzipSync(request('slow', 1, 48 * 1024 * KIB)));
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const session = http2.connect(`http://${s.grpcAddress}`);
    const results = await Promise.all(Array.from({ length: 16 }, () => rawCall(session, bomb, { 'grpc-encoding': 'gzip' })));
    session.close();
    for (const r of results) {
      assert.equal(r.code, grpc.status.RESOURCE_EXHAUSTED, r.message);
      assert.match(r.message, /request bytes in flight exceed the server's limit of 1048576 bytes/);
    }
    const peakGrown = process.resourceUsage().maxRSS * 1024 - peakBefore;
    assert.ok(peakGrown < 200 * 1024 * 1024, `peak RSS grew ${(peakGrown / 1048576).toFixed(0)} MiB`);
  });

  it('bytes of messages still arriving count: partial messages on many streams are refused past the bound', async () => {
    // Each stream declares an 8 MiB message and sends 300 KiB of it, then waits.
    const session = http2.connect(`http://${s.grpcAddress}`);
    const part = frame(0, Buffer.alloc(300 * KIB), 8 * 1024 * KIB);
    const calls = Array.from({ length: 6 }, () => rawCall(session, part, {}, false));
    const first = await Promise.race([...calls, new Promise<undefined>((r) => setTimeout(r, 3000, undefined))]);
    assert.ok(first !== undefined, 'no stream was refused within 3 s');
    assert.equal(first.code, grpc.status.RESOURCE_EXHAUSTED, first.message);
    assert.match(first.message, /request bytes in flight exceed the server's limit of 1048576 bytes/);
    session.destroy();
    await Promise.allSettled(calls);
    // The held partial bytes were given back when their streams closed.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(y(await unary(plain, request('slow', 13, 900 * KIB))), 13);
  });

  it('a good request is served afterwards and memory is back near where it started', async () => {
    assert.equal(y(await unary(plain, request('slow', 12, 0))), 12);
    const grown = await settledRss() - rssStart;
    assert.ok(grown < 128 * 1024 * 1024, `rss grew ${(grown / 1048576).toFixed(1)} MiB`);
  });
});
