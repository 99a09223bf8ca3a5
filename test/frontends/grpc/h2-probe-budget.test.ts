/**
 * --max-inflight-request-bytes on both gRPC engines: every way a call can end with
 * request bytes counted (reset mid-message, END_STREAM mid-message, a deadline, a
 * refusal over the bound, a reset while a gzip message inflates, a stream reset with
 * messages in flight) gives them all back; a budget that leaked would refuse every
 * later request. The budget is read directly (its `held`), and each engine must answer
 * each scenario as grpc-js's engine does.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { GrpcEngineChoice } from '../../../src/config/cli.js';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { RequestBytesBudget } from '../../../src/frontends/request-bytes.js';
import { rawInferRequest } from '../../helpers/grpc-client.js';
import { f32 } from './fixtures.js';
import {
  ENGINES, type ProbeServer, SVC, type Send, frame, grpcMessage, grpcStatus, rawCall, requestHeaders, sleep, startProbeServer,
} from './h2-probe-raw.js';

const LIMIT = 20_000;
const INFER = `${SVC}/ModelInfer`;
const STREAM = `${SVC}/ModelStreamInfer`;
const codec = loadPackageDefinition()[INFERENCE_SERVICE] as Record<string, { requestSerialize(v: unknown): Buffer }>;
const request = (id: string): Buffer => codec['ModelInfer']!.requestSerialize(rawInferRequest('echo', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: f32(1, 2, 3, 4) }], { id }));
/** A prefix announcing `announced` bytes, then `have` of them. */
const partial = (announced: number, have: number): Buffer => Buffer.concat([frame(Buffer.alloc(0), 0, announced), Buffer.alloc(have)]);
const reset = (req: http2.ClientHttp2Stream): void => { req.close(http2.constants.NGHTTP2_CANCEL); };

interface Scenario { name: string; path: string; headers?: http2.OutgoingHttpHeaders; send: Send; timeoutMs?: number }

const SCENARIOS: Scenario[] = [
  { name: 'reset mid-message', path: INFER, send: async (r) => { r.write(partial(19_000, 15_000)); await sleep(30); reset(r); } },
  { name: 'END_STREAM mid-message', path: INFER, send: (r) => { r.end(partial(19_000, 15_000)); } },
  { name: 'a message, then END_STREAM mid-second', path: INFER, send: (r) => { r.end(Buffer.concat([frame(request('a')), partial(19_000, 15_000)])); } },
  { name: 'stream: a message and part of another, then reset', path: STREAM, send: async (r) => { r.write(Buffer.concat([frame(request('a')), partial(19_000, 15_000)])); await sleep(30); reset(r); } },
  { name: 'deadline mid-message (the client then resets)', path: INFER, headers: { 'grpc-timeout': '100m' }, send: (r) => { r.write(partial(19_000, 15_000)); }, timeoutMs: 500 },
  { name: 'stream: deadline mid-message (the client then resets)', path: STREAM, headers: { 'grpc-timeout': '100m' }, send: (r) => { r.write(partial(19_000, 15_000)); }, timeoutMs: 500 },
  { name: 'over the bound in one DATA frame', path: INFER, send: (r) => { r.write(partial(30_000, 25_000)); }, timeoutMs: 500 },
  { name: 'gzip inflating, then reset', path: INFER, headers: { 'grpc-encoding': 'gzip' }, send: (r) => { r.write(frame(gzipSync(Buffer.alloc(19_000)), 1)); reset(r); } },
  { name: 'gzip inflating past the bound', path: INFER, headers: { 'grpc-encoding': 'gzip' }, send: (r) => { r.end(frame(gzipSync(Buffer.alloc(50_000)), 1)); } },
  { name: 'stream: 90 messages in one DATA frame, reset at once', path: STREAM, send: (r) => { r.write(Buffer.concat(Array.from({ length: 90 }, (_, i) => frame(request(`m${i}`))))); reset(r); } },
];

describe('h2-probe: the in-flight request-bytes budget is given back however a call ends', { timeout: 120_000 }, () => {
  const servers = new Map<GrpcEngineChoice, { s: ProbeServer; budget: RequestBytesBudget }>();
  before(async () => {
    for (const e of ENGINES) {
      const budget = new RequestBytesBudget(LIMIT);
      servers.set(e, { s: await startProbeServer(e, { requestBytes: budget }), budget });
    }
  });
  after(async () => {
    for (const { s } of servers.values()) await s.server.close();
  });

  /** Wait (a while) for the server to see the stream closed and give the bytes back. */
  async function settled(budget: RequestBytesBudget): Promise<number> {
    for (let i = 0; i < 100 && budget.held !== 0; i++) await sleep(20);
    return budget.held;
  }

  for (const sc of SCENARIOS) {
    it(sc.name, async () => {
      const answers: Record<string, Array<[string | undefined, string | undefined]>> = {};
      for (const [engine, { s, budget }] of servers) {
        const seen = [];
        for (let i = 0; i < 3; i++) {
          const a = await rawCall(s.port, requestHeaders(sc.path, sc.headers), sc.send, { timeoutMs: sc.timeoutMs ?? 3000 });
          seen.push([grpcStatus(a), grpcMessage(a)] as [string | undefined, string | undefined]);
        }
        answers[engine] = seen;
        assert.equal(await settled(budget), 0, `${engine}: bytes still counted after "${sc.name}"`);
        const probe = await rawCall(s.port, requestHeaders(INFER), (r) => { r.end(frame(request('probe'))); });
        assert.equal(grpcStatus(probe), '0', `${engine}: a request after "${sc.name}": ${grpcMessage(probe)}`);
        assert.equal(await settled(budget), 0, `${engine}: the probe's bytes`);
      }
      for (const e of ENGINES) assert.deepEqual(answers[e], answers['grpc-js'], e);
    });
  }

  it('several calls holding bytes at once: a request beside them fits or is refused, then all is given back', async () => {
    for (const [engine, { s, budget }] of servers) {
      const session = http2.connect(`http://127.0.0.1:${s.port}`);
      session.on('error', () => undefined);
      const held = [0, 1, 2].map(() => rawCall(s.port, requestHeaders(INFER), (r) => { r.write(partial(9_000, 6_500)); }, { session, timeoutMs: 1000 }));
      for (let i = 0; i < 100 && budget.held < 3 * 6_505; i++) await sleep(10);
      assert.equal(budget.held, 3 * 6_505, `${engine}: three partial messages counted as they arrive (prefix included)`);
      const small = await rawCall(s.port, requestHeaders(INFER), (r) => { r.end(frame(request('small'))); });
      assert.equal(grpcStatus(small), '0', `${engine}: a small request fits beside them: ${grpcMessage(small)}`);
      const big = await rawCall(s.port, requestHeaders(INFER), (r) => { r.end(frame(request('x'.repeat(1000)))); });
      assert.equal(grpcStatus(big), String(grpc.status.RESOURCE_EXHAUSTED), engine);
      assert.equal(grpcMessage(big), budget.exceeded().message, engine);
      await Promise.all(held);
      session.destroy();
      assert.equal(await settled(budget), 0, engine);
    }
  });

  it('nothing was logged as a server error', () => {
    for (const { s } of servers.values()) assert.deepEqual(s.logged, [], s.engine);
  });
});
