/**
 * One request before the sweep, decoded in full: a benchmark of error responses is
 * worthless, so stop early with the server's own message if the payload is refused
 * or the reply lacks the model's outputs.
 */
import type { GrpcClient } from './grpc-client.js';
import { httpCall } from './http-get.js';
import { decodeInferResponse } from './kserve-pb.js';
import type { Payloads } from './payload.js';
import type { ModelInfo } from './types.js';

function splitHttp(req: Buffer): { path: string; headers: Record<string, string>; body: Buffer } {
  const end = req.indexOf('\r\n\r\n');
  const lines = req.toString('latin1', 0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).toLowerCase();
    if (k !== 'host' && k !== 'content-length') headers[k] = l.slice(i + 1).trim();
  }
  return { path: lines[0].split(' ')[1], headers, body: req.subarray(end + 4) };
}

function checkOutputs(info: ModelInfo, names: string[]): void {
  const missing = info.outputs.filter((o) => !names.includes(o.name)).map((o) => o.name);
  if (missing.length) throw new Error(`probe: response lacks output(s) ${missing.join(', ')} (got ${names.join(', ') || 'none'})`);
}

export async function probe(p: Payloads, hostPort: string, info: ModelInfo, grpc: GrpcClient | null): Promise<void> {
  if (p.wire === 'grpc') {
    const r = await grpc!.unary(p.grpcPath, p.requests[0].subarray(5));
    if (r.status !== 0) throw new Error(`probe: ModelInfer failed: gRPC status ${r.status} ${r.message}`);
    const d = decodeInferResponse(r.body);
    checkOutputs(info, d.outputs.map((o) => o.name));
    return;
  }
  const { path, headers, body } = splitHttp(p.requests[0]);
  const r = await httpCall(hostPort, 'POST', path, body, headers);
  if (r.status !== 200) throw new Error(`probe: POST ${path}: HTTP ${r.status} ${r.body.toString().slice(0, 300)}`);
  const hl = r.headers['inference-header-content-length'];
  const json = hl !== undefined ? r.body.subarray(0, Number(hl)) : r.body;
  const doc = JSON.parse(json.toString()) as { outputs?: { name: string }[] };
  checkOutputs(info, (doc.outputs ?? []).map((o) => o.name));
}
