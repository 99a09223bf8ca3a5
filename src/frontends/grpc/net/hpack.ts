/**
 * HPACK (RFC 7541) for the net gRPC engine: a decoder for the header blocks clients
 * send, and an encoder for ours that never uses a dynamic table. The decoder faces
 * any client, so every malformed block is an HpackError (HTTP/2 COMPRESSION_ERROR,
 * which ends the connection) and nothing in a block can make it allocate or loop
 * more than the block's own length allows. Every block on a connection must go
 * through one decoder in order, even ones the caller ignores, or its dynamic table
 * drifts from the client's. Names and values are latin1 strings (one char per octet),
 * so a string's length is its size in octets, as the table's accounting needs.
 */
import { HUFFMAN_EOS, HUFFMAN_PADDING_LONG, huffmanDecode, huffmanMaxDecoded } from './huffman.js';

/** A header block that cannot be decoded: HTTP/2 COMPRESSION_ERROR, a connection error. */
export class HpackError extends Error {
  override name = 'HpackError';
}

export type HeaderSink = (name: string, value: string) => void;

// RFC 7541 Appendix A; HPACK indices start at 1.
const STATIC: readonly (readonly [string, string])[] = [
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
const STATIC_LEN = STATIC.length; // 61
// Index i (1-based) at [i]: plain string arrays, so an indexed field allocates nothing.
const STATIC_NAMES = ['', ...STATIC.map((e) => e[0])];
const STATIC_VALUES = ['', ...STATIC.map((e) => e[1])];

/** RFC 7541 4.1: an entry's size, and each field's share of the header list size. */
const ENTRY_OVERHEAD = 32;
// Integers past this are refused before a continuation byte can overflow a double's
// exact range: no index, length or table size we accept comes near it.
const MAX_INT = 2 ** 31 - 1;
const MAX_CONTINUATION_SHIFT = 28; // 5 continuation octets carry 35 bits; the 5th may only hold 3 of them
// Huffman output goes to one shared scratch buffer up to this size; longer strings
// (rare: bounded by the block, which the caller bounds) get one of their own.
const SCRATCH_KEEP = 64 * 1024;
let scratch = Buffer.allocUnsafe(4096);

function fail(what: string): never {
  throw new HpackError(`hpack: ${what}`);
}

export class HpackDecoder {
  // The dynamic table, a ring of parallel arrays (power-of-two capacity, grown when
  // full): entry d (0 = newest) is at slot (#tail - 1 - d) & #mask. No entry is
  // smaller than 32 octets, so it never holds more than #limit / 32 entries.
  #names: string[] = new Array<string>(16).fill('');
  #values: string[] = new Array<string>(16).fill('');
  #mask = 15;
  #tail = 0;
  #count = 0;
  #size = 0;
  /** The table size the client last chose (RFC 7541 6.3), at most #limit. */
  #max: number;
  /** The SETTINGS_HEADER_TABLE_SIZE we advertised: the client may not choose more. */
  readonly #limit: number;
  // The block being decoded.
  #buf: Buffer = scratch;
  #pos = 0;
  #end = 0;

  /**
   * maxTableSize: the SETTINGS_HEADER_TABLE_SIZE we advertise (default 4096). Under
   * 4096 it is only safe if no block can precede the client's ACK of our SETTINGS:
   * until then its encoder may fill a table of the default 4096 (RFC 9113 6.5.3).
   */
  constructor(maxTableSize = 4096) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INT) {
      throw new RangeError(`hpack: table size ${maxTableSize} is not an integer in [0, ${MAX_INT}]`);
    }
    this.#limit = maxTableSize;
    this.#max = maxTableSize;
  }

  /** Entries in the dynamic table now, and their size (RFC 7541 4.1): for tests and stats. */
  get tableEntries(): number {
    return this.#count;
  }

  get tableSize(): number {
    return this.#size;
  }

  /**
   * Decode one complete header block (HEADERS + CONTINUATION payloads joined) from buf[start, end).
   * Calls sink(name, value) for each field in order (names/values as latin1 strings, one char per octet).
   * Always decodes the whole block so the dynamic table stays in sync, but stops calling sink once the
   * header list size (RFC 7541 4.1: sum of name.length + value.length + 32) passes `maxListSize`.
   * Returns the header list size of the whole block (so the caller can refuse the stream when > maxListSize).
   * Throws HpackError on anything malformed; the decoder is then out of step with the
   * client and must not be used again. A sink that throws leaves it the same way.
   */
  decode(buf: Uint8Array, start: number, end: number, sink: HeaderSink, maxListSize = Infinity): number {
    if (!(start >= 0 && start <= end && end <= buf.length)) throw new RangeError(`hpack: bad range [${start}, ${end}) of ${buf.length}`);
    this.#buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = start;
    this.#end = end;
    let listSize = 0;
    let updates = 0;
    let fields = 0;
    while (this.#pos < end) {
      const first = this.#buf[this.#pos];
      let name: string;
      let value: string;
      if (first & 0x80) {
        // 6.1 indexed field: the common case (clients index :path, content-type, te, ...).
        let index = first & 0x7f;
        if (index === 0x7f) index = this.#int(0x7f);
        else this.#pos++;
        if (index === 0) fail('index 0');
        if (index <= STATIC_LEN) {
          name = STATIC_NAMES[index];
          value = STATIC_VALUES[index];
        } else {
          const d = index - STATIC_LEN - 1;
          if (d >= this.#count) this.#pastTable(index);
          const slot = (this.#tail - 1 - d) & this.#mask;
          name = this.#names[slot];
          value = this.#values[slot];
        }
      } else if (first & 0x40) {
        // 6.2.1 literal with incremental indexing.
        const index = this.#int(0x3f);
        name = index === 0 ? this.#string() : this.#name(index);
        value = this.#string();
        this.#insert(name, value);
      } else if (first & 0x20) {
        // 6.3 dynamic table size update: only at the start of a block (4.2), and
        // two at most (a smaller size, then the final one).
        if (fields > 0) fail('dynamic table size update after a header field');
        if (++updates > 2) fail('more than two dynamic table size updates');
        const size = this.#int(0x1f);
        if (size > this.#limit) fail(`dynamic table size update to ${size}, over the ${this.#limit} we allow`);
        this.#max = size;
        while (this.#size > size) this.#evictOldest();
        continue;
      } else {
        // 6.2.2 literal without indexing (0000) or 6.2.3 never indexed (0001).
        const index = this.#int(0x0f);
        name = index === 0 ? this.#string() : this.#name(index);
        value = this.#string();
      }
      fields++;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= maxListSize) sink(name, value);
    }
    this.#buf = scratch; // not kept alive by us (after an HpackError the decoder is dropped anyway)
    return listSize;
  }

  /** An integer with an N-bit prefix (5.1); `mask` is 2^N - 1. */
  #int(mask: number): number {
    const buf = this.#buf;
    let v = buf[this.#pos++] & mask;
    if (v < mask) return v;
    for (let shift = 0; ; shift += 7) {
      if (this.#pos >= this.#end) fail('truncated integer');
      const b = buf[this.#pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (v > MAX_INT) fail('integer over 2^31 - 1');
      if (b < 0x80) return v;
      if (shift >= MAX_CONTINUATION_SHIFT) fail('integer with too many continuation octets');
    }
  }

  /** A string literal (5.2): raw octets or Huffman-coded. */
  #string(): string {
    if (this.#pos >= this.#end) fail('truncated field: string missing');
    const huffman = (this.#buf[this.#pos] & 0x80) !== 0;
    const len = this.#int(0x7f);
    const start = this.#pos;
    // Checked before anything is sized from the claimed length.
    if (len > this.#end - start) fail(`string of ${len} octets past the block end (${this.#end - start} left)`);
    this.#pos = start + len;
    if (!huffman) return this.#buf.toString('latin1', start, start + len);
    const need = huffmanMaxDecoded(len);
    let out = scratch;
    if (need > out.length) {
      out = Buffer.allocUnsafe(need);
      if (need <= SCRATCH_KEEP) scratch = out;
    }
    const n = huffmanDecode(this.#buf, start, start + len, out);
    if (n < 0) {
      fail(n === HUFFMAN_EOS ? 'Huffman string holds EOS'
        : n === HUFFMAN_PADDING_LONG ? 'Huffman padding longer than 7 bits' : 'Huffman padding not all ones');
    }
    return out.toString('latin1', 0, n);
  }

  #pastTable(index: number): never {
    fail(`index ${index} past the table (${STATIC_LEN} static + ${this.#count} dynamic)`);
  }

  /** The name at an index (> 0) of the static or dynamic table. */
  #name(index: number): string {
    if (index <= STATIC_LEN) return STATIC_NAMES[index];
    const d = index - STATIC_LEN - 1;
    if (d >= this.#count) this.#pastTable(index);
    return this.#names[(this.#tail - 1 - d) & this.#mask];
  }

  /** 4.4: evict until the entry fits; an entry larger than the whole table empties it and is not kept. */
  #insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.#max) {
      while (this.#count > 0) this.#evictOldest();
      return;
    }
    while (this.#size + size > this.#max) this.#evictOldest();
    if (this.#count === this.#names.length) this.#grow();
    this.#names[this.#tail] = name;
    this.#values[this.#tail] = value;
    this.#tail = (this.#tail + 1) & this.#mask;
    this.#count++;
    this.#size += size;
  }

  #evictOldest(): void {
    const slot = (this.#tail - this.#count) & this.#mask;
    this.#size -= this.#names[slot].length + this.#values[slot].length + ENTRY_OVERHEAD;
    this.#names[slot] = '';
    this.#values[slot] = '';
    this.#count--;
  }

  /** Double the ring, oldest entry first at slot 0. */
  #grow(): void {
    const cap = this.#names.length * 2;
    const names = new Array<string>(cap).fill('');
    const values = new Array<string>(cap).fill('');
    for (let k = 0; k < this.#count; k++) {
      const slot = (this.#tail - this.#count + k) & this.#mask;
      names[k] = this.#names[slot];
      values[k] = this.#values[slot];
    }
    this.#names = names;
    this.#values = values;
    this.#mask = cap - 1;
    this.#tail = this.#count;
  }
}

// The encoder's lookups, built once: a name's first static index, and the index of
// each (name, value) pair the static table holds.
const STATIC_BY_NAME = new Map<string, { readonly index: number; readonly full: Map<string, number> }>();
STATIC.forEach(([name, value], i) => {
  let e = STATIC_BY_NAME.get(name);
  if (e === undefined) STATIC_BY_NAME.set(name, (e = { index: i + 1, full: new Map() }));
  if (!e.full.has(value)) e.full.set(value, i + 1);
});
const NOT_LATIN1 = /[^\x00-\xff]/;
// Most octets a field adds beyond its name and value: a 0x00 octet, two string
// lengths of at most 6 octets each (7-bit prefix + 5 continuation octets).
const FIELD_OVERHEAD_MAX = 13;

function writeInt(out: Buffer, pos: number, v: number, mask: number, first: number): number {
  if (v < mask) {
    out[pos++] = first | v;
    return pos;
  }
  out[pos++] = first | mask;
  v -= mask;
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function writeString(out: Buffer, pos: number, s: string): number {
  if (NOT_LATIN1.test(s)) throw new RangeError(`hpack: header text ${JSON.stringify(s.slice(0, 40))} has a character over U+00FF`);
  pos = writeInt(out, pos, s.length, 0x7f, 0x00);
  return pos + out.write(s, pos, 'latin1');
}

/**
 * Encode a header block for responses: each [name, value] as a static-table index where name AND value
 * match exactly, else literal without indexing (static name index when the name is in the static table),
 * no Huffman, never touching the peer's dynamic table. Names must already be lowercase.
 * Throws RangeError for a name or value with a character over U+00FF (octets are latin1).
 */
export function encodeHeaderBlock(headers: readonly (readonly [string, string])[]): Buffer {
  let bound = 0;
  for (const [name, value] of headers) bound += name.length + value.length + FIELD_OVERHEAD_MAX;
  const out = Buffer.allocUnsafe(bound);
  let pos = 0;
  for (const [name, value] of headers) {
    const s = STATIC_BY_NAME.get(name);
    if (s !== undefined) {
      const full = s.full.get(value);
      if (full !== undefined) {
        out[pos++] = 0x80 | full; // 6.1, and every static index is < 127: one octet
        continue;
      }
      pos = writeInt(out, pos, s.index, 0x0f, 0x00); // 6.2.2, indexed name
    } else {
      out[pos++] = 0x00; // 6.2.2, new name
      pos = writeString(out, pos, name);
    }
    pos = writeString(out, pos, value);
  }
  return out.subarray(0, pos);
}
