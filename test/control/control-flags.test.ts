import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OPTIONS, parseArgs } from '../../src/config/cli.js';
import { DEFAULT_SETTLE_MS } from '../../src/control/manager.js';

test('--model-control-mode watch and --repository-settle-ms', () => {
  const o = parseArgs(['--model-control-mode', 'watch', '--repository-poll-secs', '30', '--repository-settle-ms=250']);
  assert.equal(o.modelControlMode, 'watch');
  assert.equal(o.repositoryPollSecs, 30);
  assert.equal(o.repositorySettleMs, 250);
  assert.equal(parseArgs([]).repositorySettleMs, undefined, 'unset: the manager default applies');
  assert.equal(DEFAULT_OPTIONS.repositorySettleMs, undefined);
  assert.equal(DEFAULT_SETTLE_MS, 1000);
  assert.throws(() => parseArgs(['--repository-settle-ms', '-1']), { message: "invalid value '-1' for --repository-settle-ms: expected a non-negative integer" });
  assert.throws(() => parseArgs(['--model-control-mode', 'watch', '--load-model', 'a']), { message: '--load-model requires --model-control-mode=explicit' });
});
