/**
 * Handlers of inference.GRPCInferenceService and grpc.health.v1.Health. Each one
 * decodes its message, calls the DataPlane, and encodes the answer or the error;
 * nothing here knows about batching, workers or versions.
 *
 * Errors: the status is always GRPC_STATUS[err.code] and the details are the
 * error's message, unchanged. Anything that is not an OspreyError becomes INTERNAL
 * and is logged once here.
 */
import type * as grpc from '@grpc/grpc-js';
import {
  decodeInferRequest, encodeInferResponse, checkModelVersion,
} from '../../codec/grpc-infer.js';
import type {
  ModelInferRequestMsg, ModelInferResponseMsg, ModelStreamInferResponseMsg,
} from '../../codec/grpc-messages.js';
import type { DataPlane } from '../../dataplane/api.js';
import type { SharedMemoryManager } from '../../shm/regions.js';
import {
  InvalidArgument, OspreyError, RepositoryNameUnsupported, Unsupported, asOspreyError,
} from '../../errors/errors.js';
import { GRPC_STATUS } from '../../errors/status.js';
import { Cancellation } from '../../types/cancel.js';
import type { Admission } from '../admission.js';
import type { RequestBytesBudget } from '../request-bytes.js';
import { holdMessage, releaseMessage } from './inflight.js';
import { earlyRefusal, refusalStatus } from './early.js';
import type {
  InferenceRequest, InferenceResponse, LoadOptions, ModelStatistics, StatDuration,
} from '../../types/inference.js';

export interface GrpcLogger {
  error(obj: object, msg?: string): void;
}

type UnaryCall = grpc.ServerUnaryCall<any, any>;
type UnaryCallback = grpc.sendUnaryData<any>;
type DuplexCall = grpc.ServerDuplexStream<ModelInferRequestMsg, ModelStreamInferResponseMsg>;
/** What unary and streaming calls share (grpc-js does not export its name for it). */
interface SurfaceCall {
  readonly cancelled: boolean;
  getDeadline(): grpc.Deadline;
  on(event: 'cancelled', listener: () => void): unknown;
}

// ---- shared helpers ----

function statusOf(err: unknown, log: GrpcLogger): Partial<grpc.StatusObject> {
  const e = asOspreyError(err);
  if (!(err instanceof OspreyError)) log.error({ err }, 'unexpected error in gRPC handler');
  return { code: GRPC_STATUS[e.code], details: e.message };
}

/**
 * The call's deadline as an absolute performance.now() time. grpc-js reports it
 * as a wall-clock Date (or Infinity when the client set none).
 */
export function deadlineOf(call: SurfaceCall): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(ms)) return Infinity;
  return performance.now() + (ms - Date.now());
}

/**
 * Cancellation of one call: it fires when the client cancels (or the deadline
 * expires and grpc-js cancels). grpc-js also emits 'cancelled' when the HTTP/2 stream
 * closes after a normal answer, so `done()` must be called before answering: a
 * completed call never cancels its signal. It is the signal itself (one object per
 * call), and listens with `on`, not `once` (no wrapper per call; cancel() runs once).
 */
class CallCancellation extends Cancellation {
  #done = false;
  constructor(call: SurfaceCall) {
    super();
    if (call.cancelled) this.cancel();
    else call.on('cancelled', () => { if (!this.#done) this.cancel(); });
  }
  done(): void { this.#done = true; }
}

/** Wrap a synchronous or async handler body: result -> response, throw -> status. */
function unary<Req, Res>(
  log: GrpcLogger, body: (req: Req, call: UnaryCall) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let result: Res | Promise<Res>;
    try {
      result = body(call.request, call);
    } catch (err) {
      callback(statusOf(err, log));
      return;
    }
    if (result instanceof Promise) {
      result.then((res) => callback(null, res), (err: unknown) => callback(statusOf(err, log)));
    } else {
      callback(null, result);
    }
  };
}

function unimplemented(message: string): grpc.handleUnaryCall<unknown, unknown> {
  return (_call, callback) => {
    const e = new Unsupported(message);
    callback({ code: GRPC_STATUS[e.code], details: e.message });
  };
}

// ---- shared memory ----

/** uint64 fields arrive as decimal strings (longs: String); beyond 2^53 they cannot name a real size. */
function u64(v: string | number | undefined): number {
  const n = Number(v ?? 0);
  return Number.isSafeInteger(n) ? n : -1;
}

function sharedMemoryRpcs(dp: DataPlane, log: GrpcLogger): grpc.UntypedServiceImplementation {
  const shm = (): SharedMemoryManager => {
    if (dp.sharedMemory === undefined) throw new Unsupported('shared memory is not enabled on this server');
    return dp.sharedMemory;
  };
  return {
    SystemSharedMemoryStatus: unary(log, (req: { name: string }) => {
      const regions: Record<string, object> = {};
      for (const r of shm().status(req.name)) regions[r.name] = { name: r.name, key: r.key, offset: r.offset, byte_size: r.byte_size };
      return { regions };
    }),
    SystemSharedMemoryRegister: unary(log, (req: { name: string; key: string; offset: string; byte_size: string }) => {
      shm().register(req.name, req.key, u64(req.offset), u64(req.byte_size));
      return {};
    }),
    SystemSharedMemoryUnregister: unary(log, (req: { name: string }) => {
      shm().unregister(req.name);
      return {};
    }),
    CudaSharedMemoryStatus: unary(log, (req: { name: string }) => {
      shm().cudaStatus(req.name);
      return { regions: {} };
    }),
    CudaSharedMemoryRegister: unary(log, (req: { name: string }) => shm().cudaRegister(req.name, false)),
    CudaSharedMemoryUnregister: unary(log, () => {
      shm().cudaUnregister();
      return {};
    }),
  };
}

// ---- statistics, repository, logging ----

function duration(d: StatDuration): { count: number; ns: number } {
  return { count: d.count, ns: d.ns };
}

/** DataPlane statistics (JSON field names) -> inference.ModelStatistics. */
export function encodeModelStatistics(s: ModelStatistics): object {
  const is = s.inference_stats;
  return {
    name: s.name,
    version: s.version,
    last_inference: s.last_inference,
    inference_count: s.inference_count,
    execution_count: s.execution_count,
    inference_stats: {
      success: duration(is.success),
      fail: duration(is.fail),
      queue: duration(is.queue),
      compute_input: duration(is.compute_input),
      compute_infer: duration(is.compute_infer),
      compute_output: duration(is.compute_output),
      cache_hit: duration(is.cache_hit),
      cache_miss: duration(is.cache_miss),
    },
    batch_stats: s.batch_stats.map((b) => ({
      batch_size: b.batch_size,
      compute_input: duration(b.compute_input),
      compute_infer: duration(b.compute_infer),
      compute_output: duration(b.compute_output),
    })),
    memory_usage: s.memory_usage.map((m) => ({ type: m.type, id: m.id, byte_size: m.byte_size })),
    response_stats: {},
  };
}

interface RepositoryParameterMsg {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
  bool_param?: boolean;
  int64_param?: string | number;
  string_param?: string;
  bytes_param?: Uint8Array;
}

function checkRepositoryName(name: string): void {
  if (name !== '') throw new RepositoryNameUnsupported();
}

/** RepositoryModelLoad parameters -> LoadOptions (Triton's rules and messages). */
export function decodeLoadParameters(params: Record<string, RepositoryParameterMsg>): LoadOptions {
  const options: LoadOptions = {};
  for (const key of Object.keys(params)) {
    const p = params[key]!;
    if (key === 'config') {
      if (p.parameter_choice !== 'string_param') {
        throw new InvalidArgument(`invalid value type for load parameter '${key}', expected string_param.`);
      }
      options.config = p.string_param ?? '';
    } else if (key.startsWith('file:')) {
      if (p.parameter_choice !== 'bytes_param') {
        throw new InvalidArgument(`invalid value type for load parameter '${key}', expected bytes_param.`);
      }
      options.files ??= new Map();
      options.files.set(key.slice('file:'.length), p.bytes_param ?? new Uint8Array(0));
    } else {
      throw new InvalidArgument(`unrecognized load parameter '${key}'.`);
    }
  }
  return options;
}

function decodeUnloadDependents(params: Record<string, RepositoryParameterMsg>): boolean {
  const p = params['unload_dependents'];
  if (p === undefined) return false;
  if (p.parameter_choice !== 'bool_param') {
    throw new InvalidArgument("invalid value type for 'unload_dependents' parameter, expected bool_param.");
  }
  return p.bool_param === true;
}

interface LogSettingMsg {
  parameter_choice?: 'bool_param' | 'uint32_param' | 'string_param';
  bool_param?: boolean;
  uint32_param?: number;
  string_param?: string;
}

type LogSettings = Record<string, boolean | number | string>;

function decodeLogSettings(settings: Record<string, LogSettingMsg>): LogSettings {
  const out: LogSettings = {};
  for (const key of Object.keys(settings)) {
    const s = settings[key]!;
    switch (s.parameter_choice) {
      case 'bool_param': out[key] = s.bool_param === true; break;
      case 'uint32_param': out[key] = s.uint32_param ?? 0; break;
      case 'string_param': out[key] = s.string_param ?? ''; break;
      default:
        throw new InvalidArgument(`expect bool_param, uint32_param or string_param for '${key}'`);
    }
  }
  return out;
}

function encodeLogSettings(settings: LogSettings): { settings: Record<string, LogSettingMsg> } {
  const out: Record<string, LogSettingMsg> = {};
  for (const key of Object.keys(settings)) {
    const v = settings[key]!;
    if (typeof v === 'boolean') out[key] = { bool_param: v };
    else if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) out[key] = { uint32_param: v };
    else out[key] = { string_param: String(v) };
  }
  return { settings: out };
}

// ---- inference ----

/**
 * Copy the metadata entry a model's sticky traffic policy hashes (if any) into the
 * request. The call, not its metadata: the http2 engine builds a call's metadata only
 * when something reads it.
 */
function captureRouting(dp: DataPlane, request: InferenceRequest, call: { readonly metadata: grpc.Metadata }): InferenceRequest {
  const name = dp.routingHeader?.(request.modelName);
  if (name === undefined) return request;
  const v = call.metadata.get(name)[0];
  if (typeof v === 'string' && v !== '') request.headers = { [name]: v };
  return request;
}

/** What identifies a request in its in-band error answer. */
type RequestIdentity = Pick<ModelInferRequestMsg, 'model_name' | 'model_version' | 'id'>;

/** The in-band error answer of ModelStreamInfer, carrying what identifies the request. */
function streamError(who: RequestIdentity, message: string): ModelStreamInferResponseMsg {
  return {
    error_message: message,
    infer_response: {
      model_name: who.model_name,
      model_version: who.model_version,
      id: who.id,
      outputs: [],
      raw_output_contents: [],
    },
  };
}

function streamOk(res: InferenceResponse): ModelStreamInferResponseMsg {
  return { error_message: '', infer_response: encodeInferResponse(res) };
}

function modelInfer(dp: DataPlane, log: GrpcLogger, admission: Admission | undefined, bytes: RequestBytesBudget | undefined): grpc.handleUnaryCall<ModelInferRequestMsg, ModelInferResponseMsg> {
  return (call, callback) => {
    const msg = call.request;
    const refused = (admission === undefined ? undefined : earlyRefusal(admission, msg, call)) ?? holdMessage(bytes, msg);
    if (refused !== undefined) { callback(refusalStatus(refused)); return; }
    const cancellation = new CallCancellation(call);
    let promise: Promise<InferenceResponse>;
    try {
      const request = decodeInferRequest(msg, { deadline: deadlineOf(call), signal: cancellation });
      promise = dp.infer(captureRouting(dp, request, call));
    } catch (err) {
      cancellation.done();
      releaseMessage(bytes, msg);
      callback(statusOf(err, log));
      return;
    }
    promise.then(
      (res) => { cancellation.done(); releaseMessage(bytes, msg); callback(null, encodeInferResponse(res)); },
      (err: unknown) => { cancellation.done(); releaseMessage(bytes, msg); callback(statusOf(err, log)); },
    );
  };
}

/**
 * Bidirectional stream: each request gets exactly one ModelStreamInferResponse,
 * written as soon as it completes (so answers may come out of order, as Triton's
 * do for decoupled models). Errors travel in-band in `error_message` and the stream
 * stays open. The stream ends once the client has half-closed and every pending
 * request has been answered. One Cancellation per stream: cancelling the stream
 * cancels every request still in flight on it.
 */
function modelStreamInfer(dp: DataPlane, log: GrpcLogger, admission: Admission | undefined, bytes: RequestBytesBudget | undefined): grpc.handleBidiStreamingCall<ModelInferRequestMsg, ModelStreamInferResponseMsg> {
  return (call: DuplexCall) => {
    const signal = new CallCancellation(call);
    // The stream's deadline bounds every request on it: read it once.
    const ctx = { deadline: deadlineOf(call), signal };
    let pending = 0;
    let halfClosed = false;
    let ended = false;

    const write = (msg: ModelStreamInferResponseMsg): void => {
      if (ended || call.cancelled) return;
      call.write(msg);
    };
    const settle = (): void => {
      pending--;
      if (halfClosed && pending === 0 && !ended) {
        ended = true;
        signal.done();
        if (!call.cancelled) call.end();
      }
    };
    const fail = (msg: RequestIdentity, err: unknown): void => {
      const e = asOspreyError(err);
      if (!(err instanceof OspreyError)) log.error({ err }, 'unexpected error in gRPC stream handler');
      write(streamError(msg, e.message));
    };
    const succeeded = (res: InferenceResponse): void => {
      try {
        write(streamOk(res));
      } catch (err) {
        fail({ model_name: res.modelName, model_version: res.modelVersion, id: res.id }, err);
      }
      settle();
    };

    call.on('data', (msg: ModelInferRequestMsg) => {
      pending++;
      const refused = (admission === undefined ? undefined : earlyRefusal(admission, msg, call)) ?? holdMessage(bytes, msg);
      if (refused !== undefined) {
        write(streamError(msg, refused.message));
        settle();
        return;
      }
      let promise: Promise<InferenceResponse>;
      try {
        promise = dp.infer(captureRouting(dp, decodeInferRequest(msg, ctx), call));
      } catch (err) {
        releaseMessage(bytes, msg);
        fail(msg, err);
        settle();
        return;
      }
      promise.then((res) => {
        releaseMessage(bytes, msg);
        succeeded(res);
      }, (err: unknown) => {
        releaseMessage(bytes, msg);
        fail(msg, err);
        settle();
      });
    });
    call.on('end', () => {
      halfClosed = true;
      pending++;
      settle();
    });
    // A reset or cancelled stream: the 'cancelled' event already aborted the signal.
    call.on('error', () => { ended = true; });
  };
}

// ---- the services ----

/**
 * `admission`: rate limits and early refusals of inference requests (none: every
 * request is decoded); `bytes`: the bound on request bytes in flight (none: unbounded).
 */
export function inferenceService(dp: DataPlane, log: GrpcLogger, admission?: Admission, bytes?: RequestBytesBudget): grpc.UntypedServiceImplementation {
  return {
    ServerLive: unary(log, () => ({ live: dp.isLive() })),
    ServerReady: unary(log, () => ({ ready: dp.isReady() })),
    ModelReady: unary(log, (req: { name: string; version: string }) =>
      ({ ready: dp.modelReady(req.name, checkModelVersion(req.version)) })),
    ServerMetadata: unary(log, () => {
      const m = dp.serverMetadata();
      return { name: m.name, version: m.version, extensions: m.extensions };
    }),
    ModelMetadata: unary(log, (req: { name: string; version: string }) => {
      const m = dp.modelMetadata(req.name, checkModelVersion(req.version));
      return {
        name: m.name, versions: m.versions, platform: m.platform,
        inputs: m.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
        outputs: m.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
      };
    }),
    ModelConfig: unary(log, (req: { name: string; version: string }) =>
      // The config already is in proto-JSON form, which proto-loader encodes as is.
      ({ config: dp.modelConfig(req.name, checkModelVersion(req.version)) })),
    ModelStatistics: unary(log, (req: { name: string; version: string }) =>
      ({ model_stats: dp.modelStatistics(req.name, checkModelVersion(req.version)).map(encodeModelStatistics) })),
    RepositoryIndex: unary(log, (req: { repository_name: string; ready: boolean }) => {
      checkRepositoryName(req.repository_name);
      return {
        models: dp.repositoryIndex(req.ready).map((m) => ('state' in m
          ? { name: m.name, version: m.version ?? '', state: m.state, reason: m.reason ?? '' }
          : { name: m.name, version: '', state: '', reason: '' })),
      };
    }),
    RepositoryModelLoad: unary(log, async (req: { repository_name: string; model_name: string; parameters: Record<string, RepositoryParameterMsg> }) => {
      checkRepositoryName(req.repository_name);
      await dp.loadModel(req.model_name, decodeLoadParameters(req.parameters));
      return {};
    }),
    RepositoryModelUnload: unary(log, async (req: { repository_name: string; model_name: string; parameters: Record<string, RepositoryParameterMsg> }) => {
      checkRepositoryName(req.repository_name);
      await dp.unloadModel(req.model_name, decodeUnloadDependents(req.parameters));
      return {};
    }),
    LogSettings: unary(log, (req: { settings: Record<string, LogSettingMsg> }) => {
      const update = decodeLogSettings(req.settings);
      return encodeLogSettings(Object.keys(update).length === 0 ? dp.logSettings() : dp.updateLogSettings(update));
    }),
    ModelInfer: modelInfer(dp, log, admission, bytes),
    ModelStreamInfer: modelStreamInfer(dp, log, admission, bytes),
    ...sharedMemoryRpcs(dp, log),
    // Not advertised in server metadata extensions; answer clearly rather than hang.
    TraceSetting: unimplemented('trace is not supported by this server'),
  };
}

/** osprey.admin.TrafficAdmin: a model's traffic policy as JSON text (proto/osprey_admin.proto). */
export function trafficAdminService(dp: DataPlane, log: GrpcLogger): grpc.UntypedServiceImplementation {
  const admin = () => {
    const get = dp.trafficPolicy?.bind(dp);
    const set = dp.setTrafficPolicy?.bind(dp);
    if (get === undefined || set === undefined) throw new Unsupported('traffic routing is not enabled on this server');
    return { get, set };
  };
  return {
    GetTrafficPolicy: unary(log, (req: { model_name: string }) =>
      ({ model_name: req.model_name, state_json: JSON.stringify(admin().get(req.model_name)) })),
    SetTrafficPolicy: unary(log, (req: { model_name: string; policy_json: string }) =>
      ({ model_name: req.model_name, state_json: JSON.stringify(admin().set(req.model_name, req.policy_json)) })),
  };
}

/** grpc.health.v1.Health/Check: SERVING while the server is ready (any service name, as Triton). */
export function healthService(dp: DataPlane): grpc.UntypedServiceImplementation {
  return {
    Check: ((_call: UnaryCall, callback: UnaryCallback) => {
      callback(null, { status: dp.isReady() ? 'SERVING' : 'NOT_SERVING' });
    }) as grpc.handleUnaryCall<unknown, unknown>,
  };
}
