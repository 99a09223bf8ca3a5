/**
 * HTTP engine selection with the real packages: which uWS build loads here, that what
 * loads is the native binary, `auto` falling back to node:http with the reasons, and
 * `uws` refusing to start where none loads.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { StartupError } from '../../../src/errors/startup.js';
import { selectHttpEngine } from '../../../src/frontends/http/engines/select.js';
import { binaryName, loadNativeUws, type UwsCandidate } from '../../../src/frontends/http/engines/uws-native.js';
import { startHttpServer } from '../../../src/frontends/http/server.js';
import { httpRequest } from '../../helpers/http-client.js';
import { FakeDataPlane } from './fake-dataplane.js';

const require = createRequire(import.meta.url);

/** glibc's version as [major, minor]; undefined off glibc. */
function glibc(): [number, number] | undefined {
  const v = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;
  if (v === undefined) return undefined;
  const [a, b] = v.split('.').map(Number);
  return [a!, b!];
}

/** Where one of the two bundled builds has a binary that must load (linux x64/arm64, glibc). */
function uwsExpected(): boolean {
  const g = glibc();
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64') || g === undefined) return false;
  const abi = process.versions.modules;
  const atLeast238 = g[0] > 2 || (g[0] === 2 && g[1] >= 38);
  // uws-trufflesuite: Node 20 (ABI 115); uws-btc-vision: ABI 115/127/137/141 on glibc >= 2.38.
  return abi === '115' || (atLeast238 && ['115', '127', '137', '141'].includes(abi));
}

describe('HTTP engine selection', () => {
  const load = loadNativeUws();

  it('a native uWS loads wherever a bundled binary fits this Node and glibc', () => {
    assert.equal(load.ok, uwsExpected(), load.ok ? load.native.description : load.reasons.join('; '));
  });

  it('what loads is the .node binary itself, never a JavaScript imitation', { skip: !load.ok && 'no native uWS here' }, () => {
    assert.ok(load.ok);
    const loaded = Object.keys(require.cache).filter((f) => f.endsWith(binaryName()));
    assert.equal(loaded.length, 1, `one ${binaryName()} in the module cache`);
    assert.ok(load.native.description.includes(binaryName()));
    // uws-trufflesuite's imitation lives in dist/; nothing of it was loaded.
    assert.deepEqual(Object.keys(require.cache).filter((f) => f.includes('uws-trufflesuite') && !f.endsWith('.node')), []);
  });

  it('auto (the default): the net engine whatever loads, and the log says why and what node and uws would change', () => {
    const s = selectHttpEngine('auto');
    assert.equal(s.engine.name, 'net');
    assert.match(s.note, /answers pipelined requests in order.*--http-engine node: node:http; uws: .*closes the connection unanswered/);
  });

  it('uws where a build loads: uWS, and the log says what it does to pipelined requests', { skip: !load.ok && 'no native uWS here' }, () => {
    const s = selectHttpEngine('uws');
    assert.equal(s.engine.name, 'uws');
    assert.match(s.note, /pipelined behind one still running closes its connection unanswered/);
  });

  it('node: node:http whatever loads; net: the net engine', () => {
    assert.equal(selectHttpEngine('node').engine.name, 'node');
    assert.equal(selectHttpEngine('net').engine.name, 'net');
  });

  it('uws where no build loads: a StartupError naming each reason', () => {
    const none: UwsCandidate[] = [
      { alias: 'uws-not-installed', root: '.', binaryDir: '.' },
      // A real package looked up in a folder without binaries: the "no binary" path.
      { alias: 'uws-trufflesuite', root: '..', binaryDir: 'docs' },
    ];
    assert.throws(() => selectHttpEngine('uws', none), (err: unknown) => {
      assert.ok(err instanceof StartupError);
      assert.equal(err.message, `--http-engine uws: no native uWebSockets.js loads on Node ${process.version} (${process.platform} ${process.arch}): `
        + 'uws-not-installed: not installed; '
        + `uws-trufflesuite (@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0, ${binaryName()}): no binary for this platform and Node ${process.version}`);
      return true;
    });
    // The reasons of the real candidates, where none loads, name both builds.
    if (!load.ok) {
      assert.equal(load.reasons.length, 2);
      assert.match(load.reasons[0]!, /^uws-btc-vision \(@btc-vision\/uwebsockets\.js@20\.57\.0, uws_/);
      assert.match(load.reasons[1]!, /^uws-trufflesuite \(@trufflesuite\/uws-js-unofficial@20\.30\.0-unofficial\.0, uws_/);
    }
  });

  it('startHttpServer reports the engine that serves, and it answers', async () => {
    for (const engine of load.ok ? ['auto', 'net', 'node', 'uws'] as const : ['auto', 'net', 'node'] as const) {
      const server = await startHttpServer(new FakeDataPlane(), { host: '127.0.0.1', port: 0, maxBodyBytes: 1024, engine });
      try {
        assert.equal(server.engine.name, engine === 'auto' ? 'net' : engine);
        const r = await httpRequest(`http://127.0.0.1:${server.port}`, 'GET', '/v2/health/live');
        assert.equal(r.status, 200);
      } finally {
        await server.close();
      }
    }
  });
});
