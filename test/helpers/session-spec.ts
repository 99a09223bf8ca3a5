/** A SessionSpec for a model under test/fixtures/models: what the executor's and pool's tests load. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionSpec } from '../../src/types/run.js';

/** test/fixtures/models, from the sources or the compiled dist/test. */
export const FIXTURE_MODELS = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));

export function fixtureSpec(model: string, key = `${model}/1`): SessionSpec {
  return {
    key,
    path: join(FIXTURE_MODELS, model, '1', 'model.onnx'),
    settings: {
      intraOpThreads: 1, interOpThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      enableMemArena: true, enableMemPattern: true, providers: ['cpu'], soloIntraOpThreads: 0,
    },
  };
}
