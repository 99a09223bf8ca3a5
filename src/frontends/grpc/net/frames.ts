/**
 * HTTP/2's frame layout and registry values (RFC 9113 sections 4, 6, 7), the parts the
 * net engine reads and writes. One owner for the numbers: connection.ts and stream.ts
 * name them from here.
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER = 9;

// Frame types (6.1-6.10).
export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

// Flags.
export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

// SETTINGS identifiers (6.5.2).
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

// Error codes (7).
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;
export const MIN_MAX_FRAME_SIZE = 16_384;
export const MAX_MAX_FRAME_SIZE = 16_777_215;

/** Write a frame header at buf[off]. */
export function writeFrameHeader(buf: Buffer, off: number, length: number, type: number, flags: number, stream: number): void {
  buf[off] = length >>> 16;
  buf[off + 1] = (length >>> 8) & 0xff;
  buf[off + 2] = length & 0xff;
  buf[off + 3] = type;
  buf[off + 4] = flags;
  buf.writeUInt32BE(stream, off + 5);
}

/** A whole frame: header and payload in one buffer. */
export function frame(type: number, flags: number, stream: number, payload?: Buffer): Buffer {
  const n = payload === undefined ? 0 : payload.length;
  const b = Buffer.allocUnsafe(FRAME_HEADER + n);
  writeFrameHeader(b, 0, n, type, flags, stream);
  if (payload !== undefined) payload.copy(b, FRAME_HEADER);
  return b;
}

/** A frame whose payload is one 32-bit value (RST_STREAM's code, WINDOW_UPDATE's increment). */
export function frame32(type: number, stream: number, value: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(b, 0, 4, type, 0, stream);
  b.writeUInt32BE(value >>> 0, FRAME_HEADER);
  return b;
}

/** GOAWAY: the last stream the server will process and why. */
export function goawayFrame(lastStream: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + 8);
  writeFrameHeader(b, 0, 8, GOAWAY, 0, 0);
  b.writeUInt32BE(lastStream, FRAME_HEADER);
  b.writeUInt32BE(code, FRAME_HEADER + 4);
  return b;
}

/**
 * Where a DATA or HEADERS payload buf[s, e) ends without its padding (PADDED: the first
 * octet is the pad length); a negative value is minus the connection error's code
 * (FRAME_SIZE_ERROR: no room for the pad length; PROTOCOL_ERROR: more padding than payload).
 */
export function paddedEnd(flags: number, buf: Buffer, s: number, e: number): number {
  if ((flags & FLAG_PADDED) === 0) return e;
  if (e - s < 1) return -FRAME_SIZE_ERROR;
  const pad = buf[s]!;
  if (pad > e - s - 1) return -PROTOCOL_ERROR;
  return e - pad;
}
