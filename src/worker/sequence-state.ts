/**
 * Implicit sequence state, on the worker thread that runs the instance (never sent to
 * the main thread): per session key and slot, the last state output of the sequence
 * in that slot. Before a sequence run, each state input is assembled row by row (the
 * slot's stored value, or zeros at START or for an empty row); after it, the state
 * outputs of READY rows are stored back, END rows are dropped, and the state outputs
 * are removed from what goes back to the main thread.
 *
 * Runs on a worker thread; `inputs` buffers were transferred here.
 */
import { InvalidArgument } from '../errors/errors.js';
import type { DataType } from '../types/tensor.js';
import type { RunTensor, SequenceRun, StateSpec } from '../types/run.js';

interface Stored { bytes: Uint8Array; shape: number[] }

/** session key -> slot -> state name -> value. */
const states = new Map<string, Map<string, Map<string, Stored>>>();

const ELEMENT_BYTES: Partial<Record<DataType, number>> = {
  BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2,
  UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8,
};

function elementBytes(t: DataType): number {
  const n = ELEMENT_BYTES[t];
  if (n === undefined) throw new InvalidArgument(`sequence state of type ${t} is not supported`);
  return n;
}

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** The state inputs for this run, appended to `inputs`; the state outputs appended to `outputs`. */
export function addStateInputs(key: string, seq: SequenceRun, inputs: RunTensor[], outputs: string[]): void {
  const bySlot = states.get(key);
  for (const st of seq.states) {
    const rowValues: Stored[] = [];
    for (const r of seq.rows) {
      const stored = r.start || !r.ready ? undefined : bySlot?.get(r.slot)?.get(st.input);
      if (stored === undefined && r.ready && !r.start) {
        // The slot's state is gone (this worker was replaced after a crash): running on
        // zeros would silently give wrong answers.
        throw new InvalidArgument(`the state of this sequence was lost (worker restarted); start the sequence again`);
      }
      rowValues.push(stored ?? zeros(st));
    }
    const rowShape = rowValues[0]!.shape;
    for (const v of rowValues) {
      if (v.shape.length !== rowShape.length || v.shape.some((d, i) => d !== rowShape[i])) {
        // Rows of one batch must share a shape; a fixed-dims state always does.
        throw new InvalidArgument(`sequence state '${st.input}' has different shapes in one batch`);
      }
    }
    const rowBytes = rowValues[0]!.bytes.byteLength;
    const data = new Uint8Array(rowBytes * rowValues.length);
    for (let i = 0; i < rowValues.length; i++) data.set(rowValues[i]!.bytes, i * rowBytes);
    const shape = seq.batched ? [rowValues.length, ...rowShape] : rowShape.slice();
    inputs.push({ name: st.input, datatype: st.datatype, shape, data });
    outputs.push(st.output);
  }
}

function zeros(st: StateSpec): Stored {
  return { bytes: new Uint8Array(count(st.initialDims) * elementBytes(st.datatype)), shape: st.initialDims };
}

/**
 * Store the state outputs of READY rows under their slots, drop END rows' state, and
 * return `outputs` without the state outputs.
 */
export function keepStateOutputs(key: string, seq: SequenceRun, outputs: RunTensor[]): RunTensor[] {
  let bySlot = states.get(key);
  if (bySlot === undefined) { bySlot = new Map(); states.set(key, bySlot); }
  const stateOutputs = new Set(seq.states.map((s) => s.output));
  for (const st of seq.states) {
    const o = outputs.find((x) => x.name === st.output);
    if (o === undefined) throw new InvalidArgument(`model did not produce state output '${st.output}'`);
    const { data: bytes, shape } = o;
    const rows = seq.rows.length;
    const rowShape = seq.batched ? shape.slice(1) : shape.slice();
    const rowBytes = bytes.byteLength / rows;
    seq.rows.forEach((r, i) => {
      if (!r.ready || r.end) return;
      let m = bySlot!.get(r.slot);
      if (m === undefined) { m = new Map(); bySlot!.set(r.slot, m); }
      // A copy: ONNX Runtime's output buffer is released after this run.
      m.set(st.input, { bytes: bytes.slice(i * rowBytes, (i + 1) * rowBytes), shape: rowShape });
    });
  }
  for (const r of seq.rows) if (r.end) bySlot.delete(r.slot);
  return outputs.filter((o) => !stateOutputs.has(o.name));
}

/** Drop the state of some slots (idle release); returns how many held state. */
export function freeState(key: string, slots: readonly string[]): number {
  const bySlot = states.get(key);
  if (bySlot === undefined) return 0;
  let n = 0;
  for (const s of slots) if (bySlot.delete(s)) n++;
  return n;
}

/** Drop every state of a session (its version is unloaded). */
export function dropSessionState(key: string): void {
  states.delete(key);
}

/** Slots holding state for a session (tests). */
export function stateSlots(key: string): number {
  return states.get(key)?.size ?? 0;
}
