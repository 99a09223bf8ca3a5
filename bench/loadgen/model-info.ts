/**
 * Model metadata (and max_batch_size from the config) over the protocol under
 * test, as perf_analyzer does, so inputs can be built for any KServe v2 server.
 */
import type { GrpcClient } from './grpc-client.js';
import { getJson, httpCall } from './http-get.js';
import { decodeMaxBatchSize, decodeModelMetadata, encodeNameVersion, GRPC_SERVICE } from './kserve-pb.js';
import type { ModelInfo, TensorSpec } from './types.js';

/** Without a config, a model whose every input and output starts with -1 is taken as batching. */
function guessMaxBatch(m: { inputs: TensorSpec[]; outputs: TensorSpec[] }): number {
  const all = [...m.inputs, ...m.outputs];
  return all.length > 0 && all.every((t) => t.shape[0] === -1) ? 1 << 30 : 0;
}

function modelPath(model: string, version: string): string {
  const m = `/v2/models/${encodeURIComponent(model)}`;
  return version ? `${m}/versions/${encodeURIComponent(version)}` : m;
}

export async function modelInfoHttp(hostPort: string, model: string, version = ''): Promise<ModelInfo> {
  const path = modelPath(model, version);
  const meta = await getJson<Omit<ModelInfo, 'maxBatchSize'>>(hostPort, path);
  const cfg = await httpCall(hostPort, 'GET', `${path}/config`).catch(() => null);
  let maxBatchSize = guessMaxBatch(meta);
  if (cfg?.status === 200) {
    const c = JSON.parse(cfg.body.toString()) as { max_batch_size?: number; config?: { max_batch_size?: number } };
    maxBatchSize = c.max_batch_size ?? c.config?.max_batch_size ?? maxBatchSize;
  }
  return { name: meta.name, versions: meta.versions ?? [], platform: meta.platform ?? '', inputs: meta.inputs, outputs: meta.outputs, maxBatchSize };
}

export async function modelInfoGrpc(client: GrpcClient, model: string, version = ''): Promise<ModelInfo> {
  const req = encodeNameVersion(model, version);
  const r = await client.unary(`${GRPC_SERVICE}ModelMetadata`, req);
  if (r.status !== 0) throw new Error(`ModelMetadata '${model}': gRPC status ${r.status} ${r.message}`);
  const meta = decodeModelMetadata(r.body);
  let maxBatchSize = guessMaxBatch(meta);
  const c = await client.unary(`${GRPC_SERVICE}ModelConfig`, req).catch(() => null);
  if (c?.status === 0) maxBatchSize = decodeMaxBatchSize(c.body);
  return { ...meta, maxBatchSize };
}
