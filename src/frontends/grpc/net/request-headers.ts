/**
 * A request's header list as node:http2 hands it to a server (the object H2Call reads),
 * checked as nghttp2 checks it for Node: pseudo-headers first, each once, only the four
 * a request may carry, :method/:scheme/:path present; names lowercase tokens; values
 * without NUL, CR or LF; no connection-specific fields; `te` only "trailers". A list
 * that breaks a rule is a stream error (RST_STREAM PROTOCOL_ERROR). Node's bounds hold
 * too: more than 128 fields (maxHeaderListPairs) or a list over 65535 octets counted as
 * HPACK counts it (maxHeaderListSize) is refused with ENHANCE_YOUR_CALM.
 *
 * Repeated fields combine as Node's toHeaderObject combines them: the first kept for
 * single-value fields, cookies joined with "; ", set-cookie an array, others ", ".
 */
import { ENHANCE_YOUR_CALM, PROTOCOL_ERROR } from './frames.js';

export const MAX_HEADER_PAIRS = 128;
export const MAX_HEADER_LIST_SIZE = 65_535;

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
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':path', ':authority']);

/** RFC 9110 token characters, lowercase only (HTTP/2 field names are lowercase). */
const NAME_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

function legalName(name: string, from: number): boolean {
  if (name.length <= from) return false;
  for (let i = from; i < name.length; i++) if (NAME_CHAR[name.charCodeAt(i)] !== 1) return false;
  return true;
}

function legalValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13) return false;
  }
  return true;
}

export type HeaderObject = Record<string, string | string[]>;

/** Collects one header block (the HPACK decoder's sink); `refusal` is the RST_STREAM code when it must be refused. */
export class RequestHeaderList {
  readonly object: HeaderObject = Object.create(null) as HeaderObject;
  refusal: number | undefined;
  #pairs = 0;
  #regular = false;
  readonly #trailers: boolean;

  /** `trailers`: the block ends a request (no pseudo-headers allowed). */
  constructor(trailers: boolean) {
    this.#trailers = trailers;
  }

  readonly add = (name: string, value: string): void => {
    if (this.refusal !== undefined) return;
    if (++this.#pairs > MAX_HEADER_PAIRS) { this.refusal = ENHANCE_YOUR_CALM; return; }
    if (!legalValue(value)) { this.refusal = PROTOCOL_ERROR; return; }
    const obj = this.object;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (this.#trailers || this.#regular || !REQUEST_PSEUDO.has(name) || obj[name] !== undefined) { this.refusal = PROTOCOL_ERROR; return; }
      if (name === ':path' && value === '') { this.refusal = PROTOCOL_ERROR; return; }
      obj[name] = value;
      return;
    }
    this.#regular = true;
    if (!legalName(name, 0) || CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers')) { this.refusal = PROTOCOL_ERROR; return; }
    const existing = obj[name];
    if (existing === undefined) {
      obj[name] = name === 'set-cookie' ? [value] : value;
    } else if (!SINGLE_VALUE.has(name)) {
      if (name === 'cookie') obj[name] = `${existing as string}; ${value}`;
      else if (Array.isArray(existing)) existing.push(value);
      else obj[name] = `${existing}, ${value}`;
    }
  };

  /** After the block: the code to refuse it with, if any (a request needs :method, :scheme and :path). */
  finish(listSize: number): number | undefined {
    if (this.refusal !== undefined) return this.refusal;
    if (listSize > MAX_HEADER_LIST_SIZE) return ENHANCE_YOUR_CALM;
    if (!this.#trailers) {
      const o = this.object;
      if (o[':method'] === undefined || o[':scheme'] === undefined || o[':path'] === undefined) return PROTOCOL_ERROR;
    }
    return undefined;
  }
}
