/**
 * HPACK's Huffman code (RFC 7541, Appendix B), decoding only (we never send Huffman).
 * The code is canonical, so the bit length of each symbol's code (0..255, then EOS =
 * 256) determines every code: codes are assigned in order of (length, symbol).
 *
 * Decoding walks the code tree four bits at a time through a table built once at load:
 * for each of the tree's 256 inner nodes and each nibble, the node it ends on and the
 * symbol it completes, if any (every code is at least 5 bits long, so a nibble
 * completes at most one). That is two table reads per input octet instead of eight
 * bit steps.
 */

// Code length in bits of symbols 0..256, 32 per line.
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** Why a Huffman string is malformed (RFC 7541 5.2): huffmanDecode returns one of these instead of a length. */
export const HUFFMAN_EOS = -1;
export const HUFFMAN_PADDING_LONG = -2;
export const HUFFMAN_PADDING_NOT_ONES = -3;

/** The canonical code of each symbol, as [code, length]; exported for tests that encode. */
export const HUFFMAN_CODES: readonly (readonly [number, number])[] = (() => {
  const order = LENGTHS.map((len, sym) => [len, sym] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const codes: [number, number][] = new Array(LENGTHS.length);
  let code = 0;
  let prevLen = order[0][0];
  order.forEach(([len, sym], k) => {
    if (k > 0) code = (code + 1) * 2 ** (len - prevLen);
    codes[sym] = [code, len];
    prevLen = len;
  });
  return codes;
})();

// The code tree: inner nodes are 0..255 (0 the root); a child >= 0 is an inner node,
// a child < 0 is the leaf of symbol ~child.
const child = new Int32Array(256 * 2).fill(0x7fffffff);
const depth = new Uint8Array(256);
// An inner node where a string may end: depth <= 7 on the all-ones path (a prefix of
// EOS, whose code is 30 ones), so the leftover bits are valid padding.
const accepting = new Uint8Array(256);
// TABLE[node * 16 + nibble] = next node | completed symbol << 8 | flags.
const TABLE = new Int32Array(256 * 16);
const EMITS = 1 << 17;
const HITS_EOS = 1 << 18;

(() => {
  let nodes = 1;
  HUFFMAN_CODES.forEach(([code, len], sym) => {
    let n = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      if (i === 0) {
        child[n * 2 + bit] = ~sym;
      } else {
        if (child[n * 2 + bit] === 0x7fffffff) {
          depth[nodes] = depth[n] + 1;
          child[n * 2 + bit] = nodes++;
        }
        n = child[n * 2 + bit];
      }
    }
  });
  if (nodes !== 256) throw new Error(`huffman: ${nodes} inner nodes, expected 256`);
  for (let n = 0, d = 0; d <= 7; n = child[n * 2 + 1], d++) accepting[n] = 1;
  for (let node = 0; node < 256; node++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let n = node;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const c = child[n * 2 + ((nibble >> i) & 1)];
        if (c >= 0) {
          n = c;
        } else if (~c === EOS) {
          entry |= HITS_EOS;
          break;
        } else {
          entry |= EMITS | (~c << 8);
          n = 0;
        }
      }
      TABLE[node * 16 + nibble] = entry | n;
    }
  }
})();

/** The most octets `len` Huffman-coded octets can decode to (the shortest code is 5 bits). */
export function huffmanMaxDecoded(len: number): number {
  return Math.floor((len * 8) / 5);
}

/**
 * Decode the Huffman string in src[start, end) into out from offset 0, which must hold
 * huffmanMaxDecoded(end - start) octets. Returns the decoded length, or a negative
 * HUFFMAN_* fault: EOS inside the string, padding over 7 bits, padding not all ones.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let node = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = src[i];
    let e = TABLE[node * 16 + (b >> 4)];
    if (e & HITS_EOS) return HUFFMAN_EOS;
    if (e & EMITS) out[n++] = (e >> 8) & 0xff;
    e = TABLE[(e & 0xff) * 16 + (b & 0x0f)];
    if (e & HITS_EOS) return HUFFMAN_EOS;
    if (e & EMITS) out[n++] = (e >> 8) & 0xff;
    node = e & 0xff;
  }
  if (accepting[node] === 0) return depth[node] > 7 ? HUFFMAN_PADDING_LONG : HUFFMAN_PADDING_NOT_ONES;
  return n;
}
