/**
 * Issue 16, item 3: TLS on the HTTP port (per engine: uWS's SSLApp, node:https) and
 * on the gRPC port, with tritonserver's flags. A throwaway CA, server and client
 * certificates (and a rogue CA with its own client certificate) are made with
 * `openssl` in a temp folder; the real server is started with TLS on both ports and
 * real clients talk to it. Under mutual TLS a client with no certificate, or with one
 * from another CA, must be refused on both ports while one with a good certificate is
 * served.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ServerOptions } from '../../src/config/cli.js';
import type { TlsFlags } from '../../src/config/tls.js';
import { availableEngines } from '../helpers/engines.js';
import { createGrpcClient, rawInferRequest, responseTensors } from '../helpers/grpc-client.js';
import { httpRequest, replyJson, type RequestOptions } from '../helpers/http-client.js';
import { MAIN_JS } from '../helpers/process.js';
import { BUNDLED_REPO, startTestServer, type TestServer } from '../helpers/server.js';

interface Pki {
  dir: string;
  file: (name: string) => string;
  pem: (name: string) => Buffer;
}

/** CA, server (SAN 127.0.0.1, localhost), client; a rogue CA and its client. EC keys: fast to make. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'osprey-tls-'));
  const file = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'rogue-ca']) ssl('req', '-x509', ...newKey, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=osprey test ${ca}`);
  const issue = (name: string, ca: string, ext: string): void => {
    writeFileSync(file(`${name}.ext`), ext);
    ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  issue('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  issue('rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  return { dir, file, pem: (name) => readFileSync(file(name)) };
}

const X = new Float32Array([1, 2, 3, 4]);

function tlsFlags(pki: Pki, mutual: boolean): TlsFlags {
  return { useSsl: true, mutual, serverCert: pki.file('server.crt'), serverKey: pki.file('server.key'), rootCert: pki.file('ca.crt') };
}

/** Only `scaler`: the test is about the transport, not the models. */
const SMALL: Partial<ServerOptions> = { modelRepositories: [BUNDLED_REPO], modelControlMode: 'explicit', loadModels: ['scaler'], allowMetrics: false, workerThreads: 1 };

async function httpsInfer(base: string, tls: RequestOptions['tls']): Promise<number[]> {
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [...X] }] });
  const reply = await httpRequest(base, 'POST', '/v2/models/scaler/infer', { body, headers: { 'content-type': 'application/json' }, tls });
  assert.equal(reply.status, 200, reply.body.toString());
  const json = replyJson<{ outputs: Array<{ name: string; data: number[] }> }>(reply);
  assert.equal(json.outputs[0]!.name, 'y');
  assert.equal(json.outputs[0]!.data.length, 4);
  return json.outputs[0]!.data;
}

async function grpcInfer(address: string, creds: grpc.ChannelCredentials): Promise<number[]> {
  const c = createGrpcClient(address, {}, creds);
  try {
    const res = await c.infer(rawInferRequest('scaler', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: new Uint8Array(X.buffer.slice(0)) }]), { deadline: 10_000 });
    const [y] = responseTensors(res);
    return [...new Float32Array(Uint8Array.from(y!.data).buffer)];
  } finally {
    c.close();
  }
}

/** The gRPC call must fail (UNAVAILABLE: the handshake is refused), never be answered. */
async function grpcRefused(address: string, creds: grpc.ChannelCredentials): Promise<void> {
  await assert.rejects(grpcInfer(address, creds), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAVAILABLE, err.message);
    return true;
  });
}

/** The HTTPS request must fail at the TLS layer, never get an HTTP answer. */
async function httpsRefused(base: string, tls: RequestOptions['tls']): Promise<void> {
  await assert.rejects(httpRequest(base, 'GET', '/v2/health/ready', { tls }), (err: NodeJS.ErrnoException) => {
    assert.ok(err.code !== undefined || /alert|certificate|socket hang up/i.test(err.message), `${err.code} ${err.message}`);
    return true;
  });
}

const pki = makePki();
after(() => rmSync(pki.dir, { recursive: true, force: true }));

for (const engine of availableEngines()) {
  describe(`TLS on both ports (HTTP engine ${engine})`, () => {
    let s: TestServer;
    let https: string;
    let expected: number[];
    before(async () => {
      s = await startTestServer({ ...SMALL, httpEngine: engine, httpTls: tlsFlags(pki, false), grpcTls: tlsFlags(pki, false) });
      https = `https://127.0.0.1:${s.httpPort}`;
    });
    after(async () => { await s?.shutdown(); });

    it('logs the scheme of each port', () => {
      const line = s.logs.find((l) => l.msg === 'osprey is serving');
      assert.equal(line?.httpTls, 'tls');
      assert.equal(line?.grpcTls, 'tls');
      assert.equal(line?.httpEngine, engine);
    });

    it('HTTPS: health and infer, the server certificate verified against the CA', async () => {
      const ready = await httpRequest(https, 'GET', '/v2/health/ready', { tls: { ca: pki.pem('ca.crt') } });
      assert.equal(ready.status, 200);
      expected = await httpsInfer(https, { ca: pki.pem('ca.crt') });
      assert.ok(expected.every((v) => Number.isFinite(v)));
    });

    it('gRPC over TLS (grpc.credentials.createSsl): infer, same answer as HTTPS', async () => {
      const got = await grpcInfer(s.grpcAddress, grpc.credentials.createSsl(pki.pem('ca.crt')));
      assert.deepEqual(got, expected);
    });

    it('plaintext clients get no answer on the TLS ports; a client that does not trust the CA refuses the server', async () => {
      await assert.rejects(httpRequest(`http://127.0.0.1:${s.httpPort}`, 'GET', '/v2/health/ready').then((r) => assert.fail(`plain HTTP answered ${r.status}`)),
        (err: Error) => !(err instanceof assert.AssertionError));
      await grpcRefused(s.grpcAddress, grpc.credentials.createInsecure());
      await httpsRefused(https, { ca: pki.pem('rogue-ca.crt') });
      await grpcRefused(s.grpcAddress, grpc.credentials.createSsl(pki.pem('rogue-ca.crt')));
    });
  });
}

/**
 * uSockets verifies a presented client certificate but lets a client with none through
 * (this suite caught it), so mutual TLS on HTTP is node:https: `auto` picks it and an
 * explicit `uws` is a startup error rather than a port that admits anyone.
 */
describe('mutual TLS on both ports (HTTP served by the net engine over node:tls under --http-engine auto)', () => {
  let s: TestServer;
  let https: string;
  before(async () => {
    s = await startTestServer({ ...SMALL, httpEngine: 'auto', httpTls: tlsFlags(pki, true), grpcTls: { ...tlsFlags(pki, true), useSsl: false } });
    https = `https://127.0.0.1:${s.httpPort}`;
  });
  after(async () => { await s?.shutdown(); });

  it('logs mutual TLS on both ports, HTTP on the net engine', () => {
    const line = s.logs.find((l) => l.msg === 'osprey is serving');
    assert.equal(line?.httpTls, 'mutual-tls');
    assert.equal(line?.grpcTls, 'mutual-tls');
    assert.equal(line?.httpEngine, 'net');
  });

  const good = (): RequestOptions['tls'] => ({ ca: pki.pem('ca.crt'), cert: pki.pem('client.crt'), key: pki.pem('client.key') });

  it('a client without a certificate is refused on both ports', async () => {
    await httpsRefused(https, { ca: pki.pem('ca.crt') });
    await grpcRefused(s.grpcAddress, grpc.credentials.createSsl(pki.pem('ca.crt')));
  });

  it('a client whose certificate comes from another CA is refused on both ports', async () => {
    const rogue = { ca: pki.pem('ca.crt'), cert: pki.pem('rogue-client.crt'), key: pki.pem('rogue-client.key') };
    await httpsRefused(https, rogue);
    await grpcRefused(s.grpcAddress, grpc.credentials.createSsl(rogue.ca, rogue.key, rogue.cert));
  });

  it('a client with a certificate from the CA is served on both ports, after the refusals', async () => {
    const t = good()!;
    const ready = await httpRequest(https, 'GET', '/v2/health/ready', { tls: t });
    assert.equal(ready.status, 200);
    const viaHttp = await httpsInfer(https, t);
    const viaGrpc = await grpcInfer(s.grpcAddress, grpc.credentials.createSsl(t.ca as Buffer, t.key as Buffer, t.cert as Buffer));
    assert.deepEqual(viaGrpc, viaHttp);
  });
});

describe('TLS startup errors: one line, exit 1, before anything starts', () => {
  const start = (...args: string[]) => spawnSync(process.execPath, [MAIN_JS, '--model-repository', BUNDLED_REPO, '--model-control-mode', 'explicit',
    '--http-port', '0', '--grpc-port', '0', '--allow-metrics', 'false', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('a certificate file that does not exist', () => {
    const missing = join(pki.dir, 'missing.crt');
    const r = start('--grpc-use-ssl', 'on', '--grpc-server-cert', missing, '--grpc-server-key', pki.file('server.key'));
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, `osprey: failed to start: --grpc-server-cert '${missing}': cannot read it (ENOENT)\n`);
  });

  it('a key that does not belong to the certificate', () => {
    const r = start('--http-use-ssl', '1', '--http-server-cert', pki.file('server.crt'), '--http-server-key', pki.file('client.key'));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^osprey: failed to start: --http-server-cert '.*server\.crt' with --http-server-key '.*client\.key': .*\n$/);
  });

  it('a file that is not PEM', () => {
    const r = start('--http-use-ssl-mutual', 'true', '--http-server-cert', pki.file('server.crt'), '--http-server-key', pki.file('server.key'), '--http-root-cert', pki.file('client.ext'));
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, `osprey: failed to start: --http-root-cert '${pki.file('client.ext')}': not a PEM file\n`);
  });

  it('--http-engine uws with HTTP mutual TLS: refused at startup, never a port that admits clients without a certificate', { skip: availableEngines().includes('uws') ? false : 'no native uWebSockets.js loads here' }, () => {
    const r = start('--http-engine', 'uws', '--http-use-ssl-mutual', 'on', '--http-server-cert', pki.file('server.crt'), '--http-server-key', pki.file('server.key'), '--http-root-cert', pki.file('ca.crt'));
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'osprey: failed to start: --http-engine uws with --http-use-ssl-mutual: uWebSockets.js cannot require a client certificate (mutual TLS is served by the net and node engines); use --http-engine auto, net or node\n');
  });

  it('a missing flag is a usage error (exit 2) that names it', () => {
    const r = start('--grpc-use-ssl-mutual', '--grpc-server-cert', pki.file('server.crt'), '--grpc-server-key', pki.file('server.key'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^osprey: --grpc-use-ssl-mutual requires --grpc-root-cert/);
  });
});
