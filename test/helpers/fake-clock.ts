/** Fake clock and timers for the batchers' unit tests: deterministic, no real time. */
export class FakeClock {
  t = 0;
  private seq = 0;
  timers: { at: number; fn: () => void; id: number }[] = [];
  now = (): number => this.t;
  setTimer = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimer = (id: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== id);
  };
  /** Move time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: { at: number; fn: () => void; id: number } | undefined;
      for (const x of this.timers) if (x.at <= end && (next === undefined || x.at < next.at)) next = x;
      if (next === undefined) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}
