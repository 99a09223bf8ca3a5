/**
 * Replicas agree: two Osprey processes (two pods behind one Service) serving the same
 * repository and traffic.json give every sticky key the same version, with no
 * coordination between them (the key's hash picks the route: no per-process
 * randomness); and requests without a key split at the configured weights on each
 * replica, so the fleet does too.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { infer } from '../helpers/http-client.js';
import { LOOPBACK_ARGS, type OspreyProcess, spawnOsprey } from '../helpers/process.js';
import { FIXTURE_REPO } from '../helpers/server.js';

const KEYS = 1000;
const CANARY_WEIGHT = 30;

const procs: OspreyProcess[] = [];
let repo = '';
after(async () => {
  for (const p of procs) p.kill();
  if (repo !== '') await rm(repo, { recursive: true, force: true });
});

async function version(p: OspreyProcess, headers: Record<string, string>): Promise<string> {
  const { reply, result } = await infer(p.httpUrl, 'scaler', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }, { headers });
  assert.equal(reply.status, 200, reply.body.toString());
  return result!.json.model_version as string;
}

/** Runs `fn` over 0..n-1, `width` at a time. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

test(`two server processes give the same version for ${KEYS} sticky keys; unkeyed traffic splits at the weights on each`, async () => {
  repo = await mkdtemp(join(tmpdir(), 'osprey-replicas-'));
  await cp(join(FIXTURE_REPO, 'scaler'), join(repo, 'scaler'), { recursive: true });
  const cfgPath = join(repo, 'scaler', 'config.pbtxt');
  await writeFile(cfgPath, (await readFile(cfgPath, 'utf8')).replace(/version_policy:.*\n/, 'version_policy: { all: {} }\n'));
  await writeFile(join(repo, 'scaler', 'traffic.json'), JSON.stringify({
    routes: [{ version: 1, weight: 100 - CANARY_WEIGHT }, { version: 2, weight: CANARY_WEIGHT }],
    sticky: { header: 'x-user-id' },
  }));
  const args = [...LOOPBACK_ARGS, `--model-repository=${repo}`, '--worker-spin-us=0'];
  // Started one after the other: each process seeds its own generator differently.
  procs.push(await spawnOsprey(args));
  procs.push(await spawnOsprey(args));
  const [a, b] = procs as [OspreyProcess, OspreyProcess];

  const disagree: string[] = [];
  let canaryKeys = 0;
  await pool(KEYS, 8, async (i) => {
    const headers = { 'x-user-id': `user-${i}` };
    const [va, vb] = await Promise.all([version(a, headers), version(b, headers)]);
    if (va !== vb) disagree.push(`user-${i}: ${va} vs ${vb}`);
    if (va === '2') canaryKeys++;
  });
  assert.deepEqual(disagree, []);
  // The keys really were split (a policy sending everyone to one version would agree trivially).
  const expected = KEYS * CANARY_WEIGHT / 100;
  const sd = Math.sqrt(KEYS * (CANARY_WEIGHT / 100) * (1 - CANARY_WEIGHT / 100));
  assert.ok(Math.abs(canaryKeys - expected) < 5 * sd, `${canaryKeys} of ${KEYS} keys on the canary (expected ~${expected})`);

  // Without a key each replica draws on its own, at the weights: the fleet share holds.
  const perReplica = 500;
  for (const p of [a, b]) {
    let canary = 0;
    await pool(perReplica, 8, async () => { if (await version(p, {}) === '2') canary++; });
    const e = perReplica * CANARY_WEIGHT / 100;
    const s = Math.sqrt(perReplica * (CANARY_WEIGHT / 100) * (1 - CANARY_WEIGHT / 100));
    assert.ok(Math.abs(canary - e) < 5 * s, `${canary} of ${perReplica} unkeyed requests on the canary (expected ~${e})`);
  }
});
