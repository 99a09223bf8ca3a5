/**
 * The server as a user starts it, under every Node this run can reach: the Node
 * running the tests, plus each binary named in OSPREY_TEST_NODES (colon-separated;
 * .ci/run fetches Node 22 and 24 from the npm registry and sets it). For each: the
 * engine log line, health, metadata, JSON and binary infer over HTTP, gRPC infer,
 * SIGTERM exits 0; `--http-engine uws` serves over uWS where it loads and is a one-line
 * exit 1 where it cannot.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createGrpcClient, rawInferRequest, responseTensors, tensor } from '../helpers/grpc-client.js';
import { httpRequest, infer, replyJson } from '../helpers/http-client.js';
import { runToEnd, startServerProcess } from '../helpers/server-process.js';

const extra = (process.env.OSPREY_TEST_NODES ?? '').split(':').filter((p) => p !== '');
const nodes = [process.execPath, ...extra.filter((p) => p !== process.execPath)];

const A = Array.from({ length: 16 }, (_, i) => i);
const B = Array.from({ length: 16 }, () => 3);
const SUM = A.map((v, i) => v + B[i]!);
const DIFF = A.map((v, i) => v - B[i]!);

/** INT32 values of raw little-endian bytes (copied: a Buffer view may sit at any offset). */
const ints = (raw: Uint8Array): number[] => [...new Int32Array(Uint8Array.from(raw).buffer)];

for (const node of nodes) {
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

  describe(`osprey under Node ${version}`, () => {
    it('--version', async () => {
      const r = await runToEnd(node, ['--version']);
      assert.deepEqual([r.code, r.stderr], [0, '']);
      assert.match(r.stdout, /^osprey \d+\.\d+\.\d+\n$/);
    });

    it('a missing model repository is one line and exit 1', async () => {
      const r = await runToEnd(node, ['--model-repository', '/nonexistent/osprey-models']);
      assert.deepEqual([r.code, r.stderr], [1, "osprey: failed to start: model repository '/nonexistent/osprey-models' does not exist\n"]);
    });

    it('serves HTTP (health, metadata, JSON and binary infer) and gRPC infer', async () => {
      const s = await startServerProcess(node);
      try {
        const engine = s.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('HTTP served by'));
        assert.ok(engine !== undefined, 'the engine is logged');
        assert.equal(engine.httpEngine, 'net', 'the default engine is net (node:net + llhttp; pipelined requests answered in order)');

        assert.equal((await httpRequest(s.httpUrl, 'GET', '/v2/health/live')).status, 200);
        assert.equal((await httpRequest(s.httpUrl, 'GET', '/v2/health/ready')).status, 200);
        const meta = replyJson(await httpRequest(s.httpUrl, 'GET', '/v2/models/simple'));
        assert.equal(meta.name, 'simple');
        assert.deepEqual(meta.inputs.map((i: { name: string }) => i.name), ['INPUT0', 'INPUT1']);

        const json = await infer(s.httpUrl, 'simple', { inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: B },
        ] });
        assert.equal(json.reply.status, 200);
        assert.deepEqual(json.result!.json.outputs.map((o: { data: number[] }) => o.data), [SUM, DIFF]);

        const binary = await infer(s.httpUrl, 'simple', {
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], raw: new Uint8Array(Int32Array.from(A).buffer) },
            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], raw: new Uint8Array(Int32Array.from(B).buffer) },
          ],
          outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
        });
        assert.equal(binary.reply.status, 200);
        const out = binary.result!.binary.get('OUTPUT0')!;
        assert.deepEqual(ints(out), SUM);

        const grpc = createGrpcClient(s.grpcAddress);
        try {
          const res = await grpc.infer(rawInferRequest('simple', [
            tensor('INPUT0', 'INT32', [1, 16], Int32Array.from(A)),
            tensor('INPUT1', 'INT32', [1, 16], Int32Array.from(B)),
          ]));
          const [sum, diff] = responseTensors(res);
          assert.deepEqual(ints(sum!.data), SUM);
          assert.deepEqual(ints(diff!.data), DIFF);
        } finally {
          grpc.close();
        }

      } finally {
        assert.equal(await s.stop(), 0);
      }
    });

    it('--http-engine uws: served by uWS where a native build loads, else one line and exit 1', async () => {
      const u = await startServerProcess(node, ['--http-engine', 'uws']).catch((err: Error) => err);
      if (u instanceof Error) {
        // No native uWS under this Node: naming it is a startup error, not an imitation.
        const r = await runToEnd(node, ['--http-engine', 'uws']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^osprey: failed to start: --http-engine uws: no native uWebSockets\\.js loads on Node ${version.replace(/\./g, '\\.')} \\(${process.platform} ${process.arch}\\): [^\\n]+\\n$`));
        return;
      }
      try {
        assert.equal(u.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('HTTP served by'))?.httpEngine, 'uws');
        assert.equal((await httpRequest(u.httpUrl, 'GET', '/v2/health/live')).status, 200);
      } finally {
        assert.equal(await u.stop(), 0);
      }
    });
  });
}
