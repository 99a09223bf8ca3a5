/** One-off HTTP calls (metadata, config, statistics, probes) with node:http: off the hot path. */
import http from 'node:http';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function httpCall(hostPort: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpReply> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)), method, path,
      headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers,
      agent: false, timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function getJson<T>(hostPort: string, path: string): Promise<T> {
  const r = await httpCall(hostPort, 'GET', path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
  return JSON.parse(r.body.toString()) as T;
}
