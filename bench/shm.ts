/**
 * System shared memory vs in-band raw tensors over gRPC, batch 1, concurrency 1:
 * p50/p99 latency and the server's CPU per request, measured in the same run with the
 * two modes interleaved round by round. Models: bench/models/big_identity (4 MiB FP32
 * in, 4 MiB out; scripts/make_bench_shm_model.py) and the bundled cnn (12 KiB in).
 *
 * The client writes each request's input into the region before sending it (what a
 * shared-memory client does) and reads nothing back, in both modes; the server's CPU is
 * read from /proc for its process only.
 *
 *   node dist/shm.js [--requests 200] [--rounds 3] [--out bench/results/shm.json]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { waitReady, spawnServer } from './harness/server-process.js';
import { freePort } from './harness/ports.js';
import { pidCpuUs } from './loadgen/cpu.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_PROTO_DIR, OSPREY_REPOSITORY } from './harness/paths.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const REQUESTS = Number(arg('requests', '200'));
const ROUNDS = Number(arg('rounds', '3'));
const OUT = arg('out', join(BENCH_ROOT, 'results', 'shm.json'));

interface Scenario { model: string; input: string; output: string; shape: number[] }
const SCENARIOS: Scenario[] = [
  { model: 'big_identity', input: 'x', output: 'y', shape: [1, 1 << 20] },
  { model: 'cnn', input: 'image', output: 'logits', shape: [1, 3, 32, 32] },
];
const OUTPUT_BYTES: Record<string, number> = { big_identity: 4 << 20, cnn: 40 };

type Mode = 'raw' | 'shm';

function client(address: string): grpc.Client & Record<string, any> {
  const def = protoLoader.loadSync('grpc_service.proto', { includeDirs: [OSPREY_PROTO_DIR], keepCase: true, longs: String, defaults: true, oneofs: true });
  const Ctor = (grpc.loadPackageDefinition(def) as any).inference.GRPCInferenceService;
  return new Ctor(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
}

const unary = (c: any, method: string, req: object): Promise<any> =>
  new Promise((resolve, reject) => c[method](req, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const logPath = join(BENCH_ROOT, 'results', 'tmp', 'shm.server.log');
  const server = spawnServer(process.execPath, [
    OSPREY_MAIN, '--model-repository', join(BENCH_ROOT, 'models'), '--model-repository', OSPREY_REPOSITORY,
    '--model-control-mode', 'explicit', '--load-model', 'big_identity', '--load-model', 'cnn',
    '--allow-client-shm=true', '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--allow-metrics', 'false',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', '--log-format', 'json',
  ], logPath);
  const c = client(`127.0.0.1:${grpcPort}`);
  const keys: string[] = [];
  const results: Array<Record<string, unknown>> = [];
  try {
    await waitReady(server, `127.0.0.1:${httpPort}`, ['/v2/health/ready'], 120_000);
    for (const s of SCENARIOS) {
      const inBytes = s.shape.reduce((a, b) => a * b, 1) * 4;
      const input = Buffer.alloc(inBytes);
      for (let i = 0; i < inBytes / 4; i++) input.writeFloatLE((i % 255) / 255, i * 4);
      // The client's regions: created by the client (here, files under /dev/shm), registered by name.
      const inKey = `/osprey_bench_${process.pid}_${s.model}_in`;
      const outKey = `/osprey_bench_${process.pid}_${s.model}_out`;
      writeFileSync(`/dev/shm${inKey}`, input);
      writeFileSync(`/dev/shm${outKey}`, Buffer.alloc(OUTPUT_BYTES[s.model]!));
      keys.push(inKey, outKey);
      await unary(c, 'SystemSharedMemoryUnregister', { name: '' });
      await unary(c, 'SystemSharedMemoryRegister', { name: `${s.model}_in`, key: inKey, offset: 0, byte_size: inBytes });
      await unary(c, 'SystemSharedMemoryRegister', { name: `${s.model}_out`, key: outKey, offset: 0, byte_size: OUTPUT_BYTES[s.model]! });

      const request = (mode: Mode) => (mode === 'raw'
        ? { model_name: s.model, inputs: [{ name: s.input, datatype: 'FP32', shape: s.shape }], outputs: [{ name: s.output }], raw_input_contents: [input] }
        : {
          model_name: s.model,
          inputs: [{ name: s.input, datatype: 'FP32', shape: s.shape, parameters: { shared_memory_region: { string_param: `${s.model}_in` }, shared_memory_byte_size: { int64_param: inBytes } } }],
          outputs: [{ name: s.output, parameters: { shared_memory_region: { string_param: `${s.model}_out` }, shared_memory_byte_size: { int64_param: OUTPUT_BYTES[s.model]! } } }],
          raw_input_contents: [],
        });
      // The shm client writes its input into the region per request: the same bytes, so the copy is the cost.
      const inRegion = `/dev/shm${inKey}`;
      const perMode: Record<Mode, { lat: number[]; cpuUs: number; n: number }> = { raw: { lat: [], cpuUs: 0, n: 0 }, shm: { lat: [], cpuUs: 0, n: 0 } };
      for (let i = 0; i < 20; i++) { await unary(c, 'ModelInfer', request('raw')); await unary(c, 'ModelInfer', request('shm')); } // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of (round % 2 === 0 ? ['raw', 'shm'] : ['shm', 'raw']) as Mode[]) {
          const req = request(mode);
          const cpu0 = pidCpuUs(server.pid)!;
          for (let i = 0; i < REQUESTS; i++) {
            if (mode === 'shm') writeFileSync(inRegion, input);
            const t0 = performance.now();
            await unary(c, 'ModelInfer', req);
            perMode[mode].lat.push((performance.now() - t0) * 1000);
          }
          perMode[mode].cpuUs += pidCpuUs(server.pid)! - cpu0;
          perMode[mode].n += REQUESTS;
        }
      }
      const row: Record<string, unknown> = { model: s.model, inputBytes: inBytes, outputBytes: OUTPUT_BYTES[s.model], requests: REQUESTS * ROUNDS };
      for (const mode of ['raw', 'shm'] as Mode[]) {
        const m = perMode[mode];
        const sorted = m.lat.sort((a, b) => a - b);
        row[mode] = { p50Us: Math.round(quantile(sorted, 0.5)), p99Us: Math.round(quantile(sorted, 0.99)), serverCpuUsPerRequest: Math.round(m.cpuUs / m.n) };
      }
      row.cpuRatioRawOverShm = +((row.raw as any).serverCpuUsPerRequest / (row.shm as any).serverCpuUsPerRequest).toFixed(2);
      results.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
  } finally {
    c.close();
    await server.stop();
    for (const k of keys) rmSync(`/dev/shm${k}`, { force: true });
  }
  const doc = { date: new Date().toISOString(), loadavg: loadavg().map((x) => +x.toFixed(2)), node: process.version, results };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write(`wrote ${OUT} (load average ${doc.loadavg.join(' ')})\n`);
}

main().catch((err) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
