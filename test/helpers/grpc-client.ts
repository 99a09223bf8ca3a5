/**
 * A real @grpc/grpc-js client for tests, built from the repository's proto/ files,
 * configured like tritonclient.grpc (INT32_MAX message limits, raw input contents).
 * Reused by the front-end tests and the end-to-end conformance suite.
 *
 * Messages are proto-loader objects (proto field names, 64-bit integers as decimal
 * strings on decode, enums as strings, defaults filled in, oneof case names in
 * `parameter_choice`-style virtual fields). Failed calls reject with grpc-js's
 * ServiceError: assert `err.code` (a grpc.status number) and `err.details`.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  InferParameterMsg, ModelInferRequestMsg, ModelInferResponseMsg, ModelStreamInferResponseMsg,
} from '../../src/codec/grpc-messages.js';
import { decodeValues, splitBytes } from '../../src/codec/raw.js';
import { HEALTH_SERVICE, INFERENCE_SERVICE, loadPackageDefinition } from '../../src/frontends/grpc/proto.js';
import { type DataType, type ParamValue, type Params, type Tensor, isDataType } from '../../src/types/tensor.js';

export type { ModelInferRequestMsg, ModelInferResponseMsg, ModelStreamInferResponseMsg };

const INT32_MAX = 2147483647;

/** Channel options tritonclient.grpc uses. */
export const CLIENT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_send_message_length': INT32_MAX,
  'grpc.max_receive_message_length': INT32_MAX,
};

export interface CallOptions {
  /** Absolute Date, or milliseconds from now when a number. */
  deadline?: Date | number;
  metadata?: grpc.Metadata;
}

export interface InferStream {
  /** Send one request on the stream. */
  write(request: Partial<ModelInferRequestMsg>): void;
  /** Resolve with the next response (in arrival order); rejects if the stream fails first. */
  next(): Promise<ModelStreamInferResponseMsg>;
  /** Half-close: no more requests. */
  end(): void;
  /** Resolves with the final status once the server has ended the stream. */
  finished: Promise<grpc.StatusObject>;
  /** Cancel the whole stream from the client side. */
  cancel(): void;
  call: grpc.ClientDuplexStream<Partial<ModelInferRequestMsg>, ModelStreamInferResponseMsg>;
}

export interface GrpcTestClient {
  /** The generated service client, for anything the helpers below do not cover. */
  readonly inference: grpc.Client & Record<string, any>;
  readonly health: grpc.Client & Record<string, any>;
  /** Any unary RPC of GRPCInferenceService by name. */
  unary<Res = any>(method: string, request?: object, options?: CallOptions): Promise<Res>;
  /** Start a unary call and hand back the call object as well (to cancel it). */
  unaryCall<Res = any>(method: string, request: object, options?: CallOptions): { call: grpc.ClientUnaryCall; response: Promise<Res> };
  infer(request: Partial<ModelInferRequestMsg>, options?: CallOptions): Promise<ModelInferResponseMsg>;
  stream(options?: CallOptions): InferStream;
  /** grpc.health.v1.Health/Check; resolves with the status string. */
  healthCheck(service?: string): Promise<string>;
  close(): void;
}

function callOptions(options: CallOptions | undefined): grpc.CallOptions {
  const out: grpc.CallOptions = {};
  if (options?.deadline !== undefined) {
    out.deadline = typeof options.deadline === 'number' ? Date.now() + options.deadline : options.deadline;
  }
  return out;
}

/** `extra` adds channel options (compression, say) to tritonclient's. */
export function createGrpcClient(address: string, extra: grpc.ChannelOptions = {}, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure()): GrpcTestClient {
  const root = grpc.loadPackageDefinition(loadPackageDefinition());
  const lookup = (name: string): grpc.ServiceClientConstructor => {
    let obj: any = root;
    for (const part of name.split('.')) obj = obj[part];
    return obj as grpc.ServiceClientConstructor;
  };
  const channel = { ...CLIENT_CHANNEL_OPTIONS, ...extra };
  const inference = new (lookup(INFERENCE_SERVICE))(address, creds, channel) as grpc.Client & Record<string, any>;
  const health = new (lookup(HEALTH_SERVICE))(address, creds, channel) as grpc.Client & Record<string, any>;

  const unaryCall = <Res>(method: string, request: object, options?: CallOptions) => {
    let call!: grpc.ClientUnaryCall;
    const response = new Promise<Res>((resolve, reject) => {
      const fn = inference[method];
      if (typeof fn !== 'function') throw new Error(`no RPC named ${method}`);
      call = fn.call(inference, request, options?.metadata ?? new grpc.Metadata(), callOptions(options),
        (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
    return { call, response };
  };

  return {
    inference,
    health,
    unary: <Res>(method: string, request: object = {}, options?: CallOptions) => unaryCall<Res>(method, request, options).response,
    unaryCall,
    infer: (request, options) => unaryCall<ModelInferResponseMsg>('ModelInfer', request, options).response,
    stream(options) {
      const call = inference.ModelStreamInfer(options?.metadata ?? new grpc.Metadata(), callOptions(options)) as
        grpc.ClientDuplexStream<Partial<ModelInferRequestMsg>, ModelStreamInferResponseMsg>;
      const queue: ModelStreamInferResponseMsg[] = [];
      const waiters: Array<{ resolve: (m: ModelStreamInferResponseMsg) => void; reject: (e: unknown) => void }> = [];
      let failure: unknown;
      call.on('data', (msg: ModelStreamInferResponseMsg) => {
        const w = waiters.shift();
        if (w) w.resolve(msg); else queue.push(msg);
      });
      call.on('error', (err) => {
        failure = err;
        for (const w of waiters.splice(0)) w.reject(err);
      });
      const finished = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      return {
        call,
        finished,
        write: (request) => { call.write(request); },
        end: () => { call.end(); },
        cancel: () => { call.cancel(); },
        next: () => {
          const msg = queue.shift();
          if (msg) return Promise.resolve(msg);
          if (failure !== undefined) return Promise.reject(failure);
          return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
        },
      };
    },
    healthCheck: (service = '') => new Promise<string>((resolve, reject) => {
      health.Check({ service }, (err: grpc.ServiceError | null, res: { status: string }) =>
        (err ? reject(err) : resolve(res.status)));
    }),
    close() {
      inference.close();
      health.close();
    },
  };
}

// ---- building requests the way clients do ----

function toParam(v: ParamValue): InferParameterMsg {
  switch (typeof v) {
    case 'boolean': return { bool_param: v };
    case 'string': return { string_param: v };
    case 'bigint': return { int64_param: v.toString() };
    default: return Number.isInteger(v) ? { int64_param: v } : { double_param: v };
  }
}

/** JS params -> InferParameter map (integers as int64_param, like tritonclient). */
export function toParamsMsg(params: Params | undefined): Record<string, InferParameterMsg> {
  const out: Record<string, InferParameterMsg> = {};
  for (const [k, v] of Object.entries(params ?? {})) out[k] = toParam(v);
  return out;
}

/** InferParameter map -> JS params (64-bit values as numbers when exact, else bigint). */
export function fromParamsMsg(msg: Record<string, InferParameterMsg> | undefined): Params {
  const out: Params = {};
  for (const [k, p] of Object.entries(msg ?? {})) {
    const choice = p.parameter_choice;
    if (choice === undefined) continue;
    const v = p[choice]!;
    if (choice === 'int64_param' || choice === 'uint64_param') {
      const n = Number(v);
      out[k] = Number.isSafeInteger(n) ? n : BigInt(v as string);
    } else {
      out[k] = v as ParamValue;
    }
  }
  return out;
}

export interface InferRequestOptions {
  version?: string;
  id?: string;
  parameters?: Params;
  outputs?: Array<string | { name: string; parameters?: Params }>;
}

function requestBase(model: string, opts: InferRequestOptions): Omit<ModelInferRequestMsg, 'inputs' | 'raw_input_contents'> {
  return {
    model_name: model,
    model_version: opts.version ?? '',
    id: opts.id ?? '',
    parameters: toParamsMsg(opts.parameters),
    outputs: (opts.outputs ?? []).map((o) => (typeof o === 'string'
      ? { name: o, parameters: {} }
      : { name: o.name, parameters: toParamsMsg(o.parameters) })),
  };
}

/** A ModelInferRequest with every input in raw_input_contents (what tritonclient sends). */
export function rawInferRequest(model: string, inputs: readonly Tensor[], opts: InferRequestOptions = {}): ModelInferRequestMsg {
  return {
    ...requestBase(model, opts),
    inputs: inputs.map((t) => ({
      name: t.name, datatype: t.datatype, shape: t.shape, parameters: toParamsMsg(t.parameters), contents: null,
    })),
    raw_input_contents: inputs.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  };
}

/** Typed InferTensorContents for a tensor (FP16/BF16 have none: throws). */
export function typedContents(t: Tensor): Record<string, unknown[]> {
  const values = t.datatype === 'BYTES' ? splitBytes(t.data, t.name) : decodeValues(t.datatype, t.data, t.name);
  const str = (v: unknown) => String(v);
  switch (t.datatype) {
    case 'BOOL': return { bool_contents: values };
    case 'INT8': case 'INT16': case 'INT32': return { int_contents: values };
    case 'UINT8': case 'UINT16': case 'UINT32': return { uint_contents: values };
    case 'INT64': return { int64_contents: values.map(str) };
    case 'UINT64': return { uint64_contents: values.map(str) };
    case 'FP32': return { fp32_contents: values };
    case 'FP64': return { fp64_contents: values };
    case 'BYTES': return { bytes_contents: values };
    default: throw new Error(`${t.datatype} has no typed contents; send it raw`);
  }
}

/** A ModelInferRequest with every input as typed `contents`. */
export function typedInferRequest(model: string, inputs: readonly Tensor[], opts: InferRequestOptions = {}): ModelInferRequestMsg {
  return {
    ...requestBase(model, opts),
    inputs: inputs.map((t) => ({
      name: t.name, datatype: t.datatype, shape: t.shape, parameters: toParamsMsg(t.parameters),
      contents: typedContents(t),
    })),
    raw_input_contents: [],
  };
}

/** The response's outputs as Tensors, pairing outputs[i] with raw_output_contents[i] as clients do. */
export function responseTensors(res: ModelInferResponseMsg): Tensor[] {
  return res.outputs.map((o, i) => {
    if (!isDataType(o.datatype)) throw new Error(`bad datatype ${o.datatype}`);
    const raw = res.raw_output_contents[i];
    if (raw === undefined) throw new Error(`no raw_output_contents for output ${i} '${o.name}'`);
    const t: Tensor = {
      name: o.name,
      datatype: o.datatype as DataType,
      shape: o.shape.map(Number),
      data: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
    };
    const params = fromParamsMsg(o.parameters);
    if (Object.keys(params).length > 0) t.parameters = params;
    return t;
  });
}

/** Convenience: build a Tensor from JS values (raw layout via Node typed arrays). */
export function tensor(name: string, datatype: DataType, shape: number[], data: Uint8Array | ArrayBufferView): Tensor {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, datatype, shape, data: bytes };
}
