/**
 * Connection-level abuse on both gRPC engines: thousands of concurrent calls on one
 * connection, thousands of streams opened and abandoned (HEADERS only), a rapid-reset
 * burst (HEADERS + RST_STREAM), PING and SETTINGS floods on a raw socket. What the
 * client sees must be the same on both engines (the same nghttp2 answers under both),
 * and afterwards each server still answers a new connection.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { GrpcEngineChoice } from '../../../src/config/cli.js';
import {
  ENGINES, type ProbeServer, SVC, frame, grpcStatus, rawCall, requestHeaders, sleep, startProbeServer,
} from './h2-probe-raw.js';

const LIVE = `${SVC}/ServerLive`;

function h2frame(type: number, flags: number, stream: number, payload = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  payload.copy(b, 9);
  return b;
}

/** A raw connection: preface, SETTINGS, then `flood`; the frame types the server sent back and its GOAWAY code. */
function rawFlood(port: number, flood: Buffer): Promise<{ goaway: number | undefined; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    let closed = false;
    s.on('data', (c: Buffer) => { got = Buffer.concat([got, c]); });
    s.on('error', () => undefined);
    s.on('close', () => { closed = true; });
    s.on('connect', () => {
      s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      s.write(h2frame(4, 0, 0));
      s.write(flood);
    });
    setTimeout(() => {
      let goaway: number | undefined;
      for (let p = 0; p + 9 <= got.length;) {
        const len = got.readUIntBE(p, 3);
        if (got[p + 3] === 7 && p + 17 <= got.length) goaway = got.readUInt32BE(p + 13);
        p += 9 + len;
      }
      s.destroy();
      resolve({ goaway, closed });
    }, 1000);
  });
}

describe('h2-probe: connection-level abuse, both engines alike', { timeout: 120_000 }, () => {
  const servers = new Map<GrpcEngineChoice, ProbeServer>();
  before(async () => {
    for (const e of ENGINES) servers.set(e, await startProbeServer(e));
  });
  after(async () => {
    for (const s of servers.values()) await s.server.close();
  });

  async function stillServes(): Promise<void> {
    for (const s of servers.values()) {
      const a = await rawCall(s.port, requestHeaders(LIVE), (r) => { r.end(frame()); });
      assert.equal(grpcStatus(a), '0', `${s.engine} still answers`);
    }
  }

  it('2000 concurrent calls on one connection are all answered', async () => {
    for (const s of servers.values()) {
      const session = http2.connect(`http://127.0.0.1:${s.port}`);
      session.on('error', () => undefined);
      session.setMaxListeners(0);
      const all = await Promise.all(Array.from({ length: 2000 }, () => rawCall(s.port, requestHeaders(LIVE), (r) => { r.end(frame()); }, { session, timeoutMs: 30_000 })));
      session.destroy();
      assert.deepEqual(new Set(all.map(grpcStatus)), new Set(['0']), s.engine);
    }
  });

  it('2000 streams opened and abandoned (HEADERS only) stay open unanswered; the connection closing frees them', async () => {
    const seen: Record<string, unknown> = {};
    for (const s of servers.values()) {
      const session = http2.connect(`http://127.0.0.1:${s.port}`);
      session.on('error', () => undefined);
      await new Promise((r) => session.once('remoteSettings', r));
      const streams: http2.ClientHttp2Stream[] = [];
      let answered = 0;
      for (let i = 0; i < 2000; i++) {
        const q = session.request(requestHeaders(i % 2 === 0 ? `${SVC}/ModelInfer` : `${SVC}/ModelStreamInfer`), { endStream: false });
        q.on('error', () => undefined);
        q.on('response', () => { answered++; });
        streams.push(q);
        if (i % 200 === 199) await sleep(5);
      }
      await sleep(500);
      seen[s.engine] = { open: streams.filter((q) => !q.closed).length, answered };
      session.destroy();
    }
    assert.deepEqual(seen['grpc-js'], { open: 2000, answered: 0 });
    for (const e of ENGINES) assert.deepEqual(seen[e], seen['grpc-js'], e);
    await stillServes();
  });

  it('a rapid-reset burst (5000 HEADERS + RST_STREAM) leaves the server serving', async () => {
    // Whether nghttp2's reset-rate limit closes the flooding connection depends on how the
    // frames' arrival interleaves with reading them (it varies from run to run on either
    // engine), so only the server's health afterwards is compared.
    for (const s of servers.values()) {
      const session = http2.connect(`http://127.0.0.1:${s.port}`);
      session.on('error', () => undefined);
      await new Promise((r) => session.once('remoteSettings', r));
      for (let i = 0; i < 5000 && !session.destroyed && !session.closed; i++) {
        const q = session.request(requestHeaders(LIVE), { endStream: false });
        q.on('error', () => undefined);
        q.close(http2.constants.NGHTTP2_CANCEL);
      }
      await sleep(300);
      session.destroy();
    }
    await stillServes();
  });

  it('PING and SETTINGS floods on a raw socket', async () => {
    const ping = Buffer.concat(Array.from({ length: 20_000 }, () => h2frame(6, 0, 0, Buffer.alloc(8))));
    const settings = Buffer.concat(Array.from({ length: 20_000 }, () => h2frame(4, 0, 0)));
    for (const flood of [ping, settings]) {
      const seen: Record<string, unknown> = {};
      for (const s of servers.values()) seen[s.engine] = await rawFlood(s.port, flood);
      assert.equal((seen['grpc-js'] as { closed: boolean }).closed, true, 'the flooding connection is closed');
      for (const e of ENGINES) assert.deepEqual(seen[e], seen['grpc-js'], e);
    }
    await stillServes();
  });

  it('nothing was logged as a server error', () => {
    for (const s of servers.values()) assert.deepEqual(s.logged, [], s.engine);
  });
});
