/**
 * Rolling updates lose nothing: the real CLI under continuous HTTP load gets SIGTERM
 * with --shutdown-grace-secs. It must report not ready at once (HTTP ready route and
 * gRPC health) while every request keeps succeeding through the grace period, then
 * stop accepting, finish what is in flight (slow requests queued at the last moment)
 * and exit 0 — zero failed requests.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createGrpcClient } from '../helpers/grpc-client.js';
import { httpRequest, infer } from '../helpers/http-client.js';
import { LOOPBACK_ARGS, type OspreyProcess, spawnOsprey } from '../helpers/process.js';
import { BUNDLED_REPO, FIXTURE_REPO } from '../helpers/server.js';

const GRACE_SECS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let proc: OspreyProcess | undefined;
after(() => proc?.kill());

const simpleSpec = (n: number) => ({
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i + n) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, () => 1) },
  ],
});

test('SIGTERM: not ready at once, serving through the grace period, in-flight finished, exit 0, nothing failed', async () => {
  proc = await spawnOsprey([
    ...LOOPBACK_ARGS, `--model-repository=${BUNDLED_REPO}`, `--model-repository=${FIXTURE_REPO}`,
    '--model-control-mode=explicit', '--load-model=simple', '--load-model=slow',
    `--shutdown-grace-secs=${GRACE_SECS}`, '--exit-timeout-secs=20', '--worker-spin-us=0',
  ]);
  const p = proc;
  assert.equal((await httpRequest(p.httpUrl, 'GET', '/v2/health/ready')).status, 200);
  const grpc = createGrpcClient(`127.0.0.1:${p.grpcPort}`);

  const failures: string[] = [];
  let ok = 0;
  let sending = true;
  const oneSimple = async (n: number) => {
    try {
      const { reply, result } = await infer(p.httpUrl, 'simple', simpleSpec(n));
      if (reply.status !== 200) failures.push(`simple ${reply.status} ${reply.body.toString()}`);
      else if (result!.json.outputs[0].data[0] !== n + 1) failures.push(`simple wrong answer ${JSON.stringify(result!.json.outputs[0].data)}`);
      else ok++;
    } catch (e) {
      failures.push(`simple ${(e as Error).message}`);
    }
  };
  // Four closed-loop clients, each a fresh connection per request (as kube-proxy spreads them).
  const loops = Array.from({ length: 4 }, async (_, c) => {
    let n = c * 1_000_000;
    // Bounded: a failing server ends the load instead of spinning on refused connections.
    while (sending && failures.length < 20) await oneSimple(n++);
  });
  try {
    await underLoad();
  } finally {
    sending = false;
    await Promise.all(loops);
  }

  async function underLoad(): Promise<void> {
    await sleep(500);
    const before = ok;
    assert.ok(before > 0, 'load is flowing');

    const signalled = Date.now();
    p.child.kill('SIGTERM');
    // Readiness goes false promptly (the process is single-threaded; allow scheduling).
    let notReadyAfterMs = -1;
    while (Date.now() - signalled < GRACE_SECS * 1000) {
      const r = await httpRequest(p.httpUrl, 'GET', '/v2/health/ready');
      if (r.status !== 200) {
        assert.equal(r.status, 400, 'Triton answers 400 for not ready');
        notReadyAfterMs = Date.now() - signalled;
        break;
      }
      await sleep(20);
    }
    assert.ok(notReadyAfterMs >= 0 && notReadyAfterMs < 1000, `not ready ${notReadyAfterMs} ms after SIGTERM`);
    assert.equal(await grpc.healthCheck(), 'NOT_SERVING');
    // Still live, still serving.
    assert.equal((await httpRequest(p.httpUrl, 'GET', '/v2/health/live')).status, 200);
    await p.waitLog('not ready; serving through the shutdown grace period', 5_000);

    // Load keeps going well into the grace period (the endpoint is still in the Service).
    const atNotReady = ok;
    await sleep(GRACE_SECS * 1000 - (Date.now() - signalled) - 900);
    assert.ok(ok > atNotReady, `requests kept succeeding during the grace period (${ok - atNotReady})`);
    // The load balancer has dropped the endpoint: new requests stop. Just before the grace
    // period ends, a burst of slow requests is still in flight when accepting stops.
    sending = false;
    await Promise.all(loops);
    // Enough of them that they outlast the grace period on a quiet machine too (6 finished
    // within the last 900 ms there): two instances run them two at a time.
    const slow = Array.from({ length: 24 }, async (_, i) => {
      try {
        const { reply, result } = await infer(p.httpUrl, 'slow', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [i] }] });
        if (reply.status !== 200) failures.push(`slow ${reply.status} ${reply.body.toString()}`);
        else if (result!.json.outputs[0].data[0] !== i) failures.push(`slow wrong answer ${JSON.stringify(result!.json.outputs[0].data)}`);
        else ok++;
      } catch (e) {
        failures.push(`slow ${(e as Error).message}`);
      }
    });
    const shuttingDown = await p.waitLog('shutting down', 5_000);
    const graceMs = Number(shuttingDown.time) - Number(p.logs.find((l) => l.msg === 'not ready; serving through the shutdown grace period')!.time);
    assert.ok(graceMs >= GRACE_SECS * 1000 - 50, `accepting stopped only after the grace period (${graceMs} ms)`);
    await Promise.all(slow);
    const exit = await p.exited;
    grpc.close();

    assert.deepEqual(failures, []);
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr());
    assert.ok(p.logs.some((l) => l.msg === 'osprey stopped'));
    // The slow requests really were in flight when accepting stopped (else this test proves less).
    const stoppedAt = Number(shuttingDown.time);
    const lastLog = Number(p.logs.at(-1)!.time);
    assert.ok(lastLog - stoppedAt > 100, `drain took ${lastLog - stoppedAt} ms: slow requests were in flight`);
  }
});

test('--shutdown-grace-secs 0 (the default): SIGTERM stops at once and exits 0', async () => {
  proc = await spawnOsprey([...LOOPBACK_ARGS, `--model-repository=${BUNDLED_REPO}`, '--model-control-mode=explicit', '--load-model=simple']);
  const p = proc;
  p.child.kill('SIGTERM');
  assert.deepEqual(await p.exited, { code: 0, signal: null }, p.stderr());
  assert.ok(!p.logs.some((l) => l.msg === 'not ready; serving through the shutdown grace period'));
});
