/**
 * Start the real CLI (`node dist/src/main.js ...`) as a child process, as a container
 * or a Kubernetes pod would, and read its JSON log lines (pino writes them to stderr). Used by the
 * deploy tests (drain on SIGTERM, the Dockerfile's command line, replicas agreeing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface OspreyProcess {
  child: ChildProcess;
  /** Parsed JSON log lines, in order. */
  logs: Array<Record<string, unknown>>;
  /** Everything written to stderr (the log lines included). */
  stderr: () => string;
  httpPort: number;
  grpcPort: number;
  metricsPort: number;
  httpUrl: string;
  metricsUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line (already seen or coming) whose msg is `msg`. */
  waitLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGKILL if still running (test cleanup). */
  kill(): void;
}

export interface SpawnOptions {
  /** The command; default [process.execPath, MAIN_JS]. */
  command?: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for 'osprey is serving'. */
  startTimeoutMs?: number;
}

/** Start Osprey with `args`; resolves once it logs 'osprey is serving'. */
export async function spawnOsprey(args: readonly string[], o: SpawnOptions = {}): Promise<OspreyProcess> {
  const [cmd, ...pre] = o.command ?? [process.execPath, MAIN_JS];
  const child = spawn(cmd!, [...pre, ...args], { cwd: o.cwd ?? REPO_ROOT, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  let err = '';
  let partial = '';
  child.stdout!.resume();
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim() === '') continue;
      let rec: Record<string, unknown>;
      try { rec = JSON.parse(line) as Record<string, unknown>; } catch { rec = { msg: line }; }
      logs.push(rec);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.msg === rec.msg) waiters.splice(i, 1)[0]!.resolve(rec);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));

  const waitLog = (msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> => {
    const seen = logs.find((l) => l.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${msg}' log line within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
      const done = (l: Record<string, unknown>) => { clearTimeout(timer); resolve(l); };
      waiters.push({ msg, resolve: done });
      void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`exited (${code}) before '${msg}'; stderr: ${err}`)); });
    });
  };
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  let serving: Record<string, unknown>;
  try {
    serving = await waitLog('osprey is serving', o.startTimeoutMs ?? 120_000);
  } catch (e) {
    kill();
    throw e;
  }
  const httpPort = Number(serving.http ?? -1);
  const grpcPort = Number(serving.grpc ?? -1);
  const metricsPort = Number(serving.metrics ?? -1);
  return {
    child, logs, stderr: () => err, httpPort, grpcPort, metricsPort,
    httpUrl: `http://127.0.0.1:${httpPort}`, metricsUrl: `http://127.0.0.1:${metricsPort}`,
    exited, waitLog, kill,
  };
}

/** A port that was free a moment ago (for commands that must name fixed ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Loopback-only flags with ephemeral ports. */
export const LOOPBACK_ARGS: readonly string[] = [
  '--http-port=0', '--grpc-port=0', '--metrics-port=0',
  '--http-address=127.0.0.1', '--grpc-address=127.0.0.1', '--metrics-address=127.0.0.1',
];
