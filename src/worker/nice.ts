/**
 * Lower the calling thread's scheduling priority (raise its nice value) by `increment`,
 * as piscina's `niceIncrement` does for its workers. Worker threads run ONNX Runtime
 * for milliseconds at a time on every core; the main thread only ever runs for
 * microseconds (read a request, hand it over, write an answer), and every request
 * waits for those microseconds. At equal priority the main thread, woken by a socket,
 * waited for a core held by a model run, and the instances then waited for the
 * batches it had not formed yet (bench/README.md "Workers below the main thread": it
 * helps on a busy machine and costs concurrency 1 on a quiet one, so it is off by default).
 *
 * Linux only: setpriority(2) on a thread id changes that thread alone there (on other
 * systems it means the whole process, so nothing is done). Raising one's own nice value
 * needs no privilege (server.ts warns at start-up when the flag is set elsewhere).
 * Returns what was done.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Highest nice value (lowest priority) Linux has. */
export const NICE_MAX = 19;

export function lowerThreadPriority(increment: number): { tid: number; nice: number } | { skipped: string } {
  if (!(increment > 0)) return { skipped: 'no increment' };
  if (process.platform !== 'linux') return { skipped: `per-thread priority is Linux-only (this is ${process.platform})` };
  let tid: number;
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>": Node has no gettid().
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch (err) {
    return { skipped: `no /proc/thread-self: ${(err as Error).message}` };
  }
  try {
    const nice = Math.min(NICE_MAX, getPriority(tid) + increment);
    setPriority(tid, nice);
    return { tid, nice };
  } catch (err) {
    // A sandbox that forbids the call (a seccomp profile) leaves the worker as it was:
    // a priority is a preference, not a reason for a worker not to start.
    return { skipped: `setpriority failed: ${(err as Error).message}` };
  }
}
