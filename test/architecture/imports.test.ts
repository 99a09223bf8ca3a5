/**
 * Architecture checks over src/ (what grpc-js does with `madge -c`): no import
 * cycles, nothing imports the front ends or the composition root, and ONNX Runtime
 * is imported only by worker-thread code.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1]!;
      // Type-only imports vanish at runtime but still count: a cycle of types is a design smell too.
      if (spec.startsWith('.')) deps.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
      else deps.push(spec);
    }
    g.set(relative(SRC, file), deps);
  }
  return g;
}

test('src/ has no import cycles', () => {
  const g = graph();
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, path: string[]) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') { cycles.push([...path.slice(path.indexOf(n)), n].join(' -> ')); return; }
    state.set(n, 'visiting');
    for (const d of g.get(n) ?? []) if (g.has(d)) visit(d, [...path, n]);
    state.set(n, 'done');
  };
  for (const n of g.keys()) visit(n, []);
  assert.deepEqual(cycles, []);
});

test('only the composition root imports the front ends, and only the entry points (main, index) import it', () => {
  const offenders: string[] = [];
  for (const [file, deps] of graph()) {
    for (const d of deps) {
      const intoFrontend = d.startsWith('frontends/') && !file.startsWith('frontends/') && file !== 'server.ts';
      const intoRoot = (d === 'server.ts' && file !== 'main.ts' && file !== 'index.ts') || (d === 'main.ts');
      if (intoFrontend || intoRoot) offenders.push(`${file} -> ${d}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('onnxruntime-node is imported only by worker-thread code', () => {
  const offenders = [...graph()].filter(([file, deps]) => deps.includes('onnxruntime-node') && !file.startsWith('worker/')).map(([f]) => f);
  assert.deepEqual(offenders, []);
});
