/**
 * One ONNX Runtime session on a worker thread, run synchronously.
 *
 * onnxruntime-node's `InferenceSession.run` returns a promise and calls its native
 * binding from a `setImmediate`, so every run costs the worker an event-loop turn
 * (an epoll_wait and the loop's phases) on top of onnxruntime-common's wrapping.
 * Measured here (Node 20, the bundled tabular MLP, batch 1, 20,000 runs): 12.0-13.4
 * us per `await session.run(...)` against 5.5-5.7 us for the binding's own `run` on
 * the same model. A worker thread exists to block in ONNX Runtime, so for CPU
 * sessions this calls the binding directly: the same native object
 * `InferenceSession.create` builds (onnxruntime-node's `dist/binding.js`, loaded
 * once and initialised as onnxruntime-node does), with the same options, and the two
 * checks onnxruntime-common makes before a run (feeds complete, fetches known),
 * with its error texts. Where the binding is not shaped as expected (another
 * onnxruntime-node version) or the session asks for other execution providers
 * (CUDA: onnxruntime-node's own path handles their options), sessions come from the
 * public API and runs are awaited as before.
 */
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

export type Outputs = Record<string, ort.Tensor>;
export type ValueMetadata = ort.InferenceSession.ValueMetadata;

/** The binding's session object (onnxruntime-node 1.2x-1.30's `binding.InferenceSession`). */
interface NativeSession {
  loadModel(path: string, options: ort.InferenceSession.SessionOptions): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): Record<string, unknown>;
  dispose(): void;
  readonly inputMetadata: readonly RawMetadata[];
  readonly outputMetadata: readonly RawMetadata[];
}

interface RawMetadata {
  name: string;
  isTensor: boolean;
  type: number;
  shape: readonly number[];
  symbolicDimensions: readonly string[];
}

interface Binding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

/** ONNX's TensorProto element types, as the binding reports them, in onnxruntime-common's names. */
const ELEMENT_TYPES: Readonly<Record<number, ort.Tensor.Type>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 21: 'uint4', 22: 'int4',
};

function loadBinding(): Binding | undefined {
  try {
    const b = createRequire(import.meta.url)('onnxruntime-node/dist/binding.js') as Partial<Binding>;
    const proto = (b.binding?.InferenceSession as { prototype?: Partial<NativeSession> } | undefined)?.prototype;
    if (typeof b.initOrt !== 'function' || typeof proto?.run !== 'function' || typeof proto.loadModel !== 'function' || typeof proto.dispose !== 'function') return undefined;
    return b as Binding;
  } catch {
    return undefined;
  }
}

let nativeBinding: Binding | undefined | null = null;

function theBinding(): Binding | undefined {
  if (nativeBinding === null) nativeBinding = loadBinding();
  return nativeBinding;
}

function metadata(raw: readonly RawMetadata[]): ValueMetadata[] {
  return raw.map((m): ValueMetadata => {
    if (!m.isTensor) return { name: m.name, isTensor: false };
    const type = ELEMENT_TYPES[m.type];
    if (type === undefined) throw new Error(`Unsupported data type: ${m.type}`);
    const shape = m.shape.map((d, i) => (d === -1 ? m.symbolicDimensions[i]! : d));
    return { name: m.name, isTensor: true, type, shape };
  });
}

export interface Session {
  /** True when runs call the binding synchronously (see the header). */
  readonly direct: boolean;
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** Run; synchronous (an object) on a direct session, a promise on a public-API one. */
  run(feeds: Record<string, ort.Tensor>, outputs: readonly string[]): Outputs | Promise<Outputs>;
  release(): Promise<void>;
}

/** A session on the binding, run synchronously (see the header). */
class DirectSession implements Session {
  readonly direct = true;
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  readonly #native: NativeSession;
  readonly #inputNames: readonly string[];
  readonly #outputNames: ReadonlySet<string>;
  /** The fetches object of the last run, reused while the same outputs are asked for. */
  #fetches: Record<string, null> = {};
  #fetchesFor: readonly string[] = [];

  constructor(native: NativeSession) {
    this.#native = native;
    this.inputMetadata = metadata(native.inputMetadata);
    this.outputMetadata = metadata(native.outputMetadata);
    this.#inputNames = this.inputMetadata.map((m) => m.name);
    this.#outputNames = new Set(this.outputMetadata.map((m) => m.name));
  }

  run(feeds: Record<string, ort.Tensor>, outputs: readonly string[]): Outputs {
    // onnxruntime-common's checks, with its texts: the binding's own errors for these
    // are an ONNX Runtime kernel's ("Missing Input: ...") or a generic one.
    for (const name of this.#inputNames) {
      if (feeds[name] === undefined) throw new Error(`input '${name}' is missing in 'feeds'.`);
    }
    const out = this.#native.run(feeds, this.#fetchesOf(outputs), {});
    // The binding makes Tensors itself (initOrt gave it the class); older ones return plain objects.
    for (const name in out) {
      const v = out[name];
      if (!(v instanceof ort.Tensor)) out[name] = new ort.Tensor(...tensorArgs(v));
    }
    return out as Outputs;
  }

  #fetchesOf(outputs: readonly string[]): Record<string, null> {
    const last = this.#fetchesFor;
    if (last.length === outputs.length && last.every((n, i) => n === outputs[i])) return this.#fetches;
    const fetches: Record<string, null> = {};
    for (const name of outputs) {
      if (!this.#outputNames.has(name)) throw new Error(`'fetches' contains invalid output name: ${name}.`);
      fetches[name] = null;
    }
    this.#fetches = fetches;
    this.#fetchesFor = outputs.slice();
    return fetches;
  }

  release(): Promise<void> {
    this.#native.dispose();
    return Promise.resolve();
  }
}

/** A plain-object output ({type, data, dims}, what older bindings return) as Tensor constructor arguments. */
function tensorArgs(v: unknown): [ort.Tensor.Type, ort.Tensor.DataType, readonly number[]] {
  const o = v as { type: ort.Tensor.Type; data: ort.Tensor.DataType; dims: readonly number[] };
  return [o.type, o.data, o.dims];
}

/** A session from onnxruntime-node's public API (runs awaited). */
class PublicSession implements Session {
  readonly direct = false;
  readonly #s: ort.InferenceSession;

  constructor(s: ort.InferenceSession) {
    this.#s = s;
  }

  get inputMetadata(): readonly ValueMetadata[] { return this.#s.inputMetadata; }
  get outputMetadata(): readonly ValueMetadata[] { return this.#s.outputMetadata; }

  run(feeds: Record<string, ort.Tensor>, outputs: readonly string[]): Promise<Outputs> {
    return this.#s.run(feeds, outputs as string[]);
  }

  release(): Promise<void> {
    return this.#s.release();
  }
}

/** Only CPU sessions go direct: other providers' options are onnxruntime-node's to resolve. */
export function cpuOnly(options: ort.InferenceSession.SessionOptions): boolean {
  const eps = options.executionProviders;
  return eps === undefined || eps.every((ep) => (typeof ep === 'string' ? ep : ep.name) === 'cpu');
}

/** Create a session: direct on the binding for CPU, else through the public API. */
export async function createSession(path: string, options: ort.InferenceSession.SessionOptions): Promise<Session> {
  const b = cpuOnly(options) ? theBinding() : undefined;
  if (b === undefined) return new PublicSession(await ort.InferenceSession.create(path, options));
  b.initOrt();
  const native = new b.binding.InferenceSession();
  native.loadModel(path, options);
  return new DirectSession(native);
}
