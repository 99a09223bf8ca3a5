#!/usr/bin/env node
// Runs the compiled tests one file at a time: `node scripts/test.mjs [dir|file ...]`
// (default dist/test/). Node 20's `node --test` takes folders and Node 22+ takes glob
// patterns instead, so the files are listed here and passed by name to whichever Node
// runs this script.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => {
    const p = join(path, name);
    return statSync(p).isDirectory() ? collect(p) : name.endsWith('.test.js') ? [p] : [];
  });
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['dist/test']).flatMap(collect);
if (files.length === 0) {
  process.stderr.write(`no test files under ${roots.join(' ')}\n`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal !== null ? 1 : 0)));
