/**
 * gRPC server reflection (the official @grpc/reflection service), what `grpcurl list`
 * and `grpcurl describe` use when no .proto files are given: asked over both
 * published versions of the reflection API with a plain grpc-js client.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type Harness, startHarness } from './fixtures.js';

const PROTO_ROOT = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');

type Reply = Record<string, any>;

function reflectionClient(address: string, version: 'v1' | 'v1alpha'): grpc.Client & Record<string, any> {
  const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [PROTO_ROOT], keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Ctor = pkg.grpc.reflection[version].ServerReflection;
  return new Ctor(address, grpc.credentials.createInsecure());
}

/** One request on the bidi stream, its one reply. */
function ask(client: grpc.Client & Record<string, any>, request: Reply): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (r: Reply) => { resolve(r); call.end(); });
    call.on('error', reject);
    call.write(request);
  });
}

describe('gRPC server reflection', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.close(); });

  for (const version of ['v1', 'v1alpha'] as const) {
    it(`${version}: lists the services, and describes GRPCInferenceService without proto files`, async () => {
      const client = reflectionClient(`127.0.0.1:${h.server.port}`, version);
      try {
        const list = await ask(client, { list_services: '' });
        const names = list.list_services_response.service.map((s: { name: string }) => s.name);
        for (const s of ['inference.GRPCInferenceService', 'grpc.health.v1.Health']) assert.ok(names.includes(s), `${s} in ${names.join(', ')}`);
        const file = await ask(client, { file_containing_symbol: 'inference.GRPCInferenceService' });
        const protos: Buffer[] = file.file_descriptor_response.file_descriptor_proto;
        assert.ok(protos.length > 0);
        const text = Buffer.concat(protos).toString('latin1');
        for (const m of ['ModelInfer', 'SystemSharedMemoryRegister', 'ModelInferRequest']) assert.ok(text.includes(m), m);
        const unknown = await ask(client, { file_containing_symbol: 'no.such.Service' });
        assert.equal(unknown.error_response.error_code, grpc.status.NOT_FOUND);
      } finally {
        client.close();
      }
    });
  }
});
