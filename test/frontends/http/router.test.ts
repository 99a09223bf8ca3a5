/** Unit tests of the path router and the Accept-Encoding negotiation (no sockets). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { negotiateCoding } from '../../../src/frontends/http/compress.js';
import { checkVersion, matchRoute } from '../../../src/frontends/http/router.js';
import { InvalidArgument } from '../../../src/errors/errors.js';

describe('matchRoute', () => {
  it('maps every Triton path', () => {
    const cases: Array<[string, object, string[]]> = [
      ['/v2', { kind: 'server-metadata' }, ['get']],
      ['/v2/health/live', { kind: 'health-live' }, ['get']],
      ['/v2/health/ready', { kind: 'health-ready' }, ['get']],
      ['/v2/models/stats', { kind: 'all-stats' }, ['get']],
      ['/v2/models/m', { kind: 'model-metadata', model: 'm', version: '' }, ['get']],
      ['/v2/models/m/versions/2', { kind: 'model-metadata', model: 'm', version: '2' }, ['get']],
      ['/v2/models/m/ready', { kind: 'model-ready', model: 'm', version: '' }, ['get']],
      ['/v2/models/m/versions/2/config', { kind: 'model-config', model: 'm', version: '2' }, ['get']],
      ['/v2/models/m/versions/2/infer', { kind: 'model-infer', model: 'm', version: '2' }, ['post']],
      ['/v2/models/m/stats', { kind: 'model-stats', model: 'm', version: '' }, ['get']],
      ['/v2/models/a%20b%3Ac/infer', { kind: 'model-infer', model: 'a b:c', version: '' }, ['post']],
      ['/v2/models/versions/ready', { kind: 'model-ready', model: 'versions', version: '' }, ['get']],
      ['/v2/repository/index', { kind: 'repo-index' }, ['post']],
      ['/v2/repository/models/m/load', { kind: 'repo-load', model: 'm' }, ['post']],
      ['/v2/repository/models/m/unload', { kind: 'repo-unload', model: 'm' }, ['post']],
      // Triton's paths with a repository name: matched, then refused by the handler (501).
      ['/v2/repository/r/index', { kind: 'repo-index', repository: 'r' }, ['post']],
      ['/v2/repository/r%2Fx/models/m/load', { kind: 'repo-load', model: 'm', repository: 'r/x' }, ['post']],
      ['/v2/repository/r/models/m/unload', { kind: 'repo-unload', model: 'm', repository: 'r' }, ['post']],
      ['/v2/logging', { kind: 'logging' }, ['get', 'post']],
      ['/v2/systemsharedmemory/status', { kind: 'shared-memory', memory: 'system', op: 'status', region: '' }, ['get']],
      ['/v2/systemsharedmemory/region/r1/status', { kind: 'shared-memory', memory: 'system', op: 'status', region: 'r1' }, ['get']],
      ['/v2/systemsharedmemory/unregister', { kind: 'shared-memory', memory: 'system', op: 'unregister', region: '' }, ['post']],
      ['/v2/cudasharedmemory/region/r/register', { kind: 'shared-memory', memory: 'cuda', op: 'register', region: 'r' }, ['post']],
      // tritonclient quotes region names as it quotes model names.
      ['/v2/systemsharedmemory/region/my%20region%3A1/register', { kind: 'shared-memory', memory: 'system', op: 'register', region: 'my region:1' }, ['post']],
      ['/v2/systemsharedmemory/region/a%2Fb/unregister', { kind: 'shared-memory', memory: 'system', op: 'unregister', region: 'a/b' }, ['post']],
    ];
    for (const [path, route, methods] of cases) {
      assert.deepEqual(matchRoute(path), { route, methods }, path);
    }
  });

  it('returns undefined for unknown paths', () => {
    for (const path of ['', '/', '/v2/', '/v3', '/v2/models', '/v2/models/', '/v2/models/m/', '/v2/models/m/versions',
      '/v2/models/m/versions//infer', '/v2/models/m/x', '/v2/repository/models/m', '/v2/systemsharedmemory/register',
      '/v2/repository//index', '/v2/repository//models/m/load', '/v2/repository/r/models//load', '/v2/repository/r/models/m/x']) {
      assert.equal(matchRoute(path), undefined, path);
    }
  });

  it('rejects bad percent-encoding and non-decimal versions', () => {
    assert.throws(() => matchRoute('/v2/models/%ZZ'), InvalidArgument);
    assert.throws(() => checkVersion('1.0'), /a version must be a decimal number/);
    assert.throws(() => checkVersion(' 1'), InvalidArgument);
    assert.doesNotThrow(() => checkVersion(''));
    assert.doesNotThrow(() => checkVersion('0012'));
  });
});

describe('negotiateCoding', () => {
  it('prefers gzip, honours q=0', () => {
    assert.equal(negotiateCoding(''), undefined);
    assert.equal(negotiateCoding('gzip, deflate'), 'gzip');
    assert.equal(negotiateCoding('deflate, gzip'), 'gzip');
    assert.equal(negotiateCoding('deflate'), 'deflate');
    assert.equal(negotiateCoding('gzip;q=0, deflate;q=0.5'), 'deflate');
    assert.equal(negotiateCoding('br, identity'), undefined);
    assert.equal(negotiateCoding('GZIP'), 'gzip');
    assert.equal(negotiateCoding('gzip;q=0.0'), undefined);
  });
});
