/**
 * Just enough protobuf to build ModelInferRequest frames once per payload and to
 * read the few small responses the bench needs (metadata, config, statistics).
 * Writing by hand keeps the hot path free of any codec: a request is encoded once
 * and its bytes are reused for every send.
 */

export const WT_VARINT = 0;
export const WT_FIXED64 = 1;
export const WT_LEN = 2;
export const WT_FIXED32 = 5;

export class PbWriter {
  #buf = Buffer.allocUnsafe(256);
  #pos = 0;

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  /** Unsigned varint; negative numbers are written as 10-byte two's complement int64. */
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    this.#ensure(10);
    while (x >= 0x80n) {
      this.#buf[this.#pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.#buf[this.#pos++] = Number(x);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WT_LEN).varint(b.byteLength);
    this.#ensure(b.byteLength);
    this.#buf.set(b, this.#pos);
    this.#pos += b.byteLength;
    return this;
  }

  string(field: number, s: string): this {
    return s === '' ? this : this.bytes(field, Buffer.from(s, 'utf8'));
  }

  uint(field: number, v: number | bigint): this {
    return v === 0 || v === 0n ? this : this.tag(field, WT_VARINT).varint(v);
  }

  bool(field: number, v: boolean): this {
    return v ? this.tag(field, WT_VARINT).varint(1) : this;
  }

  packed(field: number, values: readonly (number | bigint)[]): this {
    if (values.length === 0) return this;
    const inner = new PbWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  message(field: number, build: (w: PbWriter) => void): this {
    const inner = new PbWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

export interface PbField {
  no: number;
  wireType: number;
  /** Varint and fixed values. */
  int: bigint;
  /** Length-delimited payload (a view, not a copy). */
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('protobuf: truncated varint');
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [v, pos];
    shift += 7n;
  }
}

/** Iterate the fields of one message. Not for hot paths: it allocates BigInts. */
export function* pbFields(buf: Uint8Array): Generator<PbField> {
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (wireType === WT_VARINT) {
      const [v, p2] = readVarint(buf, pos);
      pos = p2;
      yield { no, wireType, int: v, bytes: EMPTY };
    } else if (wireType === WT_LEN) {
      const [len, p2] = readVarint(buf, pos);
      const end = p2 + Number(len);
      if (end > buf.length) throw new Error('protobuf: truncated field');
      yield { no, wireType, int: 0n, bytes: buf.subarray(p2, end) };
      pos = end;
    } else if (wireType === WT_FIXED64 || wireType === WT_FIXED32) {
      const n = wireType === WT_FIXED64 ? 8 : 4;
      const dv = new DataView(buf.buffer, buf.byteOffset + pos, n);
      const int = n === 8 ? dv.getBigUint64(0, true) : BigInt(dv.getUint32(0, true));
      pos += n;
      yield { no, wireType, int, bytes: EMPTY };
    } else {
      throw new Error(`protobuf: unsupported wire type ${wireType}`);
    }
  }
}

const utf8 = new TextDecoder();
export const pbString = (f: PbField): string => utf8.decode(f.bytes);

/** Repeated int64, packed or not; signed (shapes carry -1). */
export function pbInt64s(f: PbField, into: number[]): void {
  if (f.wireType === WT_VARINT) {
    into.push(Number(BigInt.asIntN(64, f.int)));
    return;
  }
  let pos = 0;
  while (pos < f.bytes.length) {
    const [v, p] = readVarint(f.bytes, pos);
    into.push(Number(BigInt.asIntN(64, v)));
    pos = p;
  }
}
