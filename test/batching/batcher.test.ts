import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';

import { Batcher, type BatchItem, type BatcherOptions } from '../../src/batching/batcher.js';
import type { DynamicBatchingConfig, ModelConfig, QueuePolicyConfig } from '../../src/config/model-config.js';
import { batchesAhead, quietDispatch } from '../../src/registry/model-version.js';
import { Cancellation } from '../../src/types/cancel.js';
import {
  Cancelled, DeadlineExceeded, InvalidArgument, OspreyError, QueueFull, RequestTimeout,
} from '../../src/errors/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';

interface Item extends BatchItem<string> {
  readonly id: string;
  outcome?: { ok: true; value: string } | { ok: false; err: Error };
}

/** Every answer in the order it was given, across all items of a test. */
type Log = string[];

function item(log: Log, id: string, o: Partial<Omit<Item, 'id' | 'resolve' | 'reject'>> = {}): Item {
  const it: Item = {
    id,
    batchSize: o.batchSize ?? 1,
    shapeKey: o.shapeKey ?? 's',
    priority: o.priority ?? 0,
    timeoutUs: o.timeoutUs ?? 0,
    deadline: o.deadline ?? Infinity,
    signal: o.signal,
    resolve(value: string) { it.outcome = { ok: true, value }; log.push(id); },
    reject(err: Error) { it.outcome = { ok: false, err }; log.push(`${id}!`); },
  };
  return it;
}

interface Call {
  ids: string[];
  finish(results?: (string | Error)[]): void;
  fail(err: Error): void;
}

/** A `run` whose batches finish only when the test says so. */
class Runner {
  calls: Call[] = [];
  active = 0;
  maxActive = 0;
  run = (batch: Item[]): Promise<(string | Error)[]> => {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    return new Promise((resolve, reject) => {
      const done = (): void => { this.active--; };
      this.calls.push({
        ids: batch.map((b) => b.id),
        finish: (results) => { done(); resolve(results ?? batch.map((b) => `r:${b.id}`)); },
        fail: (err) => { done(); reject(err); },
      });
    });
  };
  get batches(): string[][] { return this.calls.map((c) => c.ids); }
}

/** Let promise callbacks (batch completions) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function dyn(o: Partial<DynamicBatchingConfig> = {}): DynamicBatchingConfig {
  return {
    preferred_batch_size: [],
    max_queue_delay_microseconds: 0,
    preserve_ordering: false,
    priority_levels: 0,
    default_priority_level: 0,
    priority_queue_policy: {},
    ...o,
  };
}

function policy(o: Partial<QueuePolicyConfig> = {}): QueuePolicyConfig {
  return {
    timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false,
    max_queue_size: 0, ...o,
  };
}

function setup(opts: Partial<BatcherOptions<Item>> & { maxBatchSize: number }) {
  const clock = new FakeClock();
  const runner = new Runner();
  const log: Log = [];
  const b = new Batcher<Item, string>({
    instances: 1,
    now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    ...opts,
  }, runner.run);
  const add = (id: string, o: Partial<Item> = {}): Item => {
    const x = item(log, id, o);
    b.enqueue(x);
    return x;
  };
  return { clock, runner, log, b, add };
}

function errOf(x: Item): Error {
  assert.ok(x.outcome && !x.outcome.ok, `${x.id} should have been rejected`);
  return x.outcome.err;
}

describe('Batcher: composition', () => {
  it('sends a batch as soon as a preferred size is reached', () => {
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn({ preferred_batch_size: [4], max_queue_delay_microseconds: 100_000 }) });
    add('a'); add('b'); add('c');
    assert.deepEqual(runner.batches, []);
    add('d');
    assert.deepEqual(runner.batches, [['a', 'b', 'c', 'd']]);
  });

  it('sends the largest preferred prefix and keeps the rest for the delay', async () => {
    const { clock, runner, b, add } = setup({ maxBatchSize: 8, dynamic: dyn({ preferred_batch_size: [2, 4], max_queue_delay_microseconds: 10_000 }) });
    add('a'); add('b'); // preferred 2 reached with a free instance: sent at once
    assert.deepEqual(runner.batches, [['a', 'b']]);
    for (const id of ['c', 'd', 'e', 'f', 'g']) add(id); // the instance is busy: queue forms
    assert.equal(b.queued, 5);
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches[1], ['c', 'd', 'e', 'f']);
    assert.equal(b.queued, 1);
    runner.calls[1]!.finish();
    await settle();
    assert.equal(runner.calls.length, 2, 'g waits: no preferred size, delay not over');
    clock.advance(10);
    assert.deepEqual(runner.batches[2], ['g']);
  });

  it('without `ahead` forms a batch only when an instance is free; with ahead 1 one more per instance', async () => {
    for (const ahead of [0, 1]) {
      const { runner, b, add } = setup({ maxBatchSize: 2, dynamic: dyn(), instances: 2, ahead });
      for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']) add(id);
      const sent = 2 * (1 + ahead);
      assert.equal(runner.batches.length, sent, `ahead ${ahead}`);
      assert.equal(b.inFlight, sent);
      assert.equal(runner.maxActive, sent);
      // Delay 0: each request goes alone the moment it arrives while there is room.
      assert.deepEqual(runner.batches.flat(), ['a', 'b', 'c', 'd'].slice(0, sent), 'in queue order');
      assert.equal(b.queued, 10 - sent);
      runner.calls[0]!.finish();
      await settle();
      assert.equal(runner.batches.length, sent + 1, 'a finished batch lets one more go');
      assert.equal(runner.batches[sent]!.length, 2);
      assert.equal(b.queued, 10 - sent - 2);
    }
  });

  it('a model config sets ahead with osprey_batches_ahead (0-3); anything else fails the load', () => {
    const cfg = (v?: string) => ({ name: 'm', parameters: v === undefined ? {} : { osprey_batches_ahead: { string_value: v } } }) as unknown as ModelConfig;
    assert.equal(batchesAhead(cfg()), 0);
    assert.equal(batchesAhead(cfg('0')), 0);
    assert.equal(batchesAhead(cfg('1')), 1);
    assert.equal(batchesAhead(cfg('3')), 3);
    for (const bad of ['4', '-1', '1.5', 'yes']) {
      assert.throws(() => batchesAhead(cfg(bad)), (e: unknown) => e instanceof InvalidArgument
        && e.message === `model 'm': parameter 'osprey_batches_ahead' must be an integer 0-3, got '${bad}'`, bad);
    }
  });

  it('with `quiet` (osprey_quiet_dispatch) a batch goes at once instead of waiting out the delay, only while quiet says so', () => {
    let quiet = true;
    const { clock, runner, add } = setup({ maxBatchSize: 8, instances: 2, dynamic: dyn({ max_queue_delay_microseconds: 500 }), quiet: () => quiet });
    add('a');
    assert.deepEqual(runner.batches, [['a']], 'a lone request at concurrency 1 is not held');
    quiet = false;
    add('b');
    clock.advance(0.2);
    add('c');
    assert.equal(runner.batches.length, 1, 'under concurrency the delay holds the batch as configured');
    clock.advance(0.8);
    assert.deepEqual(runner.batches, [['a'], ['b', 'c']]);
  });

  it('a model config sets osprey_quiet_dispatch (true/false, 1/0; default false); anything else fails the load', () => {
    const cfg = (v?: string) => ({ name: 'm', parameters: v === undefined ? {} : { osprey_quiet_dispatch: { string_value: v } } }) as unknown as ModelConfig;
    assert.equal(quietDispatch(cfg()), false);
    for (const v of ['1', 'true']) assert.equal(quietDispatch(cfg(v)), true);
    for (const v of ['0', 'false']) assert.equal(quietDispatch(cfg(v)), false);
    for (const bad of ['yes', '2', '']) {
      assert.throws(() => quietDispatch(cfg(bad)), (e: unknown) => e instanceof InvalidArgument
        && e.message === `model 'm': parameter 'osprey_quiet_dispatch' must be true/false or 1/0, got '${bad}'`, bad);
    }
  });

  it('sends what is queued when the oldest request has waited max_queue_delay', () => {
    const { clock, runner, add } = setup({ maxBatchSize: 8, dynamic: dyn({ max_queue_delay_microseconds: 500 }) });
    add('a');
    clock.advance(0.2);
    add('b'); add('c');
    clock.advance(0.2);
    assert.deepEqual(runner.batches, []);
    clock.advance(0.6); // timers are whole ms: fires at t = 1
    assert.deepEqual(runner.batches, [['a', 'b', 'c']]);
  });

  it('with delay 0 sends whatever is queued as soon as an instance is free', async () => {
    const { runner, add } = setup({ maxBatchSize: 4, dynamic: dyn() });
    add('a');
    assert.deepEqual(runner.batches, [['a']]);
    for (const id of ['b', 'c', 'd', 'e', 'f', 'g']) add(id);
    assert.equal(runner.calls.length, 1, 'never stacks runs on a busy instance');
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches[1], ['b', 'c', 'd', 'e'], 'capped at max_batch_size');
    runner.calls[1]!.finish();
    await settle();
    assert.deepEqual(runner.batches[2], ['f', 'g']);
  });

  it('sends a full batch at once even with a delay', () => {
    const { runner, add } = setup({ maxBatchSize: 3, dynamic: dyn({ max_queue_delay_microseconds: 1_000_000 }) });
    add('a'); add('b');
    assert.deepEqual(runner.batches, []);
    add('c');
    assert.deepEqual(runner.batches, [['a', 'b', 'c']]);
  });

  it('a different shape closes the batch', async () => {
    const { clock, runner, add } = setup({ maxBatchSize: 8, dynamic: dyn({ max_queue_delay_microseconds: 5_000 }) });
    add('a', { shapeKey: 'x' }); add('b', { shapeKey: 'x' });
    assert.deepEqual(runner.batches, []);
    add('c', { shapeKey: 'y' });
    assert.deepEqual(runner.batches, [['a', 'b']], 'the batch cannot grow: sent now');
    runner.calls[0]!.finish();
    await settle();
    add('d', { shapeKey: 'y' });
    clock.advance(5);
    assert.deepEqual(runner.batches[1], ['c', 'd'], 'the other shape waits for its own delay');
  });

  it('requests with a batch dimension > 1 join whole, never split', async () => {
    const { clock, runner, b, add } = setup({ maxBatchSize: 8, dynamic: dyn({ max_queue_delay_microseconds: 5_000 }) });
    add('a', { batchSize: 3 }); add('b', { batchSize: 3 });
    assert.deepEqual(runner.batches, []);
    add('c', { batchSize: 3 }); // 9 > 8: cannot join, so [a, b] cannot grow
    assert.deepEqual(runner.batches, [['a', 'b']]);
    assert.equal(b.queued, 1);
    runner.calls[0]!.finish();
    await settle();
    add('d', { batchSize: 6 }); // 3 + 6 > 8: waits for the next batch, whole
    clock.advance(5);
    assert.deepEqual(runner.batches[1], ['c']);
    runner.calls[1]!.finish();
    await settle();
    assert.deepEqual(runner.batches[2], ['d']);
  });

  it('reports queue time and batch size to onDispatch and stats', () => {
    const got: { n: number; q: number[]; size: number }[] = [];
    const { clock, b, add } = setup({
      maxBatchSize: 8,
      dynamic: dyn({ max_queue_delay_microseconds: 2_000 }),
      onDispatch: (batch, queueNs, size) => {
        got.push({ n: batch.length, q: Array.from({ length: batch.length }, (_, i) => queueNs[i]!), size });
      },
    });
    add('a', { batchSize: 2 });
    clock.advance(1);
    add('b');
    clock.advance(1);
    assert.deepEqual(got, [{ n: 2, q: [2_000_000, 1_000_000], size: 3 }]);
    assert.deepEqual(b.stats, { executions: 1, inferences: 3, requests: 2, queueNs: 3_000_000, rejected: 0 });
  });
});

describe('Batcher: priorities and queue policy', () => {
  it('drains level 1 first, FIFO within a level; 0 means the default level', async () => {
    const { runner, add, log } = setup({ maxBatchSize: 0, dynamic: dyn({ priority_levels: 3, default_priority_level: 2 }) });
    add('first');
    add('p3', { priority: 3 });
    add('p0', { priority: 0 });
    add('p1', { priority: 1 });
    add('p2', { priority: 2 });
    add('p1b', { priority: 1 });
    for (let i = 0; i < 6; i++) {
      runner.calls[i]!.finish();
      await settle();
    }
    assert.deepEqual(runner.batches.flat(), ['first', 'p1', 'p1b', 'p0', 'p2', 'p3']);
    assert.deepEqual(runner.batches.map((x) => x.length), [1, 1, 1, 1, 1, 1], 'max_batch_size 0: alone');
    assert.equal(log.length, 6);
  });

  it('batches across levels in priority order', async () => {
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn({ priority_levels: 2, default_priority_level: 2 }) });
    add('first');
    add('low'); add('high', { priority: 1 });
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches[1], ['high', 'low']);
  });

  it('rejects a priority above priority_levels', () => {
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn({ priority_levels: 2, default_priority_level: 1 }) });
    const x = add('x', { priority: 3 });
    assert.ok(errOf(x) instanceof InvalidArgument);
    assert.deepEqual(runner.batches, []);
  });

  it('ignores the priority parameter when priority_levels is 0', () => {
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn() });
    add('x', { priority: 7 });
    assert.deepEqual(runner.batches, [['x']]);
  });

  it('refuses a config whose default_priority_level is out of range', () => {
    assert.throws(() => setup({ maxBatchSize: 8, dynamic: dyn({ priority_levels: 2, default_priority_level: 0 }) }), InvalidArgument);
  });

  it('rejects with QueueFull once max_queue_size is reached, per level', () => {
    const { add, b } = setup({
      maxBatchSize: 8,
      dynamic: dyn({
        priority_levels: 2, default_priority_level: 2,
        default_queue_policy: policy({ max_queue_size: 2 }),
        priority_queue_policy: { 1: policy({ max_queue_size: 1 }) },
      }),
    });
    add('running'); // dispatched at once: no longer counts
    add('a'); add('b');
    const c = add('c');
    assert.ok(errOf(c) instanceof QueueFull);
    assert.equal(errOf(c).message, 'Exceeds maximum queue size');
    assert.equal((errOf(c) as OspreyError).code, 'UNAVAILABLE');
    add('h1', { priority: 1 });
    const h2 = add('h2', { priority: 1 });
    assert.ok(errOf(h2) instanceof QueueFull);
    assert.equal(b.queued, 3);
  });

  it('REJECT: a request whose queue timeout expires is answered "Request timeout expired"', async () => {
    const { clock, runner, add, b } = setup({ maxBatchSize: 8, dynamic: dyn({ default_queue_policy: policy({ default_timeout_microseconds: 2_000 }) }) });
    add('running');
    const x = add('x');
    clock.advance(1.9);
    assert.equal(x.outcome, undefined);
    clock.advance(0.1);
    assert.ok(errOf(x) instanceof RequestTimeout);
    assert.equal(errOf(x).message, 'Request timeout expired');
    assert.equal(b.queued, 0);
    runner.calls[0]!.finish();
    await settle();
    assert.equal(runner.calls.length, 1, 'never runs');
  });

  it('DELAY: an expired request moves behind the unexpired ones', async () => {
    const { clock, runner, add } = setup({
      maxBatchSize: 1,
      dynamic: dyn({ default_queue_policy: policy({ timeout_action: 'DELAY', default_timeout_microseconds: 1_000 }) }),
    });
    add('running');
    add('old');
    clock.advance(1); // old times out: delayed, not rejected
    add('new1'); add('new2');
    for (let i = 0; i < 4; i++) {
      runner.calls[i]!.finish();
      await settle();
    }
    assert.deepEqual(runner.batches.flat(), ['running', 'new1', 'new2', 'old']);
  });

  it('DELAY: expired requests are batched only after unexpired ones', async () => {
    const { clock, runner, add } = setup({
      maxBatchSize: 8,
      dynamic: dyn({ default_queue_policy: policy({ timeout_action: 'DELAY', default_timeout_microseconds: 1_000 }) }),
    });
    add('running');
    add('old');
    clock.advance(1);
    add('new');
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches[1], ['new', 'old']);
    assert.ok(runner.calls[1]);
    runner.calls[1].finish();
    await settle();
    assert.equal(runner.calls.length, 2);
  });

  it('timeout override: a shorter request timeout applies when allowed', () => {
    const { clock, add } = setup({
      maxBatchSize: 8,
      dynamic: dyn({ default_queue_policy: policy({ default_timeout_microseconds: 10_000, allow_timeout_override: true }) }),
    });
    add('running');
    const short = add('short', { timeoutUs: 1_000 });
    const long = add('long', { timeoutUs: 50_000 }); // only lowering is allowed (Triton)
    clock.advance(1);
    assert.ok(errOf(short) instanceof RequestTimeout);
    assert.equal(long.outcome, undefined);
    clock.advance(9);
    assert.ok(errOf(long) instanceof RequestTimeout);
  });

  it('timeout override: cannot add a timeout when the policy has none (Triton)', () => {
    const { clock, add } = setup({
      maxBatchSize: 8,
      dynamic: dyn({ default_queue_policy: policy({ allow_timeout_override: true }) }),
    });
    add('running');
    const x = add('x', { timeoutUs: 1_000 });
    clock.advance(100);
    assert.equal(x.outcome, undefined);
  });

  it('timeout override: ignored when not allowed', () => {
    const { clock, add } = setup({
      maxBatchSize: 8,
      dynamic: dyn({ default_queue_policy: policy({ default_timeout_microseconds: 10_000 }) }),
    });
    add('running');
    const x = add('x', { timeoutUs: 1_000 });
    clock.advance(5);
    assert.equal(x.outcome, undefined);
    clock.advance(5);
    assert.ok(errOf(x) instanceof RequestTimeout);
  });
});

describe('Batcher: deadlines and cancellation', () => {
  it('rejects at once a request whose deadline has passed or cannot be met', () => {
    const { runner, add, b } = setup({ maxBatchSize: 8, dynamic: dyn(), expectedRunMs: () => 10 });
    const late = add('late', { deadline: -1 });
    const tight = add('tight', { deadline: 5 }); // 0 + 10 > 5
    assert.ok(errOf(late) instanceof DeadlineExceeded);
    assert.ok(errOf(tight) instanceof DeadlineExceeded);
    assert.equal((errOf(tight) as OspreyError).code, 'DEADLINE_EXCEEDED');
    assert.deepEqual(runner.batches, []);
    assert.equal(b.stats.rejected, 2);
  });

  it('rejects a queued request once its deadline can no longer be met', async () => {
    const { clock, runner, add, b } = setup({ maxBatchSize: 8, dynamic: dyn(), expectedRunMs: () => 2 });
    add('running');
    const x = add('x', { deadline: 10 });
    clock.advance(7);
    assert.equal(x.outcome, undefined);
    clock.advance(1); // 8 + 2 >= 10
    assert.ok(errOf(x) instanceof DeadlineExceeded);
    assert.equal(b.queued, 0);
    runner.calls[0]!.finish();
    await settle();
    assert.equal(runner.calls.length, 1, 'never runs');
  });

  it('rejects when the deadline passes while queued (no run estimate)', () => {
    const { clock, add } = setup({ maxBatchSize: 0 });
    add('running');
    const x = add('x', { deadline: 3 });
    clock.advance(3);
    assert.ok(errOf(x) instanceof DeadlineExceeded);
  });

  it('never holds a batch open past its earliest deadline', () => {
    const { clock, runner, add } = setup({ maxBatchSize: 8, dynamic: dyn({ max_queue_delay_microseconds: 100_000 }), expectedRunMs: () => 2 });
    add('a');
    add('b', { deadline: 10 });
    add('c');
    clock.advance(6);
    assert.deepEqual(runner.batches, []);
    clock.advance(1); // 10 - 2 (run) - 1 (slack)
    assert.deepEqual(runner.batches, [['a', 'b', 'c']]);
    assert.equal(runner.calls.length, 1);
  });

  it('drops a queued request whose signal aborts, and only while queued', async () => {
    const { runner, add, b } = setup({ maxBatchSize: 8, dynamic: dyn() });
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    add('running', { signal: ac1.signal });
    const x = add('x', { signal: ac2.signal });
    add('y');
    ac2.abort();
    assert.ok(errOf(x) instanceof Cancelled);
    assert.equal(b.queued, 1);
    assert.equal(getEventListeners(ac1.signal, 'abort').length, 0, 'listener removed at dispatch');
    assert.equal(getEventListeners(ac2.signal, 'abort').length, 0, 'listener removed on cancel');
    ac1.abort(); // already running: nothing happens
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches, [['running'], ['y']]);
  });

  it('the same with the front ends\' Cancellation: dropped while queued, listeners removed', async () => {
    const { runner, add, b } = setup({ maxBatchSize: 8, dynamic: dyn() });
    const c1 = new Cancellation();
    const c2 = new Cancellation();
    add('running', { signal: c1 });
    const x = add('x', { signal: c2 });
    add('y', { signal: c2 });
    assert.equal(c2.listenerCount, 2);
    c2.cancel();
    c2.cancel(); // a second cancel tells nobody again
    assert.ok(errOf(x) instanceof Cancelled);
    assert.equal(b.queued, 0);
    assert.equal(c1.listenerCount, 0, 'listener removed at dispatch');
    assert.equal(c2.listenerCount, 0, 'listeners dropped on cancel');
    c1.cancel(); // already running: nothing happens
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches, [['running']]);
    const late = add('late', { signal: c2 });
    assert.ok(errOf(late) instanceof Cancelled, 'already cancelled: refused at once');
  });

  it('rejects a request whose signal is already aborted', () => {
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn() });
    const x = add('x', { signal: AbortSignal.abort() });
    assert.ok(errOf(x) instanceof Cancelled);
    assert.deepEqual(runner.batches, []);
  });

  it('uses one shared timer for the whole queue', () => {
    const { clock, add, b } = setup({
      maxBatchSize: 8,
      dynamic: dyn({ default_queue_policy: policy({ default_timeout_microseconds: 50_000 }) }),
    });
    add('running');
    for (let i = 0; i < 100; i++) add(`x${i}`, { deadline: 1000 - i });
    assert.ok(clock.timers.length <= 1, `${clock.timers.length} timers armed`);
    clock.advance(50);
    assert.equal(b.queued, 0);
    assert.equal(clock.timers.length, 0);
  });
});

describe('Batcher: instances, ordering, failures', () => {
  it('never has more than `instances` batches in flight; the queue keeps forming', async () => {
    const { runner, add, b } = setup({ maxBatchSize: 4, dynamic: dyn(), instances: 2 });
    for (let i = 0; i < 10; i++) add(`r${i}`);
    assert.deepEqual(runner.batches, [['r0'], ['r1']]);
    assert.equal(b.inFlight, 2);
    assert.equal(b.queued, 8);
    runner.calls[1]!.finish();
    await settle();
    assert.deepEqual(runner.batches[2], ['r2', 'r3', 'r4', 'r5']);
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches[3], ['r6', 'r7', 'r8', 'r9']);
    runner.calls[2]!.finish();
    runner.calls[3]!.finish();
    await settle();
    assert.equal(runner.maxActive, 2);
    assert.equal(b.inFlight, 0);
  });

  it('setInstances raises the limit and dispatches at once', () => {
    const { runner, add, b } = setup({ maxBatchSize: 0, instances: 1 });
    add('a'); add('b'); add('c');
    assert.equal(runner.calls.length, 1);
    b.setInstances(3);
    assert.equal(runner.calls.length, 3);
  });

  it('preserve_ordering answers in order across out-of-order completions', async () => {
    const { runner, add, log } = setup({ maxBatchSize: 2, instances: 2, dynamic: dyn({ preserve_ordering: true }) });
    add('a');
    add('b');
    add('c'); add('d');
    assert.deepEqual(runner.batches, [['a'], ['b']]);
    runner.calls[1]!.finish();
    await settle();
    assert.deepEqual(log, [], 'b waits for a');
    assert.deepEqual(runner.batches[2], ['c', 'd']);
    runner.calls[2]!.finish([new Error('bad c'), 'r:d']);
    await settle();
    assert.deepEqual(log, []);
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(log, ['a', 'b', 'c!', 'd']);
  });

  it('without preserve_ordering answers each batch as it finishes', async () => {
    const { runner, add, log } = setup({ maxBatchSize: 2, instances: 2, dynamic: dyn() });
    add('a'); add('b');
    runner.calls[1]!.finish();
    await settle();
    assert.deepEqual(log, ['b']);
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(log, ['b', 'a']);
  });

  it('delivers each result to its own request; an Error result fails only that one', async () => {
    const { runner, add } = setup({ maxBatchSize: 2, dynamic: dyn({ max_queue_delay_microseconds: 1000 }) });
    const a = add('a'); const c = add('c');
    runner.calls[0]!.finish(['A', new Error('only c')]);
    await settle();
    assert.deepEqual(a.outcome, { ok: true, value: 'A' });
    assert.equal(errOf(c).message, 'only c');
  });

  it('a run that rejects or throws fails every item of its batch, then carries on', async () => {
    const clock = new FakeClock();
    const log: Log = [];
    let n = 0;
    const b = new Batcher<Item, string>({
      maxBatchSize: 2, dynamic: dyn({ max_queue_delay_microseconds: 1000 }), instances: 1,
      now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    }, async (batch) => {
      n++;
      if (n === 1) throw new Error('boom');
      if (n === 2) return [];
      return batch.map((x) => x.id);
    });
    const xs = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => item(log, id));
    for (const x of xs) b.enqueue(x);
    await b.drain();
    assert.equal(errOf(xs[0]!).message, 'boom');
    assert.equal(errOf(xs[1]!).message, 'boom');
    assert.match(errOf(xs[2]!).message, /returned 0 results/);
    assert.deepEqual(xs[4]!.outcome, { ok: true, value: 'e' });
    assert.equal(b.inFlight, 0);

    const sync = new Batcher<Item, string>({ maxBatchSize: 0, instances: 1 }, () => { throw new Error('sync'); });
    const y = item(log, 'y');
    sync.enqueue(y);
    await sync.drain();
    assert.equal(errOf(y).message, 'sync');
  });

  it('a throwing callback or hook does not stop the others from being answered', async () => {
    const clock = new FakeClock();
    const log: Log = [];
    const caught: unknown[] = [];
    let hookThrows = false;
    const b = new Batcher<Item, string>({
      maxBatchSize: 4, dynamic: dyn(), instances: 1,
      now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
      onCallbackError: (e) => caught.push(e),
      onDispatch: () => { if (hookThrows) throw new Error('hook'); },
    }, async (batch) => batch.map((x) => x.id));
    const bad = item(log, 'bad');
    bad.resolve = () => { throw new Error('encode failed'); };
    const good = item(log, 'good');
    b.enqueue(bad); b.enqueue(good);
    await b.drain();
    assert.deepEqual(good.outcome, { ok: true, value: 'good' });
    assert.equal(caught.length, 1);
    hookThrows = true;
    const z = item(log, 'z');
    b.enqueue(z);
    await b.drain();
    assert.equal(errOf(z).message, 'hook');
  });

  it('a model without dynamic_batching runs each request alone, FIFO', async () => {
    const { runner, add, log } = setup({ maxBatchSize: 8 });
    add('a', { priority: 5, timeoutUs: 1 }); // priority and timeout do not apply
    add('b'); add('c');
    for (let i = 0; i < 3; i++) {
      runner.calls[i]!.finish();
      await settle();
    }
    assert.deepEqual(runner.batches, [['a'], ['b'], ['c']]);
    assert.deepEqual(log, ['a', 'b', 'c']);
  });
});

describe('Batcher: drain and close', () => {
  it('drain() resolves at once when idle: no timer, no clock advance, no batch', async () => {
    const { b, clock, runner } = setup({ maxBatchSize: 8, dynamic: dyn() });
    let drained = false;
    void b.drain().then(() => { drained = true; });
    // A few microtask turns, the fake clock never advanced: nothing can have fired.
    for (let i = 0; i < 3; i++) await Promise.resolve();
    assert.ok(drained, 'drain() of an idle batcher waits for nothing');
    assert.equal(clock.now(), 0);
    assert.deepEqual(clock.timers, [], 'no timer armed');
    assert.deepEqual(runner.batches, []);
    assert.equal(b.queued, 0);
    assert.equal(b.inFlight, 0);
  });

  it('drain() sends a held batch without waiting for the delay and resolves when all is answered', async () => {
    const { runner, add, b, log } = setup({ maxBatchSize: 8, dynamic: dyn({ max_queue_delay_microseconds: 1_000_000 }) });
    add('a'); add('b');
    let drained = false;
    const p = b.drain().then(() => { drained = true; });
    assert.deepEqual(runner.batches, [['a', 'b']]);
    await settle();
    assert.equal(drained, false);
    runner.calls[0]!.finish();
    await p;
    assert.deepEqual(log, ['a', 'b']);
    assert.equal(b.queued + b.inFlight, 0);
  });

  it('close() rejects what is queued and refuses new requests; running batches finish', async () => {
    const { runner, add, b } = setup({ maxBatchSize: 1, dynamic: dyn() });
    const running = add('running');
    const q1 = add('q1'); const q2 = add('q2', { signal: new AbortController().signal });
    const shutdown = new Error('server is shutting down');
    b.close(shutdown);
    assert.equal(errOf(q1), shutdown);
    assert.equal(errOf(q2), shutdown);
    assert.equal(b.queued, 0);
    const late = add('late');
    assert.equal(errOf(late), shutdown);
    const drained = b.drain();
    runner.calls[0]!.finish();
    await drained;
    assert.deepEqual(running.outcome, { ok: true, value: 'r:running' });
    assert.equal(runner.calls.length, 1);
  });
});

describe('Batcher: coalescing a turn (BatcherOptions.coalesce)', () => {
  /** A coalesce hook the test flushes by hand, counting how often the batcher asked. */
  function manualFlush() {
    const flushes: (() => void)[] = [];
    return { flushes, coalesce: (flush: () => void) => { flushes.push(flush); }, run: () => { for (const f of flushes.splice(0)) f(); } };
  }

  it('requests that arrive in one turn while an instance is free go as one batch, at the flush', () => {
    const f = manualFlush();
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn(), coalesce: f.coalesce });
    add('a'); add('b'); add('c');
    assert.deepEqual(runner.batches, [], 'nothing is sent inside enqueue');
    assert.equal(f.flushes.length, 1, 'one flush asked for the whole turn');
    f.run();
    assert.deepEqual(runner.batches, [['a', 'b', 'c']]);
  });

  it('without it the first request of a turn goes alone (the default: dispatch inside enqueue)', () => {
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn() });
    add('a'); add('b'); add('c');
    assert.deepEqual(runner.batches, [['a']]);
  });

  it('a busy batcher asks for no flush: completion sends what queued; a model without batching never coalesces', async () => {
    const f = manualFlush();
    const { runner, add } = setup({ maxBatchSize: 8, dynamic: dyn(), coalesce: f.coalesce });
    add('a');
    f.run();
    add('b'); add('c');
    assert.equal(f.flushes.length, 0, 'the instance is busy');
    runner.calls[0]!.finish();
    await settle();
    assert.deepEqual(runner.batches, [['a'], ['b', 'c']]);

    const g = manualFlush();
    const single = setup({ maxBatchSize: 0, coalesce: g.coalesce });
    single.add('x');
    assert.deepEqual(single.runner.batches, [['x']]);
    assert.equal(g.flushes.length, 0);
  });

  it('a bounded queue (max_queue_size) does not coalesce: the first request goes at once and the bound counts as before', () => {
    const f = manualFlush();
    const { runner, add } = setup({
      maxBatchSize: 8, dynamic: dyn({ default_queue_policy: policy({ max_queue_size: 1 }) }), coalesce: f.coalesce,
    });
    add('a'); add('b');
    const c = add('c');
    assert.deepEqual(runner.batches, [['a']]);
    assert.equal(f.flushes.length, 0);
    assert.ok(errOf(c) instanceof QueueFull, 'b waits in the one place, c is refused');
  });

  it('keeps priority order within the turn, and a flush after close() sends nothing', () => {
    const f = manualFlush();
    const { runner, add } = setup({ maxBatchSize: 1, dynamic: dyn({ priority_levels: 2, default_priority_level: 2 }), coalesce: f.coalesce });
    add('low'); add('high', { priority: 1 });
    f.run();
    assert.deepEqual(runner.batches, [['high']], 'the higher level goes first though it came second');

    const g = manualFlush();
    const s = setup({ maxBatchSize: 8, dynamic: dyn(), coalesce: g.coalesce });
    s.add('a');
    s.b.close(new Error('closing'));
    g.run();
    assert.equal(s.runner.calls.length, 0);
    assert.deepEqual(s.log, ['a!']);
  });
});
