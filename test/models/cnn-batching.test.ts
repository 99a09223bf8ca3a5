/**
 * The bundled cnn configs' batching, driven through the real config loader and the
 * real dynamic batcher on a fake clock (deterministic; no timing on a shared machine).
 *
 * Why the configs hold a batch briefly (bench/README.md "cnn against the ORT
 * ceiling"): with `dynamic_batching { }` (no delay) at concurrency 32, a model instance
 * that frees up while its twin runs a large batch takes the one request that has come
 * back so far, and the next, and so on: a third of the rows ran in batches of 1, the
 * instances were busy ~65% of the time and every row paid a wake-up and hand-off more.
 * (The batcher's coalescing joins the requests read in one event-loop turn; requests
 * coming back over several turns still went one by one.) These tests pin both sides of the trade: under load the freed instance collects the
 * requests arriving every 50 us instead of running them one by one, a lone request
 * waits no more than the stated bound, and none at all at concurrency 1
 * (`osprey_quiet_dispatch`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Batcher, type BatchItem } from '../../src/batching/batcher.js';
import { buildModelConfig, instanceCount } from '../../src/config/normalize.js';
import { batchesAhead, quietDispatch } from '../../src/registry/model-version.js';
import type { ModelConfig, OnnxModelInfo } from '../../src/config/model-config.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { BUNDLED_REPO } from '../helpers/server.js';

/** Longest a lone request may be held at concurrency 1 (about a third of a batch-1 run). */
const MAX_LONE_HOLD_MS = 0.3;
/** Requests come back this often while the server is saturated (the main thread's cost per cnn request). */
const ARRIVAL_GAP_MS = 0.05;

function bundledConfig(model: string): Readonly<ModelConfig> {
  const type = model === 'cnn_fp16' ? 'TYPE_FP16' : 'TYPE_FP32';
  const onnx: OnnxModelInfo = {
    inputs: [{ name: 'image', data_type: type, dims: [-1, 3, 32, 32] }],
    outputs: [{ name: 'logits', data_type: type, dims: [-1, 10] }],
  };
  return buildModelConfig({ modelName: model, configPath: join(BUNDLED_REPO, model, 'config.pbtxt'), onnx });
}

interface Item extends BatchItem<number> { readonly id: number }

/** The batcher a model version builds from its config, on a fake clock; runs finish when the test says. */
function batcherFor(cfg: Readonly<ModelConfig>, serverQuiet = false) {
  const clock = new FakeClock();
  const runs: { ids: number[]; finish(): void }[] = [];
  /** Coalescing flushes due at the end of the current event-loop turn (the server's setImmediate). */
  const flushes: (() => void)[] = [];
  const b = new Batcher<Item, number>({
    maxBatchSize: cfg.max_batch_size, dynamic: cfg.dynamic_batching, instances: instanceCount(cfg.instance_group), ahead: batchesAhead(cfg),
    now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, coalesce: (flush) => { flushes.push(flush); },
    quiet: quietDispatch(cfg) ? () => serverQuiet : undefined,
  }, (batch) => new Promise((resolve) => {
    runs.push({ ids: batch.map((x) => x.id), finish: () => resolve(batch.map((x) => x.id)) });
  }));
  /**
   * One event-loop turn's end, as the server has it: the coalescing flush of the
   * requests read in the turn, and the re-check of a batch held for less than a
   * millisecond (ModelVersion arms both on setImmediate; a check before the hold is
   * over just re-arms).
   */
  const poll = (): void => {
    for (const f of flushes.splice(0)) f();
    for (const x of clock.timers.splice(0)) x.fn();
  };
  let next = 0;
  const add = (): void => {
    const id = next++;
    b.enqueue({ id, batchSize: 1, shapeKey: 'image', priority: 0, timeoutUs: 0, deadline: Infinity, resolve() {}, reject() {} });
  };
  return { clock, runs, add, poll };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

for (const model of ['cnn', 'cnn_fp16', 'cnn_int8']) {
  describe(`${model}: preferred batch size 8 under load`, () => {
    it('requests that come back while four batches are in flight go 8 at a time, at once, as a slot frees', async () => {
      // Uncapped, they were held for the queue delay and then went all together: batches
      // of 20-32 rows took most of the 32 clients and the other instance starved between
      // small batches (bench/README.md "cnn against the ORT ceiling", session 10). With
      // preferred_batch_size [8] a batch of 8 goes as soon as it is there (Triton's rule;
      // once the oldest request has waited the delay, whatever is queued goes, as before).
      const cfg = bundledConfig(model);
      assert.deepEqual(cfg.dynamic_batching?.preferred_batch_size, [8]);
      const { clock, runs, add, poll } = batcherFor(cfg);
      for (let want = 1; want <= 4; want++) {
        add();
        for (let i = 0; i < 500 && runs.length < want; i++) { clock.t += 0.01; poll(); }
      }
      assert.equal(runs.length, 4, 'two instances, one batch running and one formed ahead each');
      // 24 come back within the delay.
      for (let i = 0; i < 24; i++) { add(); clock.t += 0.005; }
      poll();
      assert.equal(runs.length, 4, 'nothing more goes while four batches are in flight');
      runs[0]!.finish();
      await settle();
      runs[1]!.finish();
      await settle();
      assert.deepEqual(runs.slice(4).map((r) => r.ids.length), [8, 8]);
    });
  });
}

for (const model of ['cnn', 'cnn_fp16', 'cnn_int8']) {
  describe(`${model}: bundled batching config`, () => {
    const cfg = bundledConfig(model);

    it('two instances, batches up to 32, a sub-millisecond queue delay, one batch formed ahead per instance, quiet dispatch', () => {
      assert.equal(instanceCount(cfg.instance_group), 2);
      assert.equal(batchesAhead(cfg), 1);
      assert.equal(quietDispatch(cfg), true);
      assert.equal(cfg.max_batch_size, 32);
      const delayUs = cfg.dynamic_batching?.max_queue_delay_microseconds ?? 0;
      assert.ok(delayUs > 0 && delayUs <= MAX_LONE_HOLD_MS * 1000, `max_queue_delay_microseconds ${delayUs}`);
    });

    it('under load, an instance that frees up collects the returning requests instead of running them one by one', async () => {
      const { clock, runs, add, poll } = batcherFor(cfg);
      // Saturated: both instances busy, nothing queued (one request each, sent once held long enough).
      for (const want of [1, 2]) {
        add();
        for (let i = 0; i < 500 && runs.length < want; i++) { clock.t += 0.01; poll(); }
      }
      assert.equal(runs.length, 2, 'both instances took a batch');
      // One finishes; its requests come back one every ARRIVAL_GAP_MS.
      runs[0]!.finish();
      await settle();
      const before = runs.length;
      const sizes: number[] = [];
      for (let i = 0; i < 24; i++) {
        add();
        clock.t += ARRIVAL_GAP_MS;
        poll();
        await settle();
        if (runs.length > before) break;
      }
      for (let k = before; k < runs.length; k++) sizes.push(runs[k]!.ids.length);
      assert.ok(sizes.length > 0, 'the freed instance ran something');
      assert.ok(sizes[0]! >= 4, `first batch on the freed instance has ${sizes[0]} requests (${sizes.join(',')}): it should gather the requests arriving ${ARRIVAL_GAP_MS} ms apart`);
    });

    it('a lone request at concurrency 1 (the server quiet) is not held at all', () => {
      const { runs, add, poll } = batcherFor(cfg, true);
      add();
      poll();
      assert.equal(runs.length, 1);
    });

    it(`a lone request just after concurrency (not yet quiet) is held for the queue delay, at most ${MAX_LONE_HOLD_MS} ms`, () => {
      const { clock, runs, add, poll } = batcherFor(cfg);
      const delayMs = (cfg.dynamic_batching?.max_queue_delay_microseconds ?? 0) / 1000;
      add();
      let heldMs = 0;
      while (runs.length === 0 && heldMs < 5) {
        clock.t += 0.01;
        heldMs += 0.01;
        poll();
      }
      assert.equal(runs.length, 1);
      assert.ok(Math.abs(heldMs - delayMs) < 0.011, `held ${heldMs.toFixed(2)} ms, delay ${delayMs} ms`);
      assert.ok(heldMs <= MAX_LONE_HOLD_MS + 0.011, `held ${heldMs.toFixed(2)} ms`);
    });
  });
}
