/**
 * JS values <-> KServe raw tensor bytes (little-endian, row-major; BOOL one byte;
 * BYTES as uint32 length + bytes per element), for building request payloads once.
 */

export type Value = number | boolean | string;

const SIZE: Record<string, number> = {
  BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2,
  UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8,
};

export function elementSize(datatype: string): number {
  const s = SIZE[datatype];
  if (s === undefined && datatype !== 'BYTES') throw new Error(`unsupported datatype ${datatype}`);
  return s ?? 0;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half from a double, round-to-nearest; enough for benchmark inputs. */
function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((mant + 0x1000) >>> 13);
}

/** A double from IEEE half bits (subnormals, infinities and NaN included). */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function valuesToRaw(datatype: string, values: readonly Value[]): Uint8Array {
  if (datatype === 'BYTES') {
    const parts = values.map((v) => Buffer.from(String(v), 'utf8'));
    const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + 4 + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.writeUInt32LE(p.length, off);
      p.copy(out, off + 4);
      off += 4 + p.length;
    }
    return out;
  }
  const size = elementSize(datatype);
  const out = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    const n = typeof v === 'boolean' ? Number(v) : Number(v);
    const o = i * size;
    switch (datatype) {
      case 'BOOL': case 'UINT8': out.writeUInt8(n ? n & 0xff : 0, o); break;
      case 'INT8': out.writeInt8(n, o); break;
      case 'UINT16': out.writeUInt16LE(n, o); break;
      case 'INT16': out.writeInt16LE(n, o); break;
      case 'UINT32': out.writeUInt32LE(n, o); break;
      case 'INT32': out.writeInt32LE(n, o); break;
      case 'UINT64': out.writeBigUInt64LE(BigInt(Math.trunc(n)), o); break;
      case 'INT64': out.writeBigInt64LE(BigInt(Math.trunc(n)), o); break;
      case 'FP16': out.writeUInt16LE(toHalf(n), o); break;
      case 'BF16': f32[0] = n; out.writeUInt16LE(u32[0] >>> 16, o); break;
      case 'FP32': out.writeFloatLE(n, o); break;
      case 'FP64': out.writeDoubleLE(n, o); break;
    }
  });
  return out;
}

/** Raw bytes (from a perf_analyzer `b64` entry) back to values, for JSON requests. */
export function rawToValues(datatype: string, raw: Uint8Array): Value[] {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (datatype === 'BYTES') {
    const out: Value[] = [];
    for (let off = 0; off < b.length;) {
      const len = b.readUInt32LE(off);
      out.push(b.toString('utf8', off + 4, off + 4 + len));
      off += 4 + len;
    }
    return out;
  }
  const size = elementSize(datatype);
  const out: Value[] = [];
  for (let o = 0; o + size <= b.length; o += size) {
    switch (datatype) {
      case 'BOOL': out.push(b[o] !== 0); break;
      case 'UINT8': out.push(b.readUInt8(o)); break;
      case 'INT8': out.push(b.readInt8(o)); break;
      case 'UINT16': out.push(b.readUInt16LE(o)); break;
      case 'INT16': out.push(b.readInt16LE(o)); break;
      case 'UINT32': out.push(b.readUInt32LE(o)); break;
      case 'INT32': out.push(b.readInt32LE(o)); break;
      case 'UINT64': out.push(Number(b.readBigUInt64LE(o))); break;
      case 'INT64': out.push(Number(b.readBigInt64LE(o))); break;
      case 'FP32': out.push(b.readFloatLE(o)); break;
      case 'FP64': out.push(b.readDoubleLE(o)); break;
      default: throw new Error(`${datatype} has no JSON form; use binary or gRPC`);
    }
  }
  return out;
}
