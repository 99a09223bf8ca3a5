import assert from 'node:assert/strict';
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { type ModelChange, RepositoryWatcher, type WatcherOptions } from '../../src/control/watcher.js';
import {
  SCALER_CONFIG, ageDir, removeRepo, scalerModel, silentLogger, sleep, tempRepo, waitFor, writeOld, writeScaler,
} from '../helpers/repo-fixtures.js';

const SETTLE = 300;

function watcher(repo: string, over: Partial<WatcherOptions> = {}): { w: RepositoryWatcher; seen: ModelChange[] } {
  const seen: ModelChange[] = [];
  const w = new RepositoryWatcher({
    repositories: [repo], mode: 'poll', pollMs: 60_000, settleMs: SETTLE, logger: silentLogger(),
    onChanges: (c) => { seen.push(...c); },
    ...over,
  });
  return { w, seen };
}

const brief = (cs: readonly ModelChange[]) => cs.map((c) => ({ name: c.name, kind: c.kind, versions: c.versions, details: c.details }));

describe('repository watcher', () => {
  let repo: string;
  const watchers: RepositoryWatcher[] = [];
  beforeEach(async () => { repo = await tempRepo(); });
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
    await removeRepo(repo);
  });

  const make = (over: Partial<WatcherOptions> = {}) => {
    const r = watcher(repo, over);
    watchers.push(r.w);
    return r;
  };

  it('reports what is there at start, settled files at once', async () => {
    await writeScaler(repo, 'a', { 1: 1, 2: 2 });
    await writeScaler(repo, 'b', { 3: 3 });
    await mkdir(join(repo, '.hidden'));
    await mkdir(join(repo, 'a', 'not-a-version'));
    await ageDir(join(repo, 'a'));
    const { w } = make();
    const t0 = Date.now();
    assert.deepEqual(brief(await w.initial()), [
      { name: 'a', kind: 'added', versions: [1, 2], details: ['version 1 added', 'version 2 added'] },
      { name: 'b', kind: 'added', versions: [3], details: ['version 3 added'] },
    ]);
    assert.ok(Date.now() - t0 < SETTLE, 'old files need no settle wait');
    assert.deepEqual(await w.scan(), [], 'nothing changed');
    assert.deepEqual([...w.folders.keys()].sort(), ['a', 'b']);
  });

  it('the initial scan waits for files still being written', async () => {
    await mkdir(join(repo, 'fresh', '1'), { recursive: true });
    await writeFile(join(repo, 'fresh', 'config.pbtxt'), SCALER_CONFIG);
    await writeFile(join(repo, 'fresh', '1', 'model.onnx'), await scalerModel(1));
    const { w } = make();
    const t0 = Date.now();
    assert.deepEqual(brief(await w.initial()), [{ name: 'fresh', kind: 'added', versions: [1], details: ['version 1 added'] }]);
    assert.ok(Date.now() - t0 >= SETTLE);
  });

  it('does not report a version while its files are still being copied', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w } = make();
    await w.initial();
    const bytes = await scalerModel(2);
    const dest = join(repo, 'm', '2');
    await mkdir(dest);
    // File by file, each in chunks, never pausing as long as the settle interval.
    for (const file of ['model.onnx', 'notes.txt', 'extra.bin']) {
      const data = file === 'model.onnx' ? bytes : Buffer.alloc(300, 7);
      for (let off = 0; off < data.length; off += 50) {
        await appendFile(join(dest, file), data.subarray(off, off + 50));
        assert.deepEqual(await w.scan(), [], `reported while ${file} was at ${off} bytes`);
        await sleep(SETTLE / 6);
      }
    }
    assert.deepEqual(await w.scan(), [], 'reported just after the last write');
    await sleep(SETTLE + 20);
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1, 2], details: ['version 2 added'] }]);
  });

  it('picks up a folder renamed into place at the next scan', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w } = make();
    await w.initial();
    const staging = join(repo, 'm', 'staging-3');
    await writeOld(join(staging, 'model.onnx'), await scalerModel(3));
    await ageDir(staging);
    assert.deepEqual(await w.scan(), [], 'a folder that is not a version number is ignored');
    await rename(staging, join(repo, 'm', '3'));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1, 3], details: ['version 3 added'] }]);
  });

  it('an empty version folder is not a version until its model file arrives', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w } = make();
    await w.initial();
    await mkdir(join(repo, 'm', '2'));
    await sleep(SETTLE + 20);
    assert.deepEqual(await w.scan(), []);
    assert.equal(w.pending, false, 'an incomplete folder that is not changing is not waited on');
    await writeOld(join(repo, 'm', '2', 'model.onnx'), await scalerModel(2));
    await ageDir(join(repo, 'm', '2'));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1, 2], details: ['version 2 added'] }]);
    // The model file deleted: no longer a version.
    await rm(join(repo, 'm', '2', 'model.onnx'));
    await ageDir(join(repo, 'm', '2'));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1], details: ['version 2 removed'] }]);
  });

  it('a model file deleted just now (a removal under way) waits one settle interval', async () => {
    await writeScaler(repo, 'm', { 1: 1, 2: 2 });
    // Another (old) file stays in the folder, so what is left of it looks settled.
    await writeOld(join(repo, 'm', '2', 'notes.txt'), 'v2');
    await ageDir(join(repo, 'm', '2'));
    const { w } = make();
    await w.initial();
    await rm(join(repo, 'm', '2', 'model.onnx'));
    assert.deepEqual(await w.scan(), [], 'held: the folder itself was just modified');
    await sleep(SETTLE + 20);
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1], details: ['version 2 removed'] }]);
  });

  it('honours default_model_filename', async () => {
    await writeScaler(repo, 'm', {}, SCALER_CONFIG.replace('platform', 'default_model_filename: "net.onnx"\nplatform'));
    await writeOld(join(repo, 'm', '1', 'model.onnx'), await scalerModel(1));
    await ageDir(join(repo, 'm', '1'));
    const { w } = make();
    assert.deepEqual(await w.initial(), []);
    await writeOld(join(repo, 'm', '1', 'net.onnx'), await scalerModel(1));
    await ageDir(join(repo, 'm', '1'));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'added', versions: [1], details: ['version 1 added'] }]);
  });

  it('honours --model-config-name: configs/<name>.pbtxt names the model file, and a change there is a model-level change', async () => {
    const custom = SCALER_CONFIG.replace('platform', 'default_model_filename: "net.onnx"\nplatform');
    await writeScaler(repo, 'm', {});
    await writeOld(join(repo, 'm', 'configs', 'alt.pbtxt'), custom);
    await writeOld(join(repo, 'm', '1', 'net.onnx'), await scalerModel(1));
    await ageDir(join(repo, 'm', '1'));
    await ageDir(join(repo, 'm', 'configs'));
    // Without the name, config.pbtxt rules: model.onnx is missing, so version 1 is incomplete.
    const plain = make();
    assert.deepEqual(await plain.w.initial(), []);
    const { w } = make({ configName: 'alt' });
    assert.deepEqual(brief(await w.initial()), [{ name: 'm', kind: 'added', versions: [1], details: ['version 1 added'] }]);
    await writeOld(join(repo, 'm', 'configs', 'alt.pbtxt'), custom.replace('num_versions: 1', 'num_versions: 2'));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1], details: ['model files changed'] }]);
  });

  it('reports rewritten versions, config changes, removed versions and removed models', async () => {
    await writeScaler(repo, 'm', { 1: 1, 2: 2 });
    await writeScaler(repo, 'other', { 1: 1 });
    const { w } = make();
    await w.initial();
    await writeOld(join(repo, 'm', '2', 'model.onnx'), await scalerModel(5));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1, 2], details: ['version 2 changed'] }]);
    await writeOld(join(repo, 'm', 'config.pbtxt'), SCALER_CONFIG.replace('num_versions: 1', 'num_versions: 2'));
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [1, 2], details: ['model files changed'] }]);
    await rm(join(repo, 'm', '1'), { recursive: true });
    assert.deepEqual(brief(await w.scan()), [], 'a removal waits one settle interval (the model may be going whole)');
    await sleep(SETTLE + 50);
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [2], details: ['version 1 removed'] }]);
    await rm(join(repo, 'other'), { recursive: true });
    assert.deepEqual(brief(await w.scan()), [{ name: 'other', kind: 'removed', versions: [], details: ['model folder removed'] }]);
    assert.deepEqual([...w.folders.keys()], ['m']);
  });

  it('version folders that vanish are held one settle interval (rm -rf takes them before the model folder)', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w } = make();
    await w.initial();
    await rm(join(repo, 'm', '1'), { recursive: true });
    // Mid-removal: nothing reported yet, so the versions keep serving until the folder is gone.
    assert.deepEqual(brief(await w.scan()), []);
    await rm(join(repo, 'm'), { recursive: true });
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'removed', versions: [], details: ['model folder removed'] }]);
  });

  it('a model left with no versions past the settle interval is reported empty', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w } = make();
    await w.initial();
    await rm(join(repo, 'm', '1'), { recursive: true });
    assert.deepEqual(brief(await w.scan()), []);
    await sleep(SETTLE + 50);
    assert.deepEqual(brief(await w.scan()), [{ name: 'm', kind: 'changed', versions: [], details: ['version 1 removed'] }]);
  });

  it('a new model folder copied in is reported once, whole, after it settles', async () => {
    const { w } = make();
    assert.deepEqual(await w.initial(), []);
    const dir = join(repo, 'late');
    await mkdir(join(dir, '1'), { recursive: true });
    await writeFile(join(dir, '1', 'model.onnx'), await scalerModel(1));
    assert.deepEqual(await w.scan(), []);
    await sleep(SETTLE / 2);
    await writeFile(join(dir, 'config.pbtxt'), SCALER_CONFIG);
    await mkdir(join(dir, '2'));
    await writeFile(join(dir, '2', 'model.onnx'), await scalerModel(2));
    assert.deepEqual(await w.scan(), []);
    await sleep(SETTLE + 20);
    assert.deepEqual(brief(await w.scan()), [{ name: 'late', kind: 'added', versions: [1, 2], details: ['version 1 added', 'version 2 added'] }]);
  });

  it('poll mode: background scans report through onChanges, re-checking unsettled files', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w, seen } = make({ pollMs: 200 });
    await w.initial();
    w.start();
    await mkdir(join(repo, 'm', '2'));
    await writeFile(join(repo, 'm', '2', 'model.onnx'), await scalerModel(2));
    await waitFor('version 2 reported', () => seen.length > 0, 5000);
    assert.deepEqual(brief(seen), [{ name: 'm', kind: 'changed', versions: [1, 2], details: ['version 2 added'] }]);
  });

  it('watch mode: a file-system event triggers a scan well before the poll', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w, seen } = make({ mode: 'watch', pollMs: 60_000, debounceMs: 20 });
    await w.initial();
    w.start();
    const staging = join(repo, 'staging');
    await writeOld(join(staging, 'model.onnx'), await scalerModel(4));
    await ageDir(staging);
    const t0 = Date.now();
    await rename(staging, join(repo, 'm', '4'));
    await waitFor('version 4 reported', () => seen.length > 0, 5000, 5);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(brief(seen), [{ name: 'm', kind: 'changed', versions: [1, 4], details: ['version 4 added'] }]);
    // A new model folder, fresh files: reported after it settles, without any poll.
    await mkdir(join(repo, 'n', '1'), { recursive: true });
    await writeFile(join(repo, 'n', '1', 'model.onnx'), await scalerModel(1));
    await waitFor('model n reported', () => seen.length > 1, 5000, 5);
    assert.equal(seen[1]!.name, 'n');
    assert.equal(seen[1]!.kind, 'added');
    // Removal.
    await rm(join(repo, 'n'), { recursive: true });
    await waitFor('model n removed', () => seen.length > 2, 5000, 5);
    assert.deepEqual(brief(seen.slice(2)), [{ name: 'n', kind: 'removed', versions: [], details: ['model folder removed'] }]);
  });

  it('an unreadable repository reports nothing (rather than every model removed)', async () => {
    await writeScaler(repo, 'm', { 1: 1 });
    const { w } = make();
    await w.initial();
    const moved = `${repo}-moved`;
    await rename(repo, moved);
    try {
      assert.deepEqual(await w.scan(), []);
    } finally {
      await rename(moved, repo);
    }
    assert.deepEqual(await w.scan(), []);
  });
});

after(() => undefined);
