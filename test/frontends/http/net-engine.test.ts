/**
 * The net engine's own HTTP/1.1 handling (net-connection.ts), over raw sockets against
 * a real listening front end: answers in request order whatever order they are ready
 * in, the per-connection pipelining bound, keep-alive and close rules of HTTP/1.0 and
 * 1.1, Expect, HEAD, chunked bodies, upgrades, a client's FIN, llhttp's refusals
 * queued behind earlier answers, and node:http's timeouts (shortened here). The
 * classes every engine shares (conformance, edges, lifecycle) run on it elsewhere.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { netEngine } from '../../../src/frontends/http/engines/net.js';
import { headerOf, MAX_PIPELINED } from '../../../src/frontends/http/engines/net-connection.js';
import { type HttpServer, startHttpServer } from '../../../src/frontends/http/server.js';
import { parseResponses, rawHttp, rawPost } from '../../helpers/raw-http.js';
import { FakeDataPlane } from './fake-dataplane.js';

const ECHO = '/v2/models/echo/infer';
const SLOW = '/v2/models/slow/infer';
const echoBody = (x: number): string => JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 4], datatype: 'FP32', data: [x, x, x, x] }] });
const slowBody = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1], datatype: 'FP32', data: [9] }] });
const firstValue = (body: string): number => (JSON.parse(body) as { outputs: Array<{ data: number[] }> }).outputs[0]!.data[0]!;
const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: o\r\n${extra}\r\n`;

/** Resolves once `cond` holds (polled), or rejects after `ms`. */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw connection that keeps what comes back, for tests that act between reads. */
function connect(port: number): Promise<{ socket: net.Socket; data: () => Buffer; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let closed = false;
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', () => { closed = true; });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, data: () => Buffer.concat(chunks), closed: () => closed }));
    socket.once('error', reject);
  });
}

describe('net engine: HTTP/1.1 on node:net + llhttp', () => {
  let dp: FakeDataPlane;
  let server: HttpServer;
  before(async () => {
    dp = new FakeDataPlane();
    server = await startHttpServer(dp, {
      host: '127.0.0.1', port: 0, maxBodyBytes: 64 * 1024,
      engine: { engine: netEngine({ keepAliveMs: 1500, headersMs: 1500, requestMs: 2500 }), note: '' },
    });
  });
  after(async () => {
    for (const release of dp.pendingSlow.splice(0)) release();
    await server?.close();
  });

  test('answers wait for the ones ahead: a slow infer, then an echo and a health check ready first', async () => {
    const c = await connect(server.port);
    c.socket.write(Buffer.concat([rawPost(SLOW, slowBody), rawPost(ECHO, echoBody(3)), Buffer.from(get('/v2/health/ready'))]));
    await until(() => dp.pendingSlow.length === 1);
    // The echo and the health answers are ready; neither may overtake the slow one.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.data().length, 0, 'nothing is written before the first answer');
    dp.pendingSlow.shift()!();
    await until(() => parseResponses(c.data()).length === 3);
    const r = parseResponses(c.data());
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200]);
    assert.equal(firstValue(r[0]!.body), 9);
    assert.equal(firstValue(r[1]!.body), 3);
    assert.equal(r[2]!.body, '');
    c.socket.destroy();
  });

  test('a body kept from the parser is not overwritten by later reads: a held request with a binary input answers its own bytes', async () => {
    // Binary inputs are views into their request's body, which the engine keeps from
    // llhttp's chunk without a copy (body.ts): bodies read after it must not reuse it.
    const binary = (model: string, x: number): Buffer => {
      const head = JSON.stringify({
        inputs: [{ name: 'INPUT0', shape: model === 'slow' ? [1] : [1, 4], datatype: 'FP32', parameters: { binary_data_size: model === 'slow' ? 4 : 16 } }],
        outputs: [{ name: 'INPUT0', parameters: { binary_data: false } }],
      });
      const data = Buffer.from(new Float32Array(model === 'slow' ? [x] : [x, x, x, x]).buffer);
      return rawPost(`/v2/models/${model}/infer`, Buffer.concat([Buffer.from(head), data]), { 'Inference-Header-Content-Length': String(head.length) });
    };
    const c = await connect(server.port);
    c.socket.write(Buffer.concat([binary('slow', 9.5), binary('echo', 1.25), binary('echo', -2.5), binary('echo', 7)]));
    await until(() => dp.pendingSlow.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    dp.pendingSlow.shift()!();
    await until(() => parseResponses(c.data()).length === 4);
    const r = parseResponses(c.data());
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200, 200]);
    assert.deepEqual(r.map((x) => firstValue(x.body)), [9.5, 1.25, -2.5, 7]);
    c.socket.destroy();
  });

  test(`more than ${MAX_PIPELINED} pipelined requests: reading pauses and resumes, every one answered in order`, async () => {
    const n = MAX_PIPELINED * 4;
    const data = Buffer.concat(Array.from({ length: n }, (_, i) => rawPost(ECHO, echoBody(i))));
    const r = await rawHttp(server.port, data, { expect: n });
    assert.equal(r.responses.length, n);
    assert.deepEqual(r.responses.map((x) => firstValue(x.body)), Array.from({ length: n }, (_, i) => i));
  });

  test('Connection: close is answered with Connection: close, and what follows is not answered', async () => {
    const r = await rawHttp(server.port, get('/v2/health/live', 'Connection: close\r\n') + get('/v2/health/live'), { waitMs: 2000 });
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0]!.headers.connection, 'close');
    assert.equal(r.closed, true);
  });

  test('HTTP/1.0: closed after the answer unless it asks for keep-alive, which the answer confirms', async () => {
    const plain = await rawHttp(server.port, 'GET /v2/health/live HTTP/1.0\r\n\r\n', { waitMs: 2000 });
    assert.equal(plain.responses[0]?.status, 200);
    assert.equal(plain.closed, true);
    const ka = await rawHttp(server.port, 'GET /v2/health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /v2/health/ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { expect: 2 });
    assert.deepEqual(ka.responses.map((x) => [x.status, x.headers.connection]), [[200, 'keep-alive'], [200, 'keep-alive']]);
    assert.equal(ka.closed, false);
  });

  test('Expect: 100-continue gets 100 Continue before the body is sent; another expectation gets 417 and the connection goes on', async () => {
    const c = await connect(server.port);
    const body = echoBody(5);
    c.socket.write(`POST ${ECHO} HTTP/1.1\r\nHost: o\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    await until(() => c.data().toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    c.socket.write(body);
    await until(() => c.data().length > 25 && parseResponses(c.data().subarray(25)).length === 1);
    assert.equal(firstValue(parseResponses(c.data().subarray(25))[0]!.body), 5);
    c.socket.destroy();

    const r = await rawHttp(server.port, Buffer.concat([rawPost(ECHO, echoBody(1), { Expect: 'teapot' }), rawPost(ECHO, echoBody(2))]), { expect: 2 });
    assert.equal(r.responses[0]!.status, 417);
    assert.match(JSON.parse(r.responses[0]!.body).error, /unsupported Expect: teapot/);
    assert.equal(firstValue(r.responses[1]!.body), 2);
  });

  test('HEAD: the head of the answer with its Content-Length, no body; the next answer follows at once', async () => {
    const c = await connect(server.port);
    c.socket.write(`HEAD /v2/models/echo HTTP/1.1\r\nHost: o\r\n\r\n${get('/v2/models/echo')}`);
    await until(() => c.data().toString('latin1').endsWith('}'));
    const text = c.data().toString('latin1');
    const second = text.indexOf('HTTP/1.1 ', 1);
    const first = text.slice(0, second);
    assert.match(first, /\r\nContent-Length: [1-9][0-9]*\r\n/);
    assert.ok(first.endsWith('\r\n\r\n'), 'no body after the HEAD answer');
    const next = parseResponses(Buffer.from(text.slice(second), 'latin1'));
    assert.equal(next[0]?.status, 200);
    assert.equal(JSON.parse(next[0]!.body).name, 'echo');
    c.socket.destroy();
  });

  test('methods by name: QUERY (past a gap in llhttp\'s numbering) and DELETE are named in the 405', async () => {
    const r = await rawHttp(server.port, 'QUERY /v2/health/live HTTP/1.1\r\nHost: o\r\n\r\nDELETE /v2/health/live HTTP/1.1\r\nHost: o\r\n\r\n', { expect: 2 });
    assert.deepEqual(r.responses.map((x) => x.status), [405, 405]);
    assert.match(JSON.parse(r.responses[0]!.body).error, /^method QUERY is not allowed/);
    assert.match(JSON.parse(r.responses[1]!.body).error, /^method DELETE is not allowed/);
  });

  test('a chunked request body is read whole (trailers ignored)', async () => {
    const body = echoBody(7);
    const half = Math.floor(body.length / 2);
    const chunked = `POST ${ECHO} HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n`
      + `${half.toString(16)}\r\n${body.slice(0, half)}\r\n${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\nX-Trailer: 1\r\n\r\n`;
    const r = await rawHttp(server.port, chunked + get('/v2/health/live'), { expect: 2 });
    assert.equal(firstValue(r.responses[0]!.body), 7);
    assert.equal(r.responses[1]!.status, 200);
  });

  test('an upgrade request is answered as a plain request, then the connection closes', async () => {
    const r = await rawHttp(server.port, get('/v2/health/live', 'Connection: Upgrade\r\nUpgrade: h2c\r\n') + get('/v2/health/ready'), { waitMs: 2000 });
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.closed, true);
  });

  test('a client that sends FIN is gone, as on node:http: its running request is cancelled, the connection closed', async () => {
    const c = await connect(server.port);
    c.socket.end(rawPost(SLOW, slowBody));
    await until(() => dp.pendingSlow.length === 1);
    const signal = dp.requests.at(-1)!.signal!;
    await until(() => signal.aborted && c.closed());
    dp.pendingSlow.shift()!();
    assert.equal(c.data().length, 0);
  });

  test('a malformed request behind one still running: the running one is answered first, then 400 JSON and close', async () => {
    const c = await connect(server.port);
    c.socket.write(Buffer.concat([rawPost(SLOW, slowBody), Buffer.from('GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')]));
    await until(() => dp.pendingSlow.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.data().length, 0);
    dp.pendingSlow.shift()!();
    await until(() => c.closed());
    const r = parseResponses(c.data());
    assert.deepEqual(r.map((x) => x.status), [200, 400]);
    assert.equal(JSON.parse(r[1]!.body).error, 'conflicting Content-Length headers');
    assert.equal(r[1]!.headers.connection, 'close');
  });

  test('llhttp refusals are JSON: a bad header character, CL with TE, a bad chunk size, a bare-LF request line', async () => {
    for (const bad of [
      'GET /v2/health/live HTTP/1.1\r\nX-A\x01: b\r\n\r\n',
      `POST ${ECHO} HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST ${ECHO} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
      'GET /v2/health/live HTTP/1.1\nHost: o\n\n',
    ]) {
      const r = await rawHttp(server.port, bad, { waitMs: 2000 });
      assert.equal(r.responses[0]?.status, 400, JSON.stringify(bad));
      assert.match(JSON.parse(r.responses[0]!.body).error, /^malformed HTTP request: /);
      assert.equal(r.closed, true);
    }
    const ok = await rawHttp(server.port, rawPost(ECHO, echoBody(1)), { expect: 1 });
    assert.equal(ok.responses[0]?.status, 200);
  });

  test('timeouts: an idle keep-alive connection closes; a slow head and a slow body get 408 JSON and close', async () => {
    const idle = await connect(server.port);
    idle.socket.write(get('/v2/health/live'));
    await until(() => parseResponses(idle.data()).length === 1);
    assert.equal(parseResponses(idle.data())[0]!.headers['keep-alive'], 'timeout=1');
    await until(() => idle.closed(), 4000);

    const head = await connect(server.port);
    head.socket.write('GET /v2/health/live HTTP/1.1\r\nHost: o\r\n');
    await until(() => head.closed(), 4000);
    const h = parseResponses(head.data());
    assert.equal(h[0]?.status, 408);
    assert.equal(JSON.parse(h[0]!.body).error, 'the request was not received in time');

    const body = await connect(server.port);
    const t0 = Date.now();
    body.socket.write(`POST ${ECHO} HTTP/1.1\r\nHost: o\r\nContent-Length: 100\r\n\r\n{`);
    // The head arrived, so only the whole-request timeout applies: trickling bytes does not extend it.
    const trickle = setInterval(() => body.socket.write(' '), 200);
    await until(() => body.closed(), 5000);
    clearInterval(trickle);
    assert.ok(Date.now() - t0 >= 2000, 'not before the request timeout');
    assert.equal(parseResponses(body.data())[0]?.status, 408);
  });
});

describe('net engine: the coarse clock on a server that starts later', () => {
  test('a keep-alive connection answered before the first sweep is not closed as idle', async () => {
    const engine = { engine: netEngine({ keepAliveMs: 1500, headersMs: 1500, requestMs: 2500 }), note: '' };
    // A server that stops leaves the shared clock where its last sweep set it.
    const first = await startHttpServer(new FakeDataPlane(), { host: '127.0.0.1', port: 0, maxBodyBytes: 1024, engine });
    await first.close();
    await new Promise((r) => setTimeout(r, 2200));
    const server = await startHttpServer(new FakeDataPlane(), { host: '127.0.0.1', port: 0, maxBodyBytes: 1024, engine });
    try {
      const c = await connect(server.port);
      c.socket.write(get('/v2/health/live'));
      await until(() => parseResponses(c.data()).length === 1);
      // Past the first sweep (1 s) but well within the keep-alive time.
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(c.closed(), false, 'closed as idle at the first sweep');
      c.socket.write(get('/v2/health/ready'));
      await until(() => parseResponses(c.data()).length === 2);
      c.socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('net engine: repeated request headers', () => {
  test('security-relevant single-value headers keep their first value; others are joined as node:http joins them', () => {
    const h = ['Authorization', 'Bearer good', 'authorization', 'Bearer evil', 'X-Tag', 'a', 'x-tag', 'b', 'Cookie', 'c=1', 'cookie', 'd=2',
      'Content-Type', 'application/json', 'content-type', 'text/plain', 'Host', 'one', 'host', 'two'];
    assert.equal(headerOf(h, 'authorization'), 'Bearer good');
    assert.equal(headerOf(h, 'content-type'), 'application/json');
    assert.equal(headerOf(h, 'host'), 'one');
    assert.equal(headerOf(h, 'x-tag'), 'a, b');
    assert.equal(headerOf(h, 'cookie'), 'c=1; d=2');
    assert.equal(headerOf(h, 'x-absent'), '');
  });
});
