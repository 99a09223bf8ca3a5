/**
 * The two protocol drivers of the conformance suite. Each turns a protocol-neutral
 * call (cases.ts) into real requests with the real test clients, and hands back a
 * protocol-neutral answer: outputs as raw bytes, errors as (status or code,
 * message), numbers as numbers. Anything protocol-specific that the suite must
 * also hold (Content-Type, binary_data_size on every binary output, empty health
 * bodies) is asserted here, on every call.
 */
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import type { DataType } from '../../src/types/tensor.js';
import {
  type GrpcTestClient, createGrpcClient, rawInferRequest, responseTensors, typedInferRequest,
} from '../helpers/grpc-client.js';
import {
  type HttpReply, type InferInputSpec, httpRequest, infer as httpInfer, replyJson, toRaw,
} from '../helpers/http-client.js';
import type {
  Form, IndexEntry, InferReply, InferSpec, OutTensor, Outcome, Protocol, TensorSpec,
} from './cases.js';

export interface ServerMeta { name: string; version: string; extensions: string[] }

/** Statistics with every counter as a number, whatever the wire form. */
export interface Stats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<string, { count: number; ns: number }>;
  batch_stats: Array<{ batch_size: number } & Record<string, { count: number; ns: number } | number>>;
}

export interface Driver {
  readonly protocol: Protocol;
  live(): Promise<boolean>;
  ready(): Promise<boolean>;
  serverMetadata(): Promise<ServerMeta>;
  modelMetadata(model: string, version?: string): Promise<Outcome<unknown>>;
  modelReady(model: string, version?: string): Promise<Outcome<boolean>>;
  /** The config as the protocol gives it (gRPC: proto-loader object, 64-bit numbers as strings). */
  modelConfig(model: string, version?: string): Promise<Outcome<unknown>>;
  modelStatistics(model?: string, version?: string): Promise<Outcome<Stats[]>>;
  /** The raw statistics answer (to check keys exist exactly as a client would read them). */
  rawStatistics(model: string): Promise<any>;
  repositoryIndex(readyOnly: boolean): Promise<IndexEntry[]>;
  infer(spec: InferSpec, form: Form): Promise<Outcome<InferReply>>;
  close(): void;
}

function tensorRaw(t: TensorSpec): Uint8Array {
  if (t.raw !== undefined) return t.raw;
  if (t.values === undefined) throw new Error(`tensor ${t.name} has neither values nor raw`);
  return toRaw(t.datatype as DataType, t.values);
}

// ---------------------------------------------------------------- HTTP

function httpError(reply: HttpReply): Outcome<never> {
  assert.equal(reply.headers['content-type'], 'application/json', `error answers are JSON (status ${reply.status})`);
  const body = replyJson<{ error: unknown }>(reply);
  assert.deepEqual(Object.keys(body), ['error'], 'an error body is exactly {"error": "..."}');
  assert.equal(typeof body.error, 'string');
  return { ok: false, code: reply.status, message: body.error as string };
}

function versionPath(model: string, version: string | undefined, suffix: string): string {
  const m = `/v2/models/${encodeURIComponent(model)}`;
  const v = version === undefined || version === '' ? '' : `/versions/${encodeURIComponent(version)}`;
  return `${m}${v}${suffix}`;
}

export class HttpDriver implements Driver {
  readonly protocol = 'http' as const;
  constructor(readonly base: string) {}

  async #health(path: string): Promise<boolean> {
    const r = await httpRequest(this.base, 'GET', path);
    assert.equal(r.body.byteLength, 0, `${path} answers with an empty body`);
    assert.ok(r.status === 200 || r.status === 400, `${path}: status ${r.status}`);
    return r.status === 200;
  }

  live(): Promise<boolean> { return this.#health('/v2/health/live'); }
  ready(): Promise<boolean> { return this.#health('/v2/health/ready'); }

  async serverMetadata(): Promise<ServerMeta> {
    const r = await httpRequest(this.base, 'GET', '/v2');
    assert.equal(r.status, 200);
    return replyJson(r);
  }

  async #getJson(path: string): Promise<Outcome<any>> {
    const r = await httpRequest(this.base, 'GET', path);
    if (r.status !== 200) return httpError(r);
    assert.equal(r.headers['content-type'], 'application/json');
    return { ok: true, value: replyJson(r) };
  }

  modelMetadata(model: string, version?: string): Promise<Outcome<unknown>> {
    return this.#getJson(versionPath(model, version, ''));
  }

  async modelReady(model: string, version?: string): Promise<Outcome<boolean>> {
    const r = await httpRequest(this.base, 'GET', versionPath(model, version, '/ready'));
    if (r.status === 200) {
      assert.equal(r.body.byteLength, 0);
      return { ok: true, value: true };
    }
    return httpError(r);
  }

  modelConfig(model: string, version?: string): Promise<Outcome<unknown>> {
    return this.#getJson(versionPath(model, version, '/config'));
  }

  async modelStatistics(model = '', version?: string): Promise<Outcome<Stats[]>> {
    const out = await this.#getJson(model === '' ? '/v2/models/stats' : versionPath(model, version, '/stats'));
    if (!out.ok) return out;
    assert.deepEqual(Object.keys(out.value), ['model_stats']);
    return { ok: true, value: out.value.model_stats };
  }

  async rawStatistics(model: string): Promise<any> {
    const out = await this.#getJson(versionPath(model, undefined, '/stats'));
    assert.ok(out.ok);
    return out.value;
  }

  async repositoryIndex(readyOnly: boolean): Promise<IndexEntry[]> {
    const r = await httpRequest(this.base, 'POST', '/v2/repository/index', {
      body: JSON.stringify({ ready: readyOnly }), headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 200);
    const entries = replyJson<IndexEntry[]>(r);
    assert.ok(Array.isArray(entries), 'the index is a bare JSON array');
    return entries;
  }

  async infer(spec: InferSpec, form: Form): Promise<Outcome<InferReply>> {
    const binary = form === 'raw';
    const inputs: InferInputSpec[] = spec.inputs.map((t) => (binary || t.values === undefined
      ? { name: t.name, datatype: t.datatype, shape: t.shape, raw: tensorRaw(t) }
      : { name: t.name, datatype: t.datatype, shape: t.shape, data: t.values }));
    let parameters = spec.parameters;
    let outputs = spec.outputs;
    if (binary) {
      if (outputs === undefined) parameters = { ...parameters, binary_data_output: true };
      else outputs = outputs.map((o) => ({ name: o.name, parameters: { ...o.parameters, binary_data: true } }));
    }
    const { reply, result } = await httpInfer(this.base, spec.model, {
      id: spec.id, parameters, inputs, outputs,
    }, { version: spec.version });
    if (result === undefined) return httpError(reply);

    const json = result.json;
    assert.equal(reply.headers['content-type'], binary ? 'application/octet-stream' : 'application/json');
    assert.equal(typeof json.model_version, 'string', 'model_version is a string');
    const outs: OutTensor[] = json.outputs.map((o: any): OutTensor => {
      const bin = result.binary.get(o.name);
      if (binary) {
        assert.ok(bin !== undefined, `output ${o.name} must come back binary`);
        assert.equal(o.data, undefined);
      } else {
        assert.equal(bin, undefined, `output ${o.name} must come back as JSON`);
        assert.ok(Array.isArray(o.data));
      }
      assert.ok(o.shape.every((d: unknown) => typeof d === 'number'), 'shape holds numbers');
      return { name: o.name, datatype: o.datatype, shape: o.shape, raw: bin ?? toRaw(o.datatype, o.data) };
    });
    return { ok: true, value: { modelName: json.model_name, modelVersion: json.model_version, id: json.id ?? '', outputs: outs } };
  }

  close(): void {}
}

// ---------------------------------------------------------------- gRPC

function grpcError(e: unknown): Outcome<never> {
  const err = e as ServiceError;
  if (typeof err?.code !== 'number') throw e;
  return { ok: false, code: err.code, message: err.details };
}

async function grpcCall<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    return grpcError(e);
  }
}

const num = (v: unknown): number => Number(v);
const dur = (d: any) => ({ count: num(d.count), ns: num(d.ns) });

function normalizeStats(s: any): Stats {
  const is: Record<string, { count: number; ns: number }> = {};
  for (const k of Object.keys(s.inference_stats)) is[k] = dur(s.inference_stats[k]);
  return {
    name: s.name,
    version: s.version,
    last_inference: num(s.last_inference),
    inference_count: num(s.inference_count),
    execution_count: num(s.execution_count),
    inference_stats: is,
    batch_stats: s.batch_stats.map((b: any) => ({
      batch_size: num(b.batch_size),
      compute_input: dur(b.compute_input), compute_infer: dur(b.compute_infer), compute_output: dur(b.compute_output),
    })),
  };
}

export class GrpcDriver implements Driver {
  readonly protocol = 'grpc' as const;
  readonly client: GrpcTestClient;
  constructor(address: string) {
    this.client = createGrpcClient(address);
  }

  async live(): Promise<boolean> { return (await this.client.unary('ServerLive')).live; }
  async ready(): Promise<boolean> { return (await this.client.unary('ServerReady')).ready; }
  serverMetadata(): Promise<ServerMeta> { return this.client.unary('ServerMetadata'); }

  async modelMetadata(model: string, version = ''): Promise<Outcome<unknown>> {
    const out = await grpcCall(this.client.unary('ModelMetadata', { name: model, version }));
    if (!out.ok) return out;
    const m = out.value;
    const tm = (t: any) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(num) });
    return { ok: true, value: { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(tm), outputs: m.outputs.map(tm) } };
  }

  async modelReady(model: string, version = ''): Promise<Outcome<boolean>> {
    const out = await grpcCall(this.client.unary('ModelReady', { name: model, version }));
    return out.ok ? { ok: true, value: out.value.ready } : out;
  }

  async modelConfig(model: string, version = ''): Promise<Outcome<unknown>> {
    const out = await grpcCall(this.client.unary('ModelConfig', { name: model, version }));
    return out.ok ? { ok: true, value: out.value.config } : out;
  }

  async modelStatistics(model = '', version = ''): Promise<Outcome<Stats[]>> {
    const out = await grpcCall(this.client.unary('ModelStatistics', { name: model, version }));
    return out.ok ? { ok: true, value: out.value.model_stats.map(normalizeStats) } : out;
  }

  rawStatistics(model: string): Promise<any> {
    return this.client.unary('ModelStatistics', { name: model, version: '' });
  }

  async repositoryIndex(readyOnly: boolean): Promise<IndexEntry[]> {
    const r = await this.client.unary('RepositoryIndex', { repository_name: '', ready: readyOnly });
    // Proto strings default to '': absent fields of the HTTP form.
    return r.models.map((m: any) => {
      const e: IndexEntry = { name: m.name, state: m.state };
      if (m.version !== '') e.version = m.version;
      if (m.reason !== '') e.reason = m.reason;
      return e;
    });
  }

  async infer(spec: InferSpec, form: Form): Promise<Outcome<InferReply>> {
    const tensors = spec.inputs.map((t) => ({
      name: t.name, datatype: t.datatype as DataType, shape: t.shape, data: tensorRaw(t),
    }));
    const opts = { version: spec.version, id: spec.id, parameters: spec.parameters, outputs: spec.outputs };
    const msg = form === 'raw' ? rawInferRequest(spec.model, tensors, opts) : typedInferRequest(spec.model, tensors, opts);
    const out = await grpcCall(this.client.infer(msg));
    if (!out.ok) return out;
    const res = out.value;
    assert.equal(res.raw_output_contents.length, res.outputs.length, 'one raw_output_contents entry per output');
    const outputs = responseTensors(res).map((t): OutTensor => ({ name: t.name, datatype: t.datatype, shape: t.shape, raw: t.data }));
    return { ok: true, value: { modelName: res.model_name, modelVersion: res.model_version, id: res.id, outputs } };
  }

  close(): void { this.client.close(); }
}
