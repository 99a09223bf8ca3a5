/**
 * The net engine's settings and bounds: what it advertises (SETTINGS) and the limits it
 * holds a client to, each where it comes from (nghttp2's or node:http2's defaults, so a
 * client sees the same server on either engine).
 */
import {
  DEFAULT_WINDOW, FLAG_ACK, MIN_MAX_FRAME_SIZE, SETTINGS, SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE, WINDOW_UPDATE, frame, frame32,
} from './frames.js';

/**
 * Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the connection,
 * and the largest frame we accept: HTTP/2's defaults, as node:http2 keeps them. Bigger
 * windows (1 MiB per stream, 16 MiB for the connection) let h2load send all 32 cnn
 * requests at once and cut cnn gRPC rows/s to 0.74x (bench/README, "gRPC on Osprey's
 * own HTTP/2"): the window paces the client, and the batches with it.
 */
export const STREAM_WINDOW: number = DEFAULT_WINDOW;
export const CONNECTION_WINDOW: number = DEFAULT_WINDOW;
export const MAX_FRAME: number = MIN_MAX_FRAME_SIZE;
/** A header block longer than this, or split over more CONTINUATION frames, ends the connection. */
export const MAX_HEADER_BLOCK = 1 << 20;
/** nghttp2's bound: more CONTINUATION frames than this in one header block end the connection. */
export const MAX_CONTINUATIONS = 8;
/** nghttp2's bound on the entries of one SETTINGS frame (ENHANCE_YOUR_CALM past it). */
export const MAX_SETTINGS_ENTRIES = 32;
/**
 * node:http2's maxSessionInvalidFrames: frames that are refused (a stream error we
 * answer) or say nothing (an empty DATA frame without END_STREAM, the CVE-2019-9518
 * flood) count, and past 1000 the connection ends.
 */
export const MAX_INVALID_FRAMES = 1000;
/** Answers to PING/SETTINGS queued in one read before the client reads any: nghttp2's max_outbound_ack (a flood ends the connection INTERNAL_ERROR, as nghttp2's). */
export const MAX_QUEUED_ACKS = 1000;
/**
 * A token bucket: `burst` at once, refilled at `perSecond`. nghttp2 holds a client to two:
 * its stream resets (1000, 33/s: the rapid-reset attack) and, since nghttp2 1.62 (Node
 * 24), its "glitches", frames that do nothing for a server (PRIORITY, unknown types).
 */
export class RateLimit {
  #tokens: number;
  #at = Date.now();
  readonly #burst: number;
  readonly #perMs: number;
  constructor(burst: number, perSecond: number) {
    this.#burst = burst;
    this.#tokens = burst;
    this.#perMs = perSecond / 1000;
  }
  /** One more event; false once the bucket is empty. */
  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    return --this.#tokens >= 0;
  }
}

export const RESET_BURST = 1000;
export const RESET_RATE = 33;
export const GLITCH_BURST = 1000;
export const GLITCH_RATE = 33;

/** Our SETTINGS: node:http2's defaults we rely on, spelled out (push off; no other change). */
export const OUR_SETTINGS = (() => {
  const values: Array<[number, number]> = [[SETTINGS_ENABLE_PUSH, 0]];
  if (STREAM_WINDOW !== DEFAULT_WINDOW) values.push([SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW]);
  if (MAX_FRAME !== MIN_MAX_FRAME_SIZE) values.push([SETTINGS_MAX_FRAME_SIZE, MAX_FRAME]);
  const b = Buffer.alloc(6 * values.length);
  values.forEach(([k, v], i) => { b.writeUInt16BE(k, 6 * i); b.writeUInt32BE(v, 6 * i + 2); });
  const settings = frame(SETTINGS, 0, 0, b);
  // The connection's window starts at 65535 whatever SETTINGS say (9113 6.9.2): a WINDOW_UPDATE raises it.
  return CONNECTION_WINDOW > DEFAULT_WINDOW ? Buffer.concat([settings, frame32(WINDOW_UPDATE, 0, CONNECTION_WINDOW - DEFAULT_WINDOW)]) : settings;
})();
export const SETTINGS_ACK = frame(SETTINGS, FLAG_ACK, 0);
