/**
 * Connection-level behaviour on raw sockets, on every HTTP engine this machine runs:
 * close() drains in-flight requests, requests arriving while closing get 503, answers
 * during the shutdown grace period (drain()) close their connections, a client
 * disconnect aborts the request's signal, and an oversized body closes the connection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startHttpServer } from '../../../src/frontends/http/server.js';
import { availableEngines } from '../../helpers/engines.js';
import { httpRequest } from '../../helpers/http-client.js';
import { startTestServer } from '../../helpers/server.js';
import { FakeDataPlane } from './fake-dataplane.js';

/** A keep-alive HTTP/1.1 connection that reads whole answers (Content-Length framed). */
class RawConnection {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => { this.buf = Buffer.concat([this.buf, c]); this.wake(); });
    this.socket.on('close', () => { this.closed = true; this.wake(); });
    this.socket.on('error', () => {});
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  send(method: string, path: string, body = '', headers: Record<string, string> = {}): void {
    let head = `${method} ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    this.socket.write(head + '\r\n' + body);
  }

  /** The next answer: status, raw head and body. */
  async answer(): Promise<{ status: number; head: string; body: string }> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.subarray(0, end).toString();
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buf.byteLength >= end + 4 + length) {
          const body = this.buf.subarray(end + 4, end + 4 + length).toString();
          this.buf = this.buf.subarray(end + 4 + length);
          return { status: Number(head.split(' ')[1]), head, body };
        }
      }
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }
}

const SLOW_BODY = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1], data: [1] }] });

const CLOSE = /^connection: close$/im;

/** GET the live route on `c`: `closes` says whether the answer must end the connection (and it then does). */
async function live(c: RawConnection, closes: boolean): Promise<void> {
  c.send('GET', '/v2/health/live');
  const a = await c.answer();
  assert.equal(a.status, 200);
  if (!closes) return assert.doesNotMatch(a.head, CLOSE, 'keep-alive outside the grace period');
  assert.match(a.head, CLOSE);
  await c.waitClosed();
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(5);
  assert.ok(cond(), 'condition not reached');
}

for (const engine of availableEngines()) describe(`server lifecycle (${engine})`, () => {
  it('close() waits for in-flight requests, answers new ones 503, then stops', async () => {
    const dp = new FakeDataPlane();
    const server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, engine });
    const idle = new RawConnection(server.port);
    idle.send('GET', '/v2/health/live');
    assert.equal((await idle.answer()).status, 200);

    const busy = new RawConnection(server.port);
    busy.send('POST', '/v2/models/slow/infer', SLOW_BODY);
    await until(() => dp.pendingSlow.length === 1);

    let closed = false;
    const closing = server.close().then(() => { closed = true; });
    await sleep(20);
    assert.equal(closed, false, 'close() must wait for the in-flight request');

    // A keep-alive connection may still send: it is told the server is going away.
    idle.send('GET', '/v2/health/live');
    const refused = await idle.answer();
    assert.equal(refused.status, 503);
    assert.deepEqual(JSON.parse(refused.body), { error: 'Server is shutting down' });

    // New connections are not accepted any more.
    await assert.rejects(httpRequest(`http://127.0.0.1:${server.port}`, 'GET', '/v2/health/live'));

    dp.pendingSlow[0]!();
    const done = await busy.answer();
    assert.equal(done.status, 200);
    await closing;
    assert.equal(closed, true);
    await busy.waitClosed();
  });

  it('drain(): answers still served, each saying Connection: close and ending its keep-alive connection', async () => {
    const dp = new FakeDataPlane();
    const server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, engine });
    try {
      const c = new RawConnection(server.port);
      await live(c, false);
      await live(c, false); // the same connection serves again

      server.drain();
      c.send('POST', '/v2/models/slow/infer', SLOW_BODY);
      await until(() => dp.pendingSlow.length === 1);
      dp.pendingSlow[0]!();
      const during = await c.answer();
      assert.equal(during.status, 200, 'still served during the grace period');
      assert.match(during.head, CLOSE);
      await c.waitClosed();
      // A fresh connection is served too, and closed after its one answer.
      await live(new RawConnection(server.port), true);
    } finally {
      await server.close();
    }
  });

  it('RunningServer.drain() reaches the HTTP front end: answers close their connections', async () => {
    const s = await startTestServer({ modelControlMode: 'explicit', httpEngine: engine, allowGrpc: false, allowMetrics: false });
    try {
      const c = new RawConnection(s.httpPort);
      await live(c, false);
      s.drain();
      await live(c, true);
    } finally {
      await s.shutdown();
    }
  });

  it('a client disconnect aborts the request signal and frees the slot', async () => {
    const dp = new FakeDataPlane();
    const server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, engine });
    const c = new RawConnection(server.port);
    c.send('POST', '/v2/models/slow/infer', SLOW_BODY);
    await until(() => dp.pendingSlow.length === 1);
    const signal = dp.requests.at(-1)!.signal!;
    assert.equal(signal.aborted, false);
    c.socket.destroy();
    await until(() => signal.aborted);
    // The late answer is dropped without touching the dead response.
    dp.pendingSlow[0]!();
    await sleep(10);
    await server.close(); // resolves: the aborted request no longer counts as in flight
  });

  it('an oversized body gets 413 and the connection is closed', async () => {
    const dp = new FakeDataPlane();
    const server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: 1000, engine });
    try {
      const c = new RawConnection(server.port);
      c.socket.write('POST /v2/models/echo/infer HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n' + ' '.repeat(100));
      const a = await c.answer();
      assert.equal(a.status, 413);
      assert.match(a.head, /connection: close/i);
      assert.deepEqual(JSON.parse(a.body), { error: 'request body exceeds the limit of 1000 bytes' });
      await c.waitClosed();
      // And the server still serves.
      assert.equal((await httpRequest(`http://127.0.0.1:${server.port}`, 'GET', '/v2/health/ready')).status, 200);
    } finally {
      await server.close();
    }
  });
});
