/**
 * Per-client rate limits (--client-rate-limit, --client-rate-burst): one token bucket
 * per client, refilled at `rate` tokens a second up to `burst`; a request takes one
 * token or is refused with the wait until the next. The bucket table is an LRU of
 * bounded size, so a flood of distinct clients cannot grow memory: the least recently
 * seen client's bucket is dropped (and it starts again full, which errs towards
 * serving).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** Buckets kept at most (about 100 bytes each with its key). */
export const MAX_CLIENTS = 100_000;
/** Longer client keys (a header value) are kept as their SHA-256. */
const MAX_KEY_CHARS = 128;

interface Bucket { tokens: number; at: number }

export interface RateLimitOptions {
  /** Tokens a second, > 0. */
  readonly rate: number;
  /** Bucket size, >= 1: requests a client may send at once after a quiet spell. */
  readonly burst: number;
  /** HTTP header / gRPC metadata key (lower case) naming the client; '' = the peer address. */
  readonly keyHeader: string;
  readonly maxClients?: number;
}

export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly keyHeader: string;
  /** Requests refused, per protocol (the osprey_rate_limited_total counter reads them). */
  readonly refused = { http: 0, grpc: 0 };
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(o: RateLimitOptions) {
    this.rate = o.rate;
    this.burst = o.burst;
    this.keyHeader = o.keyHeader;
    this.#buckets = new LRUCache<string, Bucket>({ max: o.maxClients ?? MAX_CLIENTS });
  }

  /** Clients with a bucket now. */
  get clients(): number { return this.#buckets.size; }

  /**
   * The client key: the configured header's value when the request carries it, else
   * the peer address (prefixed apart, so a header cannot pose as an address).
   */
  static key(headerValue: string, address: string): string {
    if (headerValue === '') return 'a:' + address;
    return headerValue.length <= MAX_KEY_CHARS ? 'k:' + headerValue : 'h:' + createHash('sha256').update(headerValue).digest('base64');
  }

  /** Take a token for `key`: 0 when one was there, else the seconds until one will be. */
  take(key: string, now = performance.now()): number {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.rate;
  }
}
