/**
 * tritonserver's launch flags that take effect: the log file and its two line layouts, exit on a model that
 * fails at start, the config name, auto-complete off, the default max batch size, the
 * load thread count, --id, the CPU gauges, and the one warning line naming flags
 * without effect. The process-level ones run the real `osprey` binary.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { FIXTURE_REPO, startTestServer } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'osprey-flags-'));
  dirs.push(d);
  return d;
}

/** A repository holding copies of fixture models. */
function repoWith(...models: string[]): string {
  const repo = scratch();
  for (const m of models) cpSync(join(FIXTURE_REPO, m), join(repo, m), { recursive: true });
  return repo;
}

interface Run { proc: ChildProcess; stdout: string[]; stderr: string[]; exit: Promise<number | null> }

function run(args: string[], env: Record<string, string> = {}): Run {
  const proc = spawn(process.execPath, [MAIN, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', '--metrics-address', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const r: Run = { proc, stdout: [], stderr: [], exit: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
  proc.stdout!.on('data', (c: Buffer) => r.stdout.push(c.toString()));
  proc.stderr!.on('data', (c: Buffer) => r.stderr.push(c.toString()));
  return r;
}

async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(r: Run): Promise<void> {
  r.proc.kill('SIGTERM');
  await r.exit;
}

// tritonserver's two log line layouts: the default (glog-like) one and --log-format ISO8601.
const DEFAULT_LINE = /^[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} \d+ osprey:0\] ".*"$/;
const ISO_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [IWE] \d+ osprey:0\] ".*"$/;

describe('launch flags, process level', () => {
  it('--log-file gets every line, in the --log-format ISO8601 layout; the console stays quiet', async () => {
    const log = join(scratch(), 'logs', 'server.log');
    const r = run(['--model-repository', scratch(), '--log-file', log, '--log-format=ISO8601', '--trace-config', 'level=OFF']);
    await until(() => { try { return readFileSync(log, 'utf8').includes('osprey is serving'); } catch { return false; } }, 'the log file');
    await stop(r);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    for (const l of lines) assert.match(l, ISO_LINE);
    assert.ok(lines.some((l) => / W \d+ osprey:0\] "ignoring tritonserver flags with no effect on this CPU-only ONNX Runtime server: --trace-config"$/.test(l)), 'one warning line names the flag');
    assert.equal(r.stdout.join(''), '');
    assert.equal(r.stderr.join(''), '');
  });

  it('default layout: info on stdout, warnings on stderr; --log-format json keeps JSON lines', async () => {
    const r = run(['--model-repository', scratch(), '--pinned-memory-pool-byte-size', '0']);
    await until(() => r.stdout.join('').includes('osprey is serving'), 'serving');
    await stop(r);
    const out = r.stdout.join('').trim().split('\n');
    for (const l of out) assert.match(l, DEFAULT_LINE);
    assert.ok(out.every((l) => l.startsWith('I')));
    const err = r.stderr.join('').trim().split('\n');
    assert.ok(err.length >= 1 && err.every((l) => DEFAULT_LINE.test(l) && l.startsWith('W')), err.join('\n'));

    const j = run(['--model-repository', scratch(), '--log-format', 'json']);
    await until(() => j.stderr.join('').includes('osprey is serving'), 'serving');
    await stop(j);
    for (const l of j.stderr.join('').trim().split('\n')) assert.equal(typeof JSON.parse(l).msg, 'string');
  });

  it('--exit-on-error (default true): a model that fails at start stops the server with status 1; =false keeps serving', async () => {
    const repo = repoWith('bad_config', 'scaler');
    const r = run(['--model-repository', repo]);
    assert.equal(await r.exit, 1);
    assert.match(r.stderr.join(''), /failed to load all models; exiting/);

    const keep = run(['--model-repository', repo, '--exit-on-error=false', '--log-format', 'json']);
    await until(() => keep.stderr.join('').includes('osprey is serving'), 'serving');
    assert.equal(keep.proc.exitCode, null);
    await stop(keep);
  });

  it('without the native addon the server serves everything but system shared memory, and says why', async () => {
    const r = run(['--model-repository', repoWith('scaler'), '--allow-client-shm=true', '--log-format', 'json'], { OSPREY_NO_SHM_ADDON: '1' });
    await until(() => r.stderr.join('').includes('osprey is serving'), 'serving');
    const port = JSON.parse(r.stderr.join('').split('\n').find((l) => l.includes('osprey is serving'))!).http;
    const base = `http://127.0.0.1:${port}`;
    try {
      assert.ok(r.stderr.join('').includes('system shared memory is unavailable: OSPREY_NO_SHM_ADDON=1 (the addon is not loaded)'));
      const meta = await (await fetch(`${base}/v2`)).json();
      assert.ok(!meta.extensions.includes('system_shared_memory') && meta.extensions.includes('cuda_shared_memory'));
      const reg = await fetch(`${base}/v2/systemsharedmemory/region/r/register`, { method: 'POST', body: JSON.stringify({ key: '/x', byte_size: 4 }) });
      assert.deepEqual([reg.status, await reg.json()], [503, { error: 'system shared memory is unavailable on this server: OSPREY_NO_SHM_ADDON=1 (the addon is not loaded)' }]);
      const inf = await fetch(`${base}/v2/models/scaler/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }) });
      assert.equal(inf.status, 200);
    } finally {
      await stop(r);
    }
  });

  it('an unknown flag still exits 2', async () => {
    const r = run(['--no-such-flag', '1']);
    assert.equal(await r.exit, 2);
    assert.match(r.stderr.join(''), /unknown option '--no-such-flag'/);
  });
});

describe('launch flags, in process', () => {
  it('--id names the server in its metadata', async () => {
    const s = await startTestServer({ modelRepositories: [scratch()], serverId: 'triton-east' });
    try {
      assert.equal((await (await fetch(`${s.httpUrl}/v2`)).json()).name, 'triton-east');
    } finally {
      await s.shutdown();
    }
  });

  it('--model-config-name reads configs/<name>.pbtxt where it exists, config.pbtxt elsewhere', async () => {
    const repo = repoWith('scaler', 'identity_fp32_batched');
    mkdirSync(join(repo, 'scaler', 'configs'));
    const alt = readFileSync(join(repo, 'scaler', 'config.pbtxt'), 'utf8').replace('max_batch_size: 16', 'max_batch_size: 3');
    writeFileSync(join(repo, 'scaler', 'configs', 'small.pbtxt'), alt);
    const s = await startTestServer({ modelRepositories: [repo], modelConfigName: 'small' });
    try {
      assert.equal(s.dataPlane.modelConfig('scaler', '').max_batch_size, 3);
      assert.equal(s.dataPlane.modelConfig('identity_fp32_batched', '').max_batch_size, 8);
    } finally {
      await s.shutdown();
    }
  });

  it('--disable-auto-complete-config: a model without a complete config fails, one with it serves; --backend-config default-max-batch-size applies when auto-complete is on', async () => {
    const repo = repoWith('autocomplete', 'scaler');
    const strict = await startTestServer({ modelRepositories: [repo], autoCompleteConfig: false });
    try {
      assert.equal(strict.dataPlane.modelConfig('scaler', '').max_batch_size, 16);
      const row = strict.manager.index(false).find((x) => x.name === 'autocomplete');
      assert.equal(row?.state, 'UNAVAILABLE');
      assert.match(row!.reason!, /auto-complete is disabled .* so its config must list its inputs and outputs/);
    } finally {
      await strict.shutdown();
    }
    const loose = await startTestServer({ modelRepositories: [repo], defaultMaxBatchSize: 7 });
    try {
      assert.equal(loose.dataPlane.modelConfig('autocomplete', '').max_batch_size, 7);
    } finally {
      await loose.shutdown();
    }
  });

  it('--model-load-thread-count bounds the models loading at once', async () => {
    const repo = repoWith('scaler', 'identity_fp32_batched', 'autocomplete', 'classifier');
    // The four start loading together: one at a time with 1, all four with 4.
    for (const [threads, most] of [[1, 1], [4, 4]] as const) {
      const s = await startTestServer({ modelRepositories: [repo], modelLoadThreadCount: threads });
      try {
        assert.equal(s.registry.mostLoadsAtOnce, most);
        assert.equal(s.manager.index(true).length, 4, 'every model loaded');
      } finally {
        await s.shutdown();
      }
    }
  });

  it('--allow-cpu-metrics=false drops the nv_cpu_* gauges', async () => {
    for (const allowCpuMetrics of [true, false]) {
      const s = await startTestServer({ modelRepositories: [scratch()], allowCpuMetrics, metricsIntervalMs: 100 });
      try {
        const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
        assert.equal(text.includes('nv_cpu_utilization'), allowCpuMetrics);
      } finally {
        await s.shutdown();
      }
    }
  });
});
