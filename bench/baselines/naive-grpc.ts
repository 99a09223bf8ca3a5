/**
 * gRPC half of the naive baseline: what the same afternoon team writes with
 * @grpc/grpc-js and @grpc/proto-loader on Triton's proto: decode with proto-loader,
 * one `session.run` per request on the main thread, raw_output_contents back. No
 * batching, no workers, no hand-written codec. Do not optimize it either.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as ort from 'onnxruntime-node';
import { OSPREY_PROTO_DIR } from '../harness/paths.js';

export interface NaiveModel {
  session: ort.InferenceSession;
  /** KServe metadata (name, versions, platform, inputs, outputs). */
  metadata: { name: string; versions: string[]; platform: string; inputs: unknown[]; outputs: unknown[] };
  maxBatchSize: number;
  toTensor(datatype: string, shape: number[], raw: Buffer): ort.Tensor;
  kserveType(t: ort.Tensor): string;
}

export function startNaiveGrpc(models: Map<string, NaiveModel>, port: number): Promise<{ port: number; server: grpc.Server }> {
  const def = protoLoader.loadSync('grpc_service.proto', { includeDirs: [OSPREY_PROTO_DIR], longs: String, enums: String, defaults: true, keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const unknown = (name: string): Partial<grpc.StatusObject> => ({
    code: grpc.status.INVALID_ARGUMENT, details: `Request for unknown model: '${name}' is not found`,
  });
  server.addService(pkg.inference.GRPCInferenceService.service, {
    ServerLive: (_c: any, cb: any) => cb(null, { live: true }),
    ServerReady: (_c: any, cb: any) => cb(null, { ready: true }),
    ModelReady: (c: any, cb: any) => cb(null, { ready: models.has(c.request.name) }),
    ModelMetadata: (c: any, cb: any) => {
      const m = models.get(c.request.name);
      if (m) cb(null, m.metadata);
      else cb(unknown(c.request.name));
    },
    ModelConfig: (c: any, cb: any) => {
      const m = models.get(c.request.name);
      if (m) cb(null, { config: { name: c.request.name, max_batch_size: m.maxBatchSize } });
      else cb(unknown(c.request.name));
    },
    ModelInfer: async (c: any, cb: any) => {
      const req = c.request;
      const m = models.get(req.model_name);
      if (!m) return cb(unknown(req.model_name));
      try {
        const feeds: Record<string, ort.Tensor> = {};
        req.inputs.forEach((input: any, i: number) => {
          feeds[input.name] = m.toTensor(input.datatype, input.shape.map(Number), req.raw_input_contents[i]);
        });
        const out = await m.session.run(feeds);
        const names = Object.keys(out);
        cb(null, {
          model_name: req.model_name, model_version: '1', id: req.id,
          outputs: names.map((name) => ({ name, datatype: m.kserveType(out[name]!), shape: out[name]!.dims })),
          raw_output_contents: names.map((name) => {
            const d = out[name]!.data as ArrayBufferView;
            return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
          }),
        });
      } catch (e) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
      }
    },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve({ port: bound, server });
    });
  });
}
