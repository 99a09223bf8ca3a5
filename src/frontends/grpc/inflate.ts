/**
 * Inflating one received gRPC message (grpc-encoding gzip or deflate), bounded while
 * it inflates: past `maxBytes` (--max-request-bytes, counted after decompression) the
 * inflation stops at once with grpc-js's RESOURCE_EXHAUSTED text, so a small gzip
 * bomb never grows past the limit; with a budget (--max-inflight-request-bytes) every
 * inflated chunk counts in it until the message is whole. Used by both gRPC engines:
 * receive-bound.ts replaces grpc-js's own inflation with it, h2/ calls it directly.
 */
import * as grpc from '@grpc/grpc-js';
import { createGunzip, createInflate } from 'node:zlib';
import type { BytesHolder, RequestBytesBudget } from '../request-bytes.js';

/** What a failed inflation rejects with (grpc-js's status for it). */
export type InflateFailure = { code: grpc.status; details: string };

/** Inflate `contents`, counting every chunk in `budget` (if any) until it is whole (then given back). */
export function inflateCounted(contents: Buffer, encoding: 'gzip' | 'deflate', budget: RequestBytesBudget | undefined, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = encoding === 'gzip' ? createGunzip() : createInflate();
    const holder: BytesHolder = { heldBytes: 0 };
    const parts: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (status: InflateFailure): void => {
      if (settled) return;
      settled = true;
      z.destroy();
      budget?.giveBack(holder);
      reject(status);
    };
    z.on('error', () => fail({ code: grpc.status.INTERNAL, details: 'Failed to decompress message' }));
    z.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.byteLength;
      if (maxBytes !== -1 && total > maxBytes) {
        fail({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${maxBytes}` });
        return;
      }
      if (budget !== undefined && !budget.take(holder, chunk.byteLength)) {
        fail({ code: grpc.status.RESOURCE_EXHAUSTED, details: budget.exceeded().message });
        return;
      }
      parts.push(chunk);
    });
    z.on('end', () => {
      if (settled) return;
      settled = true;
      budget?.giveBack(holder);
      resolve(Buffer.concat(parts, total));
    });
    z.end(contents);
  });
}
