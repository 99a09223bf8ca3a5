/**
 * Osprey as a user runs it: `node dist/src/main.js` in a child process (any Node
 * binary), on loopback with ephemeral ports read back from its JSON log lines (stderr).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface ServerProcess {
  readonly proc: ChildProcess;
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, any>>;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** One run to its end: exit code, stdout, stderr. */
export async function runToEnd(node: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(node, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const [code] = await once(proc, 'exit') as [number | null];
  return { code, stdout, stderr };
}

/** Start and wait for 'osprey is serving'; rejects with the output if it exits first. */
export async function startServerProcess(node: string, args: readonly string[] = [], timeoutMs = 120_000): Promise<ServerProcess> {
  const proc = spawn(node, [MAIN, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', '--metrics-address', '127.0.0.1', ...args],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, any>> = [];
  let stderr = '';
  let pending = '';
  proc.stdout!.resume();
  const serving = new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving after ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    proc.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      pending += c.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.trim() === '') continue;
        let entry: Record<string, any>;
        try {
          entry = JSON.parse(line) as Record<string, any>;
        } catch {
          continue; // not a log line (a runtime warning)
        }
        logs.push(entry);
        if (entry.msg === 'osprey is serving') { clearTimeout(timer); resolve(entry); }
      }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before serving; stderr: ${stderr}`)); });
  });
  let ready: Record<string, any>;
  try {
    ready = await serving;
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    proc, logs,
    httpUrl: `http://127.0.0.1:${ready.http}`,
    grpcAddress: `127.0.0.1:${ready.grpc}`,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const [code] = await once(proc, 'exit') as [number | null];
      return code;
    },
  };
}
