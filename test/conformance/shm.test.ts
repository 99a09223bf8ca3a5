/**
 * Conformance: system shared memory over HTTP and gRPC, one case table for both
 * (shm-drivers.ts). The regions are POSIX shm objects under /dev/shm created by a
 * separate Node process, as a Triton client creates them; outputs are read back from
 * the objects after the server wrote them. Every error is checked with Triton's code
 * and text, and CUDA shared memory is answered as a CPU-only Triton does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { status as G } from '@grpc/grpc-js';
import { joinBytes, splitBytes } from '../../src/codec/raw.js';
import { shmAddon } from '../../src/shm/native.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { simpleInputs, simpleOutputs } from './cases.js';
import { GrpcShmDriver, HttpShmDriver, type Result, type ShmDriver } from './shm-drivers.js';

const SIZE = 4096;
const IN_KEY = `/osprey_conf_${process.pid}_in`;
const OUT_KEY = `/osprey_conf_${process.pid}_out`;
const DISABLED = "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.";

/** What goes where in the input object. */
const A = simpleInputs(1, 50).a;
const B = simpleInputs(1, 50).b;
const F = [0.5, -1.25, 3e10, -0, 1e-20, 7, 8.5, -9];
const STRINGS = ['hello', '', '日本語 🦅'];
const STRINGS_RAW = joinBytes(STRINGS.map((s) => Buffer.from(s)));
const AT = { a: 0, b: 64, f: 128, s: 256 } as const;

function inputImage(): Buffer {
  const buf = Buffer.alloc(SIZE);
  Buffer.from(new Int32Array(A).buffer).copy(buf, AT.a);
  Buffer.from(new Int32Array(B).buffer).copy(buf, AT.b);
  Buffer.from(new Float32Array(F).buffer).copy(buf, AT.f);
  Buffer.from(STRINGS_RAW).copy(buf, AT.s);
  return buf;
}

/** Another process creates the objects (as a client would), the input one filled. */
function createObjects(): void {
  const script = `const fs = require('node:fs');
fs.writeFileSync('/dev/shm${IN_KEY}', Buffer.from(process.argv[1], 'base64'));
fs.writeFileSync('/dev/shm${OUT_KEY}', Buffer.alloc(${SIZE}));`;
  const r = spawnSync(process.execPath, ['-e', script, inputImage().toString('base64')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function removeObjects(): void {
  for (const k of [IN_KEY, OUT_KEY]) rmSync(`/dev/shm${k}`, { force: true });
}

const outBytes = (offset: number, n: number): Buffer => readFileSync(`/dev/shm${OUT_KEY}`).subarray(offset, offset + n);

function ok<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected success, got ${r.code}: ${r.message}`);
  return r.value;
}

function fails(r: Result<unknown>, d: ShmDriver, http: number, grpc: number, message: string): void {
  assert.deepEqual(r.ok ? { ok: true } : { code: r.code, message: r.message }, { code: d.protocol === 'http' ? http : grpc, message });
}

const simpleShm = (extra: { id?: string; inA?: object; outA?: object } = {}) => ({
  model: 'simple', ...(extra.id !== undefined ? { id: extra.id } : {}),
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], region: 'in', offset: AT.a, byteSize: 64, ...extra.inA },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], region: 'in', offset: AT.b, byteSize: 64 },
  ],
  outputs: [
    { name: 'OUTPUT0', region: 'out', offset: 0, byteSize: 64, ...extra.outA },
    { name: 'OUTPUT1', region: 'out', offset: 64, byteSize: 64 },
  ],
});

let server: TestServer;
let gateOff: TestServer;

before(async () => {
  assert.ok(shmAddon !== undefined, 'native/ addon is built (npm run build:native)');
  createObjects();
  server = await startTestServer({ allowClientShm: true });
  gateOff = await startTestServer({ allowClientShm: false });
});

after(async () => {
  await server?.shutdown();
  await gateOff?.shutdown();
  removeObjects();
});

for (const protocol of ['http', 'grpc'] as const) {
  describe(`shared memory over ${protocol}`, () => {
    let d: ShmDriver;
    let off: ShmDriver;
    const make = (s: TestServer): ShmDriver => (protocol === 'http' ? new HttpShmDriver(s.httpUrl) : new GrpcShmDriver(s.grpcAddress));
    before(() => { d = make(server); off = make(gateOff); });
    after(() => { d.close(); off.close(); });

    it('unregister all with none registered succeeds (perf_analyzer --shared-memory system starts so); status is empty', async () => {
      ok(await d.unregister());
      assert.deepEqual(ok(await d.status()), []);
    });

    it('register, status of all and of one; the server metadata lists both extensions', async () => {
      ok(await d.register('in', IN_KEY, 0, SIZE));
      ok(await d.register('out', OUT_KEY, 0, SIZE));
      ok(await d.register('in_tail', IN_KEY.slice(1), 2048, 2048)); // key without the leading slash: same object
      assert.deepEqual(ok(await d.status()).sort((x, y) => x.name.localeCompare(y.name)), [
        { name: 'in', key: IN_KEY, offset: 0, byte_size: SIZE },
        { name: 'in_tail', key: IN_KEY.slice(1), offset: 2048, byte_size: 2048 },
        { name: 'out', key: OUT_KEY, offset: 0, byte_size: SIZE },
      ]);
      assert.deepEqual(ok(await d.status('out')), [{ name: 'out', key: OUT_KEY, offset: 0, byte_size: SIZE }]);
      fails(await d.status('nope'), d, 404, G.NOT_FOUND, "Unable to find system shared memory region: 'nope'");
      const ext = server.dataPlane.serverMetadata().extensions;
      assert.ok(ext.includes('system_shared_memory') && ext.includes('cuda_shared_memory'));
    });

    it('register errors: name taken, no such object, past its end, keys outside /dev/shm', async () => {
      fails(await d.register('in', IN_KEY, 0, 16), d, 400, G.ALREADY_EXISTS, "shared memory region 'in' already in manager");
      fails(await d.register('r', '/osprey_no_such_object', 0, 16), d, 500, G.INTERNAL, "Unable to open shared memory region: '/osprey_no_such_object'");
      fails(await d.register('r', IN_KEY, 0, SIZE + 1), d, 400, G.INVALID_ARGUMENT, "failed to register shared memory region 'r': invalid args");
      fails(await d.register('r', IN_KEY, 4000, 200), d, 400, G.INVALID_ARGUMENT, "failed to register shared memory region 'r': invalid args");
      for (const key of ['/', '//', '', '/a/b', '/../etc/passwd', '..', '/.', `/..${IN_KEY}`, 'triton_python_backend_shm_region_1', '/triton_python_backend_shm_region_1']) {
        fails(await d.register('r', key, 0, 16), d, 400, G.INVALID_ARGUMENT, `cannot register shared memory region 'r' - invalid shm key '${key}'`);
      }
      assert.equal(ok(await d.status()).length, 3, 'nothing registered by a failed call');
    });

    if (protocol === 'http') {
      it('HTTP register body without key or byte_size', async () => {
        const h = d as HttpShmDriver;
        fails(await h.registerBody('r', { byte_size: 16 }), d, 400, 0, "Shared memory register request has no 'key' field");
        fails(await h.registerBody('r', { key: IN_KEY }), d, 400, 0, "Shared memory register request has no 'byte_size' field");
      });
    }

    it('INT32: inputs read from a region, outputs written into one; the answer names them only', async () => {
      const got = ok(await d.infer(simpleShm({ id: `${protocol}-int32` })));
      assert.deepEqual(got, [
        { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], hasData: false },
        { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], hasData: false },
      ]);
      const want = simpleOutputs(1, 50);
      assert.deepEqual([...new Int32Array(new Uint8Array(outBytes(0, 64)).buffer)], want.sum.values);
      assert.deepEqual([...new Int32Array(new Uint8Array(outBytes(64, 64)).buffer)], want.diff.values);
    });

    it('one input in-band and one from shared memory (gRPC raw_input_contents counts only the in-band one)', async () => {
      const spec = simpleShm();
      spec.inputs[0] = { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], raw: new Uint8Array(new Int32Array(A).buffer) } as never;
      ok(await d.infer(spec));
      assert.deepEqual([...new Int32Array(new Uint8Array(outBytes(0, 64)).buffer)], simpleOutputs(1, 50).sum.values);
    });

    it('FP32 through identity_fp32_batched, bit for bit (-0 and 3e10 included)', async () => {
      const got = ok(await d.infer({
        model: 'identity_fp32_batched',
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 8], region: 'in', offset: AT.f, byteSize: 32 }],
        outputs: [{ name: 'OUTPUT0', region: 'out', offset: 128, byteSize: 32 }],
      }));
      assert.deepEqual(got, [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 8], hasData: false }]);
      assert.ok(outBytes(128, 32).equals(Buffer.from(new Float32Array(F).buffer)));
    });

    it('BYTES in the serialized form, in and out', async () => {
      const got = ok(await d.infer({
        model: 'string_identity',
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [3, 1], region: 'in', offset: AT.s, byteSize: STRINGS_RAW.byteLength }],
        outputs: [{ name: 'OUTPUT0', region: 'out', offset: 256, byteSize: 256 }],
      }));
      assert.deepEqual(got, [{ name: 'OUTPUT0', datatype: 'BYTES', shape: [3, 1], hasData: false }]);
      const back = outBytes(256, STRINGS_RAW.byteLength);
      assert.deepEqual(splitBytes(back, 'out').map((b) => Buffer.from(b).toString()), STRINGS);
    });

    it('infer errors: unknown region, offsets, byte size mismatch (with and without id), output region too small', async () => {
      fails(await d.infer(simpleShm({ inA: { region: 'ghost' } })), d, 404, G.NOT_FOUND, "Unable to find shared memory region: 'ghost'");
      fails(await d.infer(simpleShm({ outA: { region: 'ghost' } })), d, 404, G.NOT_FOUND, "Unable to find shared memory region: 'ghost'");
      fails(await d.infer(simpleShm({ inA: { offset: SIZE } })), d, 400, G.INVALID_ARGUMENT, "Invalid offset for shared memory region: 'in'");
      fails(await d.infer(simpleShm({ inA: { offset: SIZE - 32 } })), d, 400, G.INVALID_ARGUMENT, "Invalid offset + byte size for shared memory region: 'in'");
      fails(await d.infer(simpleShm({ id: 'req7', inA: { byteSize: 60 } })), d, 400, G.INVALID_ARGUMENT,
        "[request id: req7] input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60");
      fails(await d.infer(simpleShm({ inA: { byteSize: 68 } })), d, 400, G.INVALID_ARGUMENT,
        "[request id: <id_unknown>] input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 68");
      fails(await d.infer(simpleShm({ outA: { byteSize: 32 } })), d, 500, G.INTERNAL,
        "shared memory size specified with the request for output 'OUTPUT0' (32 bytes) should be at least 64 bytes to hold the results");
      // And the server still serves.
      ok(await d.infer(simpleShm()));
    });

    it('CUDA shared memory as a CPU-only Triton answers it', async () => {
      assert.deepEqual(ok(await d.cudaStatus()), []);
      fails(await d.cudaStatus('c0'), d, 404, G.NOT_FOUND, "Unable to find cuda shared memory region: 'c0'");
      fails(await d.cudaRegister('c0'), d, 400, G.INVALID_ARGUMENT, "failed to register CUDA shared memory region: 'c0', GPUs not supported");
      ok(await d.cudaUnregister());
      ok(await d.cudaUnregister('c0'));
    });

    it('a region unregistered while a request uses it stays mapped until the request is done', async () => {
      const mappedBefore = shmAddon!.mapped();
      ok(await d.register('slow_in', IN_KEY, 0, SIZE));
      ok(await d.register('slow_out', OUT_KEY, 1024, 1024));
      assert.equal(shmAddon!.mapped(), mappedBefore + 2);
      // slow runs ~150-300 ms: unregister both while it holds them.
      const pending = d.infer({
        model: 'slow',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], region: 'slow_in', offset: AT.f + 8, byteSize: 4 }],
        outputs: [{ name: 'y', region: 'slow_out', offset: 0, byteSize: 4 }],
      });
      await new Promise((r) => setTimeout(r, 30));
      ok(await d.unregister('slow_in'));
      ok(await d.unregister('slow_out'));
      assert.ok(ok(await d.status()).every((r) => !r.name.startsWith('slow')), 'the names are gone at once');
      ok(await pending);
      assert.ok(outBytes(1024, 4).equals(Buffer.from(new Float32Array([F[2]!]).buffer)), 'the answer was written through the unregistered mapping');
      assert.equal(shmAddon!.mapped(), mappedBefore, 'and unmapped once the request finished');
    });

    it('unregister one, an unknown one (no-op), then all: every mapping is released', async () => {
      ok(await d.unregister('in_tail'));
      ok(await d.unregister('never_registered'));
      assert.deepEqual(ok(await d.status()).map((r) => r.name).sort(), ['in', 'out']);
      ok(await d.unregister());
      assert.deepEqual(ok(await d.status()), []);
      assert.equal(shmAddon!.mapped(), 0);
      fails(await d.infer(simpleShm()), d, 404, G.NOT_FOUND, "Unable to find shared memory region: 'in'");
    });

    it(`with --allow-client-shm=false (the default): register and unregister refused, status answers`, async () => {
      fails(await off.register('in', IN_KEY, 0, SIZE), off, 501, G.UNIMPLEMENTED, DISABLED);
      fails(await off.unregister(), off, 501, G.UNIMPLEMENTED, DISABLED);
      fails(await off.unregister('in'), off, 501, G.UNIMPLEMENTED, DISABLED);
      assert.deepEqual(ok(await off.status()), []);
      assert.deepEqual(ok(await off.cudaStatus()), []);
      fails(await off.cudaUnregister(), off, 501, G.UNIMPLEMENTED, DISABLED);
      // gRPC refuses CUDA registration for want of GPUs even with the gate off; HTTP checks the gate first.
      if (protocol === 'http') fails(await off.cudaRegister('c0'), off, 501, 0, DISABLED);
      else fails(await off.cudaRegister('c0'), off, 0, G.INVALID_ARGUMENT, "failed to register CUDA shared memory region: 'c0', GPUs not supported");
    });
  });
}
