/**
 * Triton's response cache (`--cache-config local,size=N` plus `response_cache
 * { enable: true }` in a model's config): an LRU of responses bounded in bytes,
 * keyed by model, version, requested outputs and a hash of every input's bytes.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { PreparedRequest } from '../request/prepare.js';
import type { Tensor } from '../types/tensor.js';

export class ResponseCache {
  readonly #lru: LRUCache<string, Tensor[]>;

  constructor(maxBytes: number) {
    this.#lru = new LRUCache<string, Tensor[]>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (ts) => ts.reduce((n, t) => n + t.data.byteLength + 64, 64),
    });
  }

  key(model: string, version: string, p: PreparedRequest): string {
    const h = createHash('sha1');
    h.update(model).update('\0').update(version).update('\0');
    for (const o of p.outputs) h.update(o.name).update(JSON.stringify(o.parameters ?? null)).update('\0');
    for (const i of p.inputs) h.update(i.name).update(i.datatype).update(i.shape.join(',')).update(i.data);
    return h.digest('base64');
  }

  get(key: string): Tensor[] | undefined {
    return this.#lru.get(key);
  }

  /** Store private copies: the outputs are views into a batch buffer other requests share. */
  set(key: string, outputs: readonly Tensor[]): void {
    this.#lru.set(key, outputs.map((t) => ({ ...t, shape: t.shape.slice(), data: t.data.slice() })));
  }
}
