/**
 * A test double of our own DataPlane interface, for front-end tests only: fixed
 * metadata and config, infer echoes the inputs back as outputs, unknown models
 * throw ModelNotFound. Records what it was called with.
 */
import { rawBodyInput } from '../../../src/codec/json-request.js';
import { checkRawSize } from '../../../src/codec/raw.js';
import { checkReservedParameters } from '../../../src/codec/reserved-params.js';
import { DEFAULT_OPTIONS } from '../../../src/config/cli.js';
import type { ModelConfig } from '../../../src/config/model-config.js';
import type { DataPlane } from '../../../src/dataplane/api.js';
import { Cancelled, ModelNotFound } from '../../../src/errors/errors.js';
import type {
  InferenceRequest, InferenceResponse, LoadOptions, ModelIndexEntry, ModelMetadata,
  ModelStatistics, ServerMetadata,
} from '../../../src/types/inference.js';
import type { Tensor } from '../../../src/types/tensor.js';
import { type GrpcServerHandle, startGrpcServer } from '../../../src/frontends/grpc/server.js';
import { type GrpcTestClient, createGrpcClient } from '../../helpers/grpc-client.js';
import { grpcEngineUnderTest } from '../../helpers/grpc-engine.js';

export const ECHO_CONFIG: ModelConfig = {
  name: 'echo',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  version_policy: { latest: { num_versions: 1 } },
  max_batch_size: 8,
  input: [{
    name: 'INPUT0', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4],
    is_shape_tensor: false, allow_ragged_batch: false, optional: false,
  }],
  output: [{
    name: 'OUTPUT0', data_type: 'TYPE_STRING', dims: [-1], label_filename: '', is_shape_tensor: false,
  }],
  instance_group: [{ name: 'echo_0', kind: 'KIND_CPU', count: 2, gpus: [] }],
  default_model_filename: 'model.onnx',
  metric_tags: { team: 'a' },
  dynamic_batching: {
    preferred_batch_size: [4, 8],
    max_queue_delay_microseconds: 100,
    preserve_ordering: false,
    priority_levels: 2,
    default_priority_level: 1,
    default_queue_policy: {
      timeout_action: 'DELAY', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 0,
    },
    priority_queue_policy: {
      '2': { timeout_action: 'REJECT', default_timeout_microseconds: 5000, allow_timeout_override: true, max_queue_size: 16 },
    },
  },
  optimization: {
    graph: { level: 1 },
    execution_accelerators: { gpu_execution_accelerator: [], cpu_execution_accelerator: [{ name: 'openvino', parameters: { k: 'v' } }] },
  },
  parameters: { intra_op_thread_count: { string_value: '1' } },
  model_warmup: [{ name: 'w', batch_size: 1, inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } }, count: 1 }],
  response_cache: { enable: true },
};

export const STATS: ModelStatistics = {
  name: 'echo',
  version: '1',
  last_inference: 1700000000123,
  inference_count: 10,
  execution_count: 4,
  inference_stats: {
    success: { count: 10, ns: 1000 }, fail: { count: 1, ns: 20 }, queue: { count: 10, ns: 300 },
    compute_input: { count: 4, ns: 40 }, compute_infer: { count: 4, ns: 400 }, compute_output: { count: 4, ns: 4 },
    cache_hit: { count: 0, ns: 0 }, cache_miss: { count: 0, ns: 0 },
  },
  batch_stats: [{ batch_size: 2, compute_input: { count: 1, ns: 2 }, compute_infer: { count: 1, ns: 3 }, compute_output: { count: 1, ns: 4 } }],
  memory_usage: [{ type: 'CPU', id: 0, byte_size: 4096 }],
};

/**
 * What the real data plane checks of every request whatever its model (request/
 * prepare.ts): reserved parameters and each input's byte size; and a raw-body
 * request's input, shaped by the model's metadata. The front ends leave these to it.
 */
function dataPlaneChecks(dp: { modelMetadata(name: string, version: string): ModelMetadata }, request: InferenceRequest): void {
  if (request.rawBody !== undefined) {
    // The double's models batch when their shapes start with -1.
    const inputs = dp.modelMetadata(request.modelName, request.modelVersion).inputs;
    request.inputs = [rawBodyInput(request.rawBody, inputs, inputs[0]?.shape[0] === -1, request.modelName)];
  }
  checkReservedParameters(request.parameters);
  for (const t of request.inputs) checkRawSize(t.datatype, t.shape, t.data, t.name);
}

export class FakeDataPlane implements DataPlane {
  ready = true;
  live = true;
  requests: InferenceRequest[] = [];
  loads: Array<{ name: string; options: LoadOptions }> = [];
  unloads: Array<{ name: string; unloadDependents: boolean }> = [];
  log: Record<string, boolean | number | string> = {
    log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default', log_file: '',
  };
  /** Resolves when a 'slow' request's signal aborts (set by infer). */
  aborted: Promise<unknown> | undefined;

  isLive(): boolean { return this.live; }
  isReady(): boolean { return this.ready; }
  serverMetadata(): ServerMetadata {
    return { name: 'osprey', version: '0.1.0', extensions: ['model_repository', 'statistics', 'logging'] };
  }
  private known(name: string): void {
    if (!['echo', 'slow', 'boom'].includes(name)) throw new ModelNotFound(name);
  }
  modelReady(name: string, version: string): boolean {
    return name === 'echo' && (version === '' || version === '1');
  }
  modelMetadata(name: string, _version: string): ModelMetadata {
    this.known(name);
    return {
      name, versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'OUTPUT0', datatype: 'BYTES', shape: [-1, -1] }],
    };
  }
  modelConfig(name: string, _version: string): Readonly<ModelConfig> {
    this.known(name);
    return ECHO_CONFIG;
  }
  modelStatistics(name: string, _version: string): ModelStatistics[] {
    if (name !== '') this.known(name);
    return [STATS];
  }
  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    this.requests.push(request);
    this.known(request.modelName);
    dataPlaneChecks(this, request);
    if (request.modelName === 'boom') throw new Error('kaboom');
    if (request.modelName === 'slow') {
      const signal = request.signal!;
      this.aborted = new Promise((resolve) => signal.addEventListener('abort', { handleEvent: () => resolve(new Cancelled()) }));
      const ms = Number(request.parameters['delay_ms'] ?? 10_000);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', { handleEvent: () => { clearTimeout(t); resolve(); } });
      });
      if (signal.aborted) throw new Cancelled();
    }
    // Echo: requested outputs name inputs (in the requested order); none = all inputs.
    let outputs: Tensor[] = request.inputs;
    if (request.outputs !== undefined) {
      outputs = request.outputs.map((o) => {
        const t = request.inputs.find((i) => i.name === o.name);
        if (t === undefined) throw new ModelNotFound(o.name);
        return o.parameters ? { ...t, parameters: o.parameters } : t;
      });
    }
    const res: InferenceResponse = {
      modelName: request.modelName, modelVersion: '1', id: request.id, outputs,
    };
    if (Object.keys(request.parameters).length > 0) res.parameters = request.parameters;
    return res;
  }
  repositoryIndex(readyOnly: boolean): ModelIndexEntry[] {
    const all: ModelIndexEntry[] = [
      { name: 'echo', version: '1', state: 'READY' },
      { name: 'broken', version: '1', state: 'UNAVAILABLE', reason: 'load failed' },
      { name: 'unloaded', state: 'UNAVAILABLE' },
    ];
    return readyOnly ? all.filter((m) => m.state === 'READY') : all;
  }
  async loadModel(name: string, options: LoadOptions): Promise<void> {
    this.loads.push({ name, options });
  }
  async unloadModel(name: string, unloadDependents: boolean): Promise<void> {
    this.known(name);
    this.unloads.push({ name, unloadDependents });
  }
  logSettings(): Record<string, boolean | number | string> { return { ...this.log }; }
  updateLogSettings(settings: Record<string, boolean | number | string>): Record<string, boolean | number | string> {
    Object.assign(this.log, settings);
    return { ...this.log };
  }
}

export interface Harness {
  dp: FakeDataPlane;
  server: GrpcServerHandle;
  client: GrpcTestClient;
  logged: Array<{ obj: object; msg?: string }>;
  close(): Promise<void>;
}

/** A real gRPC server (the engine under test) on 127.0.0.1:0 over a FakeDataPlane, and a real grpc-js client. */
export async function startHarness(maxReceiveBytes = DEFAULT_OPTIONS.maxRequestBytes, engine = grpcEngineUnderTest()): Promise<Harness> {
  const dp = new FakeDataPlane();
  const logged: Array<{ obj: object; msg?: string }> = [];
  const server = await startGrpcServer(dp, {
    engine, host: '127.0.0.1', port: 0, shutdownTimeoutMs: 2000, maxReceiveBytes,
    logger: { error(obj, msg) { logged.push({ obj, msg }); } },
  });
  const client = createGrpcClient(`127.0.0.1:${server.port}`);
  return {
    dp, server, client, logged,
    async close() {
      client.close();
      await server.close();
    },
  };
}

export function f32(...values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
