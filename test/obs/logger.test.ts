/**
 * Request-log sampling: off by default, 1 in REQUEST_LOG_SAMPLE at verbose 1, every
 * request at verbose >= 2, following runtime changes; and the sampled lines a
 * real server writes.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { LogControl, REQUEST_LOG_SAMPLE, type LogSettings } from '../../src/obs/logger.js';
import { startTestServer } from '../helpers/server.js';

const BASE: LogSettings = { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default' };
const quiet = new Writable({ write(_c, _e, cb) { cb(); } });

function sampled(lc: LogControl, n: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (lc.sampleRequest()) k++;
  return k;
}

describe('request log sampling', () => {
  it('is off at verbose 0', () => {
    assert.equal(sampled(new LogControl(BASE, quiet), 1000), 0);
  });

  it('logs one request in REQUEST_LOG_SAMPLE at verbose 1 and all at verbose 2', () => {
    const lc = new LogControl({ ...BASE, log_verbose_level: 1 }, quiet);
    assert.equal(sampled(lc, REQUEST_LOG_SAMPLE * 5), 5);
    lc.update({ log_verbose_level: 2 });
    assert.equal(sampled(lc, 10), 10);
    lc.update({ log_verbose_level: 0 });
    assert.equal(sampled(lc, 10), 0);
    assert.equal(lc.logger.level, 'info');
  });
});

describe('request logs from a server', () => {
  it('writes one line per request at --log-verbose 2, with model, version and id', async () => {
    const s = await startTestServer({ logVerbose: 2, modelControlMode: 'explicit', loadModels: ['simple'] });
    try {
      const row = Array.from({ length: 16 }, (_, i) => i);
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${s.httpUrl}/v2/models/simple/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `req-${i}`, inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: row },
            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: row },
          ] }),
        });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
    } finally {
      await s.shutdown();
    }
    const lines = s.logs.filter((l) => l.msg === 'inference request');
    assert.deepEqual(lines.map((l) => [l.model, l.version, l.id, l.batch]), [['simple', 1, 'req-0', 1], ['simple', 1, 'req-1', 1], ['simple', 1, 'req-2', 1]]);
    for (const l of lines) assert.equal(typeof l.us, 'number');
    // Lifecycle lines: ready at load, unloaded at shutdown.
    assert.ok(s.logs.some((l) => l.msg === 'model version ready' && l.model === 'simple' && l.version === 1));
    assert.ok(s.logs.some((l) => l.msg === 'model version unloaded' && l.model === 'simple' && l.version === 1));
  });
});
