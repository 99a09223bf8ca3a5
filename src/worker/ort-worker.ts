/**
 * Piscina task handler. Runs on worker threads ONLY: onnxruntime-node's
 * `InferenceSession.run` executes synchronously on the calling thread, so a session
 * on the main thread would stall every connection. Each worker keeps its own
 * sessions, keyed by `SessionSpec.key`; a worker that has never seen a key (a fresh
 * replacement after a crash, say) creates the session from the spec on first use.
 */
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { InvalidArgument, toErrorData } from '../errors/errors.js';
import { joinBytes, splitBytes } from '../codec/raw.js';
import type { OnnxModelInfo, OnnxTensorInfo } from '../config/model-config.js';
import type {
  FailedResult, ListResult, LoadResult, RunResult, SessionSpec, UnloadResult, WireTensor, WorkerTask,
} from './protocol.js';
import { ORT_TYPE, configTypeFromOrt, dataTypeFromOrt } from './ort-types.js';

const sessions = new Map<string, Promise<ort.InferenceSession>>();
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

function session(spec: SessionSpec): Promise<ort.InferenceSession> {
  let s = sessions.get(spec.key);
  if (s === undefined) {
    const st = spec.settings;
    s = ort.InferenceSession.create(spec.path, {
      intraOpNumThreads: st.intraOpThreads,
      interOpNumThreads: st.interOpThreads,
      executionMode: st.executionMode,
      graphOptimizationLevel: st.graphOptimizationLevel,
      enableCpuMemArena: st.enableMemArena,
      enableMemPattern: st.enableMemPattern,
      executionProviders: st.providers,
    });
    sessions.set(spec.key, s);
    // A failed create must not poison the key: the next load retries it.
    s.catch(() => sessions.delete(spec.key));
  }
  return s;
}

function tensorInfo(m: ort.InferenceSession.ValueMetadata): OnnxTensorInfo {
  if (!m.isTensor) return { name: m.name, data_type: 'TYPE_INVALID', dims: [] };
  return {
    name: m.name,
    data_type: configTypeFromOrt(m.type),
    dims: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

function modelInfo(s: ort.InferenceSession): OnnxModelInfo {
  return { inputs: s.inputMetadata.map(tensorInfo), outputs: s.outputMetadata.map(tensorInfo) };
}

function toOrt(t: WireTensor): ort.Tensor {
  const type = ORT_TYPE[t.datatype];
  if (type === undefined) throw new InvalidArgument(`datatype ${t.datatype} of input '${t.name}' is not supported by ONNX Runtime`);
  const b = t.buffer;
  switch (type) {
    case 'string': {
      const parts = splitBytes(new Uint8Array(b), t.name);
      const strs = new Array<string>(parts.length);
      for (let i = 0; i < parts.length; i++) strs[i] = utf8.decode(parts[i]);
      return new ort.Tensor('string', strs, t.shape);
    }
    case 'float32': return new ort.Tensor(type, new Float32Array(b), t.shape);
    case 'float64': return new ort.Tensor(type, new Float64Array(b), t.shape);
    case 'float16': return new ort.Tensor(type, new Uint16Array(b), t.shape);
    case 'int8': return new ort.Tensor(type, new Int8Array(b), t.shape);
    case 'int16': return new ort.Tensor(type, new Int16Array(b), t.shape);
    case 'int32': return new ort.Tensor(type, new Int32Array(b), t.shape);
    case 'int64': return new ort.Tensor(type, new BigInt64Array(b), t.shape);
    case 'uint8': return new ort.Tensor(type, new Uint8Array(b), t.shape);
    case 'uint16': return new ort.Tensor(type, new Uint16Array(b), t.shape);
    case 'uint32': return new ort.Tensor(type, new Uint32Array(b), t.shape);
    case 'uint64': return new ort.Tensor(type, new BigUint64Array(b), t.shape);
    case 'bool': return new ort.Tensor(type, new Uint8Array(b), t.shape);
  }
}

function fromOrt(name: string, t: ort.Tensor): WireTensor {
  const datatype = dataTypeFromOrt(t.type);
  if (datatype === undefined) throw new InvalidArgument(`output '${name}' has ONNX type ${t.type}, which has no Triton datatype`);
  const shape = t.dims.slice();
  if (datatype === 'BYTES') {
    const strs = t.data as string[];
    const parts = new Array<Uint8Array>(strs.length);
    for (let i = 0; i < strs.length; i++) parts[i] = utf8Encoder.encode(strs[i]);
    const raw = joinBytes(parts);
    return { name, datatype, shape, buffer: raw.buffer as ArrayBuffer };
  }
  const view = t.data as unknown as Uint8Array;
  // Only a view that spans its whole buffer can be transferred as is.
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer;
  const buffer = whole ? (view.buffer as ArrayBuffer) : (view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer);
  return { name, datatype, shape, buffer };
}

async function run(task: Extract<WorkerTask, { op: 'run' }>): Promise<RunResult> {
  const s = await session(task.spec);
  const t0 = process.hrtime.bigint();
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of task.inputs) feeds[inp.name] = toOrt(inp);
  const t1 = process.hrtime.bigint();
  const result = await s.run(feeds, task.outputs);
  const t2 = process.hrtime.bigint();
  const outputs: WireTensor[] = [];
  for (const name of task.outputs) {
    const t = result[name];
    if (t === undefined) throw new InvalidArgument(`model did not produce output '${name}'`);
    outputs.push(fromOrt(name, t));
    t.dispose();
  }
  const t3 = process.hrtime.bigint();
  return { ok: true, outputs, timing: { inputNs: Number(t1 - t0), inferNs: Number(t2 - t1), outputNs: Number(t3 - t2) } };
}

/**
 * Wrap a result so piscina transfers its buffers instead of cloning them: an object
 * implementing piscina's Transferable interface, marked movable by `move()`.
 */
function transferring<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  return move({ [transferableSymbol]: buffers, [valueSymbol]: value } as never) as unknown as T;
}

export default async function handle(task: WorkerTask): Promise<LoadResult | RunResult | UnloadResult | ListResult | FailedResult> {
  try {
    switch (task.op) {
      case 'run': {
        const r = await run(task);
        return transferring(r, r.outputs.map((o) => o.buffer));
      }
      case 'load':
        return { ok: true, info: modelInfo(await session(task.spec)), threadId };
      case 'unload': {
        const s = sessions.get(task.key);
        sessions.delete(task.key);
        if (s !== undefined) await (await s).release();
        return { ok: true, released: s !== undefined };
      }
      case 'list':
        return { ok: true, keys: [...sessions.keys()], threadId };
    }
  } catch (err) {
    return { ok: false, error: toErrorData(err) };
  }
}
