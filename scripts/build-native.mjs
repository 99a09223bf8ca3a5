#!/usr/bin/env node
/**
 * Builds native/ (the system shared-memory addon) with node-gyp: npm's bundled copy
 * (npm hands its path to every script as npm_config_node_gyp), against the headers
 * of the Node running this script. Skipped when the addon is newer than its sources.
 *
 * A machine that cannot build it (no compiler, no headers) gets one clear message and
 * exit status 0: the server then serves everything but system shared memory, whose
 * routes say why (src/shm/native.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const native = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const addon = join(native, 'build', 'Release', 'osprey_shm.node');
const sources = ['binding.gyp', 'shm.cc'].map((f) => join(native, f));

const mtime = (p) => statSync(p).mtimeMs;
if (existsSync(addon) && sources.every((s) => mtime(s) <= mtime(addon))) process.exit(0);

function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  // Run outside npm: npm's bundled copy next to this Node.
  for (const prefix of [dirname(dirname(process.execPath)), '/usr/local', '/usr']) {
    for (const p of [join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]) {
      if (existsSync(p)) return p;
    }
  }
  return undefined;
}

/** The installed headers of this Node (node-gyp would otherwise try to download them). */
function findNodeDir() {
  for (const dir of [dirname(dirname(process.execPath)), '/usr', '/usr/local']) {
    if (existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return undefined;
}

function giveUp(why) {
  process.stderr.write(`osprey: the system shared-memory addon (native/) was not built: ${why}.\n`
    + 'osprey: the server works without it, except system shared memory (register answers that it is unavailable).\n'
    + 'osprey: to build it: install g++, make and python3, then run `npm run build:native`.\n');
  process.exit(0);
}

const gyp = findNodeGyp();
if (gyp === undefined) giveUp('node-gyp was not found (it comes with npm)');
const args = [gyp, 'rebuild', '--directory', native];
const nodedir = findNodeDir();
if (nodedir !== undefined) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0 || !existsSync(addon)) {
  process.stderr.write(r.stdout.split('\n').slice(-15).join('\n') + r.stderr.split('\n').slice(-25).join('\n') + '\n');
  giveUp(r.error ? r.error.message : `node-gyp exited with status ${r.status}`);
}
