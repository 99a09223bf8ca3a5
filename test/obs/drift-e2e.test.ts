/**
 * Drift end to end: JSON requests to the bundled `tabular` model over HTTP, drift
 * gauges read from /metrics. The first 1024 rows become the reference; another
 * 1024 from the same distribution keep PSI under 0.1, 1024 shifted by one
 * standard deviation push it past 0.25 and move the mean.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { normals } from './random.js';
import { scrape } from './prom.js';

const TABULAR = { model: 'tabular', version: '1' };

describe('drift statistics over HTTP', () => {
  let s: TestServer;
  const next = normals(2024);

  async function send(requests: number, shift: number): Promise<void> {
    for (let i = 0; i < requests; i++) {
      const data = Array.from({ length: 64 * 64 }, () => Math.fround(next() + shift));
      const res = await fetch(`${s.httpUrl}/v2/models/tabular/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [64, 64], data }] }),
      });
      assert.equal(res.status, 200, await res.text());
    }
    // The first-window reference is built in a setImmediate job after the window fills.
    await new Promise((r) => setImmediate(r));
  }

  before(async () => {
    s = await startTestServer({ modelControlMode: 'explicit', loadModels: ['tabular'] });
  });
  after(() => s.shutdown());

  it('stays under the threshold for the same distribution and passes it when shifted', async () => {
    await send(16, 0);
    let m = await scrape(s.metricsUrl);
    const psiOf = () => m.find('osprey_drift_psi', { ...TABULAR, tensor: 'features' });
    assert.equal(psiOf().length, 16, 'one PSI per tracked feature (default cap 16 of 64)');
    assert.equal(m.value('osprey_drift_count', { ...TABULAR, tensor: 'features', feature: '0' }), 1024);

    await send(16, 0);
    m = await scrape(s.metricsUrl);
    for (const x of psiOf()) assert.ok(x.value < 0.1, `unshifted feature ${x.labels.feature}: psi ${x.value}`);
    for (const x of m.find('osprey_drift_mean', { ...TABULAR, tensor: 'features' })) assert.ok(Math.abs(x.value) < 0.15, `mean ${x.value}`);
    const score = m.value('osprey_drift_psi', { ...TABULAR, tensor: 'score', feature: '0' });
    assert.ok(score < 0.1, `output psi ${score}`);

    await send(16, 1);
    m = await scrape(s.metricsUrl);
    for (const x of psiOf()) assert.ok(x.value > 0.25, `shifted feature ${x.labels.feature}: psi ${x.value}`);
    for (const x of m.find('osprey_drift_mean', { ...TABULAR, tensor: 'features' })) assert.ok(x.value > 0.85, `mean ${x.value}`);
    assert.equal(m.find('osprey_drift_psi', { tensor: 'features', feature: '16' }).length, 0, 'features past the cap are not exported');
  });
});
