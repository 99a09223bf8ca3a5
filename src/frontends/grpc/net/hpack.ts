/**
 * HPACK decoder (RFC 7541) for response header blocks: static and dynamic tables,
 * integers, literals, Huffman strings. Every block on a connection must go through
 * it in order, even ones we do not care about, or the dynamic table drifts.
 * Names and values are latin1 strings (one char per octet) so table sizes count octets.
 */
import { huffmanDecode } from './huffman.js';

const STATIC: readonly [string, string][] = [
  ['', ''], // HPACK indices start at 1
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_LEN = STATIC.length - 1; // 61

export type HeaderSink = (name: string, value: string) => void;

export class HpackDecoder {
  #dyn: [string, string][] = []; // newest first
  #size = 0;
  #maxSize: number;
  #pos = 0;

  /** `maxSize`: the SETTINGS_HEADER_TABLE_SIZE we advertised (the encoder may go lower). */
  constructor(maxSize = 4096) {
    this.#maxSize = maxSize;
  }

  #int(buf: Uint8Array, end: number, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let v = buf[this.#pos++] & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.#pos >= end) throw new Error('hpack: truncated integer');
      const b = buf[this.#pos++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return v;
    }
  }

  #string(buf: Uint8Array, end: number): string {
    const huff = (buf[this.#pos] & 0x80) !== 0;
    const len = this.#int(buf, end, 7);
    const s = this.#pos;
    this.#pos += len;
    if (this.#pos > end) throw new Error('hpack: truncated string');
    return huff ? huffmanDecode(buf, s, this.#pos) : Buffer.from(buf.buffer, buf.byteOffset + s, len).toString('latin1');
  }

  #entry(index: number): [string, string] {
    if (index >= 1 && index <= STATIC_LEN) return STATIC[index];
    const e = this.#dyn[index - STATIC_LEN - 1];
    if (!e) throw new Error(`hpack: bad index ${index}`);
    return e;
  }

  #evict(): void {
    while (this.#size > this.#maxSize && this.#dyn.length > 0) {
      const [n, v] = this.#dyn.pop()!;
      this.#size -= n.length + v.length + 32;
    }
  }

  #insert(name: string, value: string): void {
    this.#dyn.unshift([name, value]);
    this.#size += name.length + value.length + 32;
    this.#evict();
  }

  /** Decode one complete header block (HEADERS + CONTINUATION payloads joined). */
  decode(buf: Uint8Array, start: number, end: number, sink: HeaderSink): void {
    this.#pos = start;
    while (this.#pos < end) {
      const b = buf[this.#pos];
      if (b & 0x80) {
        const [n, v] = this.#entry(this.#int(buf, end, 7));
        sink(n, v);
      } else if (b & 0x40) {
        const idx = this.#int(buf, end, 6);
        const name = idx ? this.#entry(idx)[0] : this.#string(buf, end);
        const value = this.#string(buf, end);
        this.#insert(name, value);
        sink(name, value);
      } else if (b & 0x20) {
        this.#maxSize = this.#int(buf, end, 5);
        this.#evict();
      } else {
        // Literal without indexing (0000) or never indexed (0001): 4-bit prefix.
        const idx = this.#int(buf, end, 4);
        const name = idx ? this.#entry(idx)[0] : this.#string(buf, end);
        sink(name, this.#string(buf, end));
      }
    }
  }
}

/** A request header block that never touches the peer's dynamic table: literals without indexing, no Huffman. */
export function encodeHeaderBlock(headers: readonly [string, string][]): Buffer {
  const parts: number[] = [];
  const int = (v: number, prefixBits: number, first: number): void => {
    const max = (1 << prefixBits) - 1;
    if (v < max) return void parts.push(first | v);
    parts.push(first | max);
    v -= max;
    while (v >= 0x80) {
      parts.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    parts.push(v);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s, 'latin1');
    int(b.length, 7, 0);
    parts.push(...b);
  };
  for (const [name, value] of headers) {
    const full = STATIC.findIndex(([n, v], i) => i > 0 && n === name && v === value);
    if (full > 0) {
      int(full, 7, 0x80);
      continue;
    }
    const byName = STATIC.findIndex(([n], i) => i > 0 && n === name);
    if (byName > 0) int(byName, 4, 0x00);
    else {
      parts.push(0x00);
      str(name);
    }
    str(value);
  }
  return Buffer.from(parts);
}
