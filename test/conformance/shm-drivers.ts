/**
 * System (and CUDA) shared memory as a Triton client does it, over HTTP and over
 * gRPC: one driver per protocol with the same calls, so shm.test.ts runs one case
 * table over both (what tritonclient's shared-memory utilities send).
 */
import * as grpc from '@grpc/grpc-js';
import type { Params } from '../../src/types/tensor.js';
import { type GrpcTestClient, createGrpcClient, toParamsMsg } from '../helpers/grpc-client.js';
import { httpRequest, replyJson } from '../helpers/http-client.js';
import type { Protocol } from './cases.js';

export type Result<T = undefined> = { ok: true; value: T } | { ok: false; code: number; message: string };

export interface RegionRow { name: string; key: string; offset: number; byte_size: number }

/** An input from a region (`region` set) or in-band (`raw`). */
export interface ShmInput {
  name: string; datatype: string; shape: number[];
  region?: string; offset?: number; byteSize?: number;
  raw?: Uint8Array;
}
export interface ShmOutput { name: string; region: string; offset?: number; byteSize: number }
export interface ShmInfer { model: string; id?: string; inputs: ShmInput[]; outputs: ShmOutput[] }
export interface OutputEntry { name: string; datatype: string; shape: number[]; hasData: boolean }

export interface ShmDriver {
  readonly protocol: Protocol;
  register(name: string, key: string, offset: number, byteSize: number): Promise<Result>;
  status(name?: string): Promise<Result<RegionRow[]>>;
  unregister(name?: string): Promise<Result>;
  cudaStatus(name?: string): Promise<Result<unknown[]>>;
  cudaRegister(name: string): Promise<Result>;
  cudaUnregister(name?: string): Promise<Result>;
  infer(spec: ShmInfer): Promise<Result<OutputEntry[]>>;
  close(): void;
}

function shmParams(region: string, offset: number | undefined, byteSize: number): Params {
  // tritonclient omits an offset of 0.
  const p: Params = { shared_memory_region: region, shared_memory_byte_size: byteSize };
  if (offset !== undefined && offset !== 0) p.shared_memory_offset = offset;
  return p;
}

export class HttpShmDriver implements ShmDriver {
  readonly protocol = 'http' as const;
  constructor(private readonly base: string) {}

  async #call<T>(method: string, path: string, body?: unknown): Promise<Result<T>> {
    const r = await httpRequest(this.base, method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (r.status !== 200) return { ok: false, code: r.status, message: replyJson(r).error };
    return { ok: true, value: (r.body.byteLength === 0 ? undefined : replyJson(r)) as T };
  }

  register(name: string, key: string, offset: number, byteSize: number): Promise<Result> {
    return this.#call('POST', `/v2/systemsharedmemory/region/${name}/register`, { key, offset, byte_size: byteSize });
  }
  /** A raw register body, for the missing-field cases only HTTP can send. */
  registerBody(name: string, body: unknown): Promise<Result> {
    return this.#call('POST', `/v2/systemsharedmemory/region/${name}/register`, body);
  }
  status(name = ''): Promise<Result<RegionRow[]>> {
    return this.#call('GET', name === '' ? '/v2/systemsharedmemory/status' : `/v2/systemsharedmemory/region/${name}/status`);
  }
  unregister(name = ''): Promise<Result> {
    return this.#call('POST', name === '' ? '/v2/systemsharedmemory/unregister' : `/v2/systemsharedmemory/region/${name}/unregister`);
  }
  cudaStatus(name = ''): Promise<Result<unknown[]>> {
    return this.#call('GET', name === '' ? '/v2/cudasharedmemory/status' : `/v2/cudasharedmemory/region/${name}/status`);
  }
  cudaRegister(name: string): Promise<Result> {
    return this.#call('POST', `/v2/cudasharedmemory/region/${name}/register`, { raw_handle: { b64: Buffer.alloc(64).toString('base64') }, device_id: 0, byte_size: 64 });
  }
  cudaUnregister(name = ''): Promise<Result> {
    return this.#call('POST', name === '' ? '/v2/cudasharedmemory/unregister' : `/v2/cudasharedmemory/region/${name}/unregister`);
  }

  async infer(spec: ShmInfer): Promise<Result<OutputEntry[]>> {
    const binary: Uint8Array[] = [];
    const inputs = spec.inputs.map((t) => {
      if (t.region !== undefined) return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: shmParams(t.region, t.offset, t.byteSize!) };
      binary.push(t.raw!);
      return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: t.raw!.byteLength } };
    });
    // tritonclient sends binary_data: false with shared-memory outputs.
    const outputs = spec.outputs.map((o) => ({ name: o.name, parameters: { ...shmParams(o.region, o.offset, o.byteSize), binary_data: false } }));
    const header = Buffer.from(JSON.stringify({ ...(spec.id !== undefined ? { id: spec.id } : {}), inputs, outputs }));
    const r = await httpRequest(this.base, 'POST', `/v2/models/${spec.model}/infer`, {
      body: Buffer.concat([header, ...binary]),
      headers: { 'inference-header-content-length': String(header.byteLength), 'content-type': 'application/octet-stream' },
    });
    if (r.status !== 200) return { ok: false, code: r.status, message: replyJson(r).error };
    if (r.headers['content-type'] !== 'application/json') throw new Error(`shm-only outputs must answer plain JSON, got ${r.headers['content-type']}`);
    const doc = replyJson(r);
    return {
      ok: true,
      value: doc.outputs.map((o: Record<string, unknown>) => ({
        name: o.name, datatype: o.datatype, shape: o.shape, hasData: 'data' in o || 'parameters' in o,
      })),
    };
  }

  close(): void {}
}

export class GrpcShmDriver implements ShmDriver {
  readonly protocol = 'grpc' as const;
  readonly client: GrpcTestClient;
  constructor(address: string) { this.client = createGrpcClient(address); }

  async #call<T>(method: string, req: object, map: (res: any) => T): Promise<Result<T>> {
    try {
      return { ok: true, value: map(await this.client.unary(method, req)) };
    } catch (e) {
      const err = e as grpc.ServiceError;
      return { ok: false, code: err.code, message: err.details };
    }
  }

  register(name: string, key: string, offset: number, byteSize: number): Promise<Result> {
    return this.#call('SystemSharedMemoryRegister', { name, key, offset, byte_size: byteSize }, () => undefined);
  }
  status(name = ''): Promise<Result<RegionRow[]>> {
    return this.#call('SystemSharedMemoryStatus', { name }, (res: { regions: Record<string, any> }) =>
      Object.values(res.regions).map((r) => ({ name: r.name, key: r.key, offset: Number(r.offset), byte_size: Number(r.byte_size) }))
        .sort((a, b) => a.name.localeCompare(b.name)));
  }
  unregister(name = ''): Promise<Result> {
    return this.#call('SystemSharedMemoryUnregister', { name }, () => undefined);
  }
  cudaStatus(name = ''): Promise<Result<unknown[]>> {
    return this.#call('CudaSharedMemoryStatus', { name }, (res: { regions: Record<string, unknown> }) => Object.values(res.regions));
  }
  cudaRegister(name: string): Promise<Result> {
    return this.#call('CudaSharedMemoryRegister', { name, raw_handle: Buffer.alloc(64), device_id: 0, byte_size: 64 }, () => undefined);
  }
  cudaUnregister(name = ''): Promise<Result> {
    return this.#call('CudaSharedMemoryUnregister', { name }, () => undefined);
  }

  async infer(spec: ShmInfer): Promise<Result<OutputEntry[]>> {
    const raw: Buffer[] = [];
    const inputs = spec.inputs.map((t) => {
      if (t.region === undefined) raw.push(Buffer.from(t.raw!));
      const parameters = t.region !== undefined ? toParamsMsg(shmParams(t.region, t.offset, t.byteSize!)) : {};
      return { name: t.name, datatype: t.datatype, shape: t.shape, parameters, contents: null };
    });
    const outputs = spec.outputs.map((o) => ({ name: o.name, parameters: toParamsMsg(shmParams(o.region, o.offset, o.byteSize)) }));
    try {
      const res = await this.client.infer({ model_name: spec.model, model_version: '', id: spec.id ?? '', parameters: {}, inputs, outputs, raw_input_contents: raw });
      if (res.raw_output_contents.length !== res.outputs.length) throw new Error('one raw_output_contents entry per output, empty ones included');
      return {
        ok: true,
        value: res.outputs.map((o, i) => ({
          name: o.name, datatype: o.datatype, shape: o.shape.map(Number),
          hasData: res.raw_output_contents[i]!.byteLength > 0 || Object.keys(o.parameters ?? {}).length > 0,
        })),
      };
    } catch (e) {
      const err = e as grpc.ServiceError;
      if (err.code === undefined) throw e;
      return { ok: false, code: err.code, message: err.details };
    }
  }

  close(): void { this.client.close(); }
}
