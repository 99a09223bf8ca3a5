/**
 * Servers under test run as child processes so their CPU can be read from /proc and
 * a crash cannot take the bench down. Output goes to a log file for post-mortems.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpCall } from '../loadgen/http-get.js';

export interface ServerProcess {
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function spawnServer(cmd: string, args: string[], logPath: string, env: NodeJS.ProcessEnv = {}): ServerProcess {
  mkdirSync(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(10_000, undefined, { ref: false }).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Poll until every path answers 200, the process dies, or the time runs out. */
export async function waitReady(p: ServerProcess, hostPort: string, paths: string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`exited (${p.child.exitCode ?? p.child.signalCode}) before becoming ready`);
    }
    let ok = true;
    for (const path of paths) {
      const r = await httpCall(hostPort, 'GET', path, undefined, {}, 2000).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
      if (r.status !== 200) {
        ok = false;
        last = `${path}: ${r.status || r.body.toString()}`;
        break;
      }
    }
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`not ready after ${timeoutMs} ms (${last})`);
}
