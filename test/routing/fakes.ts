/**
 * Test doubles for the routing unit tests: a registry of fake versions (with the
 * batcher counters the shadow runner reads), a pino logger that keeps its lines,
 * and request builders.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { ModelNotFound } from '../../src/errors/errors.js';
import type { ServingVersion, VersionSource } from '../../src/routing/router.js';
import type { InferenceRequest } from '../../src/types/inference.js';
import type { Params, Tensor } from '../../src/types/tensor.js';

export class FakeVersion implements ServingVersion {
  readonly instances = { count: 1 };
  hasIdleInstance(): boolean { return true; }
  readonly batcher = { queued: 0, inFlight: 0 };
  constructor(readonly name: string, readonly version: number) {}
}

export class FakeRegistry implements VersionSource<FakeVersion> {
  readonly models = new Map<string, FakeVersion[]>();

  constructor(spec: Record<string, number[]>) {
    for (const [name, versions] of Object.entries(spec)) this.models.set(name, versions.map((v) => new FakeVersion(name, v)));
  }

  resolve(name: string, version: string): FakeVersion {
    const vs = this.models.get(name);
    if (vs === undefined || vs.length === 0) throw new ModelNotFound(name);
    if (version === '') return vs.reduce((a, b) => (b.version > a.version ? b : a));
    const v = vs.find((x) => x.version === Number(version));
    if (v === undefined) throw new ModelNotFound(name, version);
    return v;
  }

  versions(name: string): FakeVersion[] {
    return [...(this.models.get(name) ?? [])].sort((a, b) => b.version - a.version);
  }

  add(name: string, version: number): FakeVersion {
    const v = new FakeVersion(name, version);
    this.models.set(name, [...(this.models.get(name) ?? []), v]);
    return v;
  }

  remove(name: string, version: number): FakeVersion {
    const vs = this.models.get(name)!;
    const i = vs.findIndex((v) => v.version === version);
    return vs.splice(i, 1)[0]!;
  }
}

export interface CapturedLogger { logger: Logger; lines: Array<Record<string, unknown>> }

export function captureLogger(): CapturedLogger {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export function request(parameters: Params = {}, headers?: Record<string, string>, inputs: Tensor[] = []): InferenceRequest {
  return { modelName: 'm', modelVersion: '', id: '', parameters, inputs, deadline: Infinity, ...(headers === undefined ? {} : { headers }) };
}

export function f32(name: string, shape: number[], values: number[]): Tensor {
  return { name, datatype: 'FP32', shape, data: new Uint8Array(new Float32Array(values).buffer) };
}

/** Resolve after pending setImmediate callbacks and the promises they start have run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
