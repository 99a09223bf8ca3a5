/**
 * Server keepalive (--grpc-keepalive-time / -timeout) on each engine, with a raw
 * HTTP/2 client on a TCP socket (node:http2's client acknowledges every PING itself):
 * the server PINGs every interval; a client that acknowledges stays connected; one that
 * does not is disconnected once the timeout passes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { GrpcEngineChoice } from '../../../src/config/cli.js';
import { frame as h2frame } from '../../../src/frontends/grpc/net/frames.js';
import { startGrpcServer } from '../../../src/frontends/grpc/server.js';
import { FakeDataPlane } from './fixtures.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_SETTINGS = 4;
const FRAME_PING = 6;
const ACK = 1;

/** A frame on stream 0 (the connection), through the net engine's own writer. */
const frame = (type: number, flags: number, payload: Buffer): Buffer => h2frame(type, flags, 0, payload);

/** Connect, speak the preface; count the server's PINGs, answer them when `ack`; resolve when the server closes or after `ms`. */
function client(port: number, ack: boolean, ms: number): Promise<{ pings: number; closedAfterMs: number | undefined }> {
  return new Promise((resolve) => {
    const start = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let pings = 0;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ pings, closedAfterMs: closed ? Date.now() - start : undefined });
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on('connect', () => s.write(Buffer.concat([PREFACE, frame(FRAME_SETTINGS, 0, Buffer.alloc(0))])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === FRAME_SETTINGS && (flags & ACK) === 0) s.write(frame(FRAME_SETTINGS, ACK, Buffer.alloc(0)));
        if (type === FRAME_PING && (flags & ACK) === 0) {
          pings++;
          if (ack) s.write(frame(FRAME_PING, ACK, Buffer.from(payload)));
        }
      }
    });
    s.on('close', () => finish(true));
    s.on('error', () => {});
  });
}

for (const engine of ['grpc-js', 'http2', 'net'] as GrpcEngineChoice[]) {
  describe(`keepalive on the ${engine} engine`, { timeout: 20_000 }, () => {
    it('pings every interval; an unanswered ping closes the connection after the timeout', async () => {
      const server = await startGrpcServer(new FakeDataPlane(), {
        engine, host: '127.0.0.1', port: 0, maxReceiveBytes: 1 << 20, shutdownTimeoutMs: 500,
        keepalive: { timeMs: 150, timeoutMs: 300, permitWithoutCalls: true },
      });
      try {
        const [answering, silent] = await Promise.all([client(server.port, true, 1200), client(server.port, false, 3000)]);
        assert.ok(answering.pings >= 3, `the answering client got ${answering.pings} pings`);
        assert.equal(answering.closedAfterMs, undefined, 'a client that answers stays connected');
        assert.equal(silent.pings, 1);
        assert.ok(silent.closedAfterMs !== undefined && silent.closedAfterMs >= 400, `closed after ${silent.closedAfterMs} ms`);
      } finally {
        await server.close();
      }
    });
  });
}
