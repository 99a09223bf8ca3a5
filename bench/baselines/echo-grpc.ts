/**
 * gRPC half of the protocol floor: a @grpc/grpc-js server (Osprey's gRPC stack)
 * with identity (de)serializers, answering ModelInfer with prebuilt bytes. Only the
 * model name (field 1) is read from the request, to pick the right response.
 */
import * as grpc from '@grpc/grpc-js';
import { GRPC_SERVICE } from '../loadgen/kserve-pb.js';
import type { FixedResponses } from './fixed-responses.js';

const identity = (b: Buffer): Buffer => b;

function method(name: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: GRPC_SERVICE + name, requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  };
}

/** Field 1 (model_name / name) of a request, assuming it comes first as encoders write it. */
function firstString(b: Buffer): string {
  if (b.length < 2 || b[0] !== 0x0a) return '';
  let len = 0;
  let shift = 0;
  let i = 1;
  for (; i < b.length; i++) {
    len |= (b[i] & 0x7f) << shift;
    shift += 7;
    if (b[i] < 0x80) break;
  }
  return b.toString('utf8', i + 1, i + 1 + len);
}

type Handler = grpc.handleUnaryCall<Buffer, Buffer>;

export function startEchoGrpc(models: Map<string, FixedResponses>, port: number): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const unknown = (name: string): Partial<grpc.StatusObject> => ({
    code: grpc.status.INVALID_ARGUMENT, details: `Request for unknown model: '${name}' is not found`,
  });
  const per = (pick: (r: FixedResponses) => Buffer): Handler => (call, cb) => {
    const name = firstString(call.request);
    const r = models.get(name);
    if (r) cb(null, pick(r));
    else cb(unknown(name));
  };
  const READY = Buffer.from([0x08, 0x01]); // ready = true
  const handlers: Record<string, Handler> = {
    ModelInfer: per((r) => r.grpcInfer),
    ModelMetadata: per((r) => r.grpcMetadata),
    ModelConfig: per((r) => r.grpcConfig),
    ModelReady: per(() => READY),
    ServerReady: (_c, cb) => cb(null, READY),
    ServerLive: (_c, cb) => cb(null, READY),
  };
  const service = Object.fromEntries(Object.keys(handlers).map((name) => [name, method(name)]));
  server.addService(service as grpc.ServiceDefinition, handlers as grpc.UntypedServiceImplementation);
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve({ port: bound, server });
    });
  });
}
