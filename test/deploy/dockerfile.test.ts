/**
 * The images, checked by what runs without a Docker engine: the files' properties
 * (multi-stage, pinned bases with glibc >= 2.38 and Node 24, non-root USER, no
 * curl | sh, OCI labels, a runtime stage holding only production files, the GPU image
 * fetching the CUDA providers at build time only, a .dockerignore that lets exactly
 * the copied paths in), and the runtime stage's command line and HEALTHCHECK probe
 * run against a server built from this tree, laid out as the image lays it out.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LOOPBACK_ARGS, type OspreyProcess, REPO_ROOT, spawnOsprey } from '../helpers/process.js';
import { type Dockerfile, type Stage, execForm, glibcOf, healthcheck, last, readDockerfile, substitute } from './dockerfile.js';

const FILES = ['Dockerfile', 'Dockerfile.gpu'] as const;
const read = (f: string): Dockerfile => readDockerfile(join(REPO_ROOT, f));
const runtimeOf = (d: Dockerfile): Stage => d.stages.at(-1)!;
/** Exactly what the runtime stage may hold, relative to WORKDIR. */
const RUNTIME_PATHS = ['package.json', 'node_modules', 'dist/src', 'proto', 'model-repository'];

function probe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const [cmd, ...rest] = args;
    const child = spawn(cmd === 'node' ? process.execPath : cmd!, rest, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

for (const file of FILES) {
  describe(file, () => {
    const d = read(file);
    const runtime = runtimeOf(d);

    test('multi-stage: a build stage with dev dependencies, a runtime stage named runtime', () => {
      assert.ok(d.stages.length >= 2, 'at least two stages');
      assert.equal(runtime.name, 'runtime');
      const build = d.stages.find((s) => s.name === 'build');
      assert.ok(build, 'a stage named build');
      const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
      assert.match(runs, /npm ci\b/);
      assert.match(runs, /tsc -p tsconfig\.json/);
      assert.match(runs, /npm prune --omit=dev/, 'dev dependencies pruned in the build stage, before the runtime copies node_modules');
      assert.match(runs, /g\+\+/, 'a C++ toolchain for the native addon (node-gyp)');
      assert.match(runs, /\*\/linux\/"\$arch"\) ;; \*\) rm -rf "\$d"/, 'other platforms\' onnxruntime-node binaries removed');
      assert.match(runs, /! -name "uws_linux_\$\{arch\}_\*\.node" -delete/, 'other platforms\' uWebSockets.js binaries removed');
    });

    test('bases pinned to exact versions (no latest, no floating tag); glibc >= 2.38; Node 24', () => {
      for (const s of d.stages) {
        const base = s.base;
        if (d.stages.some((o) => o.name === base)) continue; // FROM an earlier stage
        assert.doesNotMatch(base, /:latest\b|^[^:@]+$/, `${base} is not pinned`);
        assert.ok(/@sha256:[0-9a-f]{64}$/.test(base) || /:(\d+\.\d+\.\d+)[-a-z0-9.]*$/.test(base), `${base}: exact version tag or digest`);
      }
      assert.match(d.globalArgs.get('NODE_IMAGE') ?? '', /^node:24\.\d+\.\d+-/, 'Node 24');
      const glibc = glibcOf(runtime.base);
      assert.ok(glibc !== undefined && glibc >= 2.38, `${runtime.base}: glibc ${glibc} (uWebSockets.js needs >= 2.38 on Node 24)`);
    });

    test('no curl | sh, nothing fetched in the runtime stage', () => {
      assert.doesNotMatch(d.text, /(curl|wget)[^\n|]*\|\s*(ba|z|da)?sh\b/, 'no download piped into a shell');
      for (const i of runtime.instructions) {
        assert.doesNotMatch(i.args, /\b(curl|wget|apt-get|npm (ci|install)|install\.js)\b/, `runtime stage line ${i.line}: ${i.op} ${i.args}`);
      }
      assert.ok(!runtime.instructions.some((i) => i.op === 'ENV' && /ONNXRUNTIME_NODE_INSTALL/.test(i.args)), 'no install flag at run time');
    });

    test('non-root numeric USER, exec-form ENTRYPOINT, HEALTHCHECK through the probe script, OCI labels', () => {
      const user = last(runtime, 'USER');
      assert.ok(user, 'USER set');
      assert.match(user.args, /^[1-9][0-9]*(:[1-9][0-9]*)?$/, 'numeric non-root uid (runAsNonRoot can verify it)');
      const entry = execForm(last(runtime, 'ENTRYPOINT')!.args);
      assert.deepEqual(entry, ['node', 'dist/src/main.js']);
      const hc = healthcheck(last(runtime, 'HEALTHCHECK')!);
      assert.deepEqual(hc.command, ['node', 'dist/src/healthcheck.js', 'ready']);
      assert.ok(hc.options.has('start-period') && hc.options.has('timeout'));
      const labels = runtime.instructions.filter((i) => i.op === 'LABEL').map((i) => i.args).join(' ');
      for (const k of ['title', 'description', 'version', 'revision', 'licenses', 'base.name']) {
        assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${k.replace('.', '\\.')}=`), k);
      }
      assert.deepEqual(runtime.instructions.filter((i) => i.op === 'EXPOSE').map((i) => i.args), ['8000 8001 8002']);
    });

    test('the runtime stage holds production files only, laid out as this tree builds them', () => {
      const workdir = last(runtime, 'WORKDIR')!.args;
      const copies = runtime.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD');
      assert.ok(copies.every((i) => i.op === 'COPY'), 'COPY, never ADD (no remote URLs)');
      const dests = copies.map((i) => {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        const dest = parts.at(-1)!.replace(/^\.\//, '').replace(/\/$/, '');
        return dest.startsWith('/') ? dest : dest;
      }).filter((dest) => !dest.startsWith('/usr/local/bin'));
      assert.deepEqual(dests.sort(), [...RUNTIME_PATHS].sort(), `runtime copies into ${workdir}`);
      // The same relative layout exists in this tree after `npm run build`, which the
      // command-line test below relies on.
      for (const p of RUNTIME_PATHS) assert.ok(existsSync(join(REPO_ROOT, p)), p);
    });

    if (file === 'Dockerfile.gpu') {
      test('GPU: CUDA 12 providers installed at build time and checked; the runtime base carries CUDA 12 + cuDNN', () => {
        const build = d.stages.find((s) => s.name === 'build')!;
        const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
        assert.match(runs, /ONNXRUNTIME_NODE_INSTALL=cuda12 node \.\/script\/install\.js/);
        assert.match(runs, /libonnxruntime_providers_cuda\.so/, 'the build fails without the CUDA provider');
        assert.match(runtime.base, /^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/);
        // The installer the build runs exists in the onnxruntime-node we lock, and reads the variable.
        const installer = readFileSync(join(REPO_ROOT, 'node_modules/onnxruntime-node/script/install-utils.js'), 'utf8');
        assert.match(installer, /process\.env\.ONNXRUNTIME_NODE_INSTALL/);
      });
    } else {
      test('CPU: onnxruntime-node downloads nothing (npm may not run its installer; the CPU binary ships in the package)', () => {
        const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
        assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
        assert.doesNotMatch(d.text, /install\.js|ONNXRUNTIME_NODE_INSTALL=/);
        assert.ok(existsSync(join(REPO_ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1')), 'CPU binary in the package');
      });
    }
  });
}

test('.dockerignore lets in exactly what the Dockerfiles copy from the context', () => {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(lines[0], '*', 'deny by default');
  const allowed = new Set(lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
  const copied = new Set<string>();
  for (const f of FILES) {
    for (const s of read(f).stages) {
      for (const i of s.instructions) {
        if (i.op !== 'COPY' || /--from=/.test(i.args)) continue;
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) copied.add(src.replace(/^\.\//, '').replace(/\/$/, ''));
      }
    }
  }
  assert.deepEqual([...allowed].sort(), [...copied].sort());
  for (const p of copied) assert.ok(existsSync(join(REPO_ROOT, p)), `${p} exists`);
});

describe('the runtime command line and the HEALTHCHECK probe, run here', () => {
  let proc: OspreyProcess | undefined;
  after(() => proc?.kill());
  const d = read('Dockerfile');
  const runtime = runtimeOf(d);
  const command = [...execForm(last(runtime, 'ENTRYPOINT')!.args), ...execForm(last(runtime, 'CMD')!.args)];
  const hc = healthcheck(last(runtime, 'HEALTHCHECK')!);

  test('ENTRYPOINT + CMD start the server from the tree (bundled repository); the probe passes only when ready', async () => {
    // Before the server exists: the probe fails (connection refused on its port).
    const refused = await probe(hc.command, { OSPREY_HTTP_PORT: '1' });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^healthcheck: http:\/\/127\.0\.0\.1:1\/v2\/health\/ready: /);

    assert.equal(command[0], 'node');
    // Fixed ports 8000-8002 in the image; here ephemeral loopback ports are appended (later flags win).
    proc = await spawnOsprey([...command.slice(1), ...LOOPBACK_ARGS, '--shutdown-grace-secs=60'], { command: [process.execPath] });
    const port = String(proc.httpPort);
    assert.equal(proc.logs.filter((l) => l.msg === 'model version ready').length >= 1, true);
    const ok = await probe(hc.command, { OSPREY_HTTP_PORT: port });
    assert.deepEqual(ok, { code: 0, stderr: '' });
    assert.equal((await probe(['node', 'dist/src/healthcheck.js', 'live'], { OSPREY_HTTP_PORT: port })).code, 0);
    assert.equal((await probe(['node', 'dist/src/healthcheck.js', 'bogus'], { OSPREY_HTTP_PORT: port })).code, 2);

    // During the shutdown grace period the server is live but not ready: the probe fails.
    proc.child.kill('SIGTERM');
    await proc.waitLog('not ready; serving through the shutdown grace period', 10_000);
    const draining = await probe(hc.command, { OSPREY_HTTP_PORT: port });
    assert.equal(draining.code, 1);
    assert.match(draining.stderr, /answered 400/);
    assert.equal((await probe(['node', 'dist/src/healthcheck.js', 'live'], { OSPREY_HTTP_PORT: port })).code, 0);
    // A second signal skips the rest of the grace period.
    proc.child.kill('SIGTERM');
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
  });

  test('CMD fits docker stop: exit timeout under its 10 s SIGKILL', () => {
    const timeout = command.find((a) => a.startsWith('--exit-timeout-secs='));
    assert.ok(timeout && Number(timeout.split('=')[1]) < 10);
    assert.equal(substitute('${NODE_IMAGE}', d.globalArgs), d.globalArgs.get('NODE_IMAGE'));
  });
});
