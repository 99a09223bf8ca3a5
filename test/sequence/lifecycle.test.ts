/**
 * Sequence models across version changes, unload and shutdown: live sequences finish
 * on the version they began on while new ones go to the new version; unload and
 * shutdown wait for live sequences.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { httpRequest, infer, replyJson } from '../helpers/http-client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { SEQ_REPO } from '../helpers/sequence.js';

async function step(server: TestServer, id: bigint, v: number, flags: { start?: boolean; end?: boolean } = {}) {
  const parameters: Record<string, unknown> = { sequence_id: id };
  if (flags.start) parameters.sequence_start = true;
  if (flags.end) parameters.sequence_end = true;
  const { reply, result } = await infer(server.httpUrl, 'seq_acc', { parameters, inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [v] }] });
  if (result === undefined) return { status: reply.status, error: replyJson(reply).error as string, value: NaN, version: '' };
  return { status: 200, error: '', value: Number(result.json.outputs[0].data[0]), version: result.json.model_version as string };
}

const unloaded = (server: TestServer, version: number) =>
  server.logs.some((l) => l.msg === 'model version unloaded' && l.model === 'seq_acc' && l.version === version);

describe('sequence lifecycle', () => {
  let server: TestServer;
  let repo: string;

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'osprey-seq-life-'));
    cpSync(join(SEQ_REPO, 'seq_acc'), join(repo, 'seq_acc'), { recursive: true });
    // 2 instances x 8 slots: room for the 16 live sequences (more would wait in the backlog).
    const cfgPath = join(repo, 'seq_acc', 'config.pbtxt');
    writeFileSync(cfgPath, readFileSync(cfgPath, 'utf8').replace('max_batch_size: 4', 'max_batch_size: 8').replace('count: 1', 'count: 2'));
    server = await startTestServer({ modelRepositories: [repo], modelControlMode: 'explicit', loadModels: ['seq_acc'], allowMetrics: false });
  });

  after(async () => {
    await server.shutdown();
    rmSync(repo, { recursive: true, force: true });
  });

  test('hot swap with 16 live sequences: none fails, each finishes on the version it began on', async () => {
    const ids = Array.from({ length: 16 }, (_, k) => BigInt(k + 1));
    const sums = ids.map(() => 0);
    const run = async (stepNo: number, flags: { start?: boolean; end?: boolean }, version: string) => {
      const answers = await Promise.all(ids.map((id, k) => step(server, id, k + stepNo, flags)));
      answers.forEach((a, k) => {
        sums[k]! += k + stepNo;
        assert.equal(a.status, 200, a.error);
        assert.equal(a.value, sums[k], `sequence ${k} step ${stepNo}`);
        assert.equal(a.version, version, `sequence ${k} step ${stepNo} ran on version ${a.version}`);
      });
    };
    await run(0, { start: true }, '1');
    await run(1, {}, '1');
    // Version 2 appears and is loaded while all 16 are live: the load returns once 2 serves.
    cpSync(join(repo, 'seq_acc', '1'), join(repo, 'seq_acc', '2'), { recursive: true });
    const load = await httpRequest(server.httpUrl, 'POST', '/v2/repository/models/seq_acc/load');
    assert.equal(load.status, 200, load.body.toString());
    // A new sequence goes to version 2...
    const fresh = await step(server, 500n, 9, { start: true, end: true });
    assert.equal(fresh.version, '2');
    assert.equal(fresh.value, 9);
    // ...the live ones stay on version 1, which is still up for them.
    await run(2, {}, '1');
    assert.equal(unloaded(server, 1), false, 'version 1 holds live sequences');
    await run(3, { end: true }, '1');
    // Their END ran: version 1 unloads now.
    for (let i = 0; i < 100 && !unloaded(server, 1); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(unloaded(server, 1), 'version 1 unloaded once its sequences ended');
    const after = await step(server, 3n, 1);
    assert.equal(after.status, 400, 'an ended sequence is gone with its version');
    assert.match(after.error, /must specify the START flag/);
  });

  test('unload waits for a live sequence to end', async () => {
    const a = await step(server, 42n, 5, { start: true });
    assert.equal(a.status, 200, a.error);
    let done = false;
    const unload = httpRequest(server.httpUrl, 'POST', '/v2/repository/models/seq_acc/unload').then((r) => { done = true; return r; });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(done, false, 'unload is waiting for sequence 42');
    const fresh = await step(server, 43n, 1, { start: true });
    assert.equal(fresh.status >= 400, true, 'no new sequence starts on an unloading model');
    const b = await step(server, 42n, 2, { end: true });
    assert.equal(b.status, 200, b.error);
    assert.equal(b.value, 7);
    assert.equal((await unload).status, 200);
    assert.equal(done, true);
  });
});

describe('sequence shutdown', () => {
  test('shutdown waits for live sequences, which may still send their requests; new ones are refused', async () => {
    const server = await startTestServer({ modelRepositories: [SEQ_REPO], allowMetrics: false });
    const req = (id: bigint, v: number, flags: Record<string, boolean>) => ({
      modelName: 'seq_acc', modelVersion: '', id: '', deadline: Infinity,
      parameters: { sequence_id: id, ...flags },
      inputs: [{ name: 'INPUT', datatype: 'INT32' as const, shape: [1, 1], data: new Uint8Array(Int32Array.of(v).buffer) }],
    });
    await server.dataPlane.infer(req(7n, 4, { sequence_start: true }));
    let stopped = false;
    const stopping = server.shutdown().then(() => { stopped = true; });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(stopped, false, 'shutdown waits for sequence 7');
    await assert.rejects(server.dataPlane.infer(req(8n, 1, { sequence_start: true })), /Server is shutting down/);
    const last = await server.dataPlane.infer(req(7n, 6, { sequence_end: true }));
    assert.deepEqual([...new Int32Array(last.outputs[0]!.data.slice().buffer)], [10]);
    await stopping;
    assert.equal(stopped, true);
  });
});
