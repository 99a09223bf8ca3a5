/**
 * The two ways to apply load. Closed loop keeps N requests outstanding (a new one
 * leaves as each returns); open loop sends on a schedule, constant or Poisson, and
 * measures latency from the scheduled time so that a server that falls behind cannot
 * hide its queueing by slowing the client down (coordinated omission).
 */
import type { Recorder } from './recorder.js';
import type { Transport } from './transport.js';

export interface Driver {
  stop(): void;
}

// After a connection-level failure, wait before resending so a dead server is not hammered in a hot loop.
const NET_ERROR_BACKOFF_MS = 10;

export function closedLoop(tr: Transport, rec: Recorder, concurrency: number, steps: number): Driver {
  let running = true;
  let step = 0;
  const issue = (): void => {
    const i = step;
    step = step + 1 === steps ? 0 : step + 1;
    const t0 = performance.now();
    rec.sent++;
    tr.send(i, (err) => {
      rec.done(t0, err);
      if (!running) return;
      if (err !== null && (err.startsWith('net:') || err.startsWith('client:'))) setTimeout(issue, NET_ERROR_BACKOFF_MS);
      else issue();
    });
  };
  for (let k = 0; k < concurrency; k++) issue();
  return { stop: () => { running = false; } };
}

export interface OpenLoopOptions {
  rate: number;
  poisson: boolean;
  /** Beyond this many in flight, scheduled sends are counted as `client:overload` and skipped. */
  maxOutstanding: number;
  /** Seeded uniform source for Poisson gaps (tests pass a fixed one). */
  random?: () => number;
}

export function openLoop(tr: Transport, rec: Recorder, steps: number, o: OpenLoopOptions): Driver {
  let running = true;
  let step = 0;
  const rand = o.random ?? Math.random;
  const mean = 1000 / o.rate;
  const gap = o.poisson ? (): number => -Math.log(1 - rand()) * mean : (): number => mean;
  let next = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const now = performance.now();
    // Send everything due; if the timer fired late, the backlog leaves now and its lateness counts.
    while (running && next <= now) {
      const sched = next;
      next += gap();
      if (tr.inFlight >= o.maxOutstanding) {
        rec.error('client:overload');
        continue;
      }
      rec.sent++;
      rec.lag((now - sched) * 1000);
      const i = step;
      step = step + 1 === steps ? 0 : step + 1;
      tr.send(i, (err) => rec.done(sched, err));
    }
    if (running) timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
  return {
    stop: () => {
      running = false;
      clearTimeout(timer);
    },
  };
}
