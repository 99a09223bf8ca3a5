/**
 * CPU time of this process (process.cpuUsage) and of other processes by pid
 * (/proc/<pid>/stat, all threads), so each load level can say who used the cores.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100; // USER_HZ on Linux

/**
 * Cumulative CPU microseconds (user + system) of a process, or of one of its threads
 * when `tid` is given; null off Linux / once it has exited.
 */
export function pidCpuUs(pid: number, tid?: number): number | null {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'latin1');
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

/**
 * Busy CPU microseconds of the whole machine (all cores, /proc/stat), or null off
 * Linux. Minus this process and the servers, it is what other programs took from a
 * level: the sign that a shared machine was noisy while it ran.
 */
export function machineCpuUs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal
    const idle = f[3] + (f[4] ?? 0); // idle + iowait
    return ((total - idle) * 1e6) / TICKS_PER_SEC;
  } catch {
    return null;
  }
}
