/**
 * The data plane: the one implementation of `DataPlane` both front ends call.
 * Resolves the serving version, validates the request against its config, queues
 * it on that version's batcher and shapes the response.
 */
import { configDataTypeToWire as wireDataType } from '../config/datatype.js';
import type { ModelConfig } from '../config/model-config.js';
import {
  Cancelled, DeadlineExceeded, InvalidArgument, ModelNotFound, type OspreyError, QueueFull, RequestTimeout, Unavailable, Unsupported,
} from '../errors/errors.js';
import type { FailureReason } from '../registry/stats.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { ModelVersion } from '../registry/model-version.js';
import type { RepositoryManager } from '../control/manager.js';
import type { LogControl, LogSettingValue } from '../obs/logger.js';
import type { InferObserver } from '../obs/observer.js';
import { NO_ROUTE, type TrafficRouter, type TrafficState } from '../routing/router.js';
import type {
  InferenceRequest, InferenceResponse, LoadOptions, ModelIndexRow, ModelMetadata, ModelStatistics,
  ServerMetadata, TensorMetadata,
} from '../types/inference.js';
import type { Params, Tensor } from '../types/tensor.js';
import type { DataPlane } from './api.js';
import { classify } from './classify.js';
import type { ResponseCache } from './response-cache.js';
import { prepare } from '../request/prepare.js';
import { AttachedShm } from '../shm/attach.js';
import { SharedMemoryManager } from '../shm/regions.js';
import { rawCorrId, sequenceFlags } from '../request/sequence.js';
import { rawBodyInput } from '../codec/json-request.js';

export const EXTENSIONS = Object.freeze([
  'classification', 'sequence', 'model_repository', 'model_repository(unload_dependents)', 'schedule_policy',
  'model_configuration', 'binary_tensor_data', 'parameters', 'statistics', 'logging',
]);

export interface DataPlaneOptions {
  registry: ModelRegistry;
  manager: RepositoryManager;
  logs: LogControl;
  strictReadiness: boolean;
  /** Server metadata name (`--id`; tritonserver's default 'triton'). */
  name?: string;
  version: string;
  /** Present when --cache-config enabled a response cache. */
  cache?: ResponseCache;
  /** Metrics/drift/request-log hooks (src/obs/observer.ts); called on the request path. */
  observer?: InferObserver;
  /** Canary/sticky/shadow routing per model (src/routing/); absent: the registry alone decides. */
  traffic?: TrafficRouter<ModelVersion>;
  /** System (and CPU-only CUDA) shared memory; absent: requests naming a region are refused. */
  sharedMemory?: SharedMemoryManager;
}

function numberParam(params: Params, key: string): number {
  const v = params[key];
  if (v === undefined) return 0;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new InvalidArgument(`parameter '${key}' must be a non-negative integer`);
  return n;
}

function tensorMetadata(cfg: Readonly<ModelConfig>, io: ReadonlyArray<{ name: string; data_type: ModelConfig['input'][number]['data_type']; dims: number[] }>): TensorMetadata[] {
  return io.map((t) => ({
    name: t.name,
    datatype: wireDataType(t.data_type) as TensorMetadata['datatype'],
    shape: cfg.max_batch_size > 0 ? [-1, ...t.dims] : t.dims.slice(),
  }));
}

/** Triton's failure reasons: rejected by the queue, cancelled, failed in the backend. */
function failureReason(err: unknown): FailureReason {
  if (err instanceof QueueFull || err instanceof RequestTimeout || err instanceof DeadlineExceeded) return 'REJECTED';
  if (err instanceof Cancelled) return 'CANCELED';
  if (err instanceof InvalidArgument) return 'OTHER';
  return 'BACKEND';
}

/** One instance for every early refusal: an Error's stack costs microseconds, and no one reads it. */
const QUEUE_FULL = new QueueFull();
const DIGITS = /^[0-9]+$/;

export class ServingDataPlane implements DataPlane {
  readonly #o: DataPlaneOptions;
  #live = true;
  #accepting = true;
  #draining = false;
  #serverMetadata: ServerMetadata;

  constructor(o: DataPlaneOptions) {
    this.#o = o;
    const extensions: string[] = [...EXTENSIONS];
    if (o.sharedMemory !== undefined) {
      // CUDA shared memory is answered as a CPU-only Triton does, so it is listed as Triton lists it.
      if (SharedMemoryManager.unavailableReason === '') extensions.push('system_shared_memory');
      extensions.push('cuda_shared_memory');
    }
    this.#serverMetadata = Object.freeze({ name: o.name ?? 'triton', version: o.version, extensions });
  }

  get sharedMemory(): SharedMemoryManager | undefined { return this.#o.sharedMemory; }
  /**
   * The shutdown grace period begins: report not ready (HTTP ready route, gRPC health)
   * so load balancers drop this endpoint, but stay live and keep serving.
   */
  drain(): void {
    this.#draining = true;
  }

  /** Shutdown begins: report not live/ready and refuse new requests. */
  stopAccepting(): void {
    this.#accepting = false;
    this.#live = false;
  }

  isLive(): boolean { return this.#live; }

  isReady(): boolean {
    if (!this.#accepting || this.#draining) return false;
    return this.#o.strictReadiness ? this.#o.registry.allReady() : true;
  }

  serverMetadata(): ServerMetadata { return this.#serverMetadata; }

  modelReady(name: string, version: string): boolean {
    try {
      return this.#o.registry.resolve(name, version).state === 'READY';
    } catch {
      return false;
    }
  }

  modelMetadata(name: string, version: string): ModelMetadata {
    const v = this.#o.registry.resolve(name, version);
    const cfg = v.config;
    return {
      name,
      versions: this.#o.registry.versions(name).map((x) => x.versionString).reverse(),
      platform: 'onnxruntime_onnx',
      inputs: tensorMetadata(cfg, cfg.input),
      outputs: tensorMetadata(cfg, cfg.output),
    };
  }

  modelConfig(name: string, version: string): Readonly<ModelConfig> {
    return this.#o.registry.resolve(name, version).config;
  }

  modelStatistics(name: string, version: string): ModelStatistics[] {
    const names = name === '' ? this.#o.registry.modelNames() : [name];
    const out: ModelStatistics[] = [];
    for (const n of names) {
      let versions: ModelVersion[];
      if (version === '') {
        versions = this.#o.registry.versions(n).reverse();
        // Same error as metadata/infer: unknown model, or known but nothing serving.
        if (name !== '' && versions.length === 0) this.#o.registry.resolve(n, '');
      } else {
        versions = [this.#o.registry.resolve(n, version)];
      }
      for (const v of versions) out.push(v.stats.snapshot(n, v.versionString));
    }
    return out;
  }

  async infer(req: InferenceRequest): Promise<InferenceResponse> {
    // Shutting down: only the live sequences' requests still come in (they finish before the
    // versions unload, up to the exit timeout).
    if (!this.#accepting && (req.parameters.sequence_id === undefined || !this.#liveSequence(req))) {
      throw new Unavailable('Server is shutting down');
    }
    const start = performance.now();
    // A traffic policy may pick the version (requests that name one bypass it).
    const traffic = this.#o.traffic;
    const route = traffic === undefined ? NO_ROUTE : traffic.resolve(req.modelName, req.modelVersion, req);
    // A live sequence's requests stay on the version it started on, even once swapped out.
    const held = req.parameters.sequence_id === undefined ? undefined : this.#sequenceHolder(req);
    const v = held ?? (route.primary === undefined
      ? this.#o.registry.resolve(req.modelName, req.modelVersion)
      : traffic!.servingVersion(req.modelName, req.modelVersion, route));
    // A raw-body request's input takes its shape from the version just resolved.
    if (req.rawBody !== undefined) req.inputs = [rawBodyInput(req.rawBody, tensorMetadata(v.config, v.config.input), v.config.max_batch_size > 0, v.name)];
    let shm: AttachedShm | undefined;
    try {
      if (req.deadline <= start) throw new DeadlineExceeded();
      if (req.sharedMemory === true) {
        if (this.#o.sharedMemory === undefined) throw new Unsupported('shared memory is not enabled on this server');
        shm = new AttachedShm(this.#o.sharedMemory, req);
      }
      const p = prepare(v.config, req);
      this.#o.observer?.prepared(v, p);
      // A stateful model's answer depends on the sequence so far: never from the cache.
      const cache = v.config.response_cache?.enable === true && v.sequence === undefined ? this.#o.cache : undefined;
      let cacheKey = '';
      if (cache !== undefined) {
        const t = performance.now();
        cacheKey = cache.key(v.name, v.versionString, p);
        const hit = cache.get(cacheKey);
        const lookupNs = Math.round((performance.now() - t) * 1e6);
        if (hit !== undefined) {
          v.stats.recordCacheHit(p.batchSize, Math.round((performance.now() - start) * 1e6), lookupNs);
          return { modelName: v.name, modelVersion: v.versionString, id: req.id, outputs: shm === undefined ? hit.slice() : shm.writeOutputs(hit) };
        }
        v.stats.recordCacheMiss(lookupNs);
      }
      const priority = numberParam(req.parameters, 'priority');
      const timeoutUs = numberParam(req.parameters, 'timeout');
      const r = v.sequence === undefined
        ? await v.submit(p, priority, timeoutUs, req.deadline, req.signal)
        : await v.submitSequence(p, sequenceFlags(v.config, req.id, req.parameters, p.batchSize), timeoutUs, req.signal);
      // Shadows compare raw outputs; classification replaces entries of r.outputs.
      // A sequence request is never shadowed: replayed alone it would corrupt the shadow's state.
      const raw = route.shadows.length > 0 && v.sequence === undefined ? r.outputs.slice() : undefined;
      let outputs = this.#shapeOutputs(v, p.outputs, r.outputs);
      if (cache !== undefined) cache.set(cacheKey, outputs);
      v.stats.recordSuccess(p.batchSize, Math.round((performance.now() - start) * 1e6), r.queueNs, r.computeInputNs, r.computeInferNs, r.computeOutputNs);
      this.#o.observer?.succeeded(v, req, p, outputs, start);
      if (route.route !== undefined) traffic!.observe(route, v.version, undefined, performance.now() - start);
      // Starts in a later macrotask, after the caller has written this answer. Not for
      // shared-memory inputs: their regions may be unmapped by then.
      if (raw !== undefined && shm === undefined) traffic!.shadow(route, req, v, raw);
      if (shm !== undefined) outputs = shm.writeOutputs(outputs);
      return { modelName: v.name, modelVersion: v.versionString, id: req.id, outputs };
    } catch (err) {
      const reason = failureReason(err);
      v.stats.recordFailure(Math.round((performance.now() - start) * 1e6), reason);
      this.#o.observer?.failed(v, req, err, reason, start);
      if (route.route !== undefined) traffic!.observe(route, v.version, err, performance.now() - start);
      throw err;
    } finally {
      shm?.release();
    }
  }

  refuseEarly(name: string, version: string): OspreyError | undefined {
    // A traffic policy may send the request to another version; a malformed version is
    // the decoder's to answer; sequence models queue in their own scheduler.
    if (this.#o.traffic?.strategyOf(name) !== undefined || (version !== '' && !DIGITS.test(version))) return undefined;
    let v: ModelVersion;
    try {
      v = this.#o.registry.resolve(name, version);
    } catch {
      return undefined; // answered by infer, with the request decoded
    }
    if (v.sequence !== undefined || !v.batcher.full) return undefined;
    v.stats.recordFailure(0, 'REJECTED');
    return QUEUE_FULL;
  }

  /** Whether this request continues a live sequence (on a serving or a swapped-out version). */
  #liveSequence(req: InferenceRequest): boolean {
    if (this.#sequenceHolder(req) !== undefined) return true;
    const id = rawCorrId(req.parameters);
    if (id === undefined || req.parameters.sequence_start === true) return false;
    try {
      return this.#o.registry.resolve(req.modelName, req.modelVersion).sequence?.has(id) === true;
    } catch {
      return false;
    }
  }

    /** The swapped-out version holding this request's live sequence (not for a START). */
  #sequenceHolder(req: InferenceRequest): ModelVersion | undefined {
    if (req.parameters.sequence_start === true) return undefined;
    const id = rawCorrId(req.parameters);
    if (id === undefined) return undefined;
    const h = this.#o.registry.sequenceHolder(req.modelName, id);
    return h !== undefined && (req.modelVersion === '' || req.modelVersion === h.versionString) ? h : undefined;
  }

    /** Apply `classification` where requested; outputs arrive in requested order. */
  #shapeOutputs(v: ModelVersion, requested: ReadonlyArray<{ name: string; parameters?: Params }>, outputs: Tensor[]): Tensor[] {
    for (let i = 0; i < requested.length; i++) {
      const k = requested[i]!.parameters?.classification;
      if (k === undefined) continue;
      const t = outputs[i]!;
      outputs[i] = classify(t, Number(k), v.config.max_batch_size > 0, v.labels.get(t.name));
    }
    return outputs;
  }

  trafficPolicy(model: string): TrafficState {
    return this.#traffic().state(model);
  }

  setTrafficPolicy(model: string, json: string): TrafficState {
    return this.#traffic().setPolicy(model, json, 'admin');
  }

  routingHeader(model: string): string | undefined {
    return this.#o.traffic?.routingHeader(model);
  }

  #traffic(): TrafficRouter<ModelVersion> {
    if (this.#o.traffic === undefined) throw new Unsupported('traffic routing is not enabled on this server');
    return this.#o.traffic;
  }

  repositoryIndex(readyOnly: boolean): ModelIndexRow[] {
    const rows: ModelIndexRow[] = this.#o.manager.index(readyOnly);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if ('state' in r && r.state === 'UNKNOWN') rows[i] = { name: r.name };
    }
    return rows;
  }

  loadModel(name: string, options: LoadOptions): Promise<void> {
    return this.#o.manager.load(name, options);
  }

  unloadModel(name: string, _unloadDependents: boolean): Promise<void> {
    // No ensembles yet, so a model has no dependents to unload with it.
    return this.#o.manager.unload(name);
  }

  logSettings(): Record<string, LogSettingValue> {
    return { ...this.#o.logs.settings };
  }

  updateLogSettings(settings: Record<string, LogSettingValue>): Record<string, LogSettingValue> {
    return { ...this.#o.logs.update(settings) };
  }
}
