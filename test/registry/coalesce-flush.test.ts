/**
 * The batcher's coalescing flush as a model version builds it (registry/model-version.ts):
 * after the event loop's current turn, unless the request is alone in the server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flushAfterIo } from '../../src/registry/model-version.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('flushAfterIo', () => {
  it('a request alone in the server is flushed at once, inside enqueue', () => {
    let flushed = 0;
    flushAfterIo(() => true)(() => { flushed++; });
    assert.equal(flushed, 1);
  });

  it('with other requests in the server the flush waits for the end of the turn', async () => {
    let flushed = 0;
    flushAfterIo(() => false)(() => { flushed++; });
    assert.equal(flushed, 0, 'not inside enqueue');
    await turn();
    assert.equal(flushed, 1);
  });
});
