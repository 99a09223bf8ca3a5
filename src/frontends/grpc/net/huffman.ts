/**
 * HPACK's Huffman code (RFC 7541, Appendix B) for decoding response headers. The
 * code is canonical, so the bit length of each symbol's code (0..255, then EOS = 256)
 * determines every code: codes are assigned in order of (length, symbol).
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

const MAX_LEN = 30;
// Canonical decoding tables: for each length, the first code and where its symbols start.
const firstCode = new Int32Array(MAX_LEN + 2);
const countOf = new Int32Array(MAX_LEN + 2);
const offsetOf = new Int32Array(MAX_LEN + 2);
const symbols: number[] = [];

(() => {
  const order = LENGTHS.map((len, sym) => [len, sym]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let code = 0;
  let prevLen = order[0][0];
  order.forEach(([len, sym], k) => {
    if (k > 0) code = (code + 1) << (len - prevLen);
    if (countOf[len] === 0) {
      firstCode[len] = code;
      offsetOf[len] = symbols.length;
    }
    countOf[len]++;
    symbols.push(sym);
    prevLen = len;
  });
})();

/** Decode a Huffman-coded string (as latin1, one char per octet). */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  let out = '';
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const n = countOf[len];
      if (n !== 0 && code - firstCode[len] < n && code >= firstCode[len]) {
        const sym = symbols[offsetOf[len] + code - firstCode[len]];
        if (sym === 256) throw new Error('hpack: EOS in string');
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len > MAX_LEN) {
        throw new Error('hpack: bad Huffman code');
      }
    }
  }
  // Leftover bits must be a prefix of EOS (all ones) and shorter than a byte.
  if (len > 7 || code !== (1 << len) - 1) throw new Error('hpack: bad Huffman padding');
  return out;
}
