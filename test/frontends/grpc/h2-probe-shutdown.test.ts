/**
 * Shutdown with calls in flight, on both gRPC engines (the front end's close(), what
 * SIGTERM runs): a GOAWAY goes out; calls already started finish and are answered
 * (a unary call still being answered, one whose END_STREAM arrives after the close
 * began, a stream half-closed after it); a new stream on the old connection and a new
 * connection are refused; a call the client never ends is cut once the shutdown
 * timeout passes (http2 engine; see the test). What each client sees of the rest must
 * be the same on both engines.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { rawInferRequest } from '../../helpers/grpc-client.js';
import { f32 } from './fixtures.js';
import {
  ENGINES, SVC, type Seen, frame, grpcMessage, grpcStatus, messages, rawCall, requestHeaders, sleep, startProbeServer,
} from './h2-probe-raw.js';

const codec = loadPackageDefinition()[INFERENCE_SERVICE] as Record<string, { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): any }>;
const slow = (id: string, ms: number): Buffer => frame(codec['ModelInfer']!.requestSerialize(
  rawInferRequest('slow', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: f32(1, 2, 3, 4) }], { id, parameters: { delay_ms: ms } })));

interface Outcome {
  unaryInFlight: string;
  unaryEndsAfterClose: string;
  stream: { status: string; ids: string[] };
  neverEnded: { status: string | undefined; rst: number | undefined; timedOut: boolean };
  newStreamOldConnection: string;
  newConnection: string;
  goaway: number | undefined;
}

const describeSeen = (s: Seen): string => `${grpcStatus(s) ?? '-'} ${grpcMessage(s) ?? ''} rst=${s.rst ?? '-'}${s.timedOut ? ' timed out' : ''}`;

async function shutdownWithCallsInFlight(engine: (typeof ENGINES)[number]): Promise<Outcome> {
  const p = await startProbeServer(engine, { shutdownTimeoutMs: 1500 });
  const session = http2.connect(`http://127.0.0.1:${p.port}`);
  session.on('error', () => undefined);
  let goaway: number | undefined;
  session.on('goaway', (code) => { goaway = code; });
  await new Promise((r) => session.once('remoteSettings', r));
  let closing!: () => void;
  const closeBegan = new Promise<void>((r) => { closing = r; });
  const opts = { session, timeoutMs: 6000 };
  const unaryInFlight = rawCall(p.port, requestHeaders(`${SVC}/ModelInfer`), (r) => { r.end(slow('u1', 400)); }, opts);
  const unaryEndsAfterClose = rawCall(p.port, requestHeaders(`${SVC}/ModelInfer`), async (r) => {
    r.write(slow('u2', 10));
    await closeBegan;
    await sleep(150);
    r.end();
  }, opts);
  const stream = rawCall(p.port, requestHeaders(`${SVC}/ModelStreamInfer`), async (r) => {
    r.write(slow('s1', 300));
    await closeBegan;
    await sleep(300);
    r.end(slow('s2', 10));
  }, opts);
  const neverEnded = rawCall(p.port, requestHeaders(`${SVC}/ModelStreamInfer`), (r) => { r.write(slow('n1', 10)); }, opts);
  await sleep(100); // every call above has reached the server
  const closed = p.server.close();
  closing();
  await sleep(50);
  const onOld = await rawCall(p.port, requestHeaders(`${SVC}/ServerLive`), (r) => { r.end(frame()); }, { session, timeoutMs: 2000 })
    .then(describeSeen, (e: NodeJS.ErrnoException) => `refused: ${e.code}`);
  const onNew = await rawCall(p.port, requestHeaders(`${SVC}/ServerLive`), (r) => { r.end(frame()); }, { timeoutMs: 2000 })
    .then(describeSeen, (e: NodeJS.ErrnoException) => `refused: ${e.code}`);
  const [u1, u2, s, n] = await Promise.all([unaryInFlight, unaryEndsAfterClose, stream, neverEnded]);
  await closed;
  session.destroy();
  const ids = messages(Buffer.from(s.body, 'hex')).map((m) => codec['ModelStreamInfer']!.responseDeserialize(m).infer_response?.id as string).sort();
  return {
    unaryInFlight: describeSeen(u1),
    unaryEndsAfterClose: describeSeen(u2),
    stream: { status: describeSeen(s), ids },
    neverEnded: { status: grpcStatus(n), rst: n.rst, timedOut: n.timedOut },
    newStreamOldConnection: onOld,
    newConnection: onNew,
    goaway,
  };
}

describe('h2-probe: shutdown with calls in flight', { timeout: 60_000 }, () => {
  it('calls started before the close finish; new ones are refused; the rest are cut after the timeout; both engines alike', async () => {
    const seen: Partial<Record<(typeof ENGINES)[number], Outcome>> = {};
    for (const e of ENGINES) seen[e] = await shutdownWithCallsInFlight(e);
    const g = seen['grpc-js']!;
    const others = ENGINES.filter((e) => e !== 'grpc-js').map((e) => [e, seen[e]!] as const);
    assert.equal(g.unaryInFlight, '0 OK rst=0');
    assert.equal(g.unaryEndsAfterClose, '0 OK rst=0');
    assert.deepEqual(g.stream, { status: '0 OK rst=0', ids: ['s1', 's2'] });
    assert.equal(g.goaway, http2.constants.NGHTTP2_NO_ERROR);
    assert.doesNotMatch(g.newStreamOldConnection, /^0 /, 'a new stream after GOAWAY is not served');
    assert.doesNotMatch(g.newConnection, /^0 /, 'a new connection is not served');
    // The call never ended: both engines cut it (RST_STREAM CANCEL, no status) when the timeout
    // passes. grpc-js's own forceShutdown() destroys only the sessions channelz tracks (channelz
    // is off here): server.ts cuts grpc-js's sessions itself (cutSessions).
    for (const [e, h] of others) {
      assert.deepEqual(h.neverEnded, { status: undefined, rst: http2.constants.NGHTTP2_CANCEL, timedOut: false }, e);
      assert.deepEqual(h, g, e);
    }
  });
});
