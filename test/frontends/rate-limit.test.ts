/**
 * The per-client token bucket (src/frontends/rate-limit.ts) with an injected clock,
 * the bound on its table, and the Content-Length rules of body.ts. The wire behaviour
 * (429, RESOURCE_EXHAUSTED, metrics) is tested against a real server in admission.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgument } from '../../src/errors/errors.js';
import { declaredLength } from '../../src/frontends/http/body.js';
import { RateLimiter } from '../../src/frontends/rate-limit.js';

test('a bucket allows its burst at once, then one request per 1/rate seconds', () => {
  const l = new RateLimiter({ rate: 10, burst: 3, keyHeader: '' });
  assert.deepEqual([0, 0, 0].map(() => l.take('a', 1000)), [0, 0, 0]);
  assert.ok(Math.abs(l.take('a', 1000) - 0.1) < 1e-9, 'waits 100 ms for the next token');
  assert.ok(Math.abs(l.take('a', 1050) - 0.05) < 1e-9, 'half a token after 50 ms');
  assert.equal(l.take('a', 1100), 0);
  assert.equal(l.take('b', 1100), 0, 'other clients have their own bucket');
  // A long quiet spell refills up to the burst, never beyond.
  assert.deepEqual([0, 0, 0, 0].map(() => l.take('a', 60_000) === 0), [true, true, true, false]);
});

test('the bucket table is bounded: the least recently seen client is dropped', () => {
  const l = new RateLimiter({ rate: 1, burst: 1, keyHeader: '', maxClients: 3 });
  for (let i = 0; i < 1000; i++) l.take(`c${i}`, 0);
  assert.equal(l.clients, 3);
});

test('client keys: header value or address, kept apart; long values hashed', () => {
  assert.equal(RateLimiter.key('', '10.0.0.1'), 'a:10.0.0.1');
  assert.equal(RateLimiter.key('10.0.0.1', '10.0.0.2'), 'k:10.0.0.1');
  const long = RateLimiter.key('x'.repeat(10_000), '');
  assert.ok(long.startsWith('h:') && long.length < 64, long);
  assert.notEqual(RateLimiter.key('x'.repeat(10_000), ''), RateLimiter.key('x'.repeat(9_999) + 'y', ''));
});

test('Content-Length: digits; identical repeats are one length; differing or malformed ones refused', () => {
  assert.equal(declaredLength(''), -1);
  assert.equal(declaredLength('0'), 0);
  assert.equal(declaredLength('1234'), 1234);
  assert.equal(declaredLength('42, 42'), 42);
  for (const [v, msg] of [['5, 7', 'conflicting Content-Length headers'], ['0x5', /invalid Content-Length/], ['-5', /invalid/], ['1e3', /invalid/], ['5,', /invalid/]] as const) {
    const r = declaredLength(v);
    assert.ok(r instanceof InvalidArgument, v);
    if (typeof msg === 'string') assert.equal(r.message, msg);
    else assert.match(r.message, msg);
  }
});
