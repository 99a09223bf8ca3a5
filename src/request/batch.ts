/**
 * Turn a batch of queued requests into one ONNX Runtime run and back. The batch's
 * inputs are handed to the executor as the requests' own bytes (`RunInput` parts),
 * not joined here: the executor writes them once, straight into the worker's shared
 * slot (or, too large for one, into the buffer that travels by port). Outputs come
 * back in one buffer and are handed to each request as views (fixed-size types)
 * into it, not copied again.
 */
import { joinBytes, splitBytes } from '../codec/raw.js';
import type { ModelConfig } from '../config/model-config.js';
import { Internal } from '../errors/errors.js';
import type { Tensor } from '../types/tensor.js';
import type { RunInput, RunTensor, RunTiming } from '../types/run.js';
import type { PendingInfer, PendingResult } from './pending.js';

/** Rows in one model run: the sum of the requests' batch sizes (1 for a non-batching model). */
export function batchRows(cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[]): number {
  if (cfg.max_batch_size === 0) return 1;
  let n = 0;
  for (const p of batch) n += p.batchSize;
  return n;
}

/**
 * The batch's inputs along dim 0: per input, the requests' bytes in batch order. No
 * copy here (see the header); the parts are views into the requests' bodies or
 * messages, valid until the batch is answered.
 */
export function assembleInputs(cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[], total: number): RunInput[] {
  const first = batch[0]!;
  const out: RunInput[] = [];
  for (let i = 0; i < first.inputs.length; i++) {
    const proto = first.inputs[i]!;
    const parts = new Array<Uint8Array>(batch.length);
    for (let r = 0; r < batch.length; r++) parts[r] = batch[r]!.inputs[i]!.data;
    const shape = cfg.max_batch_size > 0 ? [total, ...proto.shape.slice(1)] : proto.shape;
    out.push({ name: proto.name, datatype: proto.datatype, shape, parts });
  }
  return out;
}

/** Names of every output any request of the batch asked for, in config order. */
export function batchOutputNames(cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[]): string[] {
  if (batch.length === 1) return batch[0]!.outputs.map((o) => o.name);
  const wanted = new Set<string>();
  for (const p of batch) for (const o of p.outputs) wanted.add(o.name);
  return cfg.output.filter((o) => wanted.has(o.name)).map((o) => o.name);
}

function reportedShape(cfg: Readonly<ModelConfig>, name: string, shape: number[], rows: number): number[] {
  const oc = cfg.output.find((o) => o.name === name);
  const rest = oc?.reshape !== undefined ? oc.dims : shape.slice(cfg.max_batch_size > 0 ? 1 : 0);
  return cfg.max_batch_size > 0 ? [rows, ...rest] : rest;
}

/** Split the batch's outputs back into one result per request (same order as batch). */
export function splitOutputs(
  cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[], total: number, outputs: RunTensor[], timing: RunTiming, startedAt: number,
): PendingResult[] {
  const batched = cfg.max_batch_size > 0;
  const perRequest: Tensor[][] = batch.map(() => []);
  for (const o of outputs) {
    if (batched && o.shape[0] !== total) throw new Internal(`output '${o.name}' has batch dimension ${o.shape[0]}, expected ${total}`);
    if (o.datatype === 'BYTES') {
      const elems = splitBytes(o.data, o.name);
      const perRow = elems.length / total;
      let e = 0;
      for (let r = 0; r < batch.length; r++) {
        const rows = batched ? batch[r]!.batchSize : 1;
        const data = batch.length === 1 ? o.data : joinBytes(elems.slice(e, e + rows * perRow));
        e += rows * perRow;
        perRequest[r]!.push({ name: o.name, datatype: o.datatype, shape: reportedShape(cfg, o.name, o.shape, rows), data });
      }
    } else {
      const d = o.data;
      const rowBytes = d.byteLength / total;
      let off = d.byteOffset;
      for (let r = 0; r < batch.length; r++) {
        const rows = batched ? batch[r]!.batchSize : 1;
        const len = rows * rowBytes;
        perRequest[r]!.push({ name: o.name, datatype: o.datatype, shape: reportedShape(cfg, o.name, o.shape, rows), data: new Uint8Array(d.buffer, off, len) });
        off += len;
      }
    }
  }
  // Triton attributes a batch's compute time to each request in full (per-request
  // durations then sum to more than wall time under batching); we do the same so
  // perf_analyzer's split reads like Triton's.
  return batch.map((p, r) => ({
    outputs: perRequest[r]!,
    queueNs: Math.max(0, Math.round((startedAt - p.enqueuedAt) * 1e6)),
    computeInputNs: timing.inputNs,
    computeInferNs: timing.inferNs,
    computeOutputNs: timing.outputNs,
  }));
}
