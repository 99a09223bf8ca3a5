/**
 * Osprey as a dependency: a scratch package depends on this repository by path
 * (`npm install`, as a user would), imports `startServer` from 'osprey' (the package's
 * `exports`), starts a server on port 0, runs an inference and stops it; its
 * TypeScript sees the generated declarations; the `osprey` bin runs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const { version } = JSON.parse((await import('node:fs')).readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };

const CONSUMER = `
import { Writable } from 'node:stream';
import { startServer } from 'osprey';

const quiet = new Writable({ write(_c, _e, cb) { cb(); } });
const server = await startServer({
  httpPort: 0, grpcPort: 0, metricsPort: 0,
  httpAddress: '127.0.0.1', grpcAddress: '127.0.0.1', metricsAddress: '127.0.0.1',
}, quiet);
const data = Array.from({ length: 16 }, (_, i) => i);
const r = await fetch('http://127.0.0.1:' + server.httpPort + '/v2/models/simple/infer', {
  method: 'POST',
  body: JSON.stringify({ inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data },
  ] }),
});
const answer = await r.json();
await server.shutdown();
process.stdout.write(JSON.stringify({ status: r.status, outputs: answer.outputs.map((o) => o.data) }));
`;

const TYPED = `
import { startServer, type RunningServer, type ServerOptions } from 'osprey';

const options: Partial<ServerOptions> = { httpPort: 0, httpEngine: 'node', modelRepositories: ['/models'] };
const started: Promise<RunningServer> = startServer(options);
export const port: Promise<number> = started.then((s) => s.httpPort);
`;

describe('osprey as a dependency', () => {
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osprey-consumer-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({
      name: 'osprey-consumer', version: '1.0.0', private: true, type: 'module', dependencies: { osprey: `file:${REPO}` },
    }));
    writeFileSync(join(dir, 'consumer.mjs'), CONSUMER);
    writeFileSync(join(dir, 'typed.ts'), TYPED);
    // The repository is linked, not copied: its own node_modules and the dist/ this
    // suite runs from serve it, so there is nothing to fetch or build.
    await run('npm', ['install', '--no-audit', '--no-fund', '--offline', '--ignore-scripts'], { cwd: dir });
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("import { startServer } from 'osprey': start on port 0, one inference, stop", async () => {
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: dir, timeout: 120_000 });
    const data = Array.from({ length: 16 }, (_, i) => i);
    assert.deepEqual(JSON.parse(stdout), { status: 200, outputs: [data.map((v) => 2 * v), data.map(() => 0)] });
  });

  it('the generated type declarations type-check a consumer', async () => {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--skipLibCheck', '--typeRoots', join(REPO, 'node_modules', '@types'), '--types', 'node', 'typed.ts'], { cwd: dir });
    // And a wrong option type is caught (the check can fail).
    writeFileSync(join(dir, 'wrong.ts'), "import { startServer } from 'osprey';\nvoid startServer({ httpPort: 'eighty' });\n");
    await assert.rejects(run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--skipLibCheck', '--typeRoots', join(REPO, 'node_modules', '@types'), '--types', 'node', 'wrong.ts'], { cwd: dir }),
    (err: { stdout: string }) => /wrong\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/.test(err.stdout));
  });

  it('the osprey bin runs after install', async () => {
    const { stdout } = await run(join(dir, 'node_modules', '.bin', 'osprey'), ['--version'], { cwd: dir });
    assert.equal(stdout, `osprey ${version}\n`);
  });
});
