/**
 * The sequence scheduler alone: injected run function and clock, no threads. Each
 * test drives requests in, looks at the batches `run` was given (instance, rows,
 * control flags per row) and finishes them by hand.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { InvalidArgument, OspreyError, Unavailable } from '../../src/errors/errors.js';
import { SequenceScheduler } from '../../src/batching/sequence-scheduler.js';
import type { CorrId, ReleaseReason, SeqBatch, SeqItem, SequenceSchedulerOptions } from '../../src/batching/sequence-types.js';
import { Cancellation } from '../../src/types/cancel.js';
import { FakeClock } from '../helpers/fake-clock.js';

interface Item extends SeqItem {
  readonly tag: string;
  outcome?: { ok: true; value: unknown } | { ok: false; err: Error };
}

function req(tag: string, corrId: CorrId, o: { start?: boolean; end?: boolean; shapeKey?: string; timeoutUs?: number; signal?: Cancellation } = {}): Item {
  const it: Item = {
    tag,
    corrId,
    start: o.start ?? false,
    end: o.end ?? false,
    shapeKey: o.shapeKey ?? 's',
    timeoutUs: o.timeoutUs ?? 0,
    signal: o.signal,
    resolve(value: unknown) { it.outcome = { ok: true, value }; },
    reject(err: Error) { it.outcome = { ok: false, err }; },
  };
  return it;
}

interface Running { batch: SeqBatch<Item>; done(): void; fail(err: Error): void }

function harness(o: Partial<SequenceSchedulerOptions> = {}) {
  const clock = new FakeClock();
  const running: Running[] = [];
  const released: [number, number, ReleaseReason][] = [];
  const s = new SequenceScheduler<Item, string>({
    modelName: 'm', strategy: 'direct', instances: 1, slotsPerInstance: 2, maxRows: 2, delayMs: 0, idleMs: 1000,
    now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    onRelease: (i, k, why) => released.push([i, k, why]),
    ...o,
  }, (batch) => new Promise((resolve, reject) => {
    running.push({
      batch,
      done: () => resolve(batch.items.map((x) => `ran:${x.tag}`)),
      fail: reject,
    });
  }));
  /** Finish the oldest running batch and let the promise callbacks run. */
  const finish = async (): Promise<SeqBatch<Item>> => {
    const r = running.shift();
    assert.ok(r, 'a batch is running');
    r.done();
    await new Promise((res) => setImmediate(res));
    return r.batch;
  };
  return { s, clock, running, released, finish };
}

/** A row as a compact string: slot:tag[S][E] or slot:- for an empty (READY false) row. */
function rows(b: SeqBatch<Item>): string[] {
  return b.rows.map((r) => `${r.slot}:${r.item === undefined ? '-' : r.item.tag + (r.start ? 'S' : '') + (r.end ? 'E' : '')}`);
}

const message = (it: Item): string => (it.outcome?.ok === false ? it.outcome.err.message : 'ok');

describe('sequence scheduler: direct', () => {
  it('a START takes a slot; the sequence keeps it for every request', async () => {
    const { s, running, finish } = harness();
    const a1 = req('a1', 7n, { start: true });
    s.enqueue(a1);
    assert.equal(running.length, 1);
    assert.deepEqual(rows(running[0]!.batch), ['0:a1S']);
    assert.equal(running[0]!.batch.rows[0]!.corrId, 7n);
    s.enqueue(req('b1', 'x', { start: true }));
    // One batch per instance in flight: b1 waits for a1's batch.
    assert.equal(running.length, 1);
    await finish();
    assert.deepEqual(a1.outcome, { ok: true, value: 'ran:a1' });
    assert.deepEqual(rows(running[0]!.batch), ['0:-', '1:b1S']);
    s.enqueue(req('a2', 7n));
    await finish();
    assert.deepEqual(rows(running[0]!.batch), ['0:a2']);
    assert.equal(s.active, 2);
  });

  it('batches one request per slot, with empty slots as READY-false rows', async () => {
    const { s, running, finish } = harness({ slotsPerInstance: 4, maxRows: 4 });
    s.enqueue(req('a1', 1n, { start: true }));
    s.enqueue(req('b1', 2n, { start: true }));
    s.enqueue(req('c1', 3n, { start: true }));
    s.enqueue(req('a2', 1n));
    s.enqueue(req('c2', 3n, { end: true }));
    await finish(); // a1 alone (dispatched at once)
    assert.deepEqual(rows(running[0]!.batch), ['0:a2', '1:b1S', '2:c1S']);
    await finish();
    // Only c has a request: a and b are READY-false rows before it.
    assert.deepEqual(rows(running[0]!.batch), ['0:-', '1:-', '2:c2E']);
    assert.deepEqual(running[0]!.batch.items.map((x) => x.tag), ['c2']);
  });

  it('refuses a non-START request for an unknown, ended or idle-released id', async () => {
    const { s, clock, finish } = harness({ idleMs: 50 });
    const lone = req('x', 9n);
    s.enqueue(lone);
    assert.ok(lone.outcome?.ok === false && lone.outcome.err instanceof InvalidArgument);
    assert.equal(message(lone), "inference request for sequence 9 to model 'm' must specify the START flag on the first request of the sequence");
    s.enqueue(req('a1', 'abc', { start: true, end: true }));
    await finish();
    const after = req('a2', 'abc');
    s.enqueue(after);
    assert.equal(message(after), "inference request for sequence abc to model 'm' must specify the START flag on the first request of the sequence");
    s.enqueue(req('b1', 5n, { start: true }));
    await finish();
    clock.advance(60);
    const late = req('b2', 5n);
    s.enqueue(late);
    assert.match(message(late), /sequence 5 .* must specify the START flag/);
  });

  it('END frees the slot after its batch; the next START reuses it', async () => {
    const { s, running, finish, released } = harness({ slotsPerInstance: 1, maxRows: 1 });
    s.enqueue(req('a1', 1n, { start: true }));
    s.enqueue(req('a2', 1n, { end: true }));
    s.enqueue(req('b1', 2n, { start: true }));
    assert.equal(s.backlogged, 1, 'b waits: the only slot is a\'s');
    await finish();
    assert.deepEqual(rows(running[0]!.batch), ['0:a2E']);
    assert.equal(s.backlogged, 1, 'END queued is not END run');
    await finish();
    assert.equal(s.backlogged, 0);
    assert.deepEqual(rows(running[0]!.batch), ['0:b1S']);
    assert.equal(s.stats.ended, 1);
    // END frees the state in the run itself: no release callback for it.
    assert.deepEqual(released, []);
  });

  it('the idle timeout frees the slot (and its state), counted as timed out', async () => {
    const { s, clock, finish, released, running } = harness({ slotsPerInstance: 1, maxRows: 1, idleMs: 100 });
    s.enqueue(req('a1', 1n, { start: true }));
    await finish();
    s.enqueue(req('b1', 2n, { start: true }));
    assert.equal(running.length, 0);
    clock.advance(99);
    assert.equal(running.length, 0, 'not idle long enough yet');
    clock.advance(1);
    assert.deepEqual(released, [[0, 0, 'idle']]);
    assert.equal(s.stats.timedOut, 1);
    assert.deepEqual(rows(running[0]!.batch), ['0:b1S'], 'the backlogged sequence got the slot');
  });

  it('a sequence with a queued or running request is never idle', async () => {
    const { s, clock, running, released, finish } = harness({ slotsPerInstance: 1, maxRows: 1, idleMs: 10 });
    s.enqueue(req('a1', 1n, { start: true }));
    clock.advance(50); // a1 still running
    assert.deepEqual(released, []);
    s.enqueue(req('a2', 1n));
    await finish();
    assert.equal(running.length, 1);
    clock.advance(50);
    assert.deepEqual(released, []);
    await finish();
    clock.advance(10);
    assert.deepEqual(released, [[0, 0, 'idle']]);
  });

  it('keeps the order within a sequence: one request per batch, FIFO', async () => {
    const { s, running, finish } = harness({ slotsPerInstance: 2 });
    const tags: string[] = [];
    s.enqueue(req('a0', 1n, { start: true }));
    for (let k = 1; k < 5; k++) s.enqueue(req(`a${k}`, 1n, { end: k === 4 }));
    while (running.length > 0) {
      const b = await finish();
      for (const r of b.rows) if (r.item) tags.push(r.item.tag);
      assert.equal(b.items.length, 1, 'never two requests of one sequence in a batch');
    }
    assert.deepEqual(tags, ['a0', 'a1', 'a2', 'a3', 'a4']);
  });

  it('waits in the backlog when slots are full, in arrival order', async () => {
    const { s, running, finish } = harness({ instances: 2, slotsPerInstance: 1, maxRows: 1 });
    s.enqueue(req('a1', 1n, { start: true }));
    s.enqueue(req('b1', 2n, { start: true }));
    assert.deepEqual(running.map((r) => r.batch.instance).sort(), [0, 1], 'one sequence per instance');
    s.enqueue(req('c1', 3n, { start: true }));
    s.enqueue(req('d1', 4n, { start: true }));
    s.enqueue(req('c2', 3n, { end: true }));
    assert.equal(s.backlogged, 2);
    s.enqueue(req('a2', 1n, { end: true }));
    await finish();
    await finish();
    // a2 (END) runs on instance 0; once it has run, c (the oldest backlogged) gets that slot.
    const a2 = running.find((r) => r.batch.items[0]!.tag === 'a2')!;
    assert.equal(a2.batch.instance, 0);
    running.splice(running.indexOf(a2), 1);
    a2.done();
    await new Promise((res) => setImmediate(res));
    const c = running.find((r) => r.batch.items[0]!.tag === 'c1');
    assert.ok(c, 'c1 runs after a ended');
    assert.equal(c.batch.instance, 0);
    assert.equal(s.backlogged, 1);
  });

  it('a backlogged request whose timeout expires drops its sequence', async () => {
    const { s, clock, finish } = harness({ slotsPerInstance: 1, maxRows: 1 });
    s.enqueue(req('a1', 1n, { start: true }));
    const b1 = req('b1', 2n, { start: true, timeoutUs: 5000 });
    const b2 = req('b2', 2n);
    s.enqueue(b1);
    s.enqueue(b2);
    clock.advance(6);
    assert.ok(b1.outcome?.ok === false && b1.outcome.err instanceof Unavailable);
    assert.equal(message(b1), 'timeout of the corresponding sequence has been expired');
    assert.equal(message(b2), 'timeout of the corresponding sequence has been expired');
    assert.equal((b1.outcome.err as OspreyError).code, 'UNAVAILABLE');
    assert.equal(s.backlogged, 0);
    await finish();
    const b3 = req('b3', 2n);
    s.enqueue(b3);
    assert.match(message(b3), /must specify the START flag/);
  });

  it('START on a live id restarts it in the same slot', async () => {
    const { s, running, finish } = harness();
    s.enqueue(req('a1', 1n, { start: true }));
    await finish();
    s.enqueue(req('a1again', 1n, { start: true }));
    assert.deepEqual(rows(running[0]!.batch), ['0:a1againS']);
    assert.equal(s.stats.started, 2);
    assert.equal(s.active, 1);
  });

  it('string and uint64 ids are different sequences even when they print alike', async () => {
    const { s, running } = harness();
    s.enqueue(req('n', 5n, { start: true }));
    const str = req('s', '5');
    s.enqueue(str);
    assert.match(message(str), /must specify the START flag/);
    assert.equal(running.length, 1);
  });

  it('a cancelled queued request is dropped; the sequence goes on', async () => {
    const { s, running, finish } = harness();
    s.enqueue(req('a1', 1n, { start: true }));
    const c = new Cancellation();
    const a2 = req('a2', 1n, { signal: c });
    s.enqueue(a2);
    c.cancel();
    assert.equal(a2.outcome?.ok, false);
    s.enqueue(req('a3', 1n));
    await finish();
    assert.deepEqual(rows(running[0]!.batch), ['0:a3']);
  });

  it('a failed run fails only its requests; the sequence keeps its slot', async () => {
    const { s, running, finish } = harness();
    const a1 = req('a1', 1n, { start: true });
    s.enqueue(a1);
    running.shift()!.fail(new Error('boom'));
    await new Promise((res) => setImmediate(res));
    assert.equal(message(a1), 'boom');
    s.enqueue(req('a2', 1n));
    assert.deepEqual(rows((await finish()))[0], '0:a2');
  });

  it('with a queue delay, waits for minimum_slot_utilization or the delay', async () => {
    const { s, clock, running } = harness({ slotsPerInstance: 4, maxRows: 4, delayMs: 10, minSlotUtilization: 0.5 });
    s.enqueue(req('a1', 1n, { start: true }));
    assert.equal(running.length, 0, 'one of four slots ready: hold');
    clock.advance(5);
    s.enqueue(req('b1', 2n, { start: true }));
    assert.deepEqual(rows(running[0]!.batch), ['0:a1S', '1:b1S'], 'half the slots ready: go');
    const r2 = harness({ slotsPerInstance: 4, maxRows: 4, delayMs: 10, minSlotUtilization: 0.5 });
    r2.s.enqueue(req('a1', 1n, { start: true }));
    r2.clock.advance(10);
    assert.deepEqual(rows(r2.running[0]!.batch), ['0:a1S'], 'the delay ran out');
  });

  it('whenIdle waits for live sequences; refuseStarts turns new ones away', async () => {
    const { s, finish } = harness({ idleMs: 1e9 });
    s.enqueue(req('a1', 1n, { start: true }));
    let idle = false;
    void s.whenIdle().then(() => { idle = true; });
    s.refuseStarts(new Unavailable('retiring'));
    const b1 = req('b1', 2n, { start: true });
    s.enqueue(b1);
    assert.equal(message(b1), 'retiring');
    await finish();
    await new Promise((res) => setImmediate(res));
    assert.equal(idle, false, 'a is live');
    s.enqueue(req('a2', 1n, { end: true }));
    await finish();
    await new Promise((res) => setImmediate(res));
    assert.equal(idle, true);
  });

  it('close rejects what is queued and frees every slot', async () => {
    const { s, released, finish } = harness();
    s.enqueue(req('a1', 1n, { start: true }));
    const a2 = req('a2', 1n);
    s.enqueue(a2);
    s.enqueue(req('b1', 2n, { start: true }));
    s.close(new Unavailable('closing'));
    assert.equal(message(a2), 'closing');
    await finish();
    assert.equal(s.active, 0);
    assert.deepEqual(released.map((r) => r[2]), ['closed', 'closed']);
  });
});

describe('sequence scheduler: oldest', () => {
  const oldest = { strategy: 'oldest' as const, slotsPerInstance: 4, maxRows: 3 };

  it('batches the oldest requests of different sequences, at most one per sequence', async () => {
    const { s, running, finish, clock } = harness(oldest);
    s.enqueue(req('a1', 1n, { start: true }));
    clock.advance(1);
    s.enqueue(req('b1', 2n, { start: true }));
    clock.advance(1);
    s.enqueue(req('a2', 1n));
    clock.advance(1);
    s.enqueue(req('c1', 3n, { start: true }));
    clock.advance(1);
    s.enqueue(req('d1', 4n, { start: true }));
    clock.advance(1);
    s.enqueue(req('b2', 2n));
    const first = await finish();
    assert.deepEqual(rows(first), ['0:a1S']);
    // Oldest heads first: b1 (t=1), a2 (t=2), c1 (t=3); d1 and b2 wait; no empty rows.
    const b = running[0]!.batch;
    assert.deepEqual(b.rows.map((r) => r.item!.tag), ['b1', 'a2', 'c1']);
    assert.deepEqual(b.rows.map((r) => r.slot), [1, 0, 2], 'each row carries its sequence\'s slot (state key)');
    await finish();
    assert.deepEqual(running[0]!.batch.rows.map((r) => r.item!.tag), ['d1', 'b2']);
  });

  it('holds for the queue delay until the preferred size is reached', async () => {
    const { s, running, clock } = harness({ ...oldest, delayMs: 5, preferred: [2] });
    s.enqueue(req('a1', 1n, { start: true }));
    assert.equal(running.length, 0);
    s.enqueue(req('b1', 2n, { start: true }));
    assert.deepEqual(running[0]!.batch.rows.map((r) => r.item!.tag), ['a1', 'b1']);
    const h = harness({ ...oldest, delayMs: 5, preferred: [2] });
    h.s.enqueue(req('a1', 1n, { start: true }));
    h.clock.advance(5);
    assert.equal(h.running.length, 1);
    void clock;
  });

  it('spreads sequences over instances and never runs two batches on one instance', async () => {
    const { s, running, finish } = harness({ ...oldest, instances: 2, slotsPerInstance: 2 });
    for (let k = 1; k <= 4; k++) s.enqueue(req(`s${k}`, BigInt(k), { start: true }));
    assert.deepEqual(running.map((r) => r.batch.instance), [0, 1]);
    assert.deepEqual(running.map((r) => r.batch.items.length), [1, 1]);
    await finish();
    await finish();
    assert.deepEqual(running.map((r) => r.batch.items.map((x) => x.tag)), [['s3'], ['s4']]);
  });
});
