/**
 * Raw HTTP/1.1 over node:net, for the edges a real client library will not produce
 * (pipelined requests, repeated headers, bodies shorter than declared): the exact
 * bytes go out, and every response that comes back is parsed in order.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawResult {
  responses: RawResponse[];
  /** The server closed the connection before the wait ended. */
  closed: boolean;
  /** Milliseconds from the first write to the first response byte (-1: none). */
  firstByteMs: number;
}

/** Parse as many complete responses (Content-Length framed) as `data` holds. */
export function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    if (end + 4 + len > data.length) break;
    out.push({ status, headers, body: data.subarray(end + 4, end + 4 + len).toString('utf8') });
    at = end + 4 + len;
  }
  return out;
}

/**
 * Connect, write `data` (then each of `later` after its delay), and collect what comes
 * back until the server closes, `expect` responses have arrived, or `waitMs` passes.
 */
export function rawHttp(port: number, data: string | Buffer, opts: { waitMs?: number; expect?: number; later?: Array<[number, string | Buffer]> } = {}): Promise<RawResult> {
  const waitMs = opts.waitMs ?? 5000;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const t0 = performance.now();
    let firstByteMs = -1;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: parseResponses(Buffer.concat(chunks)), closed, firstByteMs });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d: Buffer) => {
      if (firstByteMs < 0) firstByteMs = performance.now() - t0;
      chunks.push(d);
      if (opts.expect !== undefined && parseResponses(Buffer.concat(chunks)).length >= opts.expect) finish(false);
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.write(data);
    for (const [at, more] of opts.later ?? []) setTimeout(() => { if (!done) socket.write(more); }, at);
  });
}

/** A POST with a Content-Length of the body's size. */
export function rawPost(path: string, body: string | Buffer, headers: Record<string, string> = {}): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: osprey\r\nContent-Length: ${b.length}\r\n${extra}\r\n`), b]);
}
