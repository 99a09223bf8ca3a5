/**
 * `osprey_quiet_dispatch` on a real server (registry/model-version.ts quietDispatch,
 * BatcherOptions.quiet): with a 150 ms max_queue_delay, requests sent one at a time
 * are not held when the config sets it, and are held the whole delay when it does not
 * (Triton's rule); with other requests in the server the delay holds either way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { httpRequest, infer, replyJson } from '../helpers/http-client.js';
import { SCALER_CONFIG, sleep, writeScaler } from '../helpers/repo-fixtures.js';
import { scratchServer, type ScratchServer } from '../helpers/scratch-server.js';

const DELAY_US = 150_000;
const config = (name: string, quiet: boolean): string => `${SCALER_CONFIG.replace('"scaler"', `"${name}"`)}
dynamic_batching { max_queue_delay_microseconds: ${DELAY_US} }
instance_group [ { count: 1 kind: KIND_CPU } ]
${quiet ? 'parameters { key: "osprey_quiet_dispatch" value: { string_value: "true" } }' : ''}
`;

interface Stats { execution_count: number; inference_stats: { success: { count: number }; queue: { count: number; ns: number } } }

async function stats(base: string, model: string): Promise<Stats> {
  const r = await httpRequest(base, 'GET', `/v2/models/${model}/stats`);
  assert.equal(r.status, 200);
  return replyJson<{ model_stats: Stats[] }>(r).model_stats[0]!;
}

async function scale(base: string, model: string, v: number): Promise<number[]> {
  const { reply, result } = await infer(base, model, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [v, v + 1, v + 2, v + 3] }] });
  assert.equal(reply.status, 200, reply.body.toString());
  return result!.json.outputs[0].data as number[];
}

describe('osprey_quiet_dispatch', () => {
  let h: ScratchServer;
  scratchServer(async (repo) => {
    await writeScaler(repo, 'quiet', { 1: 2 }, config('quiet', true));
    await writeScaler(repo, 'held', { 1: 2 }, config('held', false));
    await writeScaler(repo, 'hold', { 1: 2 }, config('hold', false).replace(String(DELAY_US), '2000000'));
    await writeScaler(repo, 'bad', { 1: 2 }, config('bad', true).replace('string_value: "true"', 'string_value: "yes"'));
  }, {}, (x) => { h = x; });

  it('a value other than true/false or 1/0 fails that model\'s load with a clear reason; the others serve', async () => {
    const r = await httpRequest(h.s.httpUrl, 'POST', '/v2/repository/index');
    assert.equal(r.status, 200);
    const index = replyJson<Array<{ name: string; state: string; reason?: string }>>(r);
    const bad = index.find((m) => m.name === 'bad');
    assert.equal(bad?.state, 'UNAVAILABLE');
    assert.equal(bad?.reason, "model 'bad': parameter 'osprey_quiet_dispatch' must be true/false or 1/0, got 'yes'");
    assert.equal(index.find((m) => m.name === 'quiet')?.state, 'READY');
    const { reply } = await infer(h.s.httpUrl, 'bad', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    // A version that is not ready is UNAVAILABLE (PROTOCOL.md), with the error JSON.
    assert.equal(reply.status, 503);
    assert.match(JSON.parse(reply.body.toString()).error, /bad/);
  });

  it('one request at a time: not held with the parameter, held the whole delay without it', async () => {
    const base = h.s.httpUrl;
    for (let i = 0; i < 4; i++) assert.deepEqual(await scale(base, 'quiet', i), [2 * i, 2 * i + 2, 2 * i + 4, 2 * i + 6]);
    const q = await stats(base, 'quiet');
    assert.equal(q.inference_stats.queue.count, 4);
    const quietMs = q.inference_stats.queue.ns / 4 / 1e6;
    assert.ok(quietMs < DELAY_US / 2000, `quiet: ${quietMs.toFixed(1)} ms in the queue per request`);

    for (let i = 0; i < 2; i++) await scale(base, 'held', i);
    const s = await stats(base, 'held');
    const heldMs = s.inference_stats.queue.ns / 2 / 1e6;
    assert.ok(heldMs >= DELAY_US / 1000 - 1, `held: ${heldMs.toFixed(1)} ms in the queue per request`);
  });

  it('with other requests in the server the delay holds as configured', async () => {
    const base = h.s.httpUrl;
    // Two requests sit in 'hold' for its 2 s delay: the server holds two requests meanwhile.
    const holding = Promise.all([1, 2].map((v) => scale(base, 'hold', v)));
    await sleep(500);
    const before = await stats(base, 'quiet');
    assert.deepEqual(await scale(base, 'quiet', 7), [14, 16, 18, 20]);
    const after = await stats(base, 'quiet');
    const heldMs = (after.inference_stats.queue.ns - before.inference_stats.queue.ns) / 1e6;
    assert.ok(heldMs >= DELAY_US / 1000 - 1, `held ${heldMs.toFixed(1)} ms with two other requests in the server`);
    assert.deepEqual(await holding, [[2, 4, 6, 8], [4, 6, 8, 10]]);
    const hold = await stats(base, 'hold');
    assert.equal(hold.execution_count, 1, 'the two held requests ran as one batch');
  });
});
