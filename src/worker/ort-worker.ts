/**
 * ONNX Runtime on worker threads ONLY: onnxruntime-node's `InferenceSession.run`
 * executes synchronously on the calling thread, so a session on the main thread would
 * stall every connection. Each worker keeps its own sessions, keyed by
 * `SessionSpec.key`; a worker that has never seen a key (a fresh replacement after a
 * crash, say) creates the session from the spec on first use.
 *
 * `channel-worker.ts` is the thread entry the pool starts (shared-memory channel);
 * `serve` is the whole task logic.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { InvalidArgument, ResponseTooLarge, toErrorData } from '../errors/errors.js';
import { joinBytes, splitBytes } from '../codec/raw.js';
import type { OnnxModelInfo, OnnxTensorInfo } from '../config/model-config.js';
import {
  transferList, type FailedResult, type ListResult, type LoadResult, type RunResult, type RunTask, type StateFreeResult, type UnloadResult, type WorkerTask,
} from './protocol.js';
import type { RunTensor, SessionSpec } from '../types/run.js';
import { ORT_TYPE, configTypeFromOrt, dataTypeFromOrt } from './ort-types.js';
import { addStateInputs, dropSessionState, freeState, keepStateOutputs } from './sequence-state.js';
import { createSession, type Outputs, type Session, type ValueMetadata } from './session.js';

// onnxruntime-node 1.30 keeps float16 tensors in a Float16Array where the runtime has
// one (Node 24+), and its native binding then refuses them ("not enough space: expected
// 2, got 0"). This thread only runs sessions, so it hides Float16Array before ONNX
// Runtime's first tensor (ORT looks once, lazily): float16 stays in a Uint16Array, as
// on Node 20 and 22.
Reflect.deleteProperty(globalThis, 'Float16Array');

const sessions = new Map<string, Promise<Session>>();
/** Solo sessions (SessionSettings.soloIntraOpThreads), by the same keys. */
const solos = new Map<string, Promise<Session>>();
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** --max-response-bytes, set once when the thread starts (channel-worker.ts); none by default. */
let maxResponseBytes = Infinity;

export function setMaxResponseBytes(n: number): void {
  maxResponseBytes = n;
}

/**
 * Bytes `t` takes in Triton's raw layout (BYTES: a 4-byte length per element).
 * Numeric outputs are sized from their shape, without touching the data.
 */
function rawBytes(t: ort.Tensor): number {
  if (t.type !== 'string') return t.size * (ELEMENT_BYTES[t.type] ?? 8);
  let n = 0;
  for (const s of t.data as string[]) n += 4 + Buffer.byteLength(s, 'utf8');
  return n;
}

const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  float32: 4, float64: 8, float16: 2, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8, bool: 1,
};

/**
 * Fail a run whose largest request would get more than --max-response-bytes of
 * outputs. Runs here, on the worker, so the bytes never cross to the main thread;
 * the caller disposes the outputs and they are garbage once this throws. A request's
 * share of a batch's outputs is its rows' share (BYTES elements vary in length, so
 * for them it is an estimate).
 */
function checkResponseSize(result: Outputs, outputs: readonly string[], rows: number, largest: number): void {
  if (maxResponseBytes === Infinity) return;
  let total = 0;
  for (const name of outputs) {
    const t = result[name];
    if (t !== undefined) total += rawBytes(t);
  }
  const share = rows > 0 && largest > 0 && largest < rows ? Math.ceil((total * largest) / rows) : total;
  if (share > maxResponseBytes) throw new ResponseTooLarge(share, maxResponseBytes);
}

/** Models larger than this (the version folder's files) get no solo session: it would double their memory. */
const SOLO_MAX_BYTES = 128 * 1024 * 1024;

function create(spec: SessionSpec, intraOpThreads: number): Promise<Session> {
  const st = spec.settings;
  return createSession(spec.path, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: st.interOpThreads,
    executionMode: st.executionMode,
    graphOptimizationLevel: st.graphOptimizationLevel,
    enableCpuMemArena: st.enableMemArena,
    enableMemPattern: st.enableMemPattern,
    executionProviders: st.providers,
    // ORT's pool threads spin inside a run (what makes two threads pay off, see
    // soloSession) and, by default, keep spinning after it returns: ~24 ms of CPU in
    // the 100 ms after each run of the lagged fixture with 2 intra-op threads, 0.5 ms
    // with this set. That tail landed on the next request, usually another model's
    // at concurrency 1, and made a canary's baseline look as slow as the canary
    // (test/routing/e2e.test.ts 'a slow canary is rolled back on p99').
    ...(intraOpThreads > 1 ? { extra: { session: { force_spinning_stop: '1' } } } : {}),
  });
}

/** The spec each key's sessions were made from, to remake them (see renewSessions). */
const specs = new Map<string, SessionSpec>();

function session(spec: SessionSpec): Promise<Session> {
  let s = sessions.get(spec.key);
  if (s === undefined) {
    specs.set(spec.key, spec);
    s = create(spec, spec.settings.intraOpThreads);
    sessions.set(spec.key, s);
    // A failed create must not poison the key: the next load retries it.
    s.catch(() => sessions.delete(spec.key));
  }
  return s;
}

function folderBytes(modelPath: string): number {
  try {
    const dir = dirname(modelPath);
    let n = 0;
    for (const f of readdirSync(dir)) {
      const st = statSync(join(dir, f));
      if (st.isFile()) n += st.size;
    }
    return n;
  } catch {
    return Infinity;
  }
}

/**
 * The instance's solo session: the same model with `soloIntraOpThreads` intra-op
 * threads, for runs that have the server to themselves (the channel worker decides).
 * Measured on the bundled cnn (2 cores): a batch-1 run takes 1.3 ms with two threads
 * against 2.0 ms with one, but only with ONNX Runtime's thread spinning on (without
 * it 1.8-2.0 ms: waking the second thread costs what it saves), so it is a separate
 * session used only at concurrency 1, where the spinning costs nobody anything.
 * None for large models (memory) or when the settings ask for none.
 */
async function soloSession(spec: SessionSpec): Promise<void> {
  const n = spec.settings.soloIntraOpThreads;
  if (!(n > spec.settings.intraOpThreads) || solos.has(spec.key) || folderBytes(spec.path) > SOLO_MAX_BYTES) return;
  const s = create(spec, n);
  solos.set(spec.key, s);
  // The plain session serves alone if this one cannot be made.
  await s.catch(() => { solos.delete(spec.key); });
}

/**
 * Release a key's sessions and make them again. After a run refused by
 * --max-response-bytes: ONNX Runtime allocated that output in the session's memory
 * arena, which keeps the space for good, so without this one oversized answer would
 * hold its size in this thread forever. Runs on this thread are serial (the channel
 * loop awaits each), so nothing else is using the sessions meanwhile.
 */
export async function renewSessions(key: string): Promise<void> {
  const spec = specs.get(key);
  const old = sessions.get(key);
  const oldSolo = solos.get(key);
  if (spec === undefined || old === undefined) return;
  sessions.delete(key);
  solos.delete(key);
  await old.then((s) => s.release(), () => undefined);
  await oldSolo?.then((s) => s.release(), () => undefined);
  await session(spec).catch(() => undefined);
  await soloSession(spec);
}

function tensorInfo(m: ValueMetadata): OnnxTensorInfo {
  if (!m.isTensor) return { name: m.name, data_type: 'TYPE_INVALID', dims: [] };
  return {
    name: m.name,
    data_type: configTypeFromOrt(m.type),
    dims: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

function modelInfo(s: Session): OnnxModelInfo {
  return { inputs: s.inputMetadata.map(tensorInfo), outputs: s.outputMetadata.map(tensorInfo) };
}

/** A typed-array view of `d` with `size`-byte elements; copied when its offset is not aligned for them. */
function aligned(d: Uint8Array, size: number): [ArrayBufferLike, number, number] {
  if (d.byteOffset % size === 0) return [d.buffer, d.byteOffset, d.byteLength / size];
  return [d.slice().buffer, 0, d.byteLength / size];
}

function toOrt(t: RunTensor): ort.Tensor {
  const type = ORT_TYPE[t.datatype];
  if (type === undefined) throw new InvalidArgument(`datatype ${t.datatype} of input '${t.name}' is not supported by ONNX Runtime`);
  const d = t.data;
  switch (type) {
    case 'string': {
      const parts = splitBytes(d, t.name);
      const strs = new Array<string>(parts.length);
      for (let i = 0; i < parts.length; i++) strs[i] = utf8.decode(parts[i]);
      return new ort.Tensor('string', strs, t.shape);
    }
    case 'float32': return new ort.Tensor(type, new Float32Array(...aligned(d, 4)), t.shape);
    case 'float64': return new ort.Tensor(type, new Float64Array(...aligned(d, 8)), t.shape);
    case 'float16': return new ort.Tensor(type, new Uint16Array(...aligned(d, 2)), t.shape);
    case 'int8': return new ort.Tensor(type, new Int8Array(d.buffer, d.byteOffset, d.byteLength), t.shape);
    case 'int16': return new ort.Tensor(type, new Int16Array(...aligned(d, 2)), t.shape);
    case 'int32': return new ort.Tensor(type, new Int32Array(...aligned(d, 4)), t.shape);
    case 'int64': return new ort.Tensor(type, new BigInt64Array(...aligned(d, 8)), t.shape);
    case 'uint8': return new ort.Tensor(type, d, t.shape);
    case 'uint16': return new ort.Tensor(type, new Uint16Array(...aligned(d, 2)), t.shape);
    case 'uint32': return new ort.Tensor(type, new Uint32Array(...aligned(d, 4)), t.shape);
    case 'uint64': return new ort.Tensor(type, new BigUint64Array(...aligned(d, 8)), t.shape);
    case 'bool': return new ort.Tensor(type, d, t.shape);
  }
}

/** Raw layout of one ONNX Runtime output (a view of ONNX Runtime's buffer when possible, no copy). */
function rawOutput(name: string, t: ort.Tensor): RunTensor {
  const datatype = dataTypeFromOrt(t.type);
  if (datatype === undefined) throw new InvalidArgument(`output '${name}' has ONNX type ${t.type}, which has no Triton datatype`);
  const shape = t.dims.slice();
  if (datatype === 'BYTES') {
    const strs = t.data as string[];
    const parts = new Array<Uint8Array>(strs.length);
    for (let i = 0; i < strs.length; i++) parts[i] = utf8Encoder.encode(strs[i]);
    return { name, datatype, shape, data: joinBytes(parts) };
  }
  const view = t.data as unknown as Uint8Array;
  return { name, datatype, shape, data: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) };
}

/**
 * Run a session. `emit` turns the raw outputs into the caller's form (copied into the
 * shared slot, or made transferable) before ONNX Runtime's tensors are disposed; its
 * time counts as output time.
 */
export async function execute<T>(
  s: Session, inputs: readonly RunTensor[], outputs: readonly string[],
  emit: (outs: RunTensor[], inputNs: number, inferNs: number, t2: bigint) => T,
  rows = 1, largest = 1,
): Promise<T> {
  const t0 = process.hrtime.bigint();
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of inputs) feeds[inp.name] = toOrt(inp);
  const t1 = process.hrtime.bigint();
  // Synchronous on a direct session (./session.ts): no event-loop turn per run.
  const ran = s.run(feeds, outputs);
  const result = ran instanceof Promise ? await ran : ran;
  const t2 = process.hrtime.bigint();
  const outs: RunTensor[] = [];
  try {
    checkResponseSize(result, outputs, rows, largest);
    for (const name of outputs) {
      const t = result[name];
      if (t === undefined) throw new InvalidArgument(`model did not produce output '${name}'`);
      outs.push(rawOutput(name, t));
    }
    return emit(outs, Number(t1 - t0), Number(t2 - t1), t2);
  } finally {
    for (const name in result) result[name]!.dispose();
  }
}

/**
 * Outputs made transferable: a view spanning its whole (non-shared) buffer moves as
 * is, anything else is copied once. `solo`: which session ran (see RunTiming).
 */
export function toWire(outs: RunTensor[], inputNs: number, inferNs: number, t2: bigint, solo = false): RunResult {
  const outputs: RunTensor[] = outs.map((o) => {
    const v = o.data;
    const whole = v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer;
    return whole ? o : { name: o.name, datatype: o.datatype, shape: o.shape, data: v.slice() };
  });
  return { ok: true, outputs, timing: { inputNs, inferNs, outputNs: Number(process.hrtime.bigint() - t2), solo } };
}

async function run(task: RunTask): Promise<RunResult> {
  const s = await session(task.spec);
  const rows = task.rows;
  const largest = task.largest;
  const seq = task.seq;
  try {
    if (seq === undefined) return await execute(s, task.inputs, task.outputs, toWire, rows, largest);
    // A sequence batch: the implicit state joins the inputs here and its outputs stay here.
    const key = task.spec.key;
    const inputs = task.inputs.slice();
    const outputs = task.outputs.slice();
    addStateInputs(key, seq, inputs, outputs);
    return await execute(s, inputs, outputs, (outs, inputNs, inferNs, t2) =>
      toWire(keepStateOutputs(key, seq, outs), inputNs, inferNs, t2), rows, largest);
  } catch (err) {
    if (err instanceof ResponseTooLarge) await renewSessions(task.spec.key);
    throw err;
  }
}

/** A session this worker already holds (created or being created), by key. */
export function existingSession(key: string): Promise<Session> | undefined {
  return sessions.get(key);
}

/** The solo session for a key, when this worker made one (see soloSession). */
export function existingSolo(key: string): Promise<Session> | undefined {
  return solos.get(key);
}

export type TaskResult = LoadResult | RunResult | UnloadResult | ListResult | StateFreeResult | FailedResult;

/** Serve one task; errors come back as data. `transfer` lists the buffers to move with the result. */
export async function serve(task: WorkerTask): Promise<{ result: TaskResult; transfer: ArrayBuffer[] }> {
  try {
    switch (task.op) {
      case 'run': {
        const r = await run(task);
        return { result: r, transfer: transferList(r.outputs) };
      }
      case 'load': {
        const info = modelInfo(await session(task.spec));
        await soloSession(task.spec);
        return { result: { ok: true, info, threadId }, transfer: [] };
      }
      case 'unload': {
        const s = sessions.get(task.key);
        const solo = solos.get(task.key);
        sessions.delete(task.key);
        solos.delete(task.key);
        dropSessionState(task.key);
        specs.delete(task.key);
        if (s !== undefined) await (await s).release();
        if (solo !== undefined) await solo.then((x) => x.release(), () => undefined);
        return { result: { ok: true, released: s !== undefined }, transfer: [] };
      }
      case 'state-free':
        return { result: { ok: true, freed: freeState(task.key, task.slots) }, transfer: [] };
      case 'list':
        return { result: { ok: true, keys: [...sessions.keys()], soloKeys: [...solos.keys()], threadId }, transfer: [] };
      case 'exit':
        // Test-only: simulate a crash of this worker thread.
        process.exit(task.code);
    }
  } catch (err) {
    return { result: { ok: false, error: toErrorData(err) }, transfer: [] };
  }
}
