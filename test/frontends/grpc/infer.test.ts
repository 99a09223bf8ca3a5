import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { joinBytes } from '../../../src/codec/raw.js';
import { Cancelled } from '../../../src/errors/errors.js';
import type { Params, Tensor } from '../../../src/types/tensor.js';
import {
  rawInferRequest, responseTensors, tensor, typedContents, typedInferRequest,
} from '../../helpers/grpc-client.js';
import { type Harness, f32, startHarness } from './fixtures.js';
import { Cancellation } from '../../../src/types/cancel.js';

const utf8 = new TextEncoder();

/** One tensor of every datatype that has a typed form, with awkward values. */
function allTypedTensors(): Tensor[] {
  return [
    tensor('b', 'BOOL', [3], new Uint8Array([1, 0, 1])),
    tensor('i8', 'INT8', [2], new Int8Array([-128, 127])),
    tensor('i16', 'INT16', [2], new Int16Array([-32768, 32767])),
    tensor('i32', 'INT32', [2, 1], new Int32Array([-2147483648, 2147483647])),
    tensor('i64', 'INT64', [2], new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n])),
    tensor('u8', 'UINT8', [2], new Uint8Array([0, 255])),
    tensor('u16', 'UINT16', [2], new Uint16Array([0, 65535])),
    tensor('u32', 'UINT32', [2], new Uint32Array([0, 4294967295])),
    tensor('u64', 'UINT64', [2], new BigUint64Array([0n, 2n ** 64n - 1n])),
    tensor('f32', 'FP32', [1, 3], new Float32Array([1.5, -0, Number.NEGATIVE_INFINITY])),
    tensor('f64', 'FP64', [2], new Float64Array([Math.PI, -1e300])),
    tensor('s', 'BYTES', [3], joinBytes([utf8.encode('héllo'), new Uint8Array(0), new Uint8Array([0, 255, 7])])),
  ];
}

function plain(t: Tensor): object {
  return { name: t.name, datatype: t.datatype, shape: t.shape, data: Buffer.from(t.data), parameters: t.parameters };
}

describe('gRPC front end: ModelInfer', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.close(); });

  it('raw and typed contents decode to identical Tensors, for every typed datatype', async () => {
    const inputs = allTypedTensors();
    await h.client.infer(rawInferRequest('echo', inputs));
    const fromRaw = h.dp.requests.at(-1)!;
    await h.client.infer(typedInferRequest('echo', inputs));
    const fromTyped = h.dp.requests.at(-1)!;
    assert.deepEqual(fromRaw.inputs.map(plain), inputs.map(plain));
    assert.deepEqual(fromTyped.inputs.map(plain), inputs.map(plain));
  });

  it('decodes request fields into the InferenceRequest', async () => {
    const res = await h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1, 4], f32(1, 2, 3, 4))], {
      version: '1', id: 'req-7',
      parameters: { sequence_id: 42, sequence_start: true, tag: 'x', ratio: 0.5, big: 2n ** 60n },
      outputs: [{ name: 'A', parameters: { classification: 2 } }],
    }));
    const req = h.dp.requests.at(-1)!;
    assert.equal(req.modelName, 'echo');
    assert.equal(req.modelVersion, '1');
    assert.equal(req.id, 'req-7');
    assert.deepEqual(req.parameters, { sequence_id: 42, sequence_start: true, tag: 'x', ratio: 0.5, big: 2n ** 60n });
    assert.deepEqual(req.outputs, [{ name: 'A', parameters: { classification: 2 } }]);
    assert.equal(req.deadline, Infinity);
    assert.ok(req.signal instanceof Cancellation);
    assert.equal(req.signal.aborted, false);
    // The response echoes id, version and parameters.
    assert.equal(res.id, 'req-7');
    assert.equal(res.model_name, 'echo');
    assert.equal(res.model_version, '1');
    assert.equal(res.parameters!.sequence_id!.int64_param, '42');
    assert.equal(res.parameters!.tag!.string_param, 'x');
    assert.equal(res.parameters!.ratio!.double_param, 0.5);
    assert.equal(res.parameters!.big!.int64_param, (2n ** 60n).toString());
    assert.equal(res.outputs[0]!.parameters!.classification!.int64_param, '2');
  });

  it('no requested outputs means undefined outputs in the request', async () => {
    await h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [4], f32(1, 2, 3, 4))]));
    assert.equal(h.dp.requests.at(-1)!.outputs, undefined);
  });

  it('fills raw_output_contents, one per output, in output order', async () => {
    const a = tensor('A', 'FP32', [2], f32(1, 2));
    const b = tensor('B', 'INT32', [3], new Int32Array([7, 8, 9]));
    const c = tensor('C', 'BYTES', [1], joinBytes([utf8.encode('zzz')]));
    const res = await h.client.infer(rawInferRequest('echo', [a, b, c], { outputs: ['C', 'A', 'B'] }));
    assert.deepEqual(res.outputs.map((o) => o.name), ['C', 'A', 'B']);
    assert.equal(res.raw_output_contents.length, 3);
    assert.deepEqual(res.outputs.map((o) => [o.datatype, o.shape]), [['BYTES', ['1']], ['FP32', ['2']], ['INT32', ['3']]]);
    // Outputs never carry typed contents: everything travels raw.
    for (const o of res.outputs) assert.equal(o.contents, null);
    assert.deepEqual(responseTensors(res).map(plain), [c, a, b].map(plain));
  });

  it('empty tensors travel as empty raw entries', async () => {
    const e = tensor('E', 'FP32', [0, 4], new Uint8Array(0));
    const res = await h.client.infer(rawInferRequest('echo', [e, tensor('A', 'FP32', [1], f32(3))]));
    assert.equal(res.raw_output_contents.length, 2);
    assert.equal(res.raw_output_contents[0]!.length, 0);
    assert.deepEqual(responseTensors(res).map(plain), [plain(e), plain(tensor('A', 'FP32', [1], f32(3)))]);
  });

  it('FP16 and BF16 are accepted raw', async () => {
    const hf = tensor('H', 'FP16', [2], new Uint16Array([0x3c00, 0xc000]));
    const bf = tensor('BF', 'BF16', [1], new Uint16Array([0x3f80]));
    const res = await h.client.infer(rawInferRequest('echo', [hf, bf]));
    assert.deepEqual(responseTensors(res).map(plain), [plain(hf), plain(bf)]);
  });

  it('mixing typed contents and raw_input_contents: INVALID_ARGUMENT with Triton\'s text', async () => {
    const req = rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1)), tensor('B', 'FP32', [1], f32(2))]);
    req.inputs[1]!.contents = { fp32_contents: [2] } as never;
    await assert.rejects(h.client.infer(req), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "contents field must not be specified when using raw_input_contents for 'B' for model 'echo'",
    });
  });

  it('raw_input_contents count must match the inputs', async () => {
    const two = [tensor('A', 'FP32', [1], f32(1)), tensor('B', 'FP32', [1], f32(2))];
    const fewer = rawInferRequest('echo', two);
    fewer.raw_input_contents.pop();
    await assert.rejects(h.client.infer(fewer), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "unable to find data for input tensor 'B' for model 'echo' in request.",
    });
    const more = rawInferRequest('echo', two);
    more.raw_input_contents.push(Buffer.from(f32(3)));
    await assert.rejects(h.client.infer(more), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "expected 2 raw_input_contents for model 'echo' (one per input), got 3",
    });
  });

  it('checks element counts against the shape', async () => {
    await assert.rejects(h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [2, 2], f32(1, 2, 3))])), {
      code: grpc.status.INVALID_ARGUMENT, details: "unexpected total byte size 12 for input 'A', expecting 16",
    });
    await assert.rejects(h.client.infer(typedInferRequest('echo', [tensor('A', 'FP32', [2, 2], f32(1, 2, 3))])), {
      code: grpc.status.INVALID_ARGUMENT, details: "unexpected total byte size 12 for input 'A', expecting 16",
    });
    const s = tensor('S', 'BYTES', [3], joinBytes([utf8.encode('a'), utf8.encode('b')]));
    await assert.rejects(h.client.infer(typedInferRequest('echo', [s])), {
      code: grpc.status.INVALID_ARGUMENT, details: "expected 3 string elements for inference input 'S', got 2",
    });
    await assert.rejects(h.client.infer(rawInferRequest('echo', [s])), {
      code: grpc.status.INVALID_ARGUMENT, details: "expected 3 string elements for inference input 'S', got 2",
    });
  });

  it('typed contents must use the field of the datatype, and only one', async () => {
    const req = typedInferRequest('echo', [tensor('A', 'FP32', [2], f32(1, 2))]);
    req.inputs[0]!.contents = { int_contents: [1, 2] } as never;
    await assert.rejects(h.client.infer(req), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "unexpected explicit tensor data for input tensor 'A' for model 'echo' of type 'INT32', expected datatype 'FP32'",
    });
    req.inputs[0]!.contents = { fp32_contents: [1, 2], fp64_contents: [1, 2] } as never;
    await assert.rejects(h.client.infer(req), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "unexpected explicit tensor data for input tensor 'A' for model 'echo', binary data was already supplied.",
    });
    const half = typedInferRequest('echo', [tensor('H', 'FP32', [1], f32(1))]);
    half.inputs[0]!.datatype = 'FP16';
    await assert.rejects(h.client.infer(half), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "unexpected explicit tensor data for input tensor 'H' for model 'echo' of type 'FP32', expected datatype 'FP16'",
    });
  });

  it('rejects unknown datatypes and reserved parameters', async () => {
    const req = rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))]);
    req.inputs[0]!.datatype = 'FLOAT';
    await assert.rejects(h.client.infer(req), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "invalid datatype 'FLOAT' for input 'A'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES, BF16",
    });
    await assert.rejects(h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { parameters: { triton_x: 1 } })), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "Parameter 'triton_x' is a reserved parameter and cannot be specified.",
    });
    await assert.rejects(h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { parameters: { triton_enable_empty_final_response: 1 } })), {
      code: grpc.status.INVALID_ARGUMENT,
      details: "invalid value type for 'triton_enable_empty_final_response' parameter, expected bool_param.",
    });
  });

  it('accepts and consumes triton_enable_empty_final_response (a bool), as Triton\'s gRPC front end does; passes headers through', async () => {
    for (const parameters of [{ triton_enable_empty_final_response: true }, { triton_enable_empty_final_response: false }, { headers: 'x' }] as Params[]) {
      const res = await h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { parameters }));
      assert.equal(res.outputs.length, 1);
    }
  });

  it('rejects negative dimensions', async () => {
    const req = rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))]);
    req.inputs[0]!.shape = ['-1'];
    await assert.rejects(h.client.infer(req), {
      code: grpc.status.INVALID_ARGUMENT, details: "'shape' of input 'A' must hold non-negative integers, got -1",
    });
  });

  it('shared memory parameters are checked while decoding', async () => {
    const req = rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))]);
    req.inputs[0]!.parameters = { shared_memory_region: { string_param: 'r0' } };
    req.raw_input_contents = [];
    await assert.rejects(h.client.infer(req), {
      code: grpc.status.INVALID_ARGUMENT, details: "input 'A' sets 'shared_memory_region' without 'shared_memory_byte_size'",
    });
    const out = rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], {
      outputs: [{ name: 'A', parameters: { shared_memory_byte_size: 4 } }],
    });
    await assert.rejects(h.client.infer(out), {
      code: grpc.status.INVALID_ARGUMENT, details: "output 'A' sets 'shared_memory_byte_size' without 'shared_memory_region'",
    });
  });

  it('unknown model: status 3 and Triton\'s message', async () => {
    await assert.rejects(h.client.infer(rawInferRequest('x', [tensor('A', 'FP32', [1], f32(1))])), {
      code: 3, details: "Request for unknown model: 'x' is not found",
    });
  });

  it('an unexpected error is INTERNAL with its message, logged once', async () => {
    const before = h.logged.length;
    await assert.rejects(h.client.infer(rawInferRequest('boom', [tensor('A', 'FP32', [1], f32(1))])), {
      code: grpc.status.INTERNAL, details: 'kaboom',
    });
    assert.equal(h.logged.length, before + 1);
  });

  it('passes the gRPC deadline into the request as performance.now() ms', async () => {
    const t0 = performance.now();
    await h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))]), { deadline: 5000 });
    const { deadline } = h.dp.requests.at(-1)!;
    assert.ok(Number.isFinite(deadline));
    // Within a generous margin of t0 + 5 s (grpc-js rounds the timeout it sends).
    assert.ok(deadline > t0 + 3500 && deadline < t0 + 5500, `deadline ${deadline - t0} ms after t0`);
  });

  it('an answered call never cancels its request signal (grpc-js emits cancelled when the stream closes)', async () => {
    await h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))]));
    const { signal } = h.dp.requests.at(-1)!;
    assert.ok(signal !== undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(signal.aborted, false);
  });

  it('client cancel aborts the request signal', async () => {
    const n = h.dp.requests.length;
    const { call, response } = h.client.unaryCall('ModelInfer', rawInferRequest('slow', [tensor('A', 'FP32', [1], f32(1))]));
    while (h.dp.requests.length === n || h.dp.aborted === undefined) await new Promise((r) => setTimeout(r, 5));
    call.cancel();
    await assert.rejects(response, { code: grpc.status.CANCELLED });
    const reason = await h.dp.aborted;
    assert.ok(reason instanceof Cancelled);
    assert.equal(h.dp.requests.at(-1)!.signal!.aborted, true);
    h.dp.aborted = undefined;
  });

  it('an expired deadline also aborts the request signal', async () => {
    const n = h.dp.requests.length;
    const response = h.client.infer(rawInferRequest('slow', [tensor('A', 'FP32', [1], f32(1))]), { deadline: 200 });
    await assert.rejects(response, { code: grpc.status.DEADLINE_EXCEEDED });
    assert.equal(h.dp.requests.length, n + 1);
    await h.dp.aborted;
    assert.equal(h.dp.requests.at(-1)!.signal!.aborted, true);
    h.dp.aborted = undefined;
  });

  it('a large (80 MB) raw input: over the default request limit RESOURCE_EXHAUSTED, accepted and returned under a raised one', async () => {
    const big = new Uint8Array(80 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
    const t = tensor('BIG', 'UINT8', [big.length], big);
    await assert.rejects(h.client.infer(rawInferRequest('echo', [t])), (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED);
    const roomy = await startHarness(96 * 1024 * 1024);
    try {
      const res = await roomy.client.infer(rawInferRequest('echo', [t]));
      assert.equal(res.raw_output_contents[0]!.length, big.length);
      assert.ok(Buffer.from(big).equals(res.raw_output_contents[0]!));
    } finally {
      await roomy.close();
    }
  });

  it('a malformed ModelInferRequest is INVALID_ARGUMENT with the reason (not INTERNAL), every class of damage', async () => {
    const raw = new grpc.Client(`127.0.0.1:${h.server.port}`, grpc.credentials.createInsecure());
    const send = (bytes: Buffer) => new Promise<grpc.ServiceError | undefined>((resolve) => {
      raw.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, bytes,
        (err: grpc.ServiceError | null) => resolve(err ?? undefined));
    });
    try {
      const cases: Array<[string, Buffer, RegExp]> = [
        ['length past the end', Buffer.from([0x0a, 0x05, 0x61]), /^malformed ModelInferRequest: length past the end$/],
        ['wire type 7', Buffer.from([0x0f]), /^malformed ModelInferRequest: wire type 7$/],
        ['truncated varint', Buffer.from([0x08, 0xff]), /^malformed ModelInferRequest: truncated varint$/],
        ['varint too long', Buffer.from([0x08, ...new Array(11).fill(0xff), 0x01]), /^malformed ModelInferRequest: varint too long$/],
      ];
      const before = h.dp.requests.length;
      const logged = h.logged.length;
      for (const [what, bytes, details] of cases) {
        const err = await send(bytes);
        assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, what);
        assert.match(err!.details, details, what);
      }
      assert.equal(h.dp.requests.length, before, 'nothing reached the data plane');
      assert.deepEqual(h.logged.slice(logged), [], 'a client error is not logged as a server error');
      // The server still serves.
      await h.client.infer(rawInferRequest('echo', [tensor('A', 'FP32', [1, 4], f32(1, 2, 3, 4))]));
    } finally {
      raw.close();
    }
  });
});

describe('gRPC front end: ModelStreamInfer', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.close(); });

  it('answers each request; errors travel in-band and the stream stays open', async () => {
    const s = h.client.stream();
    s.write(rawInferRequest('echo', [tensor('A', 'FP32', [2], f32(1, 2))], { id: 'one' }));
    const r1 = await s.next();
    assert.equal(r1.error_message, '');
    assert.equal(r1.infer_response!.id, 'one');
    assert.deepEqual(responseTensors(r1.infer_response!).map(plain), [plain(tensor('A', 'FP32', [2], f32(1, 2)))]);

    s.write(rawInferRequest('nope', [tensor('A', 'FP32', [1], f32(1))], { id: 'two', version: '3' }));
    const r2 = await s.next();
    assert.equal(r2.error_message, "Request for unknown model: 'nope' is not found");
    assert.equal(r2.infer_response!.id, 'two');
    assert.equal(r2.infer_response!.model_name, 'nope');
    assert.equal(r2.infer_response!.model_version, '3');

    // A decode error (mixing) is in-band too.
    const mixed = rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { id: 'three' });
    mixed.inputs[0]!.contents = { fp32_contents: [1] } as never;
    s.write(mixed);
    const r3 = await s.next();
    assert.equal(r3.error_message, "contents field must not be specified when using raw_input_contents for 'A' for model 'echo'");
    assert.equal(r3.infer_response!.id, 'three');

    // Still open: a good request after the errors works.
    s.write(typedInferRequest('echo', [tensor('B', 'INT64', [1], new BigInt64Array([5n]))], { id: 'four' }));
    const r4 = await s.next();
    assert.equal(r4.error_message, '');
    assert.equal(r4.infer_response!.id, 'four');
    assert.deepEqual(typedContents(responseTensors(r4.infer_response!)[0]!), { int64_contents: ['5'] });

    s.end();
    const status = await s.finished;
    assert.equal(status.code, grpc.status.OK);
  });

  it('ends only after pending requests are answered', async () => {
    const s = h.client.stream();
    s.write(rawInferRequest('slow', [tensor('A', 'FP32', [1], f32(1))], { id: 'slow', parameters: { delay_ms: 150 } }));
    s.write(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { id: 'fast' }));
    s.end();
    const ids = [(await s.next()).infer_response!.id, (await s.next()).infer_response!.id];
    // Written as each completes: the fast one overtakes the slow one.
    assert.deepEqual(ids, ['fast', 'slow']);
    assert.equal((await s.finished).code, grpc.status.OK);
  });

  it("the stream's deadline bounds every request on it, the later ones too", async () => {
    const t0 = performance.now();
    const s = h.client.stream({ deadline: 5000 });
    const n = h.dp.requests.length;
    s.write(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { id: 'a' }));
    await s.next();
    await new Promise((r) => setTimeout(r, 100));
    s.write(rawInferRequest('echo', [tensor('A', 'FP32', [1], f32(1))], { id: 'b' }));
    await s.next();
    s.end();
    assert.equal((await s.finished).code, grpc.status.OK);
    const [a, b] = h.dp.requests.slice(n);
    assert.ok(a!.deadline > t0 + 3500 && a!.deadline < t0 + 5500, `deadline ${a!.deadline - t0} ms after t0`);
    assert.equal(b!.deadline, a!.deadline);
    // Answered requests' shared signal stays quiet once the stream ended OK.
    assert.equal(a!.signal!.aborted, false);
  });

  it('cancelling the stream aborts its in-flight requests', async () => {
    h.dp.aborted = undefined;
    const s = h.client.stream();
    s.write(rawInferRequest('slow', [tensor('A', 'FP32', [1], f32(1))]));
    while (h.dp.aborted === undefined) await new Promise((r) => setTimeout(r, 5));
    s.cancel();
    assert.ok((await h.dp.aborted as object) instanceof Cancelled);
    assert.equal((await s.finished).code, grpc.status.CANCELLED);
  });
});
