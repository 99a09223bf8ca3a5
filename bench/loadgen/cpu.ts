/**
 * CPU time of this process (process.cpuUsage) and of other processes by pid
 * (/proc/<pid>/stat, all threads), so each load level can say who used the cores.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100; // USER_HZ on Linux

/** Cumulative CPU microseconds (user + system) of a process, or null off Linux / once it has exited. */
export function pidCpuUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the comm field: state is f[0], utime f[11], stime f[12].
    return ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS_PER_SEC;
  } catch {
    return null;
  }
}

export function selfCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
