/**
 * Regression (issue 16, item 2): restricted APIs (Triton's --http-restricted-api /
 * --grpc-restricted-protocol, plus Osprey's `traffic`) and the default that calls
 * changing state are accepted only from loopback until a restriction names a key.
 *
 * "Remote" here is real: the server binds 0.0.0.0 and the test connects through
 * this machine's first non-loopback IPv4 address, so the transport reports a
 * non-loopback peer. Without such an address the remote cases cannot run and are
 * reported as skipped, not passed.
 */
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { RestrictedCategory, Restriction } from '../../src/config/restricted.js';
import { isLoopback, sameSecret } from '../../src/frontends/access.js';
import { TRAFFIC_ADMIN_SERVICE, loadPackageDefinition } from '../../src/frontends/grpc/proto.js';
import { createGrpcClient, rawInferRequest, type GrpcTestClient } from '../helpers/grpc-client.js';
import { availableEngines } from '../helpers/engines.js';
import { settledRss } from '../helpers/memory.js';
import { FIXTURE_REPO, startTestServer, type TestServer } from '../helpers/server.js';
import { removeRepo, tempRepo } from '../helpers/repo-fixtures.js';

const REMOTE = Object.values(networkInterfaces()).flat().find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
const noRemote = REMOTE === undefined ? 'this machine has no non-loopback IPv4 address to connect through' : false;

const f32x4 = () => new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
const INFER_BODY = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });

async function call(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, { method, body, headers });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

function trafficAdmin(address: string): { set(req: object, md?: grpc.Metadata): Promise<any>; close(): void } {
  const root = grpc.loadPackageDefinition(loadPackageDefinition()) as any;
  let ctor: any = root;
  for (const part of TRAFFIC_ADMIN_SERVICE.split('.')) ctor = ctor[part];
  const admin = new ctor(address, grpc.credentials.createInsecure());
  return {
    set: (req, md = new grpc.Metadata()) => new Promise((resolve, reject) => {
      admin.SetTrafficPolicy(req, md, (err: grpc.ServiceError | null, res: any) => (err ? reject(err) : resolve(res)));
    }),
    close: () => admin.close(),
  };
}

const code = (c: grpc.status) => (e: grpc.ServiceError) => e.code === c;
const md = (pairs: Record<string, string>) => {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(pairs)) m.set(k, v);
  return m;
};

let repo: string;
before(async () => {
  repo = await tempRepo();
  await cp(join(FIXTURE_REPO, 'scaler'), join(repo, 'scaler'), { recursive: true });
});
after(async () => { await removeRepo(repo); });

function start(extra: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  return startTestServer({
    modelRepositories: [repo], modelControlMode: 'explicit', loadModels: ['scaler'],
    httpAddress: '0.0.0.0', grpcAddress: '0.0.0.0', allowMetrics: false, workerThreads: 1, ...extra,
  });
}

describe('access helpers', () => {
  it('loopback as transports report it', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '[::1]']) assert.equal(isLoopback(a), true, a);
    for (const a of ['192.0.2.2', '10.0.0.1', '::ffff:10.0.0.1', 'fd00::2', '', 'localhost', '128.0.0.1']) assert.equal(isLoopback(a), false, a);
  });
  it('secrets compare equal only when equal, whatever their lengths', () => {
    assert.equal(sameSecret('s3cret', 's3cret'), true);
    for (const g of ['', 's3cre', 's3cret ', 'S3cret', 's3cret'.repeat(1000)]) assert.equal(sameSecret(g, 's3cret'), false, g);
  });
});

describe('default: calls that change state only from loopback', { skip: noRemote }, () => {
  let s: TestServer;
  let local: string;
  let remote: string;
  let rc: GrpcTestClient;
  let lc: GrpcTestClient;
  let rssStart = 0;

  before(async () => {
    s = await start();
    local = `http://127.0.0.1:${s.httpPort}`;
    remote = `http://${REMOTE}:${s.httpPort}`;
    rc = createGrpcClient(`${REMOTE}:${s.grpcPort}`);
    lc = createGrpcClient(`127.0.0.1:${s.grpcPort}`);
    rssStart = await settledRss();
  });
  after(async () => {
    rc?.close();
    lc?.close();
    await s?.shutdown();
  });

  it('HTTP: a remote caller is refused every state change (403, says how to allow it); reads and inference stay open', async () => {
    for (const [method, path, category] of [
      ['POST', '/v2/repository/models/scaler/load', 'model-repository'],
      ['POST', '/v2/repository/models/scaler/unload', 'model-repository'],
      ['POST', '/v2/logging', 'logging'],
      ['PUT', '/v2/models/scaler/traffic', 'traffic'],
      ['POST', '/v2/models/scaler/traffic', 'traffic'],
      ['POST', '/v2/systemsharedmemory/region/r/register', 'shared-memory'],
      ['POST', '/v2/systemsharedmemory/unregister', 'shared-memory'],
      ['POST', '/v2/cudasharedmemory/region/r/unregister', 'shared-memory'],
    ] as const) {
      const r = await call(remote, method, path, '{}');
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.match(r.json.error, new RegExp(`accepted only from loopback clients by default; to allow it from other hosts, start the server with --http-restricted-api=${category}:<header>=<secret>`));
    }
    assert.equal((await call(remote, 'GET', '/v2/logging')).status, 200);
    assert.equal((await call(remote, 'POST', '/v2/repository/index', '{}')).status, 200);
    assert.equal((await call(remote, 'GET', '/v2/models/scaler/traffic')).status, 200);
    assert.equal((await call(remote, 'POST', '/v2/models/scaler/infer', INFER_BODY)).status, 200);
    // Nothing was unloaded.
    assert.equal((await call(local, 'GET', '/v2/models/scaler/ready')).status, 200);
  });

  it('HTTP: the same calls from loopback are served, each with an audit line', async () => {
    const before = s.logs.length;
    assert.equal((await call(local, 'POST', '/v2/repository/models/scaler/load')).status, 200);
    assert.equal((await call(local, 'POST', '/v2/logging', '{}')).status, 200);
    const audits = s.logs.slice(before).filter((l) => l['audit'] === true);
    assert.deepEqual(audits.map((a) => [a['protocol'], a['peer'], a['key'], a['call'], a['result']]), [
      ['http', '127.0.0.1', null, 'POST /v2/repository/models/scaler/load', '200'],
      ['http', '127.0.0.1', null, 'POST /v2/logging', '200'],
    ]);
  });

  it('gRPC: a remote caller is refused state changes (PERMISSION_DENIED); loopback is served and audited', async () => {
    await assert.rejects(rc.unary('RepositoryModelLoad', { model_name: 'scaler' }), (e: grpc.ServiceError) =>
      e.code === grpc.status.PERMISSION_DENIED && /--grpc-restricted-protocol=model-repository:<key>=<secret>/.test(e.details));
    await assert.rejects(rc.unary('RepositoryModelUnload', { model_name: 'scaler' }), code(grpc.status.PERMISSION_DENIED));
    await assert.rejects(rc.unary('LogSettings', { settings: { log_verbose_level: { uint32_param: 1 } } }), code(grpc.status.PERMISSION_DENIED));
    await assert.rejects(rc.unary('SystemSharedMemoryRegister', { name: 'r', key: '/k', byte_size: 8 }), code(grpc.status.PERMISSION_DENIED));
    await assert.rejects(rc.unary('CudaSharedMemoryUnregister', { name: '' }), code(grpc.status.PERMISSION_DENIED));
    const admin = trafficAdmin(`${REMOTE}:${s.grpcPort}`);
    try {
      await assert.rejects(admin.set({ model_name: 'scaler', policy_json: '{"routes":[{"version":1,"weight":1}]}' }), code(grpc.status.PERMISSION_DENIED));
    } finally {
      admin.close();
    }
    // Reads and inference stay open.
    await rc.unary('LogSettings', {});
    await rc.unary('RepositoryIndex', {});
    assert.equal((await rc.infer(rawInferRequest('scaler', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: f32x4() }]))).model_name, 'scaler');

    const before = s.logs.length;
    await lc.unary('RepositoryModelLoad', { model_name: 'scaler' });
    const audit = s.logs.slice(before).find((l) => l['audit'] === true)!;
    assert.deepEqual([audit['protocol'], audit['peer'], audit['key'], audit['call'], audit['result']],
      ['grpc', '127.0.0.1', null, 'inference.GRPCInferenceService/RepositoryModelLoad', 'OK']);
  });

  it('memory stays near where it started', async () => {
    const grown = await settledRss() - rssStart;
    assert.ok(grown < 150 * 1024 * 1024, `rss grew ${grown} bytes`);
  });
});

describe('restrictions: a key for a category, from anywhere', { skip: noRemote }, () => {
  let s: TestServer;
  let remote: string;
  let local: string;
  let rc: GrpcTestClient;

  before(async () => {
    const restrict = (pairs: Array<[RestrictedCategory, Restriction]>) => new Map(pairs);
    s = await start({
      httpRestrictedApi: restrict([['model-repository', { key: 'Admin-Key', value: 's3cret' }], ['traffic', { key: 'Admin-Key', value: 's3cret' }], ['inference', { key: 'infer-key', value: 'abc' }]]),
      grpcRestrictedProtocol: restrict([['model-repository', { key: 'admin-key', value: 's3cret' }], ['inference', { key: 'infer-key', value: 'abc' }]]),
    });
    remote = `http://${REMOTE}:${s.httpPort}`;
    local = `http://127.0.0.1:${s.httpPort}`;
    rc = createGrpcClient(`${REMOTE}:${s.grpcPort}`);
  });
  after(async () => {
    rc?.close();
    await s?.shutdown();
  });

  it('HTTP: without the header (from anywhere, before the method is checked) 403 with Triton\'s text; with it, served and audited with the key name', async () => {
    for (const base of [remote, local]) {
      for (const headers of [{}, { 'admin-key': 'wrong' }, { 'admin-key': 's3cret0' }] as Array<Record<string, string>>) {
        const r = await call(base, 'POST', '/v2/repository/models/scaler/load', undefined, headers);
        assert.equal(r.status, 403);
        assert.deepEqual(r.json, { error: "This API is restricted, expecting header 'Admin-Key'" });
      }
    }
    assert.equal((await call(remote, 'GET', '/v2/repository/models/scaler/load')).status, 403);
    assert.equal((await call(remote, 'POST', '/v2/models/scaler/infer', INFER_BODY)).status, 403);
    assert.deepEqual((await call(remote, 'POST', '/v2/models/scaler/infer', INFER_BODY)).json, { error: "This API is restricted, expecting header 'infer-key'" });
    assert.equal((await call(remote, 'POST', '/v2/models/scaler/infer', INFER_BODY, { 'infer-key': 'abc' })).status, 200);
    // Unrestricted categories keep their defaults: logging updates stay loopback-only.
    assert.equal((await call(remote, 'POST', '/v2/logging', '{}')).status, 403);
    assert.equal((await call(remote, 'GET', '/v2/health/ready')).status, 200);

    const before = s.logs.length;
    assert.equal((await call(remote, 'POST', '/v2/repository/models/scaler/load', undefined, { 'Admin-Key': 's3cret' })).status, 200);
    const audit = s.logs.slice(before).find((l) => l['audit'] === true)!;
    assert.deepEqual([audit['peer'], audit['key'], audit['result']], [REMOTE, 'Admin-Key', '200']);
    assert.equal(JSON.stringify(s.logs).includes('s3cret'), false, 'the secret is never logged');
  });

  it('gRPC: without the metadata UNAVAILABLE with Triton\'s text (unary and stream); with it, served', async () => {
    await assert.rejects(rc.unary('RepositoryModelLoad', { model_name: 'scaler' }), (e: grpc.ServiceError) =>
      e.code === grpc.status.UNAVAILABLE && e.details === "This protocol is restricted, expecting header 'triton-grpc-protocol-admin-key'");
    await rc.unary('RepositoryModelLoad', { model_name: 'scaler' }, { metadata: md({ 'triton-grpc-protocol-admin-key': 's3cret' }) });
    const req = rawInferRequest('scaler', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: f32x4() }]);
    await assert.rejects(rc.infer(req), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /triton-grpc-protocol-infer-key/.test(e.details));
    assert.equal((await rc.infer(req, { metadata: md({ 'triton-grpc-protocol-infer-key': 'abc' }) })).model_name, 'scaler');
    const st = rc.stream();
    st.write(req);
    const status = await st.finished;
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    const ok = rc.stream({ metadata: md({ 'triton-grpc-protocol-infer-key': 'abc' }) });
    ok.write(req);
    assert.equal((await ok.next()).error_message, '');
    ok.end();
    assert.equal((await ok.finished).code, grpc.status.OK);
  });
});

for (const engine of availableEngines()) {
  describe(`HTTP engine ${engine}: the peer address the engine reports decides`, { skip: noRemote }, () => {
    let s: TestServer;
    before(async () => { s = await start({ httpEngine: engine, allowGrpc: false }); });
    after(async () => { await s?.shutdown(); });

    it('remote refused, loopback served and audited with its address', async () => {
      assert.equal((await call(`http://${REMOTE}:${s.httpPort}`, 'POST', '/v2/repository/models/scaler/load')).status, 403);
      const before = s.logs.length;
      assert.equal((await call(`http://127.0.0.1:${s.httpPort}`, 'POST', '/v2/repository/models/scaler/load')).status, 200);
      const audit = s.logs.slice(before).find((l) => l['audit'] === true)!;
      assert.match(String(audit['peer']), /^(::ffff:)?127\.0\.0\.1$/);
    });
  });
}
