/**
 * Received gRPC inference messages in the server's one bound on request bytes in
 * flight (--max-inflight-request-bytes, shared with HTTP bodies). grpc-js hands the
 * deserializer a whole message, already decompressed (and bounded one by one by
 * --max-request-bytes); its size is noted there and counted when the handler takes
 * the message, given back when the message is answered. Counting in the handler,
 * not the deserializer: a unary call cancelled between its message and its
 * half-close never reaches a handler, and nothing would give its bytes back.
 * Over the bound: RESOURCE_EXHAUSTED (in-band on a stream), the message unread.
 */
import type { InflightBytesExceeded } from '../../errors/errors.js';
import type { BytesHolder, RequestBytesBudget } from '../request-bytes.js';

/** A received message with the size grpc-js handed over. */
interface Sized extends BytesHolder {
  wireBytes: number;
}

/** Wrap a deserializer so that each message carries its size (its bytes after decompression). */
export function sized<T extends object>(deserialize: (buf: Buffer) => T): (buf: Buffer) => T {
  return (buf) => {
    const msg = deserialize(buf) as T & Sized;
    msg.wireBytes = buf.length;
    msg.heldBytes = 0;
    return msg;
  };
}

/** Count `msg`'s bytes; the refusal when they would pass the bound (nothing counted then). */
export function holdMessage(budget: RequestBytesBudget | undefined, msg: object): InflightBytesExceeded | undefined {
  if (budget === undefined) return undefined;
  const m = msg as Partial<Sized>;
  if (m.wireBytes === undefined) return undefined;
  return budget.take(m as Sized, m.wireBytes) ? undefined : budget.exceeded();
}

/** `msg` is answered: its bytes no longer count. */
export function releaseMessage(budget: RequestBytesBudget | undefined, msg: object): void {
  const m = msg as Partial<Sized>;
  if (budget !== undefined && m.heldBytes !== undefined && m.heldBytes !== 0) budget.giveBack(m as Sized);
}
