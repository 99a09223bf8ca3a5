/**
 * Guardrails and promotion on a fake clock: a canary that fails or is slow loses
 * its weight (logged, counted, in the history with the reason) once it has
 * min_samples in the window; a healthy canary is promoted step by step; a version
 * that is unloaded loses its weight; traffic.json is read, watched, and a bad one
 * leaves the previous policy in force.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RepositoryWatcher } from '../../src/control/watcher.js';
import { Cancelled } from '../../src/errors/errors.js';
import { type Resolution, TrafficRouter } from '../../src/routing/router.js';
import { FakeRegistry, type FakeVersion, captureLogger } from './fakes.js';

function setup(policy: Record<string, unknown>) {
  let now = 0;
  const log = captureLogger();
  const registry = new FakeRegistry({ m: [1, 2] });
  const r = new TrafficRouter<FakeVersion>({ registry, logger: log.logger, seed: 3, timers: false, now: () => now, wallClock: () => 1_700_000_000_000 + now });
  r.setPolicy('m', policy);
  const tick = (ms: number) => { now += ms; };
  /** Send n requests; `outcome(version)` says [ok, latencyMs]. */
  const send = (n: number, outcome: (v: number) => [boolean, number]) => {
    const served = { 1: 0, 2: 0 } as Record<number, number>;
    for (let i = 0; i < n; i++) {
      const res: Resolution = r.resolve('m', '', { parameters: {} });
      const v = res.primary!;
      served[v]!++;
      const [ok, ms] = outcome(v);
      r.observe(res, v, ok ? undefined : new Error('boom'), ms);
    }
    return served;
  };
  return { r, log, registry, tick, send, get now() { return now; } };
}

const GUARD = { window_s: 10, min_samples: 50, max_error_rate_delta: 0.05, max_p99_ratio: 2 };
const SPLIT = [{ version: 1, weight: 80 }, { version: 2, weight: 20 }];

describe('guardrails', () => {
  it('roll back a failing canary once it has min_samples, and say why', () => {
    const t = setup({ routes: SPLIT, guardrails: GUARD });
    // 20 canary requests, all failing: below min_samples, nothing happens.
    let canary = 0;
    while (canary < 20) { canary += t.send(1, (v) => [v === 1, 1])[2]!; t.tick(1); }
    t.r.evaluate('m');
    assert.equal(t.r.state('m').routes[1]!.weight, 20);
    while (canary < 50) { canary += t.send(1, (v) => [v === 1, 1])[2]!; t.tick(1); }
    t.r.evaluate('m');
    const st = t.r.state('m');
    assert.deepEqual(st.routes.map((x) => x.weight), [80, 0]);
    assert.equal(st.routes[1]!.share, 0);
    assert.equal(st.rollbacks, 1);
    assert.equal(st.routes[1]!.rollbacks, 1);
    const h = st.history.at(-1)!;
    assert.equal(h.event, 'rollback');
    assert.equal(h.version, 2);
    assert.match(h.reason, /^rolled back over the last 10 s \(50 samples\): error rate 1 exceeds the baseline's 0 by more than 0\.05$/);
    assert.ok(t.log.lines.some((l) => l.msg === 'canary rolled back' && l.version === 2));
    // Everything goes to the baseline now.
    assert.deepEqual(t.send(1000, () => [true, 1]), { 1: 1000, 2: 0 });
    const metrics = t.r.collect();
    assert.equal(metrics.models[0]!.rollbacks, 1);
    assert.equal(metrics.routes.find((x) => x.route === '2')!.errors, 50);
  });

  it('roll back a slow canary (p99 over max_p99_ratio x the baseline)', () => {
    const t = setup({ routes: SPLIT, guardrails: GUARD });
    t.send(400, (v) => [true, v === 1 ? 2 : 9]);
    t.r.evaluate('m');
    const st = t.r.state('m');
    assert.equal(st.routes[1]!.weight, 0);
    assert.match(st.history.at(-1)!.reason, /p99 latency [\d.]+ ms is more than 2x the baseline's [\d.]+ ms/);
  });

  it('leave a canary alone within the margins; errors age out of the window', () => {
    const t = setup({ routes: SPLIT, guardrails: GUARD });
    let i = 0;
    // 3% errors on the canary, 1 ms vs 1.5 ms: inside both margins.
    t.send(2000, (v) => [v === 1 || i++ % 33 !== 0, v === 1 ? 1 : 1.5]);
    t.r.evaluate('m');
    assert.equal(t.r.state('m').routes[1]!.weight, 20);
    t.tick(11_000);
    assert.equal(t.r.state('m').routes[1]!.window!.samples, 0);
  });

  it('cancelled requests are neither errors nor samples', () => {
    const t = setup({ routes: SPLIT, guardrails: GUARD });
    t.send(100, () => [true, 1]);
    for (let i = 0; i < 100; i++) {
      const res = t.r.resolve('m', '', { parameters: {} });
      t.r.observe(res, res.primary!, new Cancelled(), 1);
    }
    const st = t.r.state('m');
    assert.equal(st.routes.reduce((n, x) => n + x.errors, 0), 0);
    assert.equal(st.routes.reduce((n, x) => n + x.requests, 0), 200);
    assert.equal(st.routes.reduce((n, x) => n + x.window!.samples, 0), 100);
  });
});

describe('promotion', () => {
  it('steps 5 -> 25 -> 50 -> 100 after healthy windows, then stops checking', () => {
    const t = setup({
      routes: [{ version: 1, weight: 95 }, { version: 2, weight: 5 }],
      guardrails: { ...GUARD, min_samples: 20 },
      promotion: { steps: [5, 25, 50, 100], healthy_windows: 2 },
    });
    const shares: number[] = [];
    for (let w = 0; w < 12; w++) {
      for (let k = 0; k < 10; k++) { t.send(100, () => [true, 1]); t.tick(1000); t.r.evaluate('m'); }
      shares.push(t.r.state('m').routes[1]!.share);
    }
    assert.deepEqual(shares.slice(0, 7), [0.05, 0.25, 0.25, 0.5, 0.5, 1, 1]);
    const st = t.r.state('m');
    assert.equal(st.promotion!.state, 'complete');
    assert.equal(st.promotions, 3);
    assert.deepEqual(st.history.filter((h) => h.event === 'promotion').map((h) => h.reason), [
      'promoted to 25% after 2 healthy window(s)',
      'promoted to 50% after 2 healthy window(s)',
      'promoted to 100% after 2 healthy window(s) (last step)',
    ]);
    assert.deepEqual(t.send(500, () => [true, 1]), { 1: 0, 2: 500 });
  });

  it('a breach during promotion rolls back and stops promoting', () => {
    const t = setup({
      routes: [{ version: 1, weight: 75 }, { version: 2, weight: 25 }],
      guardrails: { ...GUARD, min_samples: 20 },
      promotion: { steps: [25, 50, 100], healthy_windows: 1 },
    });
    for (let k = 0; k < 10; k++) { t.send(100, () => [true, 1]); t.tick(1000); t.r.evaluate('m'); }
    assert.equal(t.r.state('m').routes[1]!.share, 0.5);
    t.send(400, (v) => [v === 1, 1]);
    t.r.evaluate('m');
    const st = t.r.state('m');
    assert.equal(st.routes[1]!.weight, 0);
    assert.equal(st.promotion!.state, 'stopped');
  });
});

describe('versions and files', () => {
  it('an unloaded version loses its weight; an unloaded model loses its policy', () => {
    const t = setup({ routes: SPLIT });
    const v2 = t.registry.remove('m', 2);
    t.r.versionRetired(v2);
    assert.deepEqual(t.r.state('m').routes.map((x) => x.weight), [80, 0]);
    assert.equal(t.r.state('m').history.at(-1)!.event, 'version_unloaded');
    const v1 = t.registry.remove('m', 1);
    t.r.versionRetired(v1);
    assert.equal(t.r.resolve('m', '', { parameters: {} }), t.r.resolve('other', '', { parameters: {} }));
    assert.deepEqual(t.r.collect(), { routes: [], shadows: [], models: [] }, 'its metrics go with it');
  });

  it('the repository watcher reads traffic.json when a version loads and when it changes; a bad file keeps the previous policy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osprey-traffic-'));
    try {
      const log = captureLogger();
      const registry = new FakeRegistry({ m: [1, 2] });
      const r = new TrafficRouter<FakeVersion>({ registry, logger: log.logger, seed: 1 });
      // Model control 'none': the watcher scans no models, it only watches the policy files.
      const watcher = new RepositoryWatcher({
        repositories: [], mode: 'none', pollMs: 60_000, settleMs: 0, policyPollMs: 20, logger: log.logger,
        onChanges: () => assert.fail('no model scans in mode none'),
        onPolicy: (model, text) => r.policyFile(model, text),
      });
      watcher.useFolders(new Map([['m', dir]]));
      watcher.start();
      const file = join(dir, 'traffic.json');
      const waitFor = async (pred: () => boolean) => {
        for (let i = 0; i < 200 && !pred(); i++) await new Promise((res) => setTimeout(res, 10));
        assert.ok(pred());
      };
      // Written whole (temp file + rename), as editors and config tools do: a poll
      // never sees half a file.
      const put = async (value: unknown) => {
        await writeFile(`${file}.tmp`, JSON.stringify(value));
        await rename(`${file}.tmp`, file);
      };
      await put({ routes: SPLIT });
      watcher.policyNow('m'); // what the registry's ready hook does
      assert.equal(r.state('m').source, 'file', 'in force at once');
      assert.deepEqual(r.state('m').routes.map((x) => x.weight), [80, 20]);
      await put({ routes: [{ version: 1, weight: 1 }, { version: 5, weight: 1 }] });
      await waitFor(() => log.lines.some((l) => l.msg === 'traffic policy rejected; the model keeps its previous policy'
        && String(l.reason).includes('names version 5, which is not loaded (loaded: 1, 2)')));
      assert.deepEqual(r.state('m').routes.map((x) => x.weight), [80, 20], 'previous policy kept');
      assert.equal(r.state('m').history.at(-1)!.event, 'policy_rejected');
      await put({ routes: [{ version: 1, weight: 1 }, { version: 2, weight: 3 }] });
      await waitFor(() => r.state('m').routes[1]?.weight === 3);
      await rm(file);
      await waitFor(() => r.state('m').policy === null);
      await watcher.stop();
      await r.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a file policy that names a version not yet loaded applies when that version is ready', () => {
    const log = captureLogger();
    const registry = new FakeRegistry({ m: [1] });
    const r = new TrafficRouter<FakeVersion>({ registry, logger: log.logger, seed: 1, timers: false });
    const text = JSON.stringify({ routes: SPLIT });
    r.policyFile('m', text);
    assert.equal(r.state('m').policy, null, 'version 2 is not loaded: rejected, nothing in force');
    registry.add('m', 2);
    r.policyFile('m', text); // the ready hook hands the same text again
    assert.equal(r.state('m').source, 'file');
    assert.deepEqual(r.state('m').routes.map((x) => x.weight), [80, 20]);
    r.policyFile('m', undefined);
    assert.equal(r.state('m').policy, null, 'removing the file removes its policy');
  });
});
