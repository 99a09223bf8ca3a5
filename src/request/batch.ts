/**
 * Turn a batch of queued requests into one ONNX Runtime run and back. Each input's
 * bytes are written once into the batch's contiguous buffer, which is transferred to
 * the worker; outputs come back transferred and are handed to each request as views
 * (fixed-size types) into the one output buffer, not copied again.
 */
import { joinBytes, splitBytes } from '../codec/raw.js';
import type { ModelConfig } from '../config/model-config.js';
import { Internal } from '../errors/errors.js';
import type { Tensor } from '../types/tensor.js';
import type { RunTiming, WireTensor } from '../types/run.js';
import type { PendingInfer, PendingResult } from './pending.js';

/** Rows in one model run: the sum of the requests' batch sizes (1 for a non-batching model). */
export function batchRows(cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[]): number {
  if (cfg.max_batch_size === 0) return 1;
  let n = 0;
  for (const p of batch) n += p.batchSize;
  return n;
}

/**
 * Concatenate the batch's inputs along dim 0, each into one fresh buffer: a single
 * request is copied too, since the buffer is handed (transferred) to the worker while
 * the request's data is a view into a body or message that stays the caller's.
 */
export function assembleInputs(cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[], total: number): WireTensor[] {
  const first = batch[0]!;
  const out: WireTensor[] = [];
  for (let i = 0; i < first.inputs.length; i++) {
    const proto = first.inputs[i]!;
    let bytes = 0;
    for (const p of batch) bytes += p.inputs[i]!.data.byteLength;
    const buffer = new ArrayBuffer(bytes);
    const dst = new Uint8Array(buffer);
    let off = 0;
    for (const p of batch) { dst.set(p.inputs[i]!.data, off); off += p.inputs[i]!.data.byteLength; }
    const shape = cfg.max_batch_size > 0 ? [total, ...proto.shape.slice(1)] : proto.shape;
    out.push({ name: proto.name, datatype: proto.datatype, shape, buffer });
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
  cfg: Readonly<ModelConfig>, batch: readonly PendingInfer[], total: number, outputs: WireTensor[], timing: RunTiming, startedAt: number,
): PendingResult[] {
  const batched = cfg.max_batch_size > 0;
  const perRequest: Tensor[][] = batch.map(() => []);
  for (const o of outputs) {
    if (batched && o.shape[0] !== total) throw new Internal(`output '${o.name}' has batch dimension ${o.shape[0]}, expected ${total}`);
    if (o.datatype === 'BYTES') {
      const elems = splitBytes(new Uint8Array(o.buffer), o.name);
      const perRow = elems.length / total;
      let e = 0;
      for (let r = 0; r < batch.length; r++) {
        const rows = batched ? batch[r]!.batchSize : 1;
        const data = batch.length === 1 ? new Uint8Array(o.buffer) : joinBytes(elems.slice(e, e + rows * perRow));
        e += rows * perRow;
        perRequest[r]!.push({ name: o.name, datatype: o.datatype, shape: reportedShape(cfg, o.name, o.shape, rows), data });
      }
    } else {
      const rowBytes = o.buffer.byteLength / total;
      let off = 0;
      for (let r = 0; r < batch.length; r++) {
        const rows = batched ? batch[r]!.batchSize : 1;
        const len = rows * rowBytes;
        perRequest[r]!.push({ name: o.name, datatype: o.datatype, shape: reportedShape(cfg, o.name, o.shape, rows), data: new Uint8Array(o.buffer, off, len) });
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
