/**
 * Request bytes held by every request in flight, on both front ends, and their one
 * bound (--max-inflight-request-bytes): HTTP bodies as their bytes arrive (and once
 * decompressed), received gRPC inference messages once grpc-js has them whole
 * (after decompression). A request over the bound is refused (HTTP 503 and close,
 * gRPC RESOURCE_EXHAUSTED) instead of adding its bytes: without it, many requests
 * that are each within --max-request-bytes still add up to any amount of memory.
 */
import { InflightBytesExceeded } from '../errors/errors.js';

/** What holds counted bytes: an HTTP exchange, or one received gRPC message. */
export interface BytesHolder {
  /** Bytes this request holds, counted until it is answered (or its client is gone). */
  heldBytes: number;
}

export class RequestBytesBudget {
  held = 0;
  constructor(readonly limit: number) {}

  /** Count `n` more bytes for `h`; false (nothing counted) when that would pass the bound. */
  take(h: BytesHolder, n: number): boolean {
    if (this.held + n > this.limit) return false;
    this.held += n;
    h.heldBytes += n;
    return true;
  }

  /** `n` of `h`'s bytes no longer count (a message it was receiving is whole). */
  release(h: BytesHolder, n: number): void {
    const k = Math.min(n, h.heldBytes);
    this.held -= k;
    h.heldBytes -= k;
  }

  /** The request is answered (or its client gone): its bytes no longer count. */
  giveBack(h: BytesHolder): void {
    this.held -= h.heldBytes;
    h.heldBytes = 0;
  }

  /** The refusal of a request that would pass the bound. */
  exceeded(): InflightBytesExceeded {
    return new InflightBytesExceeded(this.limit);
  }
}
