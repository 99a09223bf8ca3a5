/**
 * Regression (issue 16, item 1): every file a model config names resolves inside
 * the model's folder, after symbolic links, whether the config comes from
 * config.pbtxt or from a load request's `config` override. Each case plants a
 * file outside the model folder that would load fine if it were read (a valid
 * scaler model, label lines, warmup bytes of the right size), so a server that
 * followed the path would answer 200, and the test fails.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { staysInside } from '../../src/repository/contained.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { removeRepo, scalerModel, SCALER_CONFIG, tempRepo, writeOld } from '../helpers/repo-fixtures.js';

async function post(s: TestServer, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.httpUrl}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

const cfg = (name: string, extra: Record<string, unknown> = {}, output: Record<string, unknown> = {}) => JSON.stringify({
  name, max_batch_size: 16,
  input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [4] }],
  output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [4], ...output }],
  ...extra,
});

const warmup = (file: string) => ({
  model_warmup: [{ name: 'w', batch_size: 1, inputs: { x: { data_type: 'TYPE_FP32', dims: [4], input_data_file: file } } }],
});

describe('paths in a model config stay inside the model folder', () => {
  let outside: string;
  let repo: string;
  let s: TestServer;
  let rssStart = 0;

  before(async () => {
    outside = await tempRepo('osprey-outside-');
    repo = join(outside, 'repo');
    // Bait outside the repository: each would load if it were followed.
    await writeOld(join(outside, 'secret-labels.txt'), 'SECRET-A\nSECRET-B\nSECRET-C\nSECRET-D\n');
    await writeOld(join(outside, 'secret.bin'), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    await writeOld(join(outside, 'evil', 'model.onnx'), await scalerModel(7));
    await writeOld(join(outside, 'evil.onnx'), await scalerModel(7));
    await mkdir(join(outside, 'evil', 'warmup'), { recursive: true });
    await writeOld(join(outside, 'evil', 'warmup', 'x.bin'), new Uint8Array(16));
    for (const m of ['m', 'pb_label', 'pb_model', 'pb_link', 'pb_warmdir']) {
      await writeOld(join(repo, m, '1', 'model.onnx'), await scalerModel(2));
      await writeOld(join(repo, m, 'labels.txt'), 'a\nb\nc\nd\n');
      await writeOld(join(repo, m, 'warmup', 'x.bin'), new Uint8Array(16));
    }
    // A link that stays inside is fine; links that point out are not.
    await symlink(join(repo, 'm', 'labels.txt'), join(repo, 'm', 'labels-link.txt'));
    await symlink(join(outside, 'secret-labels.txt'), join(repo, 'm', 'out-link.txt'));
    await symlink(join(outside, 'evil.onnx'), join(repo, 'm', '1', 'linked.onnx'));
    await symlink(join(outside, 'secret.bin'), join(repo, 'm', 'warmup', 'linked.bin'));
    await symlink(outside, join(repo, 'm', 'up'));
    await symlink(outside, join(repo, 'm', '1', 'updir'));
    await writeOld(join(repo, 'pb_label', 'config.pbtxt'), SCALER_CONFIG.replace('name: "scaler"', 'name: "pb_label"')
      .replace('dims: [ 4 ] } ]\nversion', 'dims: [ 4 ] label_filename: "../../secret-labels.txt" } ]\nversion'));
    await writeOld(join(repo, 'pb_model', 'config.pbtxt'), `${SCALER_CONFIG.replace('name: "scaler"', 'name: "pb_model"')}default_model_filename: "../../../evil.onnx"\n`);
    await writeOld(join(repo, 'pb_link', 'config.pbtxt'), SCALER_CONFIG.replace('name: "scaler"', 'name: "pb_link"')
      .replace('dims: [ 4 ] } ]\nversion', 'dims: [ 4 ] label_filename: "out.txt" } ]\nversion'));
    await symlink(join(outside, 'secret-labels.txt'), join(repo, 'pb_link', 'out.txt'));
    // The whole warmup folder is a link out of the model folder.
    await writeOld(join(repo, 'pb_warmdir', 'config.pbtxt'), `${SCALER_CONFIG.replace('name: "scaler"', 'name: "pb_warmdir"')}model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 4 ] input_data_file: "x.bin" } } } ]\n`);
    await removeRepo(join(repo, 'pb_warmdir', 'warmup'));
    await symlink(join(outside, 'evil', 'warmup'), join(repo, 'pb_warmdir', 'warmup'));
    s = await startTestServer({ modelRepositories: [repo], modelControlMode: 'explicit', loadModels: [], workerThreads: 2, allowMetrics: false });
    rssStart = process.memoryUsage().rss;
  });
  after(async () => {
    await s?.shutdown();
    await removeRepo(outside);
  });

  const classify = async (model: string): Promise<{ status: number; json: any }> => post(s, `/v2/models/${model}/infer`, {
    inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
    outputs: [{ name: 'y', parameters: { classification: 4 } }],
  });

  const refused = async (model: string, body: unknown, detail: RegExp): Promise<void> => {
    const r = await post(s, `/v2/repository/models/${model}/load`, body);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error, new RegExp(`^load failed for model '${model}': version 1 is at UNAVAILABLE state: .*outside the model folder`, 's'));
    assert.match(r.json.error, detail);
    assert.doesNotMatch(r.json.error, /SECRET/);
  };

  it('spelling alone: relative names that stay below, nothing else', () => {
    for (const ok of ['labels.txt', 'a/b.txt', './a', 'a/../b', '..a', 'a..']) assert.equal(staysInside(ok), true, ok);
    for (const bad of ['', '..', '../x', 'a/../../x', '/etc/passwd', 'a/../..', '\0', 'x\0y', '../../../../etc/passwd']) assert.equal(staysInside(bad), false, bad);
  });

  it('a label file inside the folder (directly or by an inner link) serves its labels', async () => {
    for (const file of ['labels.txt', 'labels-link.txt']) {
      assert.equal((await post(s, '/v2/repository/models/m/load', { parameters: { config: cfg('m', {}, { label_filename: file }) } })).status, 200);
      const r = await classify('m');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.outputs[0].data, ['8.000000:3:d', '6.000000:2:c', '4.000000:1:b', '2.000000:0:a']);
    }
  });

  it('override: label_filename climbing out, absolute, or through a link is refused; the loaded version keeps serving', async () => {
    await refused('m', { parameters: { config: cfg('m', {}, { label_filename: '../../secret-labels.txt' }) } }, /label file for output 'y' '\.\.\/\.\.\/secret-labels\.txt'/);
    await refused('m', { parameters: { config: cfg('m', {}, { label_filename: '../../../../../../../../etc/passwd' }) } }, /etc\/passwd/);
    await refused('m', { parameters: { config: cfg('m', {}, { label_filename: join(outside, 'secret-labels.txt') }) } }, /must be relative/);
    await refused('m', { parameters: { config: cfg('m', {}, { label_filename: 'out-link.txt' }) } }, /symbolic link/);
    await refused('m', { parameters: { config: cfg('m', {}, { label_filename: 'up/secret-labels.txt' }) } }, /symbolic link/);
    const r = await classify('m');
    assert.equal(r.status, 200);
    assert.equal(r.json.outputs[0].data[0], '8.000000:3:d');
  });

  it('override: default_model_filename climbing out, absolute, or through a link is refused', async () => {
    await refused('m', { parameters: { config: cfg('m', { default_model_filename: '../../../evil.onnx' }) } }, /model file of version 1 '\.\.\/\.\.\/\.\.\/evil\.onnx'/);
    await refused('m', { parameters: { config: cfg('m', { default_model_filename: '../../../evil/model.onnx' }) } }, /model file/);
    await refused('m', { parameters: { config: cfg('m', { default_model_filename: join(outside, 'evil.onnx') }) } }, /model file/);
    await refused('m', { parameters: { config: cfg('m', { default_model_filename: 'linked.onnx' }) } }, /symbolic link/);
    await refused('m', { parameters: { config: cfg('m', { default_model_filename: 'updir/evil.onnx' }) } }, /symbolic link/);
  });

  it('override: warmup input_data_file climbing out, absolute, or through a link is refused; one inside warms up', async () => {
    await refused('m', { parameters: { config: cfg('m', warmup('../../../secret.bin')) } }, /warmup 'w' input_data_file for input 'x' '\.\.\/\.\.\/\.\.\/secret\.bin'/);
    await refused('m', { parameters: { config: cfg('m', warmup(join(outside, 'secret.bin'))) } }, /input_data_file/);
    await refused('m', { parameters: { config: cfg('m', warmup('linked.bin')) } }, /symbolic link/);
    assert.equal((await post(s, '/v2/repository/models/m/load', { parameters: { config: cfg('m', warmup('x.bin')) } })).status, 200);
  });

  it('config.pbtxt: the same names are refused from the repository too', async () => {
    await refused('pb_label', undefined, /label file/);
    await refused('pb_model', undefined, /model file/);
    await refused('pb_link', undefined, /symbolic link/);
    await refused('pb_warmdir', undefined, /symbolic link/);
  });

  it('file: uploads cannot be written outside their private folder', async () => {
    for (const name of ['../x.onnx', '1/../../x.onnx', '/tmp/x.onnx']) {
      const r = await post(s, '/v2/repository/models/up1/load', {
        parameters: { config: cfg('up1'), [`file:${name}`]: (await scalerModel(3)).toString('base64') },
      });
      assert.notEqual(r.status, 200, name);
    }
  });

  it('still serves after all that, memory near where it started', async () => {
    const r = await classify('m');
    assert.equal(r.status, 200);
    // Generous: loads and unloads of sessions move RSS by tens of MB.
    assert.ok(process.memoryUsage().rss < rssStart + 512 * 1024 ** 2, `rss ${process.memoryUsage().rss} vs ${rssStart}`);
  });
});
