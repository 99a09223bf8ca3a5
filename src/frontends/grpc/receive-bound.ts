/**
 * The in-flight request-bytes bound (--max-inflight-request-bytes) where grpc-js holds
 * what clients send before any handler sees it. Without it each message is bounded
 * (--max-request-bytes) but their sum is not: 32 concurrent gzip frames of ~60 KB,
 * each inflating to 60 MiB, took a server to 2.4 GB RSS (measured), and partial
 * messages on many streams add up the same way.
 *
 * grpc-js (1.14) offers no hook before a message is whole and decompressed, so a
 * server interceptor (public API; it runs when a call starts, before its first read)
 * reaches into the call it is given, grpc-js's BaseServerInterceptingCall, and
 * replaces two of its members on that one instance:
 *   - `decoder.write`: the bytes of messages still arriving are counted as they come
 *     and given back as each message completes (it is counted again by its handler,
 *     inflight.ts); over the bound the call ends RESOURCE_EXHAUSTED (grpc-js answers
 *     an error thrown here so);
 *   - `decompressMessage` for gzip/deflate: inflated bytes are counted chunk by chunk,
 *     so concurrent inflations together stay within the bound; past it, or past
 *     --max-request-bytes alone (grpc-js's own text), the inflation stops.
 * Where the call does not have those members (another grpc-js), nothing is replaced
 * and `boundReceives` reports it (startup logs it; the test fails on it).
 */
import * as grpc from '@grpc/grpc-js';
import type { BytesHolder, RequestBytesBudget } from '../request-bytes.js';
import { inflateCounted } from './inflate.js';

/** The members of grpc-js's BaseServerInterceptingCall this file uses. */
interface GrpcJsCall {
  decoder?: Decoder;
  decompressMessage?: Decompress;
  stream?: { on(event: 'close', listener: () => void): unknown };
  [ARRIVING]?: Arriving;
}

type Decompress = (message: Buffer, encoding: string) => Buffer | Promise<Buffer>;
interface Decoder { write(data: Buffer): Buffer[]; [ARRIVING]?: Arriving }

/**
 * One call's receive state: the bytes of the message now arriving (and any before it
 * not yet complete), and grpc-js's own members it replaces. The call, its decoder and
 * its stream carry it under this symbol, so the replacements are functions shared by
 * every call (no closures per call: each allocation is paid again by the collector).
 */
const ARRIVING = Symbol('osprey.arriving');
interface Arriving extends BytesHolder {
  refused: boolean;
  write: Decoder['write'];
  decompress: Decompress;
}

/** The replacements for one budget, shared by every call counted in it. */
interface Hooks {
  write(this: Decoder, data: Buffer): Buffer[];
  decompressMessage(this: GrpcJsCall, message: Buffer, encoding: string): Buffer | Promise<Buffer>;
  onClose(this: { [ARRIVING]?: Arriving }): void;
}

function hooks(budget: RequestBytesBudget, maxBytes: number): Hooks {
  return {
    write(data) {
      const a = this[ARRIVING]!;
      if (a.refused) return [];
      if (!budget.take(a, data.length)) {
        // Given back at once, not when the stream closes: other calls arriving beside
        // this one go on (refusing one frees room, as HTTP bodies do).
        a.refused = true;
        budget.giveBack(a);
        throw new Error(budget.exceeded().message);
      }
      const done = a.write.call(this, data);
      for (const m of done) budget.release(a, m.length);
      return done;
    },
    decompressMessage(message, encoding) {
      if (encoding !== 'gzip' && encoding !== 'deflate') return this[ARRIVING]!.decompress.call(this, message, encoding);
      return inflateCounted(message.subarray(5), encoding, budget, maxBytes);
    },
    onClose() {
      // A message left part-way when the stream closes.
      budget.giveBack(this[ARRIVING]!);
    },
  };
}

/** Count what `call` receives (with the budget's hooks); false when `call` is not the grpc-js call this knows. */
function boundReceives(call: object, h: Hooks): boolean {
  const c = call as GrpcJsCall;
  const decoder = c.decoder;
  const decompress = c.decompressMessage;
  const stream = c.stream as (GrpcJsCall['stream'] & { [ARRIVING]?: Arriving }) | undefined;
  if (typeof decoder?.write !== 'function' || typeof decompress !== 'function' || typeof stream?.on !== 'function') return false;
  const a: Arriving = { heldBytes: 0, refused: false, write: decoder.write, decompress };
  decoder[ARRIVING] = a;
  decoder.write = h.write;
  c[ARRIVING] = a;
  c.decompressMessage = h.decompressMessage;
  stream[ARRIVING] = a;
  // 'close' comes once per stream: `on`, not `once` (no wrapper per call).
  stream.on('close', h.onClose);
  return true;
}

/**
 * The server interceptor that applies boundReceives to every call. `onUnknown` is
 * called (once) when a call is not what this file knows: its receives are then
 * bounded per message only.
 */
export function receiveBoundInterceptor(budget: RequestBytesBudget, maxBytes: number, onUnknown: () => void): grpc.ServerInterceptor {
  let warned = false;
  const h = hooks(budget, maxBytes);
  return (_method, call) => {
    if (!boundReceives(call, h) && !warned) {
      warned = true;
      onUnknown();
    }
    // The same call, not a wrapper around it (no layer per message); grpc-js takes any
    // ServerInterceptingCallInterface here, its type names the class.
    return call as grpc.ServerInterceptingCall;
  };
}
