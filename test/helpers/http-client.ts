/**
 * A small Triton HTTP client for tests: raw requests over node:http (no automatic
 * decompression, exact bytes and headers), plus builders and parsers for the infer
 * JSON and binary-tensor-data forms. Used by the HTTP front-end tests and the
 * end-to-end conformance suite.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { parseJsonExact } from '../../src/codec/json-parse.js';
import { decodeValues, encodeValues, type ScalarValue } from '../../src/codec/raw.js';
import type { DataType } from '../../src/types/tensor.js';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** As received (still compressed when Content-Encoding says so). */
  body: Buffer;
}

export interface RequestOptions {
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  /** For an https: base: the CA to trust and any client certificate to present. */
  tls?: Pick<https.RequestOptions, 'ca' | 'cert' | 'key'>;
}

/** One HTTP(S) request on a fresh connection (so a server-side close affects only it). */
export function httpRequest(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined && !opts.chunked) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const url = new URL(path, base);
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, { method, headers, agent: false, ...opts.tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** The body with any Content-Encoding undone. */
export function decodedBody(reply: HttpReply): Buffer {
  const coding = reply.headers['content-encoding'];
  if (coding === 'gzip') return zlib.gunzipSync(reply.body);
  if (coding === 'deflate') return zlib.inflateSync(reply.body);
  return reply.body;
}

/** JSON body; integers beyond 2^53 come back as bigint, NaN/Infinity tokens as numbers. */
export function replyJson<T = any>(reply: HttpReply): T {
  return parseJsonExact(decodedBody(reply).toString('utf8')) as T;
}

/** JSON.stringify that writes bigint as exact integer literals. */
export function stringifyJson(value: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    marks.push(v.toString());
    return `\u0000big${marks.length - 1}\u0000`;
  });
  return text.replace(/"\\u0000big(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}

export interface InferInputSpec {
  name: string;
  datatype: DataType | string;
  shape: number[];
  /** JSON data (flat or nested). */
  data?: unknown;
  /** Raw bytes sent with the binary tensor data extension. */
  raw?: Uint8Array;
  parameters?: Record<string, unknown>;
}

export interface InferRequestSpec {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInputSpec[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

/** JSON header + binary section; `headerLength` is undefined when no input is binary. */
export function buildInferBody(spec: InferRequestSpec): { body: Buffer; headerLength?: number } {
  const raws: Uint8Array[] = [];
  const inputs = spec.inputs.map((i) => {
    const out: Record<string, unknown> = { name: i.name, shape: i.shape, datatype: i.datatype };
    const parameters = { ...i.parameters };
    if (i.raw !== undefined) {
      parameters.binary_data_size = i.raw.byteLength;
      raws.push(i.raw);
    } else {
      out.data = i.data;
    }
    if (Object.keys(parameters).length > 0) out.parameters = parameters;
    return out;
  });
  const doc: Record<string, unknown> = {};
  if (spec.id !== undefined) doc.id = spec.id;
  if (spec.parameters !== undefined) doc.parameters = spec.parameters;
  doc.inputs = inputs;
  if (spec.outputs !== undefined) doc.outputs = spec.outputs;
  const json = Buffer.from(stringifyJson(doc));
  if (raws.length === 0) return { body: json };
  return { body: Buffer.concat([json, ...raws]), headerLength: json.byteLength };
}

export interface InferResult {
  /** The JSON header (exact integers, see replyJson). */
  json: any;
  /** Binary outputs by name. */
  binary: Map<string, Uint8Array>;
}

/** Split a (decompressed) infer answer into its JSON header and binary outputs. */
export function parseInferReply(reply: HttpReply): InferResult {
  const body = decodedBody(reply);
  const lengthHeader = reply.headers['inference-header-content-length'];
  const jsonLength = lengthHeader === undefined ? body.byteLength : Number(lengthHeader);
  const json = parseJsonExact(body.subarray(0, jsonLength).toString('utf8')) as any;
  const binary = new Map<string, Uint8Array>();
  let off = jsonLength;
  for (const o of json.outputs ?? []) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(o.name, body.subarray(off, off + Number(size)));
    off += Number(size);
  }
  if (off !== body.byteLength) throw new Error(`binary section is ${body.byteLength - jsonLength} bytes, outputs declare ${off - jsonLength}`);
  return { json, binary };
}

export interface InferOptions {
  version?: string;
  headers?: Record<string, string>;
  /** Compress the request body. */
  contentEncoding?: 'gzip' | 'deflate';
}

export function inferPath(model: string, version = ''): string {
  const m = encodeURIComponent(model);
  return version === '' ? `/v2/models/${m}/infer` : `/v2/models/${m}/versions/${encodeURIComponent(version)}/infer`;
}

/** POST an infer request built from `spec`; the reply is parsed only when it is 200. */
export async function infer(base: string, model: string, spec: InferRequestSpec, opts: InferOptions = {}): Promise<{ reply: HttpReply; result?: InferResult }> {
  const { body, headerLength } = buildInferBody(spec);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (headerLength !== undefined) {
    headers['inference-header-content-length'] = String(headerLength);
    headers['content-type'] = 'application/octet-stream';
  }
  let payload: Buffer = body;
  if (opts.contentEncoding !== undefined) {
    payload = opts.contentEncoding === 'gzip' ? zlib.gzipSync(body) : zlib.deflateSync(body);
    headers['content-encoding'] = opts.contentEncoding;
  }
  const reply = await httpRequest(base, 'POST', inferPath(model, opts.version), { body: payload, headers });
  return reply.status === 200 ? { reply, result: parseInferReply(reply) } : { reply };
}

/** JS values -> raw layout (not FP16/BF16: build those bytes by hand). */
export function toRaw(datatype: DataType, values: readonly unknown[]): Uint8Array {
  return encodeValues(datatype, values, 'test');
}

export function fromRaw(datatype: DataType, raw: Uint8Array): ScalarValue[] {
  return decodeValues(datatype, raw, 'test');
}
