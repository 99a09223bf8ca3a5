/**
 * The bundled cnn's FP16 and INT8 (QDQ) variants, served: their datatypes as the
 * configs say (FP16 in and out for cnn_fp16, over raw/binary only; FP32 for
 * cnn_int8), and their logits on fixed images within a stated tolerance of the FP32
 * reference that scripts/make_quantized_models.py computed with torch.
 *
 * Tolerances (absolute, on logits whose largest magnitude is ~0.4 for these images):
 *   cnn       1e-5   (the reference itself: ORT's FP32 against torch's)
 *   cnn_fp16  2e-3   (measured max 5.6e-4: FP16 weights and activations)
 *   cnn_int8  3e-2   (measured max 1.2e-2: int8 per-channel weights, uint8 activations)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeValues } from '../../src/codec/raw.js';
import { createGrpcClient, rawInferRequest, responseTensors, tensor, type GrpcTestClient } from '../helpers/grpc-client.js';
import { httpRequest, infer, replyJson } from '../helpers/http-client.js';
import { BUNDLED_REPO, startTestServer, type TestServer } from '../helpers/server.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/quantized/', import.meta.url));
const reference = JSON.parse(readFileSync(FIXTURES + 'reference.json', 'utf8')) as { shape: number[]; logits: number[][] };
const imageBytes = readFileSync(FIXTURES + 'images.f32');
const ROWS = reference.shape[0]!;
const ROW_ELEMS = 3 * 32 * 32;
const images = new Float32Array(imageBytes.buffer.slice(imageBytes.byteOffset, imageBytes.byteOffset + imageBytes.byteLength));

const TOLERANCE: Record<string, number> = { cnn: 1e-5, cnn_fp16: 2e-3, cnn_int8: 3e-2 };

/**
 * float32 -> IEEE half bits. The fixture images were rounded to FP16 when they were
 * made, so this is exact for them; it still rounds to nearest-even for other values.
 */
function toHalf(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) return sign | Math.round((mant | 0x800000) / 2 ** (14 - exp));
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/** Rows [from, from + n) of the fixture images in the model's input datatype, raw layout. */
function imageRaw(datatype: 'FP32' | 'FP16', from: number, n: number): Uint8Array {
  const rows = images.subarray(from * ROW_ELEMS, (from + n) * ROW_ELEMS);
  const typed = datatype === 'FP32' ? Float32Array.from(rows) : Uint16Array.from(rows, toHalf);
  return new Uint8Array(typed.buffer);
}

const inputType = (model: string): 'FP32' | 'FP16' => (model === 'cnn_fp16' ? 'FP16' : 'FP32');

/** Every logit of rows [from, from + n) within the model's tolerance of the reference. */
function assertLogits(model: string, datatype: string, raw: Uint8Array, from: number, n: number): void {
  assert.equal(datatype, inputType(model), `${model} output datatype`);
  const got = decodeValues(datatype, raw, 'logits') as number[];
  assert.equal(got.length, n * 10);
  let worst = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < 10; c++) worst = Math.max(worst, Math.abs(got[r * 10 + c]! - reference.logits[from + r]![c]!));
  }
  assert.ok(worst <= TOLERANCE[model]!, `${model}: max |logit - FP32 reference| = ${worst} > ${TOLERANCE[model]}`);
}

let server: TestServer;
let grpc: GrpcTestClient;
const MODELS = ['cnn', 'cnn_fp16', 'cnn_int8'] as const;

before(async () => {
  server = await startTestServer({
    modelRepositories: [BUNDLED_REPO], modelControlMode: 'explicit', loadModels: [...MODELS],
  });
  grpc = createGrpcClient(server.grpcAddress);
});

after(async () => {
  grpc?.close();
  await server?.shutdown();
});

describe('cnn variants: metadata', () => {
  for (const [model, dt] of [['cnn_fp16', 'FP16'], ['cnn_int8', 'FP32']] as const) {
    it(`${model} declares ${dt} input and output`, async () => {
      const r = await httpRequest(server.httpUrl, 'GET', `/v2/models/${model}`);
      assert.equal(r.status, 200);
      const meta = replyJson(r);
      assert.deepEqual(meta.inputs, [{ name: 'image', datatype: dt, shape: [-1, 3, 32, 32] }]);
      assert.deepEqual(meta.outputs, [{ name: 'logits', datatype: dt, shape: [-1, 10] }]);
    });
  }
});

describe('cnn variants: logits within tolerance of FP32', () => {
  for (const model of MODELS) {
    it(`${model} over HTTP binary, all ${ROWS} images in one request`, async () => {
      const dt = inputType(model);
      const { reply, result } = await infer(server.httpUrl, model, {
        inputs: [{ name: 'image', datatype: dt, shape: [ROWS, 3, 32, 32], raw: imageRaw(dt, 0, ROWS) }],
        outputs: [{ name: 'logits', parameters: { binary_data: true } }],
      });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.deepEqual(result!.json.outputs[0].shape, [ROWS, 10]);
      assertLogits(model, result!.json.outputs[0].datatype, result!.binary.get('logits')!, 0, ROWS);
    });

    it(`${model} over gRPC raw, one image per request, all at once (the batcher joins them)`, async () => {
      const dt = inputType(model);
      await Promise.all(Array.from({ length: ROWS }, async (_, row) => {
        const res = await grpc.infer(rawInferRequest(model, [tensor('image', dt, [1, 3, 32, 32], imageRaw(dt, row, 1))]));
        const [out] = responseTensors(res);
        assert.deepEqual(out!.shape, [1, 10]);
        assertLogits(model, out!.datatype, out!.data, row, 1);
      }));
    });
  }

  it('cnn_int8 over HTTP/JSON (FP32 travels in JSON)', async () => {
    const values = Array.from(images.subarray(0, ROW_ELEMS));
    const { reply, result } = await infer(server.httpUrl, 'cnn_int8', {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 32, 32], data: values }],
    });
    assert.equal(reply.status, 200, reply.body.toString());
    const out = result!.json.outputs[0];
    assertLogits('cnn_int8', out.datatype, new Uint8Array(Float32Array.from(out.data as number[]).buffer), 0, 1);
  });
});

describe('cnn_fp16: FP16 travels raw only, as in Triton', () => {
  it('JSON data for the FP16 input is refused with 400', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, 32, 32], datatype: 'FP16', data: new Array(ROW_ELEMS).fill(0) }] });
    const r = await httpRequest(server.httpUrl, 'POST', '/v2/models/cnn_fp16/infer', { body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.deepEqual(replyJson(r), { error: "datatype FP16 of input 'image' is not supported in JSON; send it as binary data" });
  });

  it('the FP16 output asked for as JSON is refused with 400, as Triton refuses it', async () => {
    const r = await infer(server.httpUrl, 'cnn_fp16', {
      inputs: [{ name: 'image', datatype: 'FP16', shape: [1, 3, 32, 32], raw: imageRaw('FP16', 0, 1) }],
      outputs: [{ name: 'logits', parameters: { binary_data: false } }],
    });
    assert.equal(r.reply.status, 400);
    assert.deepEqual(replyJson(r.reply), { error: 'sending FP16 data via JSON is not supported. Please use the binary data format for output' });
  });

  it('FP32 data for the FP16 input is refused (no silent conversion)', async () => {
    const r = await infer(server.httpUrl, 'cnn_fp16', {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 32, 32], raw: imageRaw('FP32', 0, 1) }],
    });
    assert.equal(r.reply.status, 400);
    assert.deepEqual(replyJson(r.reply), { error: "inference input 'image' data-type is 'FP32', but model 'cnn_fp16' expects 'FP16'" });
  });
});
