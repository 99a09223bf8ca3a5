/**
 * A version runs on exactly as many worker threads (one session each) as its
 * frozen config's instance_group counts, for every form of instance_group: the
 * thread count and `/config` come from the one normalization rule. (An
 * `instance_group [ { kind: KIND_CPU } ]` without count was frozen as count 2 but
 * ran on one thread.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Executor } from '../../src/executor/executor.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { SCALER_CONFIG, memoryLogger, removeRepo, tempRepo, writeScaler } from '../helpers/repo-fixtures.js';

const FORMS: Array<[string, string, number]> = [
  ['no instance_group', '', 2],
  ['KIND_CPU without count', 'instance_group [ { kind: KIND_CPU } ]', 2],
  ['KIND_AUTO without count (no GPU)', 'instance_group [ { kind: KIND_AUTO } ]', 2],
  ['an empty group', 'instance_group [ { } ]', 2],
  ['count 1', 'instance_group [ { count: 1 kind: KIND_CPU } ]', 1],
  ['count 3', 'instance_group [ { count: 3 } ]', 3],
  ['count 0 (the proto default)', 'instance_group [ { count: 0 kind: KIND_CPU } ]', 2],
  ['two groups, one without count', 'instance_group [ { count: 1 kind: KIND_CPU }, { kind: KIND_CPU } ]', 3],
];

describe('instance threads follow the frozen config', () => {
  let pool: Executor;
  let repo: string;
  let reg: ModelRegistry;
  before(async () => {
    pool = new Executor(2, { maxWorkers: 64 });
    repo = await tempRepo();
    reg = new ModelRegistry({ executor: pool, intraOpThreads: 1, gpuCount: 0, logger: memoryLogger().logger });
  });
  after(async () => {
    const keepAlive = setInterval(() => undefined, 1000);
    await reg.close();
    await pool.close();
    clearInterval(keepAlive);
    await removeRepo(repo);
  });

  for (const [i, [what, group, expected]] of FORMS.entries()) {
    it(what, async () => {
      const name = `m${i}`;
      const dir = await writeScaler(repo, name, { 1: 1 }, `${SCALER_CONFIG.replace('"scaler"', `"${name}"`)}${group}\n`);
      await reg.load(name, dir);
      const v = reg.resolve(name, '');
      const counted = v.config.instance_group.reduce((s, g) => s + g.count, 0);
      assert.equal(counted, expected, `frozen instance_group: ${JSON.stringify(v.config.instance_group)}`);
      assert.equal(v.threads.length, counted, 'one thread per counted instance');
      assert.equal(new Set(v.threads).size, counted, 'distinct threads');
      const sessions = (await pool.sessions()).flat().filter((k) => k === v.spec.key);
      assert.equal(sessions.length, counted, 'one session per instance');
      await reg.unload(name);
    });
  }
});
