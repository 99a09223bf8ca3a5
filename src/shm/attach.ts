/**
 * One request's use of system shared memory: its inputs read from registered
 * regions, its outputs written into them. The data plane calls `attach` after the
 * model is resolved and before validation, `writeOutputs` with the answer, and
 * `release` when the request is done (answered or failed): until then the regions it
 * names stay mapped even if unregistered. Runs on the main thread.
 */
import { Internal, InvalidArgument } from '../errors/errors.js';
import type { InferenceRequest } from '../types/inference.js';
import { ELEMENT_SIZE, type ShmRef, type Tensor, elementCount } from '../types/tensor.js';
import type { Region, SharedMemoryManager } from './regions.js';

const EMPTY = new Uint8Array(0);

export class AttachedShm {
  readonly #held: Region[] = [];
  /** Output name -> where it goes (validated at attach). */
  readonly #outputs = new Map<string, { ref: ShmRef; target: Uint8Array }>();

  constructor(shm: SharedMemoryManager, req: InferenceRequest) {
    try {
      const id = req.id === '' ? '<id_unknown>' : req.id;
      for (let i = 0; i < req.inputs.length; i++) {
        const t = req.inputs[i]!;
        if (t.shm === undefined) continue;
        const data = this.#view(shm, t.shm);
        if (t.datatype !== 'BYTES') {
          const expected = elementCount(t.shape) * ELEMENT_SIZE[t.datatype];
          if (expected !== data.byteLength) {
            throw new InvalidArgument(`[request id: ${id}] input byte size mismatch for input '${t.name}' for model '${req.modelName}'. Expected ${expected}, got ${data.byteLength}`);
          }
        }
        // A view into the region: the batcher copies it into the batch (the one copy in).
        req.inputs[i] = { ...t, data };
      }
      for (const o of req.outputs ?? []) {
        if (o.shm !== undefined) this.#outputs.set(o.name, { ref: o.shm, target: this.#view(shm, o.shm) });
      }
    } catch (err) {
      this.release();
      throw err;
    }
  }

  #view(shm: SharedMemoryManager, ref: ShmRef): Uint8Array {
    const region = shm.acquire(ref.region);
    this.#held.push(region);
    return region.view(ref.offset, ref.byteSize);
  }

  /** Copies each shared-memory output into its region (the one copy out); the entry keeps name, datatype and shape. */
  writeOutputs(outputs: Tensor[]): Tensor[] {
    if (this.#outputs.size === 0) return outputs;
    const out = outputs.slice();
    for (let i = 0; i < out.length; i++) {
      const t = out[i]!;
      const dest = this.#outputs.get(t.name);
      if (dest === undefined) continue;
      if (t.data.byteLength > dest.target.byteLength) {
        throw new Internal(`shared memory size specified with the request for output '${t.name}' (${dest.target.byteLength} bytes) should be at least ${t.data.byteLength} bytes to hold the results`);
      }
      dest.target.set(t.data);
      out[i] = { name: t.name, datatype: t.datatype, shape: t.shape, data: EMPTY, shm: dest.ref };
    }
    return out;
  }

  release(): void {
    for (const r of this.#held.splice(0)) r.release();
  }
}
