/**
 * The worker's sessions (src/worker/session.ts): CPU sessions run on onnxruntime-node's
 * binding synchronously, and must be indistinguishable from the public API's in what
 * they report and answer. Real ONNX Runtime on the bundled models (run here, in the
 * test process: nothing else shares this thread).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';

import { cpuOnly, createSession } from '../../src/worker/session.js';

const repo = join(import.meta.dirname, '..', '..', '..', 'model-repository');
const modelPath = (name: string) => join(repo, name, '1', 'model.onnx');
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] };

describe('worker sessions', () => {
  it('runs a CPU session synchronously on the binding, with the public API\'s answers bit for bit', async () => {
    const direct = await createSession(modelPath('tabular'), options);
    const pub = await ort.InferenceSession.create(modelPath('tabular'), options);
    try {
      assert.equal(direct.direct, true);
      const data = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i) * 3);
      const feeds = () => ({ features: new ort.Tensor('float32', data, [3, 64]) });
      const ran = direct.run(feeds(), ['score']);
      assert.ok(!(ran instanceof Promise), 'a direct run returns its outputs, not a promise');
      const want = await pub.run(feeds(), ['score']);
      const got = ran as Record<string, ort.Tensor>;
      assert.ok(got.score instanceof ort.Tensor);
      assert.deepEqual(got.score.dims, want.score!.dims);
      assert.equal(got.score.type, 'float32');
      assert.deepEqual(Buffer.from((got.score.data as Float32Array).buffer), Buffer.from((want.score!.data as Float32Array).buffer));
      // The same outputs asked again (the fetches object is reused), then a different set.
      assert.deepEqual((direct.run(feeds(), ['score']) as Record<string, ort.Tensor>).score!.dims, [3, 1]);
    } finally {
      await direct.release();
      await pub.release();
    }
  });

  it('reports the same signature as the public API, for every bundled model', async () => {
    for (const name of ['tabular', 'simple', 'accumulator', 'cnn', 'cnn_fp16', 'cnn_int8', 'string_identity']) {
      const direct = await createSession(modelPath(name), options);
      const pub = await ort.InferenceSession.create(modelPath(name), options);
      try {
        assert.deepEqual(direct.inputMetadata, pub.inputMetadata, `${name} inputs`);
        assert.deepEqual(direct.outputMetadata, pub.outputMetadata, `${name} outputs`);
      } finally {
        await direct.release();
        await pub.release();
      }
    }
  });

  it('refuses missing inputs and unknown outputs with onnxruntime-common\'s texts', async () => {
    const s = await createSession(modelPath('tabular'), options);
    try {
      assert.throws(() => s.run({}, ['score']), { message: "input 'features' is missing in 'feeds'." });
      const feeds = { features: new ort.Tensor('float32', new Float32Array(64), [1, 64]) };
      assert.throws(() => s.run(feeds, ['nope']), { message: "'fetches' contains invalid output name: nope." });
      // ONNX Runtime's own refusals come through as they are.
      assert.throws(() => s.run({ features: new ort.Tensor('float32', new Float32Array(64), [2, 32]) }, ['score']), /Got invalid dimensions for input: features/);
      assert.equal((s.run(feeds, ['score']) as Record<string, ort.Tensor>).score!.dims.length, 2, 'still runs after refusals');
    } finally {
      await s.release();
    }
  });

  it('fails to load what ONNX Runtime cannot load, with its message', async () => {
    await assert.rejects(createSession(join(repo, 'no-such-model.onnx'), options), /Load model .*no-such-model\.onnx failed/);
  });

  it('leaves sessions with other execution providers to the public API', () => {
    assert.equal(cpuOnly({}), true);
    assert.equal(cpuOnly({ executionProviders: ['cpu'] }), true);
    assert.equal(cpuOnly({ executionProviders: [{ name: 'cpu' }] }), true);
    assert.equal(cpuOnly({ executionProviders: ['cuda', 'cpu'] }), false);
    assert.equal(cpuOnly({ executionProviders: [{ name: 'cuda' }] }), false);
  });
});
