/**
 * What an inference request meets before its body is read (HTTP) or decoded (gRPC),
 * on both front ends: its client's rate limit (429 / RESOURCE_EXHAUSTED), then the
 * refusal its model would give anyway (a full queue: 503 / UNAVAILABLE, Triton's
 * text). Under overload most requests end here, so they are answered at once instead
 * of waiting behind the decoding of bodies that would be refused.
 */
import type { Registry } from 'prom-client';
import type { DataPlane } from '../dataplane/api.js';
import { type OspreyError, RateLimited } from '../errors/errors.js';
import { type Emit, ScrapedFamily } from '../obs/families.js';
import { RateLimiter } from './rate-limit.js';

export class Admission {
  constructor(
    private readonly dp: DataPlane,
    /** Per-client limits; undefined when --client-rate-limit is off. */
    readonly limiter: RateLimiter | undefined,
  ) {}

  /**
   * The client's rate limit. `keyValue`: the configured header / metadata value
   * ('' when absent or none is configured); `address`: the peer.
   */
  limit(protocol: 'http' | 'grpc', keyValue: string, address: string): RateLimited | undefined {
    const limiter = this.limiter;
    if (limiter === undefined) return undefined;
    const wait = limiter.take(RateLimiter.key(keyValue, address));
    if (wait === 0) return undefined;
    limiter.refused[protocol]++;
    return new RateLimited(Math.max(1, Math.ceil(wait)));
  }

  /** The refusal a request for this model would get before running (a full queue), if any. */
  refusal(model: string, version: string): OspreyError | undefined {
    return this.dp.refuseEarly?.(model, version);
  }
}

/** osprey_rate_limited_total{protocol}, read at scrape time from the limiter's counts. */
export function registerAdmissionMetrics(registry: Registry, limiter: RateLimiter): void {
  new ScrapedFamily('osprey_rate_limited_total', 'Inference requests refused by the per-client rate limit (--client-rate-limit)', 'counter', (emit: Emit) => {
    emit({ protocol: 'http' }, limiter.refused.http);
    emit({ protocol: 'grpc' }, limiter.refused.grpc);
  }).register(registry);
  new ScrapedFamily('osprey_rate_limit_clients', 'Clients with a rate-limit bucket now (bounded; least recently seen dropped first)', 'gauge', (emit: Emit) => {
    emit({}, limiter.clients);
  }).register(registry);
}
