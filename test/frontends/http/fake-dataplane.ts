/**
 * A test double of our own DataPlane for the HTTP front-end tests: fixed metadata,
 * `infer` echoes the inputs back as outputs of the same name, unknown models throw
 * ModelNotFound. Every call is recorded so tests can assert what the front end passed.
 */
import { rawBodyInput } from '../../../src/codec/json-request.js';
import { checkRawSize } from '../../../src/codec/raw.js';
import { checkReservedParameters } from '../../../src/codec/reserved-params.js';
import type { ModelConfig } from '../../../src/config/model-config.js';
import type { DataPlane } from '../../../src/dataplane/api.js';
import { InvalidArgument, ModelNotFound } from '../../../src/errors/errors.js';
import type {
  InferenceRequest, InferenceResponse, LoadOptions, ModelIndexEntry, ModelMetadata, ModelStatistics,
  ServerMetadata, TensorMetadata,
} from '../../../src/types/inference.js';
import type { Tensor } from '../../../src/types/tensor.js';

const STAT = { count: 0, ns: 0 };

function meta(name: string, inputs: TensorMetadata[]): ModelMetadata {
  return { name, versions: ['1'], platform: 'onnxruntime_onnx', inputs, outputs: inputs };
}

/** Models the double knows; `slow` answers only when the test releases it. */
export const MODELS: Record<string, ModelMetadata> = {
  echo: meta('echo', [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 4] }]),
  single: meta('single', [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 4] }]),
  single_bytes: meta('single_bytes', [{ name: 'TEXT', datatype: 'BYTES', shape: [-1, -1] }]),
  one_bytes: meta('one_bytes', [{ name: 'TEXT', datatype: 'BYTES', shape: [-1, 1] }]),
  'odd name:v@1 +x': meta('odd name:v@1 +x', [{ name: 'INPUT0', datatype: 'INT32', shape: [2] }]),
  slow: meta('slow', [{ name: 'INPUT0', datatype: 'FP32', shape: [1] }]),
  nan: meta('nan', [{ name: 'OUT', datatype: 'FP32', shape: [4] }]),
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
  live = true;
  ready = true;
  requests: InferenceRequest[] = [];
  loads: Array<{ name: string; options: LoadOptions }> = [];
  unloads: Array<{ name: string; unloadDependents: boolean }> = [];
  logging: Record<string, boolean | number | string> = { log_info: true, log_verbose_level: 0 };
  /** Resolvers of requests to the `slow` model, in arrival order. */
  pendingSlow: Array<() => void> = [];
  /** Makes the next infer throw this (to test non-Osprey errors -> 500). */
  failNext: unknown = undefined;

  isLive(): boolean { return this.live; }
  isReady(): boolean { return this.ready; }

  serverMetadata(): ServerMetadata {
    return { name: 'osprey', version: '0.1.0', extensions: ['binary_tensor_data', 'statistics', 'model_repository'] };
  }

  private model(name: string, version: string): ModelMetadata {
    const m = MODELS[name];
    if (m === undefined || (version !== '' && version !== '1')) throw new ModelNotFound(name, version);
    return m;
  }

  modelReady(name: string, version: string): boolean {
    try { this.model(name, version); return true; } catch { return false; }
  }

  modelMetadata(name: string, version: string): ModelMetadata { return this.model(name, version); }

  modelConfig(name: string, version: string): Readonly<ModelConfig> {
    const m = this.model(name, version);
    return { name: m.name, platform: 'onnxruntime_onnx', max_batch_size: 4 } as unknown as ModelConfig;
  }

  modelStatistics(name: string, version: string): ModelStatistics[] {
    const names = name === '' ? Object.keys(MODELS) : [this.model(name, version).name];
    return names.map((n) => ({
      name: n, version: '1', last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: {
        success: STAT, fail: STAT, queue: STAT, compute_input: STAT, compute_infer: STAT,
        compute_output: STAT, cache_hit: STAT, cache_miss: STAT,
      },
      batch_stats: [], memory_usage: [],
    }));
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    this.requests.push(request);
    this.model(request.modelName, request.modelVersion);
    dataPlaneChecks(this, request);
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (request.modelName === 'slow') await new Promise<void>((r) => this.pendingSlow.push(r));
    let outputs: Tensor[] = request.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data }));
    if (request.modelName === 'nan') {
      outputs = [{ name: 'OUT', datatype: 'FP32', shape: [4], data: new Uint8Array(new Float32Array([NaN, Infinity, -Infinity, 1.5]).buffer) }];
    }
    if (request.outputs !== undefined) {
      outputs = request.outputs.map((o) => {
        const t = outputs.find((x) => x.name === o.name);
        if (t === undefined) throw new InvalidArgument(`unexpected inference output '${o.name}' for model '${request.modelName}'`);
        return t;
      });
    }
    const response: InferenceResponse = {
      modelName: request.modelName, modelVersion: request.modelVersion || '1', id: request.id, outputs,
    };
    if (Object.keys(request.parameters).length > 0) response.parameters = request.parameters;
    return response;
  }

  repositoryIndex(readyOnly: boolean): ModelIndexEntry[] {
    const all: ModelIndexEntry[] = [
      { name: 'echo', version: '1', state: 'READY' },
      { name: 'broken', state: 'UNAVAILABLE', reason: 'failed to load' },
    ];
    return readyOnly ? all.filter((e) => e.state === 'READY') : all;
  }

  async loadModel(name: string, options: LoadOptions): Promise<void> {
    this.loads.push({ name, options });
  }

  async unloadModel(name: string, unloadDependents: boolean): Promise<void> {
    this.model(name, '');
    this.unloads.push({ name, unloadDependents });
  }

  logSettings(): Record<string, boolean | number | string> { return { ...this.logging }; }

  updateLogSettings(settings: Record<string, boolean | number | string>): Record<string, boolean | number | string> {
    for (const k of Object.keys(settings)) {
      if (!(k in this.logging)) throw new InvalidArgument(`Logging setting '${k}' is not a valid setting`);
    }
    Object.assign(this.logging, settings);
    return this.logSettings();
  }
}
