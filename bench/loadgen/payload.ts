/**
 * Request bytes for each input step, encoded once per run: an HTTP/1.1 request
 * (JSON, or the binary tensor extension) or a gRPC frame. Sends reuse these Buffers.
 */
import { buildHttpRequest } from './http-client.js';
import type { InputTensor } from './input-data.js';
import { encodeInferRequest, GRPC_SERVICE, grpcFrame } from './kserve-pb.js';
import type { ModelInfo } from './types.js';

export type Wire = 'grpc' | 'http-json' | 'http-binary';

export interface Payloads {
  wire: Wire;
  /** HTTP: full request bytes; gRPC: one length-prefixed frame each. */
  requests: Buffer[];
  /** gRPC method path (unused for HTTP: the path is inside the request bytes). */
  grpcPath: string;
  /** Body size of the first request, for the report. */
  bodyBytes: number;
}

export function inferPath(model: string, version: string): string {
  const m = encodeURIComponent(model);
  return version ? `/v2/models/${m}/versions/${encodeURIComponent(version)}/infer` : `/v2/models/${m}/infer`;
}

export function jsonBody(step: readonly InputTensor[]): Buffer {
  const inputs = step.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: t.values }));
  return Buffer.from(JSON.stringify({ inputs }));
}

/** JSON header (inputs with binary_data_size, outputs asked as binary) followed by raw bytes. */
export function binaryBody(step: readonly InputTensor[], outputs: readonly string[]): { body: Buffer; headerLength: number } {
  const header = Buffer.from(JSON.stringify({
    inputs: step.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: t.raw.byteLength } })),
    outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
  }));
  return { body: Buffer.concat([header, ...step.map((t) => t.raw)]), headerLength: header.length };
}

export function buildPayloads(wire: Wire, hostPort: string, info: ModelInfo, version: string, steps: readonly InputTensor[][]): Payloads {
  const path = inferPath(info.name, version);
  const requests = steps.map((step) => {
    if (wire === 'grpc') return grpcFrame(encodeInferRequest(info.name, version, step));
    if (wire === 'http-json') return buildHttpRequest(hostPort, path, { 'Content-Type': 'application/json' }, jsonBody(step));
    const { body, headerLength } = binaryBody(step, info.outputs.map((o) => o.name));
    return buildHttpRequest(hostPort, path, {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(headerLength),
    }, body);
  });
  const first = requests[0];
  const bodyBytes = wire === 'grpc' ? first.length - 5 : first.length - first.indexOf('\r\n\r\n') - 4;
  return { wire, requests, grpcPath: `${GRPC_SERVICE}ModelInfer`, bodyBytes };
}
