/**
 * JSON text -> JS values for the HTTP front end.
 *
 * Two parsers with one contract:
 * - `parseJsonFast` is V8's JSON.parse. It is the hot path (it is ~3x faster than
 *   anything written in JS) and it is iterative in V8, so deep nesting cannot blow
 *   the stack (checked on Node 20: 1e6 levels parse fine); the depth limit is then
 *   enforced by `assertDepth` and by the decoders that walk the value. Integers
 *   beyond 2^53 lose precision here.
 * - `parseJsonExact` is ours: it keeps integers beyond 2^53 exact (as bigint), accepts
 *   the NaN / Infinity / -Infinity tokens that Python's `json` module writes, enforces
 *   the depth limit while parsing (its recursion is bounded by it), and reports
 *   syntax errors the way Triton does (RapidJSON's reason text and byte offset).
 *   It runs only when the fast parse fails or the decoder finds an integer that
 *   JSON.parse may have rounded.
 */
import { InvalidArgument } from '../errors/errors.js';
import { strictUtf8 } from './utf8.js';

/** Deepest nesting of arrays/objects accepted in a request document. */
export const MAX_JSON_DEPTH = 64;

const PARSE_PREFIX = 'failed to parse the request JSON buffer: ';

export function jsonSyntaxError(reason: string, offset: number): InvalidArgument {
  return new InvalidArgument(`${PARSE_PREFIX}${reason} at ${offset}`);
}

export function jsonDepthError(maxDepth = MAX_JSON_DEPTH): InvalidArgument {
  return new InvalidArgument(`${PARSE_PREFIX}JSON nesting is deeper than ${maxDepth} levels`);
}

/**
 * The UTF-8 text of `buf[0, end)`; bytes that are not UTF-8 (./utf8.ts) are refused as
 * RapidJSON refuses them (with its encoding validation on).
 */
export function jsonText(buf: Buffer, end: number): string {
  const text = strictUtf8(buf, 0, end);
  if (text === undefined) throw jsonSyntaxError('Invalid encoding in string.', badUtf8Offset(buf, buf.toString('utf8', 0, end)));
  return text;
}

/** Byte offset of the first U+FFFD of `text` that `buf` does not spell as EF BF BD (linear). */
function badUtf8Offset(buf: Buffer, text: string): number {
  let at = 0;
  let from = 0;
  for (let i = text.indexOf('\ufffd'); i >= 0; i = text.indexOf('\ufffd', i + 1)) {
    at += Buffer.byteLength(text.slice(from, i));
    if (buf[at] !== 0xef || buf[at + 1] !== 0xbf || buf[at + 2] !== 0xbd) return at;
    at += 3;
    from = i + 1;
  }
  return at;
}

/** V8's parser; on a syntax error, re-parse with ours for Triton's error text (or NaN tokens). */
export function parseJsonFast(text: string): { value: unknown; exact: boolean } {
  try {
    return { value: JSON.parse(text), exact: false };
  } catch {
    return { value: parseJsonExact(text), exact: true };
  }
}

/** Throws when `value` nests arrays/objects deeper than `maxDepth`; `depth` is the level of `value` itself. */
export function assertDepth(value: unknown, depth: number, maxDepth = MAX_JSON_DEPTH): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > maxDepth) throw jsonDepthError(maxDepth);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const e: unknown = value[i];
      if (typeof e === 'object' && e !== null) assertDepth(e, depth + 1, maxDepth);
    }
    return;
  }
  for (const k in value) {
    const e = (value as Record<string, unknown>)[k];
    if (typeof e === 'object' && e !== null) assertDepth(e, depth + 1, maxDepth);
  }
}

export function parseJsonExact(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  return new ExactParser(text, maxDepth).document();
}

const C_QUOTE = 34, C_BACKSLASH = 92, C_MINUS = 45, C_PLUS = 43, C_DOT = 46, C_0 = 48, C_9 = 57;

function isDigit(c: number): boolean { return c >= C_0 && c <= C_9; }

class ExactParser {
  private i = 0;
  private readonly n: number;
  constructor(private readonly s: string, private readonly maxDepth: number) {
    this.n = s.length;
  }

  document(): unknown {
    this.ws();
    if (this.i >= this.n) throw jsonSyntaxError('The document is empty.', this.i);
    const v = this.value(0);
    this.ws();
    if (this.i < this.n) throw jsonSyntaxError('The document root must not be followed by other values.', this.i);
    return v;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    while (i < this.n) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
    this.i = i;
  }

  private value(depth: number): unknown {
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 123: return this.object(depth + 1); // {
      case 91: return this.array(depth + 1); // [
      case C_QUOTE: return this.string();
      case 116: return this.literal('true', true);
      case 102: return this.literal('false', false);
      case 110: return this.literal('null', null);
      case 78: return this.literal('NaN', NaN);
      case 73: return this.literal('Infinity', Infinity);
      default:
        if (c === C_MINUS || isDigit(c)) return this.number();
        throw jsonSyntaxError('Invalid value.', this.i);
    }
  }

  private literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    throw jsonSyntaxError('Invalid value.', this.i);
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) throw jsonDepthError(this.maxDepth);
    this.i++;
    const o: Record<string, unknown> = {};
    this.ws();
    if (this.s.charCodeAt(this.i) === 125) { this.i++; return o; }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== C_QUOTE) throw jsonSyntaxError('Missing a name for object member.', this.i);
      const key = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i) !== 58) throw jsonSyntaxError('Missing a colon after a name of object member.', this.i);
      this.i++;
      this.ws();
      const v = this.value(depth);
      // A plain assignment of '__proto__' would replace the prototype instead of adding a key.
      if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
      else o[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 44) { this.i++; this.ws(); continue; }
      if (c === 125) { this.i++; return o; }
      throw jsonSyntaxError("Missing a comma or '}' after an object member.", this.i);
    }
  }

  private array(depth: number): unknown[] {
    if (depth > this.maxDepth) throw jsonDepthError(this.maxDepth);
    this.i++;
    const a: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 93) { this.i++; return a; }
    for (;;) {
      if (this.i >= this.n) throw jsonSyntaxError('Invalid value.', this.i);
      a.push(this.value(depth));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 44) { this.i++; this.ws(); continue; }
      if (c === 93) { this.i++; return a; }
      throw jsonSyntaxError("Missing a comma or ']' after an array element.", this.i);
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.i;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= this.n) throw jsonSyntaxError('Missing a closing quotation mark in string.', start);
      const c = s.charCodeAt(i);
      if (c === C_QUOTE) break;
      if (c === C_BACKSLASH) {
        escaped = true;
        const e = s.charCodeAt(i + 1);
        if (e === 117) { // \uXXXX
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) throw jsonSyntaxError('Incorrect hex digit after \\u escape in string.', i);
          i += 6;
          continue;
        }
        if (e !== C_QUOTE && e !== C_BACKSLASH && e !== 47 && e !== 98 && e !== 102 && e !== 110 && e !== 114 && e !== 116) {
          throw jsonSyntaxError('Invalid escape character in string.', i);
        }
        i += 2;
        continue;
      }
      if (c < 0x20) throw jsonSyntaxError('Invalid encoding in string.', i);
      i++;
    }
    this.i = i + 1;
    // The escapes were validated above, so V8 can decode them.
    return escaped ? (JSON.parse(s.slice(start, i + 1)) as string) : s.slice(start + 1, i);
  }

  private number(): number | bigint {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === C_MINUS) {
      i++;
      if (s.startsWith('Infinity', i)) { this.i = i + 8; return -Infinity; }
    }
    if (!isDigit(s.charCodeAt(i))) throw jsonSyntaxError('Invalid value.', i);
    if (s.charCodeAt(i) === C_0) i++;
    else while (isDigit(s.charCodeAt(i))) i++;
    let integral = true;
    if (s.charCodeAt(i) === C_DOT) {
      integral = false;
      i++;
      if (!isDigit(s.charCodeAt(i))) throw jsonSyntaxError('Miss fraction part in number.', i);
      while (isDigit(s.charCodeAt(i))) i++;
    }
    const e = s.charCodeAt(i);
    if (e === 101 || e === 69) {
      integral = false;
      i++;
      const sign = s.charCodeAt(i);
      if (sign === C_PLUS || sign === C_MINUS) i++;
      if (!isDigit(s.charCodeAt(i))) throw jsonSyntaxError('Miss exponent in number.', i);
      while (isDigit(s.charCodeAt(i))) i++;
    }
    this.i = i;
    const text = s.slice(start, i);
    // 15 digits always fit a double exactly; longer integer literals are checked.
    if (integral && i - start > 15) {
      const b = BigInt(text);
      return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    }
    const v = Number(text);
    if (!Number.isFinite(v)) throw jsonSyntaxError('Number too big to be stored in double.', start);
    return v;
  }
}
