/**
 * A request's header list as node:http2 hands it to a server (the object H2Call reads),
 * checked as nghttp2 checks it for Node (nghttp2_http.c; the differential probe
 * test/frontends/grpc/h2-probe-frames.test.ts holds the cases):
 * - a stream error (RST_STREAM PROTOCOL_ERROR): a pseudo-header that is unknown,
 *   repeated, after a regular field, or with an illegal value (:method a token,
 *   :scheme a scheme, :path starting with "/", :authority authority characters); a
 *   field name with an uppercase letter; a connection-specific field; `te` other
 *   than "trailers"; :method, :scheme or :path missing;
 * - a field nghttp2 drops and the call goes on: a name that is not a token (empty,
 *   a space), a value with control characters (NUL, CR, LF, ...) or leading or trailing
 *   whitespace; after a dropped field pseudo-headers are refused as after a regular one;
 * - Node's bound: more than 128 fields kept (maxHeaderListPairs) is ENHANCE_YOUR_CALM.
 *   The list's size is bounded too (1 MiB, as HPACK counts it): with at most 128 fields,
 *   each at most a 4096-octet table entry or a literal of a block of at most nine
 *   frames, no legal list comes near it.
 *
 * Repeated fields combine as Node's toHeaderObject combines them: the first kept for
 * single-value fields, cookies joined with "; ", set-cookie an array, others ", ".
 */
import { ENHANCE_YOUR_CALM, PROTOCOL_ERROR } from './frames.js';

export const MAX_HEADER_PAIRS = 128;
export const MAX_HEADER_LIST_SIZE = 1 << 20;

const SINGLE_VALUE = new Set([
  ':status', ':method', ':authority', ':scheme', ':path', ':protocol',
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method',
  'age', 'authorization', 'content-encoding', 'content-language', 'content-length', 'content-location',
  'content-md5', 'content-range', 'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'host',
  'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified',
  'location', 'max-forwards', 'proxy-authorization', 'range', 'referer', 'retry-after', 'tk',
  'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function table(chars: string, ranges: Array<[number, number]> = []): Uint8Array {
  const t = new Uint8Array(256);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  for (const [a, b] of ranges) t.fill(1, a, b + 1);
  return t;
}
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** RFC 9110 tchar: names (lowercase letters only: uppercase is refused before) and :method. */
const TOKEN = table(`!#$%&'*+-.^_\`|~${ALNUM}`);
const SCHEME = table(`+-.${ALNUM}`);
const AUTHORITY = table(`-._~%!$&'()*+,;=:@[]${ALNUM}`);
/** :path: visible ASCII and obs-text, as nghttp2's path check. */
const PATH = table('', [[0x21, 0x7e], [0x80, 0xff]]);
/** A field value: visible ASCII, obs-text, SP and HTAB (no other control characters). */
const VALUE = table(' \t', [[0x21, 0x7e], [0x80, 0xff]]);

function all(s: string, t: Uint8Array): boolean {
  for (let i = 0; i < s.length; i++) if (t[s.charCodeAt(i)] !== 1) return false;
  return true;
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

function legalValue(v: string): boolean {
  if (v.length === 0) return true;
  const first = v.charCodeAt(0);
  const last = v.charCodeAt(v.length - 1);
  if (first === 32 || first === 9 || last === 32 || last === 9) return false;
  return all(v, VALUE);
}

function legalPseudo(name: string, value: string): boolean {
  switch (name) {
    case ':method': return value.length > 0 && all(value, TOKEN);
    case ':scheme': return value.length > 0 && all(value, SCHEME);
    case ':path': return value.length > 0 && all(value, PATH);
    case ':authority': return all(value, AUTHORITY);
    default: return false;
  }
}

export type HeaderObject = Record<string, string | string[]>;

/**
 * Collects header blocks (the HPACK decoder's sink), one at a time: a connection keeps
 * one, so a request costs its header object and not a sink too. `refusal` is the
 * RST_STREAM code when the block must be refused.
 */
export class RequestHeaderList {
  object: HeaderObject = Object.create(null) as HeaderObject;
  refusal: number | undefined;
  #pairs = 0;
  /** A regular field came (kept or dropped): no pseudo-header after it. */
  #regular = false;
  #trailers = false;

  /** The next block; `trailers`: it ends a request (no pseudo-headers allowed). */
  begin(trailers: boolean): void {
    this.object = Object.create(null) as HeaderObject;
    this.refusal = undefined;
    this.#pairs = 0;
    this.#regular = false;
    this.#trailers = trailers;
  }

  readonly add = (name: string, value: string): void => {
    if (this.refusal !== undefined) return;
    const obj = this.object;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (this.#trailers || this.#regular || obj[name] !== undefined || !legalPseudo(name, value)) { this.refusal = PROTOCOL_ERROR; return; }
      if (++this.#pairs > MAX_HEADER_PAIRS) { this.refusal = ENHANCE_YOUR_CALM; return; }
      obj[name] = value;
      return;
    }
    this.#regular = true;
    if (hasUpper(name)) { this.refusal = PROTOCOL_ERROR; return; }
    if (name.length === 0 || !all(name, TOKEN) || !legalValue(value)) return; // dropped, as nghttp2 drops it
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers')) { this.refusal = PROTOCOL_ERROR; return; }
    if (++this.#pairs > MAX_HEADER_PAIRS) { this.refusal = ENHANCE_YOUR_CALM; return; }
    const existing = obj[name];
    if (existing === undefined) {
      obj[name] = name === 'set-cookie' ? [value] : value;
    } else if (!SINGLE_VALUE.has(name)) {
      if (name === 'cookie') obj[name] = `${existing as string}; ${value}`;
      else if (Array.isArray(existing)) existing.push(value);
      else obj[name] = `${existing}, ${value}`;
    }
  };

  /** After the block: the code to refuse it with, if any. */
  finish(listSize: number): number | undefined {
    if (this.refusal !== undefined) return this.refusal;
    if (listSize > MAX_HEADER_LIST_SIZE) return ENHANCE_YOUR_CALM;
    if (!this.#trailers) {
      const o = this.object;
      const method = o[':method'];
      const path = o[':path'] as string | undefined;
      if (method === undefined || o[':scheme'] === undefined || path === undefined) return PROTOCOL_ERROR;
      if (path.charCodeAt(0) !== 47 /* / */ && !(path === '*' && method === 'OPTIONS')) return PROTOCOL_ERROR;
    }
    return undefined;
  }
}
