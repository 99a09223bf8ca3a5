/**
 * Regression (issue 16, item 8): an undecodable message on ModelStreamInfer is
 * answered in-band like any other bad request and the stream stays open; the good
 * requests written around it are all answered. (grpc-js ends the whole stream with
 * INTERNAL when a deserializer throws.) Issue 12: unary and stream share the one
 * decode-error path, so the in-band text is exactly ModelInfer's status details for
 * the same bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';
import { rawInferRequest, type ModelStreamInferResponseMsg } from '../../helpers/grpc-client.js';
import { type Harness, f32, startHarness } from './fixtures.js';

const BAD_FRAMES: Buffer[] = [
  Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // model_name with a 4 GiB length
  Buffer.from([0x2a, 0x05, 0x0a, 0x01]), // an input cut short
  Buffer.from([0x0f]), // wire type 7 does not exist
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // a varint that never ends
];

describe('ModelStreamInfer: undecodable messages are answered in-band', () => {
  let h: Harness;
  let client: grpc.Client;
  before(async () => {
    h = await startHarness();
    client = new grpc.Client(`127.0.0.1:${h.server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await h.close();
  });

  const unary = (bytes: Buffer) => new Promise<grpc.ServiceError | undefined>((resolve) => {
    client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, bytes,
      (err: grpc.ServiceError | null) => resolve(err ?? undefined));
  });

  it('every good request around bad frames is answered, in-band errors for the bad ones, and the stream ends OK', async () => {
    const method = (loadPackageDefinition()[INFERENCE_SERVICE] as Record<string, MethodDefinition<object, ModelStreamInferResponseMsg>>)['ModelStreamInfer']!;
    // Writes raw bytes: the good requests serialized by the service's own codec.
    const call = client.makeBidiStreamRequest<Buffer, ModelStreamInferResponseMsg>(
      method.path, (b) => b, (b) => method.responseDeserialize(b));
    const answers: ModelStreamInferResponseMsg[] = [];
    call.on('data', (m: ModelStreamInferResponseMsg) => answers.push(m));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    const good = (id: string) => method.requestSerialize(rawInferRequest('echo', [{ name: 'A', datatype: 'FP32', shape: [2], data: f32(1, 2) }], { id }));
    const logged = h.logged.length;
    call.write(good('g0'));
    for (let i = 0; i < BAD_FRAMES.length; i++) {
      call.write(BAD_FRAMES[i]!);
      call.write(good(`g${i + 1}`));
    }
    call.end();
    const st = await status;
    assert.equal(st.code, grpc.status.OK, st.details);
    const ok = answers.filter((a) => a.error_message === '').map((a) => a.infer_response!.id).sort();
    assert.deepEqual(ok, ['g0', 'g1', 'g2', 'g3', 'g4']);
    const bad = answers.filter((a) => a.error_message !== '');
    assert.equal(bad.length, BAD_FRAMES.length);
    // The same bytes as a unary call: INVALID_ARGUMENT with the same text as in-band.
    const expected: string[] = [];
    for (const frame of BAD_FRAMES) {
      const err = await unary(frame);
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err!.details, /^malformed ModelInferRequest: /);
      expected.push(err!.details);
    }
    assert.deepEqual(bad.map((b) => b.error_message).sort(), expected.sort());
    for (const b of bad) assert.deepEqual([b.infer_response?.model_name, b.infer_response?.id], ['', '']);
    assert.deepEqual(h.logged.slice(logged), [], 'a client error is not logged as a server error');
  });
});
