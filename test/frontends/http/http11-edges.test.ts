/**
 * Issue 16, item 7: HTTP/1.1 edges, on every HTTP engine this machine runs, against a
 * real server over raw sockets. Pipelined POST infer requests are answered in order
 * (node:http; uWS closes such a connection natively, never mixing answers up);
 * conflicting Content-Length headers get 400 JSON and a close (RFC 9112 6.3); node's
 * own refusals are JSON; a request line and headers over 16 KiB get 431 JSON and a
 * close on both engines (uWS v20.30 would take them: uws.ts measures); a body declared huge with few bytes sent holds only what
 * arrived; all bodies in flight together are bounded (503 and close). After each,
 * the server still answers a good request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { availableEngines } from '../../helpers/engines.js';
import { settledRss } from '../../helpers/memory.js';
import { rawHttp, rawPost } from '../../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import net from 'node:net';
import { gzipSync } from 'node:zlib';

const INFER = '/v2/models/simple/infer';

function inferBody(a: number, pad = 0): string {
  const json = JSON.stringify({
    inputs: [
      { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(a) },
      { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(1) },
    ],
    outputs: [{ name: 'OUTPUT0' }],
  });
  return json + ' '.repeat(Math.max(0, pad - json.length));
}

/** OUTPUT0 = INPUT0 + INPUT1: the answer tells which request it belongs to. */
function sumOf(body: string): number {
  return (JSON.parse(body) as { outputs: Array<{ data: number[] }> }).outputs[0]!.data[0]!;
}

for (const engine of availableEngines()) {
  describe(`HTTP/1.1 edges (${engine})`, () => {
    let s: TestServer;

    before(async () => {
      s = await startTestServer({
        httpEngine: engine, allowGrpc: false, allowMetrics: false, modelControlMode: 'explicit', loadModels: ['simple'],
        // Small enough for the bound test below; far above what the other tests hold.
        maxInflightRequestBytes: 1024 * 1024,
      });
    });
    after(async () => { await s?.shutdown(); });

    async function servesGoodRequest(): Promise<void> {
      const r = await rawHttp(s.httpPort, rawPost(INFER, inferBody(41)), { expect: 1 });
      assert.equal(r.responses[0]?.status, 200, JSON.stringify(r.responses[0]));
      assert.equal(sumOf(r.responses[0]!.body), 42);
    }

    test('pipelined POST infer requests are answered in order', async () => {
      const n = 4;
      const data = Buffer.concat(Array.from({ length: n }, (_, i) => rawPost(INFER, inferBody(i * 10))));
      const r = await rawHttp(s.httpPort, data, { expect: n });
      if (engine === 'uws' && r.responses.length === 0) {
        // uWS closes a connection whose next request arrives while an answer is pending
        // ("denying async pipelining", HttpContext.h): no answer, but never a wrong one.
        assert.equal(r.closed, true, 'uWS neither answered nor closed');
      } else {
        assert.deepEqual(r.responses.map((x) => x.status), Array(n).fill(200));
        assert.deepEqual(r.responses.map((x) => sumOf(x.body)), Array.from({ length: n }, (_, i) => i * 10 + 1));
      }
      await servesGoodRequest();
    });

    if (engine !== 'uws') {
      test(`pipelined POSTs behind a slow body keep their order (${engine})`, async () => {
        // The first request's body comes last: the second must still be answered after it.
        const first = rawPost(INFER, inferBody(7));
        const cut = first.length - 10;
        const r = await rawHttp(s.httpPort, first.subarray(0, cut), { expect: 2, later: [[100, Buffer.concat([first.subarray(cut), rawPost(INFER, inferBody(8))])]] });
        assert.deepEqual(r.responses.map((x) => sumOf(x.body)), [8, 9]);
      });
    }

    // `parserCloses`: uWS's own parser refuses this before any handler runs, closing the
    // connection without an answer (native; nothing to make JSON). Still never accepted.
    for (const [what, headers, parserCloses] of [
      ['two Content-Length headers that differ', 'Content-Length: 5\r\nContent-Length: 7\r\n', false],
      ['one Content-Length header listing two values', 'Content-Length: 5, 7\r\n', true],
      ['a Content-Length that is not a decimal number', 'Content-Length: 0x5\r\n', true],
    ] as const) {
      test(`${what}: 400 with a JSON error, and the connection closed`, async () => {
        const r = await rawHttp(s.httpPort, `POST ${INFER} HTTP/1.1\r\nHost: osprey\r\n${headers}\r\nabcdefg`);
        assert.equal(r.closed, true, 'the connection stays open');
        if (!(engine === 'uws' && parserCloses && r.responses.length === 0)) {
          assert.equal(r.responses.length, 1, JSON.stringify(r.responses));
          assert.equal(r.responses[0]!.status, 400);
          assert.match(r.responses[0]!.headers['content-type'] ?? '', /application\/json/);
          assert.match((JSON.parse(r.responses[0]!.body) as { error: string }).error, /Content-Length/);
        }
        await servesGoodRequest();
      });
    }

    // node:http's limit (16 KiB) on both engines: uWS takes any size that arrives in one read, so uws.ts measures.
    for (const [what, head] of [
      ['one header', `X-Big: ${'a'.repeat(20_000)}\r\n`],
      ['many headers', Array.from({ length: 40 }, (_, i) => `X-H${i}: ${'b'.repeat(500)}\r\n`).join('')],
    ] as const) {
      test(`headers over the limit (${what}): 431 with a JSON error, and the connection closed`, async () => {
        const r = await rawHttp(s.httpPort, `POST ${INFER} HTTP/1.1\r\nHost: osprey\r\n${head}Content-Length: 2\r\n\r\n{}`);
        assert.equal(r.closed, true);
        assert.equal(r.responses.length, 1, JSON.stringify(r.responses));
        assert.equal(r.responses[0]?.status, 431);
        assert.match(r.responses[0]!.headers['content-type'] ?? '', /application\/json/);
        assert.match((JSON.parse(r.responses[0]!.body) as { error: string }).error, /request headers exceed the server's limit of 16384 bytes/);
        await servesGoodRequest();
      });
    }

    test('6 KB of headers split across two reads: node:http serves it; uWS v20.30 closes natively (it buffers 4 KiB of split headers); then the next request is served', async () => {
      const req = rawPost(INFER, inferBody(5), { 'X-Big': 'd'.repeat(6_000) });
      const r = await rawHttp(s.httpPort, req.subarray(0, 3000), { expect: 1, later: [[150, req.subarray(3000)]] });
      if (engine === 'uws') {
        assert.equal(r.closed, true);
        assert.ok(r.responses.length === 0 || r.responses[0]!.status === 431, JSON.stringify(r.responses));
      } else {
        assert.equal(r.responses[0]?.status, 200, JSON.stringify(r.responses));
      }
      await servesGoodRequest();
    });

    test('headers just under the limit are served', async () => {
      const r = await rawHttp(s.httpPort, rawPost(INFER, inferBody(5), { 'X-Big': 'c'.repeat(12_000) }), { expect: 1 });
      assert.equal(r.responses[0]?.status, 200, JSON.stringify(r.responses[0]));
      assert.equal(sumOf(r.responses[0]!.body), 6);
    });

    test('bodies declared huge with a few bytes sent hold only what arrived', async () => {
      const rssBefore = await settledRss(); // collects first: earlier tests' buffers do not count
      const before = process.memoryUsage().arrayBuffers;
      const conns = 40;
      const declared = 60 * 1024 * 1024;
      // 40 x 60 MiB declared = 2.4 GB: allocated at the declared size, this shows in arrayBuffers.
      const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise<net.Socket>((resolve) => {
        const c = net.connect(s.httpPort, '127.0.0.1', () => {
          c.write(`POST ${INFER} HTTP/1.1\r\nHost: osprey\r\nContent-Length: ${declared}\r\n\r\n{"inputs":`, () => resolve(c));
        });
        c.on('error', () => {});
      })));
      await new Promise((r) => setTimeout(r, 300));
      const grown = process.memoryUsage().arrayBuffers - before;
      const rssGrown = process.memoryUsage().rss - rssBefore;
      for (const c of sockets) c.destroy();
      assert.ok(grown < 32 * 1024 * 1024, `array buffers grew ${(grown / 1048576).toFixed(1)} MiB for ${conns} bodies of 10 bytes`);
      assert.ok(rssGrown < 256 * 1024 * 1024, `RSS grew ${(rssGrown / 1048576).toFixed(1)} MiB`);
      await new Promise((r) => setTimeout(r, 100));
      await servesGoodRequest();
      const rssAfter = await settledRss();
      assert.ok(rssAfter - rssBefore < 256 * 1024 * 1024, `RSS stayed ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MiB up`);
    });

    test('bodies in flight together are bounded: 503 with a JSON error and a close over --max-inflight-request-bytes', async () => {
      // A holds ~800 KiB of its 900 KiB body; B then needs 500 KiB more than the 1 MiB bound allows.
      const a = rawPost(INFER, inferBody(1, 900 * 1024));
      const cut = 800 * 1024;
      const aDone = rawHttp(s.httpPort, a.subarray(0, cut), { expect: 1, later: [[1500, a.subarray(cut)]] });
      await new Promise((r) => setTimeout(r, 400));
      const b = await rawHttp(s.httpPort, rawPost(INFER, inferBody(2, 500 * 1024)));
      assert.equal(b.responses[0]?.status, 503, JSON.stringify(b.responses));
      assert.equal(b.closed, true);
      assert.match((JSON.parse(b.responses[0]!.body) as { error: string }).error, /request bytes in flight exceed the server's limit of 1048576 bytes/);
      // A finishes normally, and once it is answered its bytes no longer count.
      const ra = await aDone;
      assert.equal(ra.responses[0]?.status, 200);
      assert.equal(sumOf(ra.responses[0]!.body), 2);
      const again = await rawHttp(s.httpPort, rawPost(INFER, inferBody(2, 500 * 1024)), { expect: 1 });
      assert.equal(again.responses[0]?.status, 200);
      await servesGoodRequest();
    });

    test('a decompressed body counts against the in-flight bound too', async () => {
      // 40 kB of gzip that inflates to 1.5 MiB: within --max-request-bytes, over the 1 MiB in-flight bound.
      const z = gzipSync(Buffer.from(inferBody(3, 1536 * 1024)));
      const r = await rawHttp(s.httpPort, rawPost(INFER, z, { 'Content-Encoding': 'gzip' }), { expect: 1 });
      assert.equal(r.responses[0]?.status, 503, JSON.stringify(r.responses[0]));
      assert.match((JSON.parse(r.responses[0]!.body) as { error: string }).error, /request bytes in flight exceed/);
      // Under the bound it is served.
      const ok = await rawHttp(s.httpPort, rawPost(INFER, gzipSync(Buffer.from(inferBody(3, 512 * 1024))), { 'Content-Encoding': 'gzip' }), { expect: 1 });
      assert.equal(ok.responses[0]?.status, 200);
      assert.equal(sumOf(ok.responses[0]!.body), 4);
    });
  });
}

describe('pipelined POSTs on the default configuration (no --http-engine)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ allowGrpc: false, allowMetrics: false, modelControlMode: 'explicit', loadModels: ['simple'] });
  });
  after(async () => { await s?.shutdown(); });

  test('are all answered, in order, on the net engine', async () => {
    assert.equal(s.logs.find((l) => l.msg === 'osprey is serving')?.httpEngine, 'net');
    const n = 8;
    const data = Buffer.concat(Array.from({ length: n }, (_, i) => rawPost(INFER, inferBody(i * 10))));
    const r = await rawHttp(s.httpPort, data, { expect: n });
    assert.deepEqual(r.responses.map((x) => x.status), Array(n).fill(200));
    assert.deepEqual(r.responses.map((x) => sumOf(x.body)), Array.from({ length: n }, (_, i) => i * 10 + 1));
  });
});
