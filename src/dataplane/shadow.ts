/**
 * The traffic router's shadow executor (server.ts hands it in): a shadow copy of an
 * answered request, validated against the shadow version's own config and queued
 * at its lowest priority with no deadline. Its inputs are the primary request's
 * tensors, read-only; the batcher copies them into the batch buffer.
 */
import type { ModelVersion } from '../registry/model-version.js';
import { prepare } from '../request/prepare.js';
import type { InferenceRequest } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';

export function runShadow(v: ModelVersion, req: InferenceRequest): Promise<Tensor[]> {
  const p = prepare(v.config, req);
  const lowest = Number(v.config.dynamic_batching?.priority_levels ?? 0);
  return v.submit(p, lowest, 0, Infinity, undefined).then((r) => r.outputs);
}
