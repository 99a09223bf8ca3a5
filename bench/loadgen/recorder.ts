/**
 * Where completions land. Drivers call `done` for every finished request; it is
 * attributed to the measurement window open at the moment it completes (as
 * perf_analyzer's time windows do), while totals cover the whole level.
 * Runs on the load generator's only thread.
 */
import { Histogram } from './histogram.js';

export class Window {
  readonly hist = new Histogram();
  /** Open loop: how late each send left relative to its schedule, in us. */
  readonly lag = new Histogram();
  ok = 0;
  readonly errors: Record<string, number> = {};
  t0 = 0;
  t1 = 0;
  cpu0 = 0;
  cpu1 = 0;
  elu = 0;
  machine0: number | null = null;
  machine1: number | null = null;
  pidCpu0: Record<string, number | null> = {};
  pidCpu1: Record<string, number | null> = {};

  get durationMs(): number {
    return this.t1 - this.t0;
  }
  get throughput(): number {
    return this.durationMs > 0 ? (this.ok * 1000) / this.durationMs : 0;
  }
}

export class Recorder {
  win: Window | null = null;
  sent = 0;
  ok = 0;
  readonly errors: Record<string, number> = {};
  /** Set once the level is over: late failures are the generator's doing, not the server's. */
  abandoning = false;

  /** `startMs` is the send time (closed loop) or the scheduled time (open loop). */
  done(startMs: number, err: string | null): void {
    if (err === null) {
      this.ok++;
      const w = this.win;
      if (w !== null) {
        w.ok++;
        w.hist.record((performance.now() - startMs) * 1000);
      }
      return;
    }
    this.error(this.abandoning ? 'client:abandoned' : err);
  }

  error(key: string): void {
    this.errors[key] = (this.errors[key] ?? 0) + 1;
    if (this.win !== null) this.win.errors[key] = (this.win.errors[key] ?? 0) + 1;
  }

  lag(us: number): void {
    this.win?.lag.record(us);
  }
}
