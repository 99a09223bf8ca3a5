import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { StartupError } from '../../../src/errors/startup.js';
import { startGrpcServer } from '../../../src/frontends/grpc/server.js';
import { createGrpcClient } from '../../helpers/grpc-client.js';
import { grpcEngineUnderTest } from '../../helpers/grpc-engine.js';
import { ECHO_CONFIG, FakeDataPlane, type Harness, startHarness } from './fixtures.js';

describe('gRPC front end: non-inference RPCs', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.close(); });

  it('binds an ephemeral port: the one it reports serves, and a second server gets another', async () => {
    assert.ok(Number.isInteger(h.server.port) && h.server.port > 0 && h.server.port < 65536);
    const other = await startHarness();
    try {
      assert.notEqual(other.server.port, h.server.port);
      const fresh = createGrpcClient(`127.0.0.1:${h.server.port}`);
      try {
        assert.deepEqual(await fresh.unary('ServerLive', {}), { live: true });
      } finally {
        fresh.close();
      }
    } finally {
      await other.close();
    }
  });

  it('a port in use is a StartupError naming the address and the flags (one line at startup, not a stack)', async () => {
    await assert.rejects(startGrpcServer(new FakeDataPlane(), { engine: grpcEngineUnderTest(), host: '127.0.0.1', port: h.server.port, maxReceiveBytes: 1024 }), (e: Error) => {
      assert.ok(e instanceof StartupError, String(e));
      assert.match(e.message, new RegExp(`^gRPC cannot listen on 127\\.0\\.0\\.1:${h.server.port} \\(--grpc-address, --grpc-port\\): .*EADDRINUSE`));
      return true;
    });
  });

  it('ServerLive / ServerReady', async () => {
    assert.deepEqual(await h.client.unary('ServerLive'), { live: true });
    assert.deepEqual(await h.client.unary('ServerReady'), { ready: true });
    h.dp.ready = false;
    try {
      assert.deepEqual(await h.client.unary('ServerReady'), { ready: false });
    } finally {
      h.dp.ready = true;
    }
  });

  it('ModelReady', async () => {
    assert.deepEqual(await h.client.unary('ModelReady', { name: 'echo', version: '' }), { ready: true });
    assert.deepEqual(await h.client.unary('ModelReady', { name: 'echo', version: '1' }), { ready: true });
    assert.deepEqual(await h.client.unary('ModelReady', { name: 'echo', version: '2' }), { ready: false });
    assert.deepEqual(await h.client.unary('ModelReady', { name: 'x' }), { ready: false });
  });

  it('rejects a version that is not an integer, as Triton does', async () => {
    await assert.rejects(h.client.unary('ModelReady', { name: 'echo', version: 'abc' }), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "failed to get model version from specified version string 'abc' (details: stol), version should be an integral value > 0",
    });
  });

  it('ServerMetadata', async () => {
    assert.deepEqual(await h.client.unary('ServerMetadata'), {
      name: 'osprey', version: '0.1.0', extensions: ['model_repository', 'statistics', 'logging'],
    });
  });

  it('ModelMetadata (int64 shapes come back as strings with proto-loader longs: String)', async () => {
    assert.deepEqual(await h.client.unary('ModelMetadata', { name: 'echo', version: '' }), {
      name: 'echo', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: ['-1', '4'] }],
      outputs: [{ name: 'OUTPUT0', datatype: 'BYTES', shape: ['-1', '-1'] }],
    });
  });

  it('unknown model: INVALID_ARGUMENT with Triton\'s message', async () => {
    for (const method of ['ModelMetadata', 'ModelConfig', 'ModelStatistics']) {
      await assert.rejects(h.client.unary(method, { name: 'x', version: '' }), (err: grpc.ServiceError) => {
        assert.equal(err.code, 3);
        assert.equal(err.details, "Request for unknown model: 'x' is not found");
        return true;
      }, method);
    }
  });

  it('ModelConfig encodes the proto-JSON config (enums, maps, oneofs)', async () => {
    const res = await h.client.unary('ModelConfig', { name: 'echo', version: '' });
    const c = res.config;
    assert.equal(c.name, 'echo');
    assert.equal(c.platform, 'onnxruntime_onnx');
    assert.equal(c.backend, 'onnxruntime');
    assert.equal(c.max_batch_size, 8);
    assert.deepEqual(c.version_policy, { latest: { num_versions: 1 }, policy_choice: 'latest' });
    assert.equal(c.input[0].data_type, 'TYPE_FP32');
    assert.equal(c.input[0].format, 'FORMAT_NONE');
    assert.deepEqual(c.input[0].dims, ['4']);
    assert.equal(c.output[0].data_type, 'TYPE_STRING');
    assert.deepEqual(c.output[0].dims, ['-1']);
    assert.deepEqual(c.instance_group[0], {
      name: 'echo_0', kind: 'KIND_CPU', count: 2, gpus: [], profile: [], passive: false, host_policy: '',
    });
    assert.equal(c.default_model_filename, 'model.onnx');
    assert.deepEqual(c.metric_tags, { team: 'a' });
    assert.equal(c.scheduling_choice, 'dynamic_batching');
    const db = c.dynamic_batching;
    assert.deepEqual(db.preferred_batch_size, [4, 8]);
    assert.equal(db.max_queue_delay_microseconds, '100');
    assert.equal(db.priority_levels, '2');
    assert.equal(db.default_queue_policy.timeout_action, 'DELAY');
    // protobufjs decodes 64-bit map keys into its 8-byte hash form; the wire key is the varint 2.
    const keys = Object.keys(db.priority_queue_policy);
    assert.equal(keys.length, 1);
    assert.equal(Buffer.from(keys[0]!, 'latin1')[0], 2);
    assert.deepEqual(db.priority_queue_policy[keys[0]!], {
      timeout_action: 'REJECT', default_timeout_microseconds: '5000', allow_timeout_override: true, max_queue_size: 16,
    });
    assert.deepEqual(c.parameters, { intra_op_thread_count: { string_value: '1' } });
    assert.equal(c.model_warmup[0].inputs.INPUT0.zero_data, true);
    assert.equal(c.model_warmup[0].inputs.INPUT0.data_type, 'TYPE_FP32');
    assert.equal(c.optimization.graph.level, 1);
    assert.deepEqual(c.optimization.execution_accelerators.cpu_execution_accelerator, [{ name: 'openvino', parameters: { k: 'v' } }]);
    assert.deepEqual(c.response_cache, { enable: true });
    // The data plane's object is frozen in production; encoding must not touch it.
    assert.equal(ECHO_CONFIG.name, 'echo');
  });

  it('ModelStatistics maps every field to the proto (uint64 as strings on decode)', async () => {
    const res = await h.client.unary('ModelStatistics', { name: 'echo', version: '' });
    assert.equal(res.model_stats.length, 1);
    const s = res.model_stats[0];
    assert.equal(s.name, 'echo');
    assert.equal(s.version, '1');
    assert.equal(s.last_inference, '1700000000123');
    assert.equal(s.inference_count, '10');
    assert.equal(s.execution_count, '4');
    assert.deepEqual(Object.keys(s.inference_stats).sort(), [
      'cache_hit', 'cache_miss', 'compute_infer', 'compute_input', 'compute_output', 'fail', 'queue', 'success',
    ]);
    assert.deepEqual(s.inference_stats.success, { count: '10', ns: '1000' });
    assert.deepEqual(s.inference_stats.compute_infer, { count: '4', ns: '400' });
    assert.deepEqual(s.batch_stats, [{
      batch_size: '2', compute_input: { count: '1', ns: '2' }, compute_infer: { count: '1', ns: '3' },
      compute_output: { count: '1', ns: '4' },
    }]);
    assert.deepEqual(s.memory_usage, [{ type: 'CPU', id: '0', byte_size: '4096' }]);
    assert.deepEqual(s.response_stats, {});
    // Empty name: every model.
    assert.equal((await h.client.unary('ModelStatistics', {})).model_stats.length, 1);
  });

  it('RepositoryIndex', async () => {
    assert.deepEqual(await h.client.unary('RepositoryIndex', {}), {
      models: [
        { name: 'echo', version: '1', state: 'READY', reason: '' },
        { name: 'broken', version: '1', state: 'UNAVAILABLE', reason: 'load failed' },
        { name: 'unloaded', version: '', state: 'UNAVAILABLE', reason: '' },
      ],
    });
    assert.deepEqual(await h.client.unary('RepositoryIndex', { ready: true }), {
      models: [{ name: 'echo', version: '1', state: 'READY', reason: '' }],
    });
    await assert.rejects(h.client.unary('RepositoryIndex', { repository_name: 'r' }), {
      code: grpc.status.UNIMPLEMENTED, details: "'repository_name' specification is not supported",
    });
  });

  it('RepositoryModelLoad passes config and files as LoadOptions', async () => {
    const bytes = Buffer.from([1, 2, 3, 255]);
    assert.deepEqual(await h.client.unary('RepositoryModelLoad', {
      model_name: 'm1',
      parameters: { config: { string_param: '{"max_batch_size":2}' }, 'file:1/model.onnx': { bytes_param: bytes } },
    }), {});
    const load = h.dp.loads.at(-1)!;
    assert.equal(load.name, 'm1');
    assert.equal(load.options.config, '{"max_batch_size":2}');
    assert.deepEqual([...load.options.files!.keys()], ['1/model.onnx']);
    assert.deepEqual(Buffer.from(load.options.files!.get('1/model.onnx')!), bytes);

    await h.client.unary('RepositoryModelLoad', { model_name: 'm2' });
    assert.deepEqual(h.dp.loads.at(-1), { name: 'm2', options: {} });

    await assert.rejects(h.client.unary('RepositoryModelLoad', { model_name: 'm', parameters: { config: { bool_param: true } } }), {
      code: grpc.status.INVALID_ARGUMENT, details: "invalid value type for load parameter 'config', expected string_param.",
    });
    await assert.rejects(h.client.unary('RepositoryModelLoad', { model_name: 'm', parameters: { 'file:1/x': { string_param: 'a' } } }), {
      code: grpc.status.INVALID_ARGUMENT, details: "invalid value type for load parameter 'file:1/x', expected bytes_param.",
    });
    await assert.rejects(h.client.unary('RepositoryModelLoad', { model_name: 'm', parameters: { other: { string_param: 'a' } } }), {
      code: grpc.status.INVALID_ARGUMENT, details: "unrecognized load parameter 'other'.",
    });
  });

  it('RepositoryModelUnload reads unload_dependents', async () => {
    await h.client.unary('RepositoryModelUnload', { model_name: 'echo' });
    assert.deepEqual(h.dp.unloads.at(-1), { name: 'echo', unloadDependents: false });
    await h.client.unary('RepositoryModelUnload', { model_name: 'echo', parameters: { unload_dependents: { bool_param: true } } });
    assert.deepEqual(h.dp.unloads.at(-1), { name: 'echo', unloadDependents: true });
    await assert.rejects(h.client.unary('RepositoryModelUnload', { model_name: 'echo', parameters: { unload_dependents: { string_param: 'yes' } } }), {
      code: grpc.status.INVALID_ARGUMENT, details: "invalid value type for 'unload_dependents' parameter, expected bool_param.",
    });
    await assert.rejects(h.client.unary('RepositoryModelUnload', { model_name: 'nope' }), {
      code: grpc.status.INVALID_ARGUMENT, details: "Request for unknown model: 'nope' is not found",
    });
  });

  it('LogSettings reads and updates', async () => {
    const res = await h.client.unary('LogSettings', {});
    assert.deepEqual(res.settings.log_info, { bool_param: true, parameter_choice: 'bool_param' });
    assert.deepEqual(res.settings.log_verbose_level, { uint32_param: 0, parameter_choice: 'uint32_param' });
    assert.deepEqual(res.settings.log_format, { string_param: 'default', parameter_choice: 'string_param' });
    const upd = await h.client.unary('LogSettings', {
      settings: { log_verbose_level: { uint32_param: 2 }, log_info: { bool_param: false } },
    });
    assert.equal(upd.settings.log_verbose_level.uint32_param, 2);
    assert.equal(upd.settings.log_info.bool_param, false);
    assert.equal(h.dp.log.log_verbose_level, 2);
  });

  it('shared memory RPCs on a data plane without it, and trace, answer UNIMPLEMENTED', async () => {
    const none = 'shared memory is not enabled on this server';
    const cases: Array<[string, string]> = [
      ['SystemSharedMemoryStatus', none],
      ['SystemSharedMemoryRegister', none],
      ['SystemSharedMemoryUnregister', none],
      ['CudaSharedMemoryStatus', none],
      ['CudaSharedMemoryRegister', none],
      ['CudaSharedMemoryUnregister', none],
      ['TraceSetting', 'trace is not supported by this server'],
    ];
    for (const [method, details] of cases) {
      await assert.rejects(h.client.unary(method, {}), { code: grpc.status.UNIMPLEMENTED, details }, method);
    }
  });

  it('health Check follows readiness', async () => {
    assert.equal(await h.client.healthCheck(), 'SERVING');
    assert.equal(await h.client.healthCheck('inference.GRPCInferenceService'), 'SERVING');
    h.dp.ready = false;
    try {
      assert.equal(await h.client.healthCheck(), 'NOT_SERVING');
    } finally {
      h.dp.ready = true;
    }
  });
});

describe('gRPC front end: lifecycle', () => {
  it('close() finishes an in-flight call, then stops accepting', async () => {
    const h = await startHarness();
    const pending = h.client.infer({
      model_name: 'slow', parameters: { delay_ms: { int64_param: 100 } },
      inputs: [{ name: 'A', datatype: 'INT32', shape: ['1'], parameters: {}, contents: null }],
      raw_input_contents: [Buffer.alloc(4)],
    });
    // Let the call reach the server before shutting down.
    while (h.dp.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const closed = h.server.close();
    const res = await pending;
    assert.equal(res.model_name, 'slow');
    await closed;
    await assert.rejects(h.client.unary('ServerLive', {}, { deadline: 1000 }), { code: grpc.status.UNAVAILABLE });
    h.client.close();
  });
});
