/**
 * What one model run hands across a thread and gets back, and where a worker finds
 * the model: here, below the request model, the executor and the worker, so none
 * of them has to import another to agree on them.
 */
import type { DataType } from './tensor.js';

/**
 * The one shape of a tensor that crosses between the main thread and a worker
 * thread, both ways: inputs as the worker reads them out of the shared slot or a
 * port message, outputs as the worker writes them and the main thread reads them
 * back. `data` holds Triton's raw layout (see ./tensor.ts); it may view a larger
 * buffer. When it travels by port its buffer is transferred, not copied.
 */
export interface RunTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Uint8Array;
}

/**
 * A batch input as the main thread hands it to the executor: the rows of the
 * batch's requests, in order, not yet joined. The executor writes them once,
 * straight into the worker's shared slot, or (too large for a slot) into one fresh
 * buffer that is transferred with a port message; either way no intermediate copy.
 * The parts must stay valid until the run is answered.
 */
export interface RunInput {
  name: string;
  datatype: DataType;
  shape: number[];
  parts: readonly Uint8Array[];
}

/** Bytes of a batch input (the sum of its parts). */
export function runInputBytes(t: RunInput): number {
  let n = 0;
  for (const p of t.parts) n += p.byteLength;
  return n;
}

/** Join a batch input's parts into one fresh tensor (the port path: its buffer is transferred). */
export function joinRunInput(t: RunInput): RunTensor {
  const data = new Uint8Array(runInputBytes(t));
  let off = 0;
  for (const p of t.parts) { data.set(p, off); off += p.byteLength; }
  return { name: t.name, datatype: t.datatype, shape: t.shape, data };
}

/**
 * A run's timing as the worker measured it: ns feeding inputs, in
 * InferenceSession.run, and reading outputs; `solo` when it ran on the instance's
 * solo session (more intra-op threads, see SessionSettings).
 */
export interface RunTiming { inputNs: number; inferNs: number; outputNs: number; solo: boolean }

export interface SessionSettings {
  intraOpThreads: number;
  interOpThreads: number;
  executionMode: 'sequential' | 'parallel';
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  enableMemArena: boolean;
  enableMemPattern: boolean;
  /** Execution providers in preference order, e.g. ['cuda', 'cpu']. */
  providers: string[];
  /**
   * Intra-op threads of the instance's second, "solo" session, used for a run that
   * has the server to itself (concurrency 1); 0 = no solo session.
   */
  soloIntraOpThreads: number;
}

/** Where a worker finds a model: enough to (re)create the session on any worker. */
export interface SessionSpec {
  key: string;
  path: string;
  settings: SessionSettings;
}

/** One implicit state of a sequence model (config `sequence_batching.state`). */
export interface StateSpec {
  input: string;
  output: string;
  datatype: DataType;
  /** Shape of one row's value at START (zeros), without the batch dimension. */
  initialDims: number[];
}

/**
 * A sequence batch: which slot each row is (the key its state is kept under in the
 * worker), and what to do with that state. The state never leaves the worker: it is
 * fed into the state input of the row's next run and replaced by its state output.
 */
export interface SequenceRun {
  states: StateSpec[];
  /** Whether the model has a batch dimension (max_batch_size > 0). */
  batched: boolean;
  rows: Array<{
    /** `<instance>/<slot>`: unique per version (the session key scopes it further). */
    slot: string;
    /** START: begin from the initial state. */
    start: boolean;
    /** The row holds a request (READY): only such rows update their state. */
    ready: boolean;
    /** END: drop the state after this run. */
    end: boolean;
  }>;
}
