/**
 * Sequence models end to end: a real server on loopback, the generated sequence
 * models (test/fixtures/sequence/), real HTTP and gRPC clients. Every output is
 * checked against the value computed here from the inputs sent (see
 * scripts/make_sequence_models.py for each model's rule).
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rawInferRequest, responseTensors, tensor, type GrpcTestClient } from '../helpers/grpc-client.js';
import { fromRaw, httpRequest, infer, replyJson, toRaw } from '../helpers/http-client.js';
import { scratchServer } from '../helpers/scratch-server.js';
import type { TestServer } from '../helpers/server.js';
import { HTTP_STATUS } from '../../src/errors/status.js';

import { SEQ_REPO } from '../helpers/sequence.js';

type Id = bigint | string;

/** The HTTP answer's OUTPUT values, or the error text. */
async function httpStep(server: TestServer, model: string, id: Id | undefined, value: number[], flags: { start?: boolean; end?: boolean } = {}, binary = false, version = '') {
  const parameters: Record<string, unknown> = {};
  if (id !== undefined) parameters.sequence_id = id;
  if (flags.start) parameters.sequence_start = true;
  if (flags.end) parameters.sequence_end = true;
  const fp = model === 'seq_str';
  const datatype = fp ? 'FP32' : 'INT32';
  const input = binary
    ? { name: 'INPUT', datatype, shape: [1, value.length], raw: toRaw(datatype, value) }
    : { name: 'INPUT', datatype, shape: [1, value.length], data: value };
  const { reply, result } = await infer(server.httpUrl, model, { id: `r-${String(id)}`, parameters, inputs: [input] }, { version });
  if (result === undefined) return { status: reply.status, error: replyJson(reply).error as string };
  const out = result.json.outputs.find((o: { name: string }) => o.name === 'OUTPUT');
  const values = out.data ?? fromRaw(datatype, result.binary.get('OUTPUT')!);
  const idOut = result.json.outputs.find((o: { name: string }) => o.name === 'ID');
  return { status: 200, values: values.map(Number) as number[], version: result.json.model_version as string, id: result.json.id as string, echo: idOut?.data?.[0] as string | undefined, outputs: result.json.outputs.map((o: { name: string }) => o.name) as string[] };
}

function grpcParams(id: Id | undefined, flags: { start?: boolean; end?: boolean }) {
  const parameters: Record<string, bigint | string | boolean | number> = {};
  if (id !== undefined) parameters.sequence_id = typeof id === 'bigint' ? Number(id) <= Number.MAX_SAFE_INTEGER ? Number(id) : id : id;
  if (flags.start) parameters.sequence_start = true;
  if (flags.end) parameters.sequence_end = true;
  return parameters;
}

function i32Request(model: string, id: Id | undefined, v: number, flags: { start?: boolean; end?: boolean } = {}, reqId = '') {
  return rawInferRequest(model, [tensor('INPUT', 'INT32', [1, 1], Int32Array.of(v))], { id: reqId, parameters: grpcParams(id, flags) });
}

const i32Out = (res: Parameters<typeof responseTensors>[0]): number =>
  new Int32Array(responseTensors(res).find((t) => t.name === 'OUTPUT')!.data.slice().buffer)[0]!;

describe('sequence batcher end to end', () => {
  let server: TestServer;
  let grpc: GrpcTestClient;
  scratchServer(async (repo) => {
    cpSync(SEQ_REPO, repo, { recursive: true });
    // One slot, a short idle timeout: backlog and idle release are visible.
    cpSync(join(SEQ_REPO, 'seq_acc', '1'), join(repo, 'seq_one', '1'), { recursive: true });
    writeFileSync(join(repo, 'seq_one', 'config.pbtxt'), readFileSync(join(SEQ_REPO, 'seq_acc', 'config.pbtxt'), 'utf8')
      .replace('name: "seq_acc"', 'name: "seq_one"').replace('max_batch_size: 4', 'max_batch_size: 1')
      .replace('max_sequence_idle_microseconds: 5000000', 'max_sequence_idle_microseconds: 400000'));
  }, {}, (h) => { server = h.s; grpc = h.c; });

  test('HTTP: three uint64 sequences interleaved, each output the running sum (JSON and binary)', async () => {
    const ids = [1n, 2n ** 64n - 1n, 77n];
    const values = [[3, 5, -2, 10], [100, 1, 1, 1], [7, 0, 9, 4]];
    const sums = [0, 0, 0];
    for (let step = 0; step < 4; step++) {
      const answers = await Promise.all(ids.map((id, s) => httpStep(server, 'seq_acc', id, [values[s]![step]!],
        { start: step === 0, end: step === 3 }, s === 1)));
      answers.forEach((a, s) => {
        sums[s]! += values[s]![step]!;
        assert.equal(a.status, 200, a.error);
        assert.deepEqual(a.values, [sums[s]], `sequence ${s} step ${step}`);
        assert.equal(a.id, `r-${String(ids[s])}`, 'the request id is echoed');
        assert.deepEqual(a.outputs, ['OUTPUT'], 'the state output is never returned');
      });
    }
  });

  test('gRPC unary, dyna model: END adds the uint64 CORRID; two instances', async () => {
    const ids = [5n, 2n ** 40n + 3n, 1234567n, 9n];
    const values = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]];
    const sums = ids.map(() => 0);
    for (let step = 0; step < 3; step++) {
      const res = await Promise.all(ids.map((id, s) => grpc.infer(i32Request('seq_dyna', id, values[s]![step]!, { start: step === 0, end: step === 2 }, `g${s}`))));
      res.forEach((r, s) => {
        sums[s]! += values[s]![step]!;
        // The model adds int32(CORRID): the low 32 bits of the id.
        const expected = step === 2 ? sums[s]! + Number(BigInt.asIntN(32, ids[s]!)) : sums[s]!;
        assert.equal(i32Out(r), expected, `sequence ${s} step ${step}`);
        assert.equal(r.id, `g${s}`);
      });
    }
  });

  test('gRPC stream: three sequences interleaved on one stream', async () => {
    const stream = grpc.stream();
    const ids = [1001n, 1002n, 1003n];
    const values = [[1, 2, 3, 4, 5], [10, 20, 30, 40, 50], [-1, -2, -3, -4, -5]];
    const expected = new Map<string, number>();
    const sums = [0, 0, 0];
    for (let step = 0; step < 5; step++) {
      for (let s = 0; s < 3; s++) {
        sums[s]! += values[s]![step]!;
        const reqId = `${s}-${step}`;
        expected.set(reqId, sums[s]!);
        stream.write(i32Request('seq_acc', ids[s], values[s]![step]!, { start: step === 0, end: step === 4 }, reqId));
      }
    }
    const seen = new Map<string, number>();
    const order = new Map<number, number>();
    for (let k = 0; k < 15; k++) {
      const m = await stream.next();
      assert.equal(m.error_message, '', m.error_message);
      const r = m.infer_response!;
      seen.set(r.id, i32Out(r));
      // Within a sequence, answers come back in request order.
      const [s, step] = r.id.split('-').map(Number) as [number, number];
      assert.equal(step, order.get(s) ?? 0, `sequence ${s} answered out of order`);
      order.set(s, step + 1);
    }
    stream.end();
    await stream.finished;
    assert.deepEqual(Object.fromEntries(seen), Object.fromEntries(expected));
  });

  test('string ids and implicit state: S = S*0.5 + INPUT per sequence, the id echoed, over HTTP and gRPC', async () => {
    const ids = ['alpha', 'β-two', 'x'.repeat(128)];
    const inputs = [[1, 2], [3, -1], [0.5, 8]];
    const state = ids.map(() => [0, 0]);
    for (let step = 0; step < 4; step++) {
      await Promise.all(ids.map(async (id, s) => {
        const v = inputs.map((row) => row.map((x) => x * (step + 1)))[s]!;
        state[s] = state[s]!.map((prev, j) => prev * 0.5 + v[j]!);
        if (s === 2) {
          const res = await grpc.infer(rawInferRequest('seq_str', [tensor('INPUT', 'FP32', [1, 2], Float32Array.from(v))],
            { parameters: grpcParams(id, { start: step === 0, end: step === 3 }) }));
          const out = responseTensors(res).find((t) => t.name === 'OUTPUT')!;
          assert.deepEqual([...new Float32Array(out.data.slice().buffer)], state[s]);
        } else {
          const a = await httpStep(server, 'seq_str', id, v, { start: step === 0, end: step === 3 });
          assert.equal(a.status, 200, a.error);
          assert.deepEqual(a.values, state[s]);
          assert.equal(a.echo, id, 'the CORRID control carries the string id');
        }
      }));
    }
  });

  test('misuse gets Triton\'s texts and codes over HTTP and gRPC', async () => {
    const cases: Array<{ model: string; id: Id | undefined; start?: boolean; status: number; code: number; error: string }> = [
      { model: 'seq_acc', id: undefined, start: true, status: 400, code: 3, error: "inference request to model 'seq_acc' must specify a non-zero or non-empty correlation ID" },
      { model: 'seq_acc', id: 0n, start: true, status: 400, code: 3, error: "inference request to model 'seq_acc' must specify a non-zero or non-empty correlation ID" },
      { model: 'seq_str', id: '', start: true, status: 400, code: 3, error: "inference request to model 'seq_str' must specify a non-zero or non-empty correlation ID" },
      { model: 'seq_acc', id: 4242n, status: 400, code: 3, error: "inference request for sequence 4242 to model 'seq_acc' must specify the START flag on the first request of the sequence" },
      { model: 'seq_dyna', id: 'abc', start: true, status: 400, code: 3, error: "[request id: <id_unknown>] sequence batching control 'CORRID' data-type is 'BYTES', but model 'seq_dyna' expects 'UINT64'" },
      { model: 'seq_str', id: 12n, start: true, status: 400, code: 3, error: "[request id: <id_unknown>] sequence batching control 'CORRID' data-type is 'UINT64', but model 'seq_str' expects 'BYTES'" },
      // UNSUPPORTED: HTTP status from the one table (Triton answers 501 / UNIMPLEMENTED).
      { model: 'seq_str', id: 'y'.repeat(129), start: true, status: HTTP_STATUS.UNSUPPORTED, code: 12, error: 'string correlation ID cannot be longer than 128 characters' },
      // 65 characters, 130 bytes of UTF-8: Triton measures the id in bytes.
      { model: 'seq_str', id: '\u00e9'.repeat(65), start: true, status: HTTP_STATUS.UNSUPPORTED, code: 12, error: 'string correlation ID cannot be longer than 128 characters' },
    ];
    for (const c of cases) {
      const parameters: Record<string, unknown> = {};
      if (c.id !== undefined) parameters.sequence_id = c.id;
      if (c.start) parameters.sequence_start = true;
      const fp = c.model === 'seq_str';
      const input = fp ? { name: 'INPUT', datatype: 'FP32', shape: [1, 2], data: [1, 2] } : { name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [1] };
      const { reply } = await infer(server.httpUrl, c.model, { parameters, inputs: [input] });
      assert.equal(reply.status, c.status, `${c.model} ${String(c.id)}: ${replyJson(reply).error}`);
      assert.equal(replyJson(reply).error, c.error);
      const t = fp ? tensor('INPUT', 'FP32', [1, 2], Float32Array.of(1, 2)) : tensor('INPUT', 'INT32', [1, 1], Int32Array.of(1));
      const err = await grpc.infer(rawInferRequest(c.model, [t], { parameters: grpcParams(c.id, { start: c.start }) })).then(() => undefined, (e: { code: number; details: string }) => e);
      assert.ok(err, `${c.model} ${String(c.id)} over gRPC should fail`);
      assert.equal(err.code, c.code);
      assert.equal(err.details, c.error);
    }
    // Batch of 2 to a sequence model.
    const { reply } = await infer(server.httpUrl, 'seq_acc', { parameters: { sequence_id: 3, sequence_start: true }, inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [2, 1], data: [1, 2] }] });
    assert.equal(reply.status, 400);
    assert.equal(replyJson(reply).error, "inference request to model 'seq_acc' must specify batch-size 1 due to requirements of sequence batcher");
    // gRPC: the id as a double_param is refused by type.
    const req = i32Request('seq_acc', undefined, 1, { start: true });
    req.parameters.sequence_id = { double_param: 5, parameter_choice: 'double_param' } as never;
    const err = await grpc.infer(req).then(() => undefined, (e: { code: number; details: string }) => e);
    assert.equal(err?.code, 3);
    assert.equal(err?.details, "invalid value type for 'sequence_id' parameter, expected int64_param or string_param.");
  });

  test('one slot: a second sequence waits in the backlog until the first idles out, which then needs START', async () => {
    const a = await httpStep(server, 'seq_one', 11n, [5], { start: true });
    assert.deepEqual(a.values, [5]);
    const t0 = performance.now();
    // b waits for a's slot: a frees it only by idling out (400 ms).
    const b = await httpStep(server, 'seq_one', 12n, [7], { start: true });
    const waited = performance.now() - t0;
    assert.deepEqual(b.values, [7]);
    assert.ok(waited >= 300, `b waited ${waited.toFixed(0)} ms for the slot`);
    const late = await httpStep(server, 'seq_one', 11n, [1]);
    assert.equal(late.status, 400);
    assert.equal(late.error, "inference request for sequence 11 to model 'seq_one' must specify the START flag on the first request of the sequence");
    const b2 = await httpStep(server, 'seq_one', 12n, [1], { end: true });
    assert.deepEqual(b2.values, [8]);
  });

  test('config, metadata and statistics of a sequence model', async () => {
    const cfg = replyJson(await httpRequest(server.httpUrl, 'GET', '/v2/models/seq_dyna/config'));
    assert.equal(cfg.sequence_batching.max_sequence_idle_microseconds, 5000000);
    assert.deepEqual(cfg.sequence_batching.control_input.map((c: { name: string }) => c.name), ['START', 'END', 'READY', 'CORRID']);
    assert.equal(cfg.sequence_batching.control_input[3].control[0].data_type, 'TYPE_UINT64');
    assert.ok(cfg.sequence_batching.direct);
    assert.equal(cfg.dynamic_batching, undefined);
    // Controls and state are the server's: not model inputs or outputs for clients.
    const meta = replyJson(await httpRequest(server.httpUrl, 'GET', '/v2/models/seq_dyna'));
    assert.deepEqual(meta.inputs.map((i: { name: string }) => i.name), ['INPUT']);
    assert.deepEqual(meta.outputs.map((o: { name: string }) => o.name), ['OUTPUT']);
    const ext = replyJson(await httpRequest(server.httpUrl, 'GET', '/v2'));
    assert.ok(ext.extensions.includes('sequence'));
    const stats = replyJson(await httpRequest(server.httpUrl, 'GET', '/v2/models/seq_acc/stats')).model_stats[0];
    assert.ok(stats.inference_count >= 12 + 15, `inference_count ${stats.inference_count}`);
    assert.ok(stats.execution_count < stats.inference_count, 'sequences batched together');
  });

  test('metrics count sequences: started, ended, timed out, active', async () => {
    const text = (await httpRequest(server.metricsUrl, 'GET', '/metrics')).body.toString();
    const metric = (name: string, model: string): number => {
      const m = new RegExp(`^${name}\\{model="${model}",version="1"\\} (\\S+)$`, 'm').exec(text);
      assert.ok(m, `${name} for ${model} in /metrics`);
      return Number(m[1]);
    };
    // seq_acc: 3 HTTP + 3 stream sequences, all ended.
    assert.equal(metric('osprey_sequence_started_total', 'seq_acc'), 6);
    assert.equal(metric('osprey_sequence_ended_total', 'seq_acc'), 6);
    assert.equal(metric('osprey_sequence_active', 'seq_acc'), 0);
    // seq_one: sequence 11 idled out, 12 ended.
    assert.equal(metric('osprey_sequence_started_total', 'seq_one'), 2);
    assert.equal(metric('osprey_sequence_timed_out_total', 'seq_one'), 1);
    assert.equal(metric('osprey_sequence_ended_total', 'seq_one'), 1);
  });
});
