#!/usr/bin/env node
/**
 * Baseline (a), "what a Node team writes in an afternoon": node:http, JSON in and
 * out, one onnxruntime-node `session.run` per request from the main thread with the
 * default session options, no batching, no workers, no binary tensors; and its gRPC
 * twin (naive-grpc.ts: grpc-js + proto-loader, the same session per model).
 * With --piscina, HTTP requests run the session in one piscina worker thread instead
 * (piscina-ort-task.ts): the general-task-pool design idle-path.ts compares with.
 *   node dist/baselines/naive-server.js --model-repository ../model-repository --http-port 8000 [--grpc-port 8001] [--piscina]
 * It is deliberately plain; do not optimize it, or the comparison stops meaning anything.
 */
import http from 'node:http';
import * as ort from 'onnxruntime-node';
import { Piscina } from 'piscina';
import { announce, baselineArgs } from './args.js';
import { loadModelSpec, metadataOf } from './model-spec.js';
import { startNaiveGrpc, type NaiveModel } from './naive-grpc.js';
import type { OrtTask, PlainTensor } from './piscina-ort-task.js';

const ORT_TYPE: Record<string, ort.Tensor.Type> = {
  FP32: 'float32', FP64: 'float64', INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64', BOOL: 'bool', BYTES: 'string',
};
const KSERVE_TYPE = Object.fromEntries(Object.entries(ORT_TYPE).map(([k, v]) => [v, k]));

interface InputJson { name: string; shape: number[]; datatype: string; data: unknown[] }

const TYPED: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = {
  FP32: Float32Array, FP64: Float64Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array, BOOL: Uint8Array,
};

/** gRPC raw_input_contents -> tensor (a copy, so the typed array is aligned). */
function rawTensor(datatype: string, shape: number[], raw: Buffer): ort.Tensor {
  const type = ORT_TYPE[datatype];
  const View = TYPED[datatype];
  if (!type || !View || raw === undefined) throw new Error(`unsupported datatype ${datatype} (raw contents only)`);
  const copy = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  return new ort.Tensor(type, new View(copy) as never, shape);
}

const args = baselineArgs(process.argv.slice(2));
const models = new Map<string, { session: ort.InferenceSession; onnxPath: string; metadata: string }>();
const grpcModels = new Map<string, NaiveModel>();
for (const name of args.models) {
  try {
    const spec = loadModelSpec(args.repo, name);
    const session = await ort.InferenceSession.create(spec.onnxPath);
    models.set(name, { session, onnxPath: spec.onnxPath, metadata: JSON.stringify(metadataOf(spec)) });
    grpcModels.set(name, {
      session, metadata: metadataOf(spec), maxBatchSize: spec.maxBatchSize,
      toTensor: rawTensor, kserveType: (t) => KSERVE_TYPE[t.type] ?? t.type,
    });
  } catch (e) {
    process.stderr.write(`naive: skipping ${name}: ${(e as Error).message}\n`);
  }
}

function toTensor(input: InputJson): ort.Tensor {
  const type = ORT_TYPE[input.datatype];
  if (!type) throw new Error(`unsupported datatype ${input.datatype}`);
  const flat = (input.data as unknown[]).flat(Infinity);
  if (type === 'int64' || type === 'uint64') return new ort.Tensor(type, flat.map((v) => BigInt(v as number)) as never, input.shape);
  if (type === 'bool') return new ort.Tensor(type, Uint8Array.from(flat as number[], Number), input.shape);
  return new ort.Tensor(type, flat as never, input.shape);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// One worker thread, the session's default options, as in the inline case; 'sync' atomics
// (piscina's default) keep the worker waiting for the next task without a round trip.
const pool = args.piscina
  ? new Piscina<OrtTask, Record<string, PlainTensor>>({
    filename: new URL('./piscina-ort-task.js', import.meta.url).href, minThreads: 1, maxThreads: 1, idleTimeout: Infinity, atomics: 'sync',
  })
  : null;

const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  if (url === '/v2/health/ready' || url === '/v2/health/live') return send(res, 200, undefined);
  const m = /^\/v2\/models\/([^/]+)(\/infer)?$/.exec(url);
  const model = m ? models.get(decodeURIComponent(m[1])) : undefined;
  if (!m || !model) return send(res, m ? 400 : 404, { error: m ? `Request for unknown model: '${m[1]}' is not found` : 'Not Found' });
  if (!m[2]) return res.writeHead(200, { 'Content-Type': 'application/json' }).end(model.metadata);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { id?: string; inputs: InputJson[] };
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of body.inputs) feeds[input.name] = toTensor(input);
      const out: Record<string, PlainTensor> = pool
        ? await pool.run({ onnxPath: model.onnxPath, feeds: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { type: t.type, data: t.data, dims: t.dims }])) })
        : await model.session.run(feeds);
      send(res, 200, {
        id: body.id,
        model_name: decodeURIComponent(m[1]),
        model_version: '1',
        outputs: Object.entries(out).map(([name, t]) => ({
          name, datatype: KSERVE_TYPE[t.type], shape: t.dims,
          data: Array.from(t.data as ArrayLike<number | bigint | string>, (v) => (typeof v === 'bigint' ? Number(v) : v)),
        })),
      });
    } catch (e) {
      send(res, 400, { error: (e as Error).message });
    }
  });
});
server.keepAliveTimeout = 60_000;
const grpcServer = await startNaiveGrpc(grpcModels, args.grpcPort);
server.listen(args.httpPort, '127.0.0.1', () => {
  const a = server.address();
  announce({ server: pool ? 'naive-piscina' : 'naive', http: typeof a === 'object' && a ? a.port : args.httpPort, grpc: grpcServer.port, models: [...models.keys()] });
});
const stop = (): void => void server.close(() => grpcServer.server.tryShutdown(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
