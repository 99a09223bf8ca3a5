/**
 * Compressed messages on one ModelStreamInfer stream are inflated one at a time, as
 * grpc-js's server does (it pauses the HTTP/2 stream per message and reads on only once
 * the message was handed over): a client sending many small gzip messages that each
 * inflate to megabytes must not make the server hold all of them inflated at once.
 * Seen from outside: with --max-inflight-request-bytes at three messages' worth, eight
 * such messages are all answered (in-band: they are not valid requests for the model)
 * and the stream ends OK on both engines, none refused for the budget. (Measured before
 * the fix, 12 messages of 60 MiB: grpc-js peak RSS 481 MB; the http2 engine inflated
 * all at once, 1.4 GB, and 40 of them failed the stream RESOURCE_EXHAUSTED.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { RequestBytesBudget } from '../../../src/frontends/request-bytes.js';
import type { ModelStreamInferResponseMsg } from '../../helpers/grpc-client.js';
import {
  ENGINES, type ProbeServer, SVC, frame, grpcMessage, grpcStatus, messages, rawCall, requestHeaders, sleep, startProbeServer,
} from './h2-probe-raw.js';

const MIB = 1 << 20;
const INFLATED = 8 * MIB;
const COUNT = 8;
const codec = loadPackageDefinition()[INFERENCE_SERVICE] as Record<string, { responseDeserialize(b: Buffer): ModelStreamInferResponseMsg }>;

/** A ModelInferRequest for 'echo' whose raw_input_contents holds one zero buffer: ~INFLATED bytes, ~8 KiB gzipped. */
function bigRequest(): Buffer {
  const head = Buffer.from([0x0a, 4, ...Buffer.from('echo'), 0x3a]);
  const len: number[] = [];
  for (let n = INFLATED; ; n = Math.floor(n / 128)) {
    if (n < 128) { len.push(n); break; }
    len.push((n & 127) | 128);
  }
  return gzipSync(Buffer.concat([head, Buffer.from(len), Buffer.alloc(INFLATED)]));
}

describe('h2-probe: compressed stream messages are inflated one at a time', { timeout: 120_000 }, () => {
  const servers: Array<{ s: ProbeServer; budget: RequestBytesBudget }> = [];
  const gz = bigRequest();
  before(async () => {
    for (const e of ENGINES) {
      const budget = new RequestBytesBudget(3 * INFLATED);
      servers.push({ s: await startProbeServer(e, { requestBytes: budget }), budget });
    }
  });
  after(async () => {
    for (const { s } of servers) await s.server.close();
  });

  for (const i of ENGINES.keys()) {
    it(`${ENGINES[i]}: ${COUNT} gzip messages of ${INFLATED / MIB} MiB each (${gz.length} bytes sent) within a budget of three: all answered`, async () => {
      const { s, budget } = servers[i]!;
      const seen = await rawCall(s.port, requestHeaders(`${SVC}/ModelStreamInfer`, { 'grpc-encoding': 'gzip' }), async (req) => {
        // One DATA frame each, as a client writing them one by one sends them.
        for (let k = 0; k < COUNT; k++) {
          req.write(frame(gz, 1));
          await sleep(5);
        }
        req.end();
      }, { timeoutMs: 60_000 });
      assert.equal(grpcStatus(seen), '0', `status ${grpcStatus(seen)} ${grpcMessage(seen)}`);
      const answers = messages(Buffer.from(seen.body, 'hex')).map((m) => codec['ModelStreamInfer']!.responseDeserialize(m));
      assert.equal(answers.length, COUNT);
      for (const a of answers) {
        assert.notEqual(a.error_message, '', 'not a valid request for echo: answered in-band');
        assert.doesNotMatch(a.error_message, /max-inflight-request-bytes/);
      }
      for (let k = 0; k < 100 && budget.held !== 0; k++) await sleep(20);
      assert.equal(budget.held, 0);
      assert.deepEqual(s.logged, []);
    });
  }
});
