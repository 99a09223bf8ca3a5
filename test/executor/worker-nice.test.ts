/**
 * --worker-nice: the pool's worker threads (and any thread ONNX Runtime starts from
 * them, which inherits it) run that many nice levels below the main thread; the main
 * thread keeps its own. Read back from the kernel (/proc/<pid>/task/<tid>/stat).
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, it } from 'node:test';

import { WorkerPool } from '../../src/executor/pool.js';
import { NICE_MAX, lowerThreadPriority } from '../../src/worker/nice.js';
import { fixtureSpec } from '../helpers/session-spec.js';

/** nice of every thread of this process, by thread id (field 19 of stat, counted after the command's closing paren). */
function threadNice(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return out;
}

const AC = fixtureSpec('autocomplete');
const input = { name: 'a', datatype: 'FP32' as const, shape: [1, 3], parts: [new Uint8Array(new Float32Array([1, 2, 3]).buffer)] };

describe('worker threads below the main thread (--worker-nice)', { skip: process.platform === 'linux' ? false : 'per-thread priority is Linux-only', timeout: 60_000 }, () => {
  it('the workers run the increment below; the main thread keeps its priority; runs answer', async () => {
    const mainNice = getPriority();
    const before = threadNice();
    const want = Math.min(NICE_MAX, mainNice + 7);
    const pool = new WorkerPool(2, { nice: 7 });
    try {
      await pool.loadOn([0, 1], AC);
      for (const t of [0, 1]) {
        const r = await pool.run(t, AC, [input], ['b']);
        assert.deepEqual([...new Float32Array(r.outputs[0]!.data.buffer, r.outputs[0]!.data.byteOffset, 3)], [3, 6, 9]);
      }
      const now = threadNice();
      const lowered = [...now].filter(([tid, n]) => !before.has(tid) && n === want);
      assert.ok(lowered.length >= 2, `new threads at nice ${want}: ${lowered.length} (all new: ${JSON.stringify([...now].filter(([tid]) => !before.has(tid)))})`);
      assert.equal(now.get(process.pid), mainNice, 'the main thread keeps its nice value');
    } finally {
      await pool.close();
    }
  });

  it('by default the workers keep the main thread\'s priority', async () => {
    const mainNice = getPriority();
    const before = threadNice();
    const pool = new WorkerPool(1);
    try {
      await pool.loadOn([0], AC);
      await pool.run(0, AC, [input], ['b']);
      const fresh = [...threadNice()].filter(([tid]) => !before.has(tid));
      assert.ok(fresh.length >= 1);
      for (const [tid, n] of fresh) assert.equal(n, mainNice, `thread ${tid}`);
    } finally {
      await pool.close();
    }
  });
});

describe('lowerThreadPriority', () => {
  it('does nothing for no increment, and says why', () => {
    assert.deepEqual(lowerThreadPriority(0), { skipped: 'no increment' });
  });
});
