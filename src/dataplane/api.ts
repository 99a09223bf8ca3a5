import type { ModelConfig } from '../config/model-config.js';
import type { OspreyError } from '../errors/errors.js';
import type {
  InferenceRequest, InferenceResponse, LoadOptions, ModelIndexRow, ModelMetadata,
  ModelStatistics, ServerMetadata,
} from '../types/inference.js';
import type { TrafficState } from '../routing/router.js';
import type { SharedMemoryManager } from '../shm/regions.js';

/**
 * The one surface both front ends call. Front ends decode their protocol into these
 * calls and encode the results (or the thrown OspreyError) back; they know nothing
 * of batching, workers or versions. Methods throw OspreyError subclasses.
 */
export interface DataPlane {
  isLive(): boolean;
  isReady(): boolean;
  serverMetadata(): ServerMetadata;
  /** False for an unknown model or a version that is not READY; never throws. */
  modelReady(name: string, version: string): boolean;
  modelMetadata(name: string, version: string): ModelMetadata;
  modelConfig(name: string, version: string): Readonly<ModelConfig>;
  /** name '' = every model; version '' = every loaded version. */
  modelStatistics(name: string, version: string): ModelStatistics[];
  infer(request: InferenceRequest): Promise<InferenceResponse>;
  /**
   * Before a request's body is read or decoded: the refusal `infer` would give it
   * anyway, known from the model alone (its queue is full), or undefined. Cheap and
   * never throws; counted as a rejected request, as `infer` would count it.
   */
  refuseEarly?(name: string, version: string): OspreyError | undefined;
  /** Never-loaded models are their name alone (PROTOCOL: repository index). */
  repositoryIndex(readyOnly: boolean): ModelIndexRow[];
  loadModel(name: string, options: LoadOptions): Promise<void>;
  unloadModel(name: string, unloadDependents: boolean): Promise<void>;
  /** Triton's logging extension: current settings, and an update that returns them. */
  logSettings(): Record<string, boolean | number | string>;
  updateLogSettings(settings: Record<string, boolean | number | string>): Record<string, boolean | number | string>;
  /**
   * Traffic routing admin (src/routing/): a model's policy, weights, window
   * statistics and history; and replacing the policy (JSON text, validated; throws
   * InvalidArgument naming the bad field, and the old policy stays). Optional: a
   * front end answers Unsupported when the data plane has none.
   */
  trafficPolicy?(model: string): TrafficState;
  setTrafficPolicy?(model: string, json: string): TrafficState;
  /** The header (lower case) a model's sticky policy hashes, if any: front ends copy it into `request.headers`. */
  routingHeader?(model: string): string | undefined;
  /** Triton's shared-memory extensions (system, and CUDA as a CPU-only server); absent: the routes refuse. */
  readonly sharedMemory?: SharedMemoryManager;
}
