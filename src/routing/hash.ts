/**
 * Hot-path randomness for routing. Both functions are pure arithmetic on 32-bit
 * integers: no allocation, no crypto, no Math.random (whose state we cannot seed,
 * so tests could not replay a split).
 *
 * - `keyPoint(key, salt)`: the sticky hash. FNV-1a over the UTF-16 code units of
 *   `salt + '\u0000' + key`, finished with murmur3's fmix32 (FNV-1a alone mixes
 *   its high bits poorly for short keys that differ in the last character, and the
 *   point is read from the high bits). Stable across processes, machines and Node
 *   versions: a key always maps to the same point in [0, 1).
 * - `Prng`: mulberry32, a 32-bit state generator that passes the usual statistical
 *   batteries for this use (choosing a route), in a handful of integer operations.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_32 = 4294967296;

/** murmur3's 32-bit finalizer: full avalanche of the FNV state. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a of a string's UTF-16 code units, continuing from `h`. */
export function fnv1a32(s: string, h = FNV_OFFSET): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** The point in [0, 1) a routing key lands on; `salt` separates models/policies. */
export function keyPoint(key: string, salt: string): number {
  let h = fnv1a32(salt);
  h ^= 0; // separator: a zero code unit, so ('ab','c') and ('a','bc') differ
  h = Math.imul(h, FNV_PRIME);
  return fmix32(fnv1a32(key, h >>> 0)) / TWO_32;
}

/** mulberry32: a seedable generator of floats in [0, 1). One instance per policy. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_32;
  }
}

/** A seed for production generators (tests pass their own). */
export function randomSeed(): number {
  return (Math.random() * TWO_32) >>> 0;
}
