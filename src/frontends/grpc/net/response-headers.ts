/**
 * node:http2's outgoing header objects (what the call layer passes to respond and
 * sendTrailers: h2/status.ts's) as HPACK blocks. The frozen ones every call sends (the
 * response headers, OK trailers, HTTP 415) are encoded once and kept; others (a status
 * with details or metadata) are encoded per answer. Pseudo-headers go first, as HTTP/2
 * requires; names are lowercased as node:http2 lowercases them; an array value is one
 * field per element. (grpc-message is percent-encoded and metadata values are printable
 * ASCII by grpc-js's rules before they get here.)
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { encodeHeaderBlock } from './hpack.js';

const cache = new WeakMap<OutgoingHttpHeaders, Buffer>();
const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

/** HPACK strings are octets: a value beyond Latin-1 (none of ours should be) goes as its UTF-8 bytes, not cut. */
function octets(v: string): string {
  return BEYOND_LATIN1.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

function fieldsOf(headers: OutgoingHttpHeaders): Array<[string, string]> {
  const pseudo: Array<[string, string]> = [];
  const regular: Array<[string, string]> = [];
  for (const key of Object.keys(headers)) {
    const value = headers[key];
    if (value === undefined || value === null) continue;
    const name = key.toLowerCase();
    const into = name.charCodeAt(0) === 58 ? pseudo : regular;
    if (Array.isArray(value)) for (const v of value) into.push([name, octets(String(v))]);
    else into.push([name, octets(String(value))]);
  }
  return pseudo.length === 0 ? regular : pseudo.concat(regular);
}

export function headerBlockOf(headers: OutgoingHttpHeaders): Buffer {
  const frozen = Object.isFrozen(headers);
  if (frozen) {
    const hit = cache.get(headers);
    if (hit !== undefined) return hit;
  }
  const block = encodeHeaderBlock(fieldsOf(headers));
  if (frozen) cache.set(headers, block);
  return block;
}
