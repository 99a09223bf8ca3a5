/**
 * Independent load generators: wrk (HTTP/1.1) and h2load (HTTP/2, so gRPC with a
 * prebuilt body). They are C programs that cost the server's machine far less per
 * request than any Node client, and they are not ours, so they cannot share a bug
 * with the server. Found on PATH (Debian: `apt-get install wrk nghttp2-client`) or
 * through OSPREY_BENCH_WRK / OSPREY_BENCH_H2LOAD.
 *
 * Each run reports what the tool printed, plus the CPU that the server, the tool and
 * every other program on the machine used meanwhile (/proc), so a figure can be
 * quoted with the load it was measured under.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { machineCpuUs, pidCpuUs } from '../loadgen/cpu.js';

export type ToolName = 'wrk' | 'h2load';

export function findTool(name: ToolName): string | null {
  const env = process.env[`OSPREY_BENCH_${name.toUpperCase()}`];
  const candidates = env ? [env] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return null;
}

export interface ToolResult {
  requestsPerSec: number;
  /** wrk: from its latency distribution; h2load prints no percentiles (null). */
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  meanMs: number | null;
  /** Non-2xx answers, socket errors, failed or errored streams (gRPC status is not seen: see serverFailures). */
  errors: number;
  /** CPU % (100 = one core) over the run. */
  serverCpuPct: number | null;
  toolCpuPct: number | null;
  /** Busy CPU of the machine minus the server and the tool. */
  otherCpuPct: number | null;
  loadavg1: number;
  raw: string;
}

const MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function duration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  return m ? Number(m[1]) * MS[m[2]!]! : NaN;
}

export function parseWrk(out: string): Omit<ToolResult, 'serverCpuPct' | 'toolCpuPct' | 'otherCpuPct' | 'loadavg1' | 'raw'> {
  const pct = (p: string): number | null => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? Number(duration(m[1]!).toFixed(3)) : null;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const mean = /Latency\s+(\S+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  return {
    requestsPerSec: Math.round(Number(rps[1])),
    p50Ms: pct('50'), p90Ms: pct('90'), p99Ms: pct('99'),
    meanMs: mean ? Number(duration(mean[1]!).toFixed(3)) : null,
    errors: Number(non2xx?.[1] ?? 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

export function parseH2load(out: string): Omit<ToolResult, 'serverCpuPct' | 'toolCpuPct' | 'otherCpuPct' | 'loadavg1' | 'raw'> {
  const rps = /finished in [^,]+,\s+([\d.]+) req\/s/.exec(out);
  const req = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const t = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  if (!rps || !req) throw new Error(`h2load printed no summary:\n${out}`);
  return {
    requestsPerSec: Math.round(Number(rps[1])),
    p50Ms: null, p90Ms: null, p99Ms: null,
    meanMs: t ? Number(duration(t[3]!).toFixed(3)) : null,
    // Its status-code tally disagrees with `succeeded` by the warm-up's requests, so only these count.
    errors: Number(req[2]) + Number(req[3]) + Number(req[4]),
  };
}

/** Runs `cmd args` to its end; resolves with its stdout. `watch` sees the child as it starts. */
function run(cmd: string, args: string[], watch?: (child: ChildProcess) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 4 << 20 }, (err, out, errOut) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${errOut}`));
      else resolve(out);
    });
    watch?.(child);
  });
}

/**
 * Runs `cmd args`, reading the CPU of the server, the tool and the machine around it.
 * The tool's own CPU is polled from /proc while it runs (it is gone once reaped).
 */
async function measured(cmd: string, args: string[], serverPid: number, parse: (s: string) => ReturnType<typeof parseWrk>): Promise<ToolResult> {
  const m0 = machineCpuUs();
  const s0 = pidCpuUs(serverPid);
  const t0 = performance.now();
  let tool: number | null = null;
  let t1 = 0;
  const stdout = await run(cmd, args, (child) => {
    const poll = setInterval(() => { tool = pidCpuUs(child.pid ?? 0) ?? tool; }, 100);
    child.once('exit', () => { clearInterval(poll); t1 = performance.now(); });
  });
  const m1 = machineCpuUs();
  const s1 = pidCpuUs(serverPid);
  const secs = ((t1 || performance.now()) - t0) / 1e3;
  const pct = (us: number | null): number | null => (us === null ? null : Number((us / secs / 1e4).toFixed(1)));
  const serverCpuPct = s0 === null || s1 === null ? null : pct(s1 - s0);
  const machine = m0 === null || m1 === null ? null : pct(m1 - m0);
  const toolCpuPct = pct(tool);
  return {
    ...parse(stdout), serverCpuPct, toolCpuPct,
    otherCpuPct: machine === null || serverCpuPct === null ? null : Number(Math.max(0, machine - serverCpuPct - (toolCpuPct ?? 0)).toFixed(1)),
    loadavg1: Number(loadavg()[0]!.toFixed(2)), raw: stdout,
  };
}

/**
 * `warmupS`: seconds of the same load, unmeasured, right before the measured run (wrk has
 * no warm-up option; h2load's --warm-up-time does the same inside one run).
 */
export interface HttpLoad { hostPort: string; path: string; body: Buffer; headers: Record<string, string>; connections: number; durationS: number; warmupS?: number }

export async function runWrk(bin: string, load: HttpLoad, serverPid: number): Promise<ToolResult> {
  const dir = mkdtempSync(join(tmpdir(), 'osprey-wrk-'));
  const bodyPath = join(dir, 'body.bin');
  writeFileSync(bodyPath, load.body);
  const script = [
    'wrk.method = "POST"',
    `local f = assert(io.open(${JSON.stringify(bodyPath)}, "rb"))`,
    'wrk.body = f:read("*a")',
    'f:close()',
    ...Object.entries(load.headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
  ].join('\n');
  writeFileSync(join(dir, 'post.lua'), `${script}\n`);
  // One wrk thread: the generator should take as little of the 2 cores as it can.
  const args = (s: number): string[] => ['-t1', `-c${load.connections}`, `-d${s}s`, '--latency', '-s', join(dir, 'post.lua'), `http://${load.hostPort}${load.path}`];
  if (load.warmupS) await run(bin, args(load.warmupS));
  return measured(bin, args(load.durationS), serverPid, parseWrk);
}

export interface GrpcLoad { hostPort: string; path: string; frame: Buffer; connections: number; streams: number; durationS: number; warmupS: number }

export async function runH2load(bin: string, load: GrpcLoad, serverPid: number): Promise<ToolResult> {
  const dir = mkdtempSync(join(tmpdir(), 'osprey-h2load-'));
  const bodyPath = join(dir, 'body.bin');
  writeFileSync(bodyPath, load.frame);
  const args = ['-t1', `-c${load.connections}`, `-m${load.streams}`, '-D', String(load.durationS), `--warm-up-time=${load.warmupS}`,
    '-d', bodyPath, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${load.hostPort}${load.path}`];
  return measured(bin, args, serverPid, parseH2load);
}
