/**
 * The registry against real ONNX Runtime sessions on worker threads: swap order,
 * drain, failures and retries, version policies, unload, index and readiness.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { prepare } from '../../src/request/prepare.js';
import { Executor } from '../../src/executor/executor.js';
import type { ModelVersion } from '../../src/registry/model-version.js';
import { ModelRegistry, type RegistryOptions } from '../../src/registry/registry.js';
import {
  CNN_DIR, CORRUPT_ONNX, SCALER_CONFIG, memoryLogger, removeRepo, scalerModel, tempRepo, writeOld, writeScaler,
} from '../helpers/repo-fixtures.js';

/** Run [1,2,3,4] through a version; returns y. */
async function run(v: ModelVersion): Promise<number[]> {
  const x = new Float32Array([1, 2, 3, 4]);
  const p = prepare(v.config, {
    modelName: v.name, modelVersion: '', id: '', parameters: {}, deadline: Infinity,
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: new Uint8Array(x.buffer) }],
  });
  const r = await v.submit(p, 0, 0, Infinity, undefined);
  const y = r.outputs[0]!.data;
  return [...new Float32Array(y.buffer.slice(y.byteOffset, y.byteOffset + y.byteLength))];
}

const times = (f: number) => [1, 2, 3, 4].map((x) => x * f);

describe('model registry', () => {
  let pool: Executor;
  let repo: string;
  let events: string[];
  let reg: ModelRegistry;
  let log: ReturnType<typeof memoryLogger>;

  before(() => { pool = new Executor(2); });
  after(async () => {
    // Idle workers are unref'd, and nothing else here holds the event loop open
    // while pool.close() waits for them to exit.
    const keepAlive = setInterval(() => undefined, 1000);
    await reg?.close();
    await pool.close();
    clearInterval(keepAlive);
    if (repo !== undefined) await removeRepo(repo);
  });
  beforeEach(async () => {
    if (reg !== undefined) await reg.close();
    if (repo !== undefined) await removeRepo(repo);
    repo = await tempRepo();
    events = [];
    log = memoryLogger();
    const opts: RegistryOptions = {
      executor: pool, intraOpThreads: 1, gpuCount: 0, logger: log.logger,
      onVersionReady: (v) => events.push(`ready ${v.name}/${v.version} ${v.state}`),
      onVersionRetired: (v) => events.push(`retired ${v.name}/${v.version} ${v.state}`),
      onLoadFailed: (m, v, reason) => events.push(`failed ${m}/${v}: ${reason.slice(0, 20)}`),
    };
    reg = new ModelRegistry(opts);
  });

  const keys = async (model: string) => (await pool.sessions()).flat().filter((k) => k.startsWith(`${model}/`)).sort();

  it('loads, then swaps in a new version before draining and unloading the old one', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1 });
    await reg.load('m', dir);
    const v1 = reg.resolve('m', '');
    assert.equal(v1.version, 1);
    assert.deepEqual(await run(v1), times(1));
    assert.deepEqual(await keys('m'), [`m/1/${v1.spec.key.split('/')[2]}`, `m/1/${v1.spec.key.split('/')[2]}`], 'one session per instance thread');

    await writeOld(join(dir, '2', 'model.onnx'), await scalerModel(2));
    const seen = events.length;
    await reg.load('m', dir);
    assert.deepEqual(events.slice(seen), ['ready m/2 READY', 'retired m/1 UNLOADING'], 'READY before the switch; retired after it');
    assert.equal(reg.resolve('m', '').version, 2);
    assert.deepEqual(await run(reg.resolve('m', '')), times(2));
    await assert.rejects(run(v1), /version 1 is not ready/, 'a retired version takes no new requests');
    assert.deepEqual(await keys('m'), [reg.resolve('m', '').spec.key, reg.resolve('m', '').spec.key]);
    assert.throws(() => reg.resolve('m', '1'), /Request for unknown model: 'm' version 1 is not found/);
  });

  it('requests queued on the old version when the swap happens finish on the old version', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1 });
    const held: Promise<number[]>[] = [];
    let old: ModelVersion | undefined;
    const r2 = new ModelRegistry({
      executor: pool, intraOpThreads: 1, gpuCount: 0, logger: log.logger,
      onVersionReady: (v) => {
        // Runs synchronously right after the atomic switch, before the drain: the old
        // version is out of the map but still READY, like a request that resolved it
        // a moment earlier and is now queued on it.
        if (old !== undefined && v.version === 2) {
          assert.equal(old.state, 'READY');
          for (let i = 0; i < 50; i++) held.push(run(old));
        }
      },
      onVersionRetired: (v) => events.push(`retired ${v.version}`),
    });
    try {
      await r2.load('m', dir);
      old = r2.resolve('m', '');
      await writeOld(join(dir, '2', 'model.onnx'), await scalerModel(2));
      await r2.load('m', dir);
      assert.equal(held.length, 50);
      for (const y of await Promise.all(held)) assert.deepEqual(y, times(1));
      assert.deepEqual(events, ['retired 1']);
      assert.equal(old.state, 'UNLOADING');
      assert.equal(old.batcher.inFlight, 0);
      assert.deepEqual((await keys('m')).filter((k) => k.startsWith('m/1/')), []);
    } finally {
      await r2.close();
    }
  });

  it('a corrupt version leaves the old one serving, is reported, and is retried only when its files change', async () => {
    const dir = await writeScaler(repo, 'm', { 3: 3 });
    await reg.load('m', dir);
    await writeOld(join(dir, '4', 'model.onnx'), CORRUPT_ONNX);
    await assert.rejects(reg.load('m', dir, undefined, { retryFailed: false }), (err: Error) => {
      assert.match(err.message, /^load failed for model 'm': version 4 is at UNAVAILABLE state: .+;\n$/s);
      return true;
    });
    assert.equal(reg.resolve('m', '').version, 3);
    assert.deepEqual(await run(reg.resolve('m', '')), times(3));
    const idx = reg.index(new Map([['m', dir]]), false);
    assert.equal(idx.length, 2);
    assert.deepEqual(idx[0], { name: 'm', version: '3', state: 'READY' });
    assert.equal(idx[1]!.version, '4');
    assert.equal(idx[1]!.state, 'UNAVAILABLE');
    assert.ok((idx[1]!.reason ?? '').length > 0);
    assert.deepEqual(reg.index(new Map([['m', dir]]), true), [{ name: 'm', version: '3', state: 'READY' }]);
    assert.throws(() => reg.resolve('m', '4'), /version 4 is not at ready state/);
    assert.equal(events.filter((e) => e.startsWith('failed m/4')).length, 1);
    assert.ok(log.records.some((r) => r.msg === 'failed to load model version' && r.version === 4 && typeof r.reason === 'string'));
    assert.equal(reg.allReady(), true, 'the model is available: version 3 serves');

    // A rescan with nothing changed does not retry it.
    await reg.load('m', dir, undefined, { retryFailed: false });
    assert.equal(events.filter((e) => e.startsWith('failed m/4')).length, 1);
    // The load API does.
    await assert.rejects(reg.load('m', dir, undefined, { retryFailed: true }));
    assert.equal(events.filter((e) => e.startsWith('failed m/4')).length, 2);

    // Fixed files: the next reconcile loads it and swaps.
    await writeOld(join(dir, '4', 'model.onnx'), await scalerModel(4));
    await reg.load('m', dir, undefined, { retryFailed: false });
    assert.equal(reg.resolve('m', '').version, 4);
    assert.deepEqual(await run(reg.resolve('m', '')), times(4));
    assert.deepEqual(reg.index(new Map(), false), [{ name: 'm', version: '4', state: 'READY' }]);
    assert.deepEqual(await keys('m'), [reg.resolve('m', '').spec.key, reg.resolve('m', '').spec.key]);
  });

  it('considers only the versions it is told to (the watcher\'s settled ones)', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1, 2: 2 });
    await reg.load('m', dir, undefined, { versions: [1] });
    assert.equal(reg.resolve('m', '').version, 1);
    await reg.load('m', dir, undefined, { versions: [1, 2] });
    assert.equal(reg.resolve('m', '').version, 2);
  });

  it('rewritten files of a serving version reload it; an unchanged reconcile does nothing', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1 });
    await reg.load('m', dir);
    const before = reg.resolve('m', '');
    await reg.load('m', dir);
    assert.equal(reg.resolve('m', ''), before, 'nothing changed: same instance');
    await writeOld(join(dir, '1', 'model.onnx'), await scalerModel(7));
    await reg.load('m', dir);
    const after = reg.resolve('m', '');
    assert.notEqual(after, before);
    assert.equal(after.version, 1);
    assert.deepEqual(await run(after), times(7));
    assert.deepEqual(await keys('m'), [after.spec.key, after.spec.key]);
  });

  it('latest N keeps N versions, and older ones while the newest fails', async () => {
    const cfg = SCALER_CONFIG.replace('"scaler"', '"m"').replace('num_versions: 1', 'num_versions: 2');
    const dir = await writeScaler(repo, 'm', { 1: 1, 2: 2, 3: 3 }, cfg);
    await reg.load('m', dir);
    assert.deepEqual(reg.versions('m').map((v) => v.version), [3, 2]);
    await writeOld(join(dir, '4', 'model.onnx'), CORRUPT_ONNX);
    await assert.rejects(reg.load('m', dir));
    assert.deepEqual(reg.versions('m').map((v) => v.version), [3, 2], 'v4 failed: 2 and 3 keep serving');
    await writeOld(join(dir, '4', 'model.onnx'), await scalerModel(4));
    await reg.load('m', dir);
    assert.deepEqual(reg.versions('m').map((v) => v.version), [4, 3]);
    assert.deepEqual((await keys('m')).map((k) => k.split('/')[1]).sort(), ['3', '3', '4', '4']);
  });

  it('a changed config reloads every version; a broken one keeps the old config serving', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1, 2: 2 });
    await reg.load('m', dir);
    assert.deepEqual(reg.versions('m').map((v) => v.version), [2]);
    await writeOld(join(dir, 'config.pbtxt'), SCALER_CONFIG.replace('"scaler"', '"m"').replace('version_policy: { latest: { num_versions: 1 } }', 'version_policy: { all: {} }'));
    await reg.load('m', dir);
    assert.deepEqual(reg.versions('m').map((v) => v.version), [2, 1]);
    await writeOld(join(dir, 'config.pbtxt'), 'max_batch_size: [ nonsense');
    await assert.rejects(reg.load('m', dir), /^InvalidArgument: load failed for model 'm': .*config\.pbtxt/s);
    assert.deepEqual(reg.versions('m').map((v) => v.version), [2, 1]);
    const idx = reg.index(new Map(), false);
    assert.equal(idx.length, 2);
    assert.ok(idx.every((r) => r.state === 'READY' && (r.reason ?? '').includes('config.pbtxt')), JSON.stringify(idx));
    assert.ok(events.some((e) => e.startsWith('failed m/:')));
  });

  it('a config that does not match the model, or a failing warmup, leaves the old version serving', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1 });
    await reg.load('m', dir);
    const v1 = reg.resolve('m', '');
    await writeOld(join(dir, 'config.pbtxt'), SCALER_CONFIG.replace('"scaler"', '"m"').replace('dims: [ 4 ] } ]\noutput', 'dims: [ 5 ] } ]\noutput'));
    await assert.rejects(reg.load('m', dir), /^InvalidArgument: load failed for model 'm': version 1 is at UNAVAILABLE state: .*expects shape \[-1,4\] but the configuration specifies \[-1,5\]/s);
    assert.equal(reg.resolve('m', ''), v1, 'the old instance (and its config) keeps serving');
    assert.deepEqual(await run(v1), times(1));
    const idx = reg.index(new Map(), false);
    assert.equal(idx.length, 1);
    assert.equal(idx[0]!.state, 'READY');
    assert.match(idx[0]!.reason ?? '', /configuration specifies/, 'the index says why it was not replaced');

    // Warmup data that is not there: the warmup fails after the sessions were created.
    const warm = SCALER_CONFIG.replace('"scaler"', '"m"') + `model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 4 ] input_data_file: "x.bin" } } } ]\n`;
    await writeOld(join(dir, 'config.pbtxt'), warm);
    await assert.rejects(reg.load('m', dir), /version 1 is at UNAVAILABLE state: .*x\.bin/s);
    assert.equal(reg.resolve('m', ''), v1);
    assert.deepEqual((await keys('m')), [v1.spec.key, v1.spec.key], 'the failed instances were unloaded');
    await reg.load('m', dir, undefined, { retryFailed: false });
    assert.equal(reg.resolve('m', ''), v1, 'not retried: nothing changed');

    // The warmup data arrives: the model-level files changed, so it is retried.
    await writeOld(join(dir, 'warmup', 'x.bin'), Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    await reg.load('m', dir, undefined, { retryFailed: false });
    assert.notEqual(reg.resolve('m', ''), v1);
    assert.equal(reg.resolve('m', '').config.model_warmup.length, 1);
    assert.deepEqual(reg.index(new Map(), false), [{ name: 'm', version: '1', state: 'READY' }]);
  });

  it('removed version folders are unloaded; with none left the model has no version', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1, 2: 2 });
    await reg.load('m', dir);
    await rm(join(dir, '2'), { recursive: true });
    await reg.load('m', dir);
    assert.equal(reg.resolve('m', '').version, 1, 'latest 1 falls back to version 1');
    await rm(join(dir, '1'), { recursive: true });
    await assert.rejects(reg.load('m', dir), /at least one version must be available under the version policy of model 'm'/);
    assert.throws(() => reg.resolve('m', ''), /'m' has no available versions/);
    assert.deepEqual(await keys('m'), []);
    assert.deepEqual(reg.index(new Map(), false), [{ name: 'm', state: 'UNAVAILABLE', reason: "at least one version must be available under the version policy of model 'm'" }]);
    assert.equal(reg.allReady(), false);
  });

  it('unload: in-flight requests finish, then the model is unknown and its sessions are gone', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1 });
    await reg.load('m', dir);
    const v = reg.resolve('m', '');
    const inflight = Array.from({ length: 20 }, () => run(v));
    const unloading = reg.unload('m');
    assert.equal(reg.isLoaded('m'), false);
    for (const y of await Promise.all(inflight)) assert.deepEqual(y, times(1));
    await unloading;
    assert.throws(() => reg.resolve('m', ''), /Request for unknown model: 'm' is not found/);
    assert.deepEqual(await keys('m'), []);
    assert.deepEqual(reg.index(new Map([['m', dir]]), false), [{ name: 'm', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    assert.deepEqual(reg.index(new Map(), false), [], 'an unloaded model without a folder is not listed');
    assert.equal(reg.allReady(), true);
    await reg.unload('nope');
  });

  it('unload while a version is loading: the new version never serves, nothing is left', async (t) => {
    const dir = join(repo, 'cnn');
    await writeOld(join(dir, 'config.pbtxt'), await readFile(join(CNN_DIR, 'config.pbtxt')));
    await writeOld(join(dir, '1', 'model.onnx'), await readFile(join(CNN_DIR, '1', 'model.onnx')));
    const loading = reg.load('cnn', dir);
    let caught = false;
    for (let i = 0; i < 10_000 && !caught; i++) {
      if (reg.index(new Map(), false).some((r) => r.version === '1' && r.state === 'LOADING')) caught = true;
      else await new Promise((r) => setImmediate(r));
    }
    t.diagnostic(caught ? 'unloaded while loading' : 'the load finished first');
    const unloading = reg.unload('cnn');
    await loading.catch(() => undefined);
    await unloading;
    if (caught) assert.ok(!events.some((e) => e.startsWith('ready cnn/')), 'announced a version that never served');
    assert.throws(() => reg.resolve('cnn', ''), /Request for unknown model: 'cnn' is not found/);
    assert.deepEqual(await keys('cnn'), []);
    assert.deepEqual(reg.index(new Map(), false), []);
  });

  it('readiness: a model loading for the first time, or with nothing serving, is not ready', async () => {
    const dir = await writeScaler(repo, 'm', { 1: 1 });
    const p = reg.load('m', dir);
    assert.equal(reg.allReady(), false);
    assert.deepEqual(reg.index(new Map(), false).map((r) => r.state), ['LOADING']);
    await p;
    assert.equal(reg.allReady(), true);
    await writeOld(join(dir, '2', 'model.onnx'), await scalerModel(2));
    const swap = reg.load('m', dir);
    // During the swap: version 1 serves, version 2 loads; the server stays ready.
    assert.equal(reg.allReady(), true);
    await swap;
    assert.equal(reg.allReady(), true);
    const bad = await writeScaler(repo, 'bad', { 1: CORRUPT_ONNX });
    await assert.rejects(reg.load('bad', bad));
    assert.equal(reg.allReady(), false);
    await reg.unload('bad');
    assert.equal(reg.allReady(), true);
  });

  it('uploaded files load from a private folder that is removed with the last version using it', async () => {
    const files = new Map([['1/model.onnx', new Uint8Array(await scalerModel(6))]]);
    const config = JSON.stringify({ name: 'up', max_batch_size: 16, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [4] }], output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [4] }] });
    await reg.load('up', '', { config, files });
    const v = reg.resolve('up', '');
    assert.deepEqual(await run(v), times(6));
    const folder = v.spec.path.slice(0, -'/1/model.onnx'.length);
    assert.ok(existsSync(folder));
    await reg.unload('up');
    assert.ok(!existsSync(folder), 'upload folder removed');
  });

  it('a corrupt upload leaves no folder behind', async () => {
    const files = new Map([['1/model.onnx', new Uint8Array(CORRUPT_ONNX)]]);
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('osprey-bad-up-'));
    await assert.rejects(reg.load('bad-up', '', { config: '{"max_batch_size": 4}', files }), /version 1 is at UNAVAILABLE state/);
    const afterList = (await readdir(tmpdir())).filter((n) => n.startsWith('osprey-bad-up-'));
    assert.deepEqual(afterList, before);
  });
});
