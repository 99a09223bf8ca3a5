/**
 * Conformance over gRPC, once per gRPC engine (grpc-grpcjs.test.ts, grpc-http2.test.ts): the shared suite (suite.ts) against a real server on an
 * ephemeral port, then what only gRPC has: raw_input_contents against typed
 * contents, ModelStreamInfer's in-band errors, grpc.health.v1, message sizes
 * beyond grpc's 4 MiB default. After every bad input a good request must still
 * succeed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { GrpcEngineChoice } from '../../src/config/cli.js';
import {
  type ModelInferRequestMsg, rawInferRequest, responseTensors, tensor, typedInferRequest,
} from '../helpers/grpc-client.js';
import { toRaw } from '../helpers/http-client.js';
import { BUNDLED_REPO, FIXTURE_REPO, type TestServer, startTestServer } from '../helpers/server.js';
import { type ConformanceRepo, createConformanceRepo } from '../helpers/conformance-repo.js';
import { CANARY, FP16_RAW, simpleInputs, simpleOutputs } from './cases.js';
import { GrpcDriver } from './drivers.js';
import { assertOutputs, conformanceSuite, runInferCase, type SuiteContext } from './suite.js';

/** Every case of the gRPC conformance suite against a server whose gRPC engine is `engine`. */
export function grpcConformance(engine: GrpcEngineChoice): void {
  let repo: ConformanceRepo;
  let server: TestServer;
  const ctx = {} as SuiteContext & { driver: GrpcDriver };

  before(async () => {
    repo = await createConformanceRepo();
    server = await startTestServer({
      grpcEngine: engine,
      modelRepositories: [BUNDLED_REPO, FIXTURE_REPO, repo.dir],
      cache: { kind: 'local', size: 1 << 20 },
    });
    ctx.driver = new GrpcDriver(server.grpcAddress);
  });

  after(async () => {
    ctx.driver?.close();
    await server?.shutdown();
    await repo?.remove();
  });

  it(`the server answers through ${engine}`, () => {
    assert.ok(server.logs.some((l) => l.msg === 'osprey is serving' && l.grpcEngine === engine));
  });

  conformanceSuite('grpc', () => ctx);

  // ---------------------------------------------------------------- gRPC only

  const client = () => ctx.driver.client;

  function simpleTensors(batch: number, seed: number) {
    const { a, b } = simpleInputs(batch, seed);
    return [
      tensor('INPUT0', 'INT32', [batch, 16], new Int32Array(a)),
      tensor('INPUT1', 'INT32', [batch, 16], new Int32Array(b)),
    ];
  }

  async function expectStatus(request: ModelInferRequestMsg, code: number, details: string): Promise<void> {
    await assert.rejects(client().infer(request), (e: any) => {
      assert.deepEqual({ code: e.code, details: e.details }, { code, details });
      return true;
    });
    await runInferCase(ctx.driver, CANARY, 'raw');
  }

  describe('grpc only: raw and typed contents', () => {
    it('both contents and raw_input_contents', async () => {
      const req = rawInferRequest('simple', simpleTensors(1, 30));
      req.inputs[0]!.contents = { int_contents: simpleInputs(1, 30).a };
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT,
        "contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'");
    });

    it('more raw_input_contents than inputs', async () => {
      const req = rawInferRequest('simple', simpleTensors(1, 31));
      req.raw_input_contents.push(Buffer.alloc(64));
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT, "expected 2 raw_input_contents for model 'simple' (one per input), got 3");
    });

    it('fewer raw_input_contents than inputs', async () => {
      const req = rawInferRequest('simple', simpleTensors(1, 32));
      req.raw_input_contents.pop();
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT, "unable to find data for input tensor 'INPUT1' for model 'simple' in request.");
    });

    it('raw contents one byte short', async () => {
      const req = rawInferRequest('simple', simpleTensors(1, 33));
      req.raw_input_contents[1] = req.raw_input_contents[1]!.subarray(0, 63);
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT, "unexpected total byte size 63 for input 'INPUT1', expecting 64");
    });

    it('typed contents in the field of another datatype', async () => {
      const req = typedInferRequest('simple', simpleTensors(1, 34));
      req.inputs[0]!.contents = { fp32_contents: simpleInputs(1, 34).a };
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT,
        "unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple' of type 'FP32', expected datatype 'INT32'");
    });

    it('typed contents in two fields', async () => {
      const req = typedInferRequest('simple', simpleTensors(1, 35));
      req.inputs[0]!.contents = { int_contents: simpleInputs(1, 35).a, int64_contents: ['1'] };
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT,
        "unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple', binary data was already supplied.");
    });

    it('FP16 has no typed field: fp32_contents for an FP16 input is refused', async () => {
      const req = typedInferRequest('typed_FP32', [tensor('IN_FP32', 'FP32', [2], new Float32Array([1, 2]))]);
      req.model_name = 'identity_all';
      req.inputs[0] = { ...req.inputs[0]!, name: 'IN_FP16', datatype: 'FP16' };
      await expectStatus(req, GrpcStatus.INVALID_ARGUMENT,
        "unexpected explicit tensor data for input tensor 'IN_FP16' for model 'identity_all' of type 'FP32', expected datatype 'FP16'");
    });

    it('FP16 raw round-trips through identity_all (every input raw)', async () => {
      // identity_all needs every input; all raw (a request may not mix raw and typed).
      const types = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'STRING'] as const;
      const inputs = types.map((t) => (t === 'FP16'
        ? tensor('IN_FP16', 'FP16', [FP16_RAW.length / 2], FP16_RAW)
        : tensor(`IN_${t}`, t === 'STRING' ? 'BYTES' : t, [1], t === 'STRING' ? toRaw('BYTES', ['x']) : toRaw(t, [t === 'BOOL' ? true : 1]))));
      const res = await client().infer(rawInferRequest('identity_all', inputs, { outputs: ['OUT_FP16'] }));
      const [out] = responseTensors(res);
      assert.deepEqual({ name: out!.name, datatype: out!.datatype, shape: out!.shape }, { name: 'OUT_FP16', datatype: 'FP16', shape: [6] });
      assert.ok(Buffer.from(out!.data).equals(Buffer.from(FP16_RAW)));
    });

    it('messages far beyond grpc\'s 4 MiB default are accepted both ways (clients use INT32_MAX)', async () => {
      const n = 8 * 200_000; // 6.4 MB in, 6.4 MB out
      const data = new Float32Array(n).map((_, i) => i * 0.5);
      const res = await client().infer(rawInferRequest('identity_fp32_batched', [tensor('INPUT0', 'FP32', [8, 200_000], data)]));
      const [out] = responseTensors(res);
      assert.deepEqual(out!.shape, [8, 200_000]);
      assert.ok(Buffer.from(out!.data).equals(Buffer.from(data.buffer)));
    });
  });

  describe('grpc only: triton_enable_empty_final_response', () => {
    it('is accepted as a bool and consumed (Triton\'s C++ client, perf_analyzer, sets it on every request)', async () => {
      for (const flag of [true, false]) {
        const res = await client().infer(rawInferRequest('simple', simpleTensors(1, 36), { parameters: { triton_enable_empty_final_response: flag } }));
        const o = simpleOutputs(1, 36);
        assertOutputs({ modelName: 'simple', modelVersion: '1', id: '', outputs: responseTensors(res).map((t) => ({ ...t, raw: t.data })) }, [o.sum, o.diff]);
      }
    });

    it('any other value type is INVALID_ARGUMENT', async () => {
      await expectStatus(rawInferRequest('simple', simpleTensors(1, 37), { parameters: { triton_enable_empty_final_response: 'yes' } }),
        GrpcStatus.INVALID_ARGUMENT, "invalid value type for 'triton_enable_empty_final_response' parameter, expected bool_param.");
    });
  });

  describe('grpc only: ModelStreamInfer', () => {
    it('answers each request, errors in-band, keeps the stream open, ends with OK', async () => {
      const s = client().stream();
      const good = (seed: number, id: string) => rawInferRequest('simple', simpleTensors(1, seed), { id });
      s.write(good(40, 'first'));
      const r1 = await s.next();
      assert.equal(r1.error_message, '');
      const o1 = simpleOutputs(1, 40);
      assert.equal(r1.infer_response!.id, 'first');
      assertOutputs({ modelName: 'simple', modelVersion: '1', id: 'first', outputs: responseTensors(r1.infer_response!).map((t) => ({ ...t, raw: t.data })) }, [o1.sum, o1.diff]);

      s.write({ ...good(41, 'bad'), model_name: 'x' });
      const r2 = await s.next();
      assert.equal(r2.error_message, "Request for unknown model: 'x' is not found");
      assert.equal(r2.infer_response?.id, 'bad');

      const bad = good(42, 'batch');
      bad.inputs = bad.inputs.map((i) => ({ ...i, shape: [9, 16] }));
      bad.raw_input_contents = bad.raw_input_contents.map(() => Buffer.alloc(9 * 64));
      s.write(bad);
      const r3 = await s.next();
      assert.equal(r3.error_message, "inference request batch-size must be <= 8 for 'simple'");

      s.write(good(43, 'last'));
      const r4 = await s.next();
      assert.equal(r4.error_message, '');
      assert.equal(r4.infer_response!.id, 'last');
      s.end();
      const st = await s.finished;
      assert.equal(st.code, GrpcStatus.OK);
    });
  });

  describe('grpc only: health service and unimplemented RPCs', () => {
    it('grpc.health.v1 Check follows readiness (NOT_SERVING: models failed under strict readiness)', async () => {
      assert.equal(await client().healthCheck(), 'NOT_SERVING');
    });

    it('shared-memory status answers with client shared memory off; trace answers UNIMPLEMENTED with a reason; LogSettings works', async () => {
      assert.deepEqual(await client().unary('SystemSharedMemoryStatus', {}), { regions: {} });
      assert.deepEqual(await client().unary('CudaSharedMemoryStatus', {}), { regions: {} });
      for (const [method, details] of [
        ['TraceSetting', 'trace is not supported by this server'],
      ] as const) {
        await assert.rejects(client().unary(method, {}), (e: any) => {
          assert.deepEqual({ code: e.code, details: e.details }, { code: GrpcStatus.UNIMPLEMENTED, details });
          return true;
        });
      }
      const logs = await client().unary('LogSettings', {});
      assert.equal(logs.settings.log_verbose_level.parameter_choice, 'uint32_param');
    });
  });

  describe('grpc: request accounting', () => {
    it('every request of the suite, answered or failed, was counted out again (the hot hand-off gate)', () => {
      assert.equal(server.executor.activeRequests, 0);
    });
  });
}
