/**
 * Text that must be UTF-8 (a JSON document, a proto3 string). Node's decoder turns
 * bytes that are not UTF-8 into U+FFFD, which would silently change the text (two
 * different ids could come out equal), so such bytes are refused by the callers.
 * Only a text that holds a U+FFFD is validated further: a valid one may hold one too
 * (EF BF BD), and ASCII/valid text pays nothing but the one scan.
 */
import { isUtf8 } from 'node:buffer';

/** The UTF-8 text of `buf[start, end)`, or undefined when those bytes are not UTF-8. */
export function strictUtf8(buf: Buffer, start: number, end: number): string | undefined {
  const text = buf.toString('utf8', start, end);
  return text.indexOf('\ufffd') >= 0 && !isUtf8(buf.subarray(start, end)) ? undefined : text;
}
