/**
 * Tensors of a sequence batch, built on the main thread from the scheduler's rows:
 * the requests' inputs row by row (an empty slot gets zeros / empty strings), the
 * control tensors per row (START, END, READY, CORRID), and the split of the outputs
 * back to the rows' requests. The implicit state is not here: the worker adds it.
 */
import { joinBytes, splitBytes } from '../codec/raw.js';
import { configDataTypeToWire } from '../config/datatype.js';
import type { ModelConfig, SequenceControlInputConfig } from '../config/model-config.js';
import { controlTensorType } from '../config/sequence.js';
import type { PreparedInput } from './prepare.js';
import { Internal } from '../errors/errors.js';
import type { Tensor } from '../types/tensor.js';
import type { RunInput, RunTensor } from '../types/run.js';
import type { CorrId, SeqRow } from '../batching/sequence-types.js';

const utf8 = new TextEncoder();

/** What a row needs to carry its request's inputs. */
export interface RowInputs { readonly inputs: readonly PreparedInput[] }

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** The requests' inputs, one row per batch row; `batched`: the model has a batch dim. */
export function rowInputs<T extends RowInputs>(rows: readonly SeqRow<T>[], batched: boolean): RunInput[] {
  const first = rows.find((r) => r.item !== undefined)!.item!;
  const out: RunInput[] = [];
  for (let i = 0; i < first.inputs.length; i++) {
    const proto = first.inputs[i]!;
    const rowShape = batched ? proto.shape.slice(1) : proto.shape;
    // The rows' own bytes: the executor writes them into the run once (see RunInput).
    const parts: Uint8Array[] = rows.map((r) => r.item?.inputs[i]!.data ?? emptyRow(proto, rowShape));
    out.push({ name: proto.name, datatype: proto.datatype, shape: batched ? [rows.length, ...rowShape] : rowShape.slice(), parts });
  }
  return out;
}

/** An empty slot's row: zeros, or empty strings (a zero uint32 length each) for BYTES. */
function emptyRow(proto: PreparedInput, rowShape: readonly number[]): Uint8Array {
  if (proto.datatype === 'BYTES') return new Uint8Array(4 * count(rowShape));
  return new Uint8Array(proto.data.byteLength);
}

/** One control tensor per control input: shape [rows, 1] (or [1] without a batch dim). */
export function controlInputs<T>(
  controls: readonly SequenceControlInputConfig[], rows: readonly SeqRow<T>[], batched: boolean,
): RunInput[] {
  const n = rows.length;
  const shape = batched ? [n, 1] : [1];
  return controls.map((ci) => {
    const c = ci.control[0]!;
    const type = configDataTypeToWire(controlTensorType(c));
    if (c.kind === 'CONTROL_SEQUENCE_CORRID') {
      return { name: ci.name, datatype: type, shape, parts: [corrIdBytes(type, rows.map((r) => r.corrId))] };
    }
    const on = (r: SeqRow<T>): boolean =>
      c.kind === 'CONTROL_SEQUENCE_START' ? r.start
        : c.kind === 'CONTROL_SEQUENCE_END' ? r.end
          : r.item !== undefined; // READY
    let buffer: ArrayBuffer;
    if (type === 'INT32') {
      const [f, t] = c.int32_false_true as [number, number];
      buffer = Int32Array.from(rows, (r) => (on(r) ? t : f)).buffer;
    } else if (type === 'FP32') {
      const [f, t] = c.fp32_false_true as [number, number];
      buffer = Float32Array.from(rows, (r) => (on(r) ? t : f)).buffer;
    } else {
      const [f, t] = c.bool_false_true as [boolean, boolean];
      buffer = Uint8Array.from(rows, (r) => ((on(r) ? t : f) ? 1 : 0)).buffer;
    }
    return { name: ci.name, datatype: type, shape, parts: [new Uint8Array(buffer)] };
  });
}

/** CORRID values in the control's type; an empty slot carries 0 / ''. */
function corrIdBytes(type: string, ids: readonly (CorrId | undefined)[]): Uint8Array {
  const num = (id: CorrId | undefined): bigint => (typeof id === 'bigint' ? id : 0n);
  switch (type) {
    case 'UINT64': return new Uint8Array(BigUint64Array.from(ids, (id) => num(id)).buffer);
    case 'INT64': return new Uint8Array(BigInt64Array.from(ids, (id) => BigInt.asIntN(64, num(id))).buffer);
    // 32-bit CORRID: the low 32 bits of the id (Triton).
    case 'UINT32': return new Uint8Array(Uint32Array.from(ids, (id) => Number(BigInt.asUintN(32, num(id)))).buffer);
    case 'INT32': return new Uint8Array(Int32Array.from(ids, (id) => Number(BigInt.asIntN(32, num(id)))).buffer);
    case 'BYTES': return joinBytes(ids.map((id) => utf8.encode(typeof id === 'string' ? id : '')));
    default: throw new Internal(`CORRID of type ${type}`);
  }
}

/**
 * The batch's outputs cut back into rows: `rowOf[k]` is the batch row of the k-th
 * request; each request gets its requested outputs, in its order, with batch dim 1.
 */
export function splitRows(
  cfg: Readonly<ModelConfig>, outputs: readonly RunTensor[], rowCount: number,
  requests: readonly { readonly outputs: readonly { name: string }[] }[], rowOf: readonly number[],
): Tensor[][] {
  const batched = cfg.max_batch_size > 0;
  const byName = new Map<string, (row: number) => Tensor>();
  for (const o of outputs) {
    if (batched && o.shape[0] !== rowCount) throw new Internal(`output '${o.name}' has batch dimension ${o.shape[0]}, expected ${rowCount}`);
    const oc = cfg.output.find((x) => x.name === o.name);
    const rest = oc?.reshape !== undefined ? oc.dims : o.shape.slice(batched ? 1 : 0);
    const shape = batched ? [1, ...rest] : rest;
    if (!batched) {
      byName.set(o.name, () => ({ name: o.name, datatype: o.datatype, shape, data: o.data }));
    } else if (o.datatype === 'BYTES') {
      const elems = splitBytes(o.data, o.name);
      const per = elems.length / rowCount;
      byName.set(o.name, (row) => ({ name: o.name, datatype: o.datatype, shape, data: joinBytes(elems.slice(row * per, (row + 1) * per)) }));
    } else {
      const d = o.data;
      const rowBytes = d.byteLength / rowCount;
      byName.set(o.name, (row) => ({ name: o.name, datatype: o.datatype, shape, data: d.subarray(row * rowBytes, (row + 1) * rowBytes) }));
    }
  }
  return requests.map((req, k) => req.outputs.map((want) => {
    const cut = byName.get(want.name);
    if (cut === undefined) throw new Internal(`model did not produce output '${want.name}'`);
    return cut(rowOf[k]!);
  }));
}
