/**
 * tritonserver's log line layouts for pino's JSON lines (`--log-format default|ISO8601`):
 *
 *   default: I0520 20:03:25.829575 3355 osprey:0] "model version ready {\"model\":\"simple\"}"
 *   ISO8601: 2024-05-20T20:03:25Z I 3355 osprey:0] "..."
 *
 * Level letter E/W/I (verbose is I), UTC time, pid, then where Triton names its source
 * file and line we write `osprey:0` (a JS server has no such position; log parsers
 * keep matching). The message is the pino `msg` followed by its other fields as JSON,
 * JSON-string-escaped unless TRITON_SERVER_ESCAPE_LOG_MESSAGES=0, as Triton does.
 * `json` keeps pino's lines as they are. Runs on the main thread, off the request path
 * (request lines are sampled, see logger.ts).
 */
import { type DestinationStream, pino } from 'pino';

export type LineFormat = 'default' | 'ISO8601' | 'json';

const PINO_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function letter(level: number): string {
  return level >= 50 ? 'E' : level >= 40 ? 'W' : 'I';
}

/** One pino record -> one tritonserver line (with its newline). */
export function tritonLine(rec: Record<string, unknown>, format: 'default' | 'ISO8601', escape: boolean): string {
  const t = new Date(typeof rec.time === 'number' ? rec.time : Date.now());
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const extra: Record<string, unknown> = {};
  let any = false;
  for (const k in rec) if (!PINO_FIELDS.has(k)) { extra[k] = rec[k]; any = true; }
  let msg = typeof rec.msg === 'string' ? rec.msg : '';
  if (any) msg += (msg === '' ? '' : ' ') + JSON.stringify(extra);
  const text = escape ? JSON.stringify(msg) : msg;
  const pid = typeof rec.pid === 'number' ? rec.pid : process.pid;
  if (format === 'ISO8601') {
    const iso = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}T${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}Z`;
    return `${iso} ${letter(level)} ${pid} osprey:0] ${text}\n`;
  }
  const stamp = `${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}000`;
  return `${letter(level)}${stamp} ${pid} osprey:0] ${text}\n`;
}

/**
 * Where lines go: a log file gets every line; otherwise, as tritonserver does, info to
 * stdout and warnings/errors to stderr (JSON lines all go to stderr, as before).
 * `format()` is read per line, so a logging-extension update applies at once.
 */
export function tritonDestination(format: () => LineFormat, file: string): DestinationStream & { flushSync(): void } {
  const escape = process.env.TRITON_SERVER_ESCAPE_LOG_MESSAGES !== '0';
  const toFile = file !== '' ? pino.destination({ dest: file, sync: false, mkdir: true }) : undefined;
  const out = toFile ?? pino.destination({ dest: 1, sync: false });
  const err = toFile ?? pino.destination({ dest: 2, sync: false });
  return {
    write(line: string): void {
      const f = format();
      if (f === 'json') { err.write(line); return; }
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        err.write(line);
        return;
      }
      const text = tritonLine(rec, f, escape);
      (typeof rec.level === 'number' && rec.level >= 40 ? err : out).write(text);
    },
    flushSync(): void {
      for (const d of new Set([out, err])) {
        try { d.flushSync(); } catch { /* not ready yet: nothing written */ }
      }
    },
  };
}

