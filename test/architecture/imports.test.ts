/**
 * Architecture checks over src/ (what grpc-js does with `madge -c`, and one level
 * up): no file import cycles; folders in layers that import only downwards, so no
 * folder cycles either (file-level checks miss a cycle through six folders made of
 * acyclic files); nothing imports the front ends or the composition root; ONNX
 * Runtime is imported only by worker-thread code.
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

/**
 * src/ folders, lowest first. A folder may import only folders in lower layers
 * (folders in one layer know nothing of each other); '.' is server.ts and main.ts.
 * A new folder must be placed here: the test fails for a folder it does not know.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'types'], // error catalogue; plain data types (tensors, requests, a run's tensors and timing)
  ['config'], // model config: parse, normalize, validate, freeze; launch flags
  ['codec', 'batching', 'repository', 'shm'], // wire formats; tensor-free batcher; reading the model repository; shared-memory regions (native/ addon)
  ['request', 'worker'], // the request model (prepare, pending item, batch assembly); worker-thread code
  ['executor'], // worker threads: pool, channel, who runs what
  ['registry'], // loaded models and their versions
  ['obs'], // logs, metrics, drift: observes the registry
  ['routing'], // traffic policies: canary, shadow, guardrails
  ['control'], // model control: load/unload, the repository watcher
  ['dataplane'], // the one request path both front ends call
  ['frontends'], // HTTP and gRPC adapters
  ['.'], // composition root and entry point
];

/** The folder a src-relative file or a bare package name belongs to ('' for packages). */
function folderOf(path: string): string {
  if (!path.endsWith('.ts')) return '';
  const slash = path.indexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash);
}

/** Folder -> the folders it imports, with one file edge as evidence for each. */
export function folderGraph(g: ReadonlyMap<string, readonly string[]>): Map<string, Map<string, string>> {
  const fg = new Map<string, Map<string, string>>();
  for (const [file, deps] of g) {
    const from = folderOf(file);
    const out = fg.get(from) ?? new Map<string, string>();
    fg.set(from, out);
    for (const d of deps) {
      const to = folderOf(d);
      if (to !== '' && to !== from && !out.has(to)) out.set(to, `${file} -> ${d}`);
    }
  }
  return fg;
}

/** Imports that do not go to a strictly lower layer, and folders no layer names. */
export function layerViolations(g: ReadonlyMap<string, readonly string[]>, layers: readonly (readonly string[])[]): string[] {
  const rank = new Map<string, number>();
  layers.forEach((l, i) => { for (const f of l) rank.set(f, i); });
  const bad: string[] = [];
  for (const [from, out] of folderGraph(g)) {
    const rf = rank.get(from);
    if (rf === undefined) { bad.push(`folder '${from}' is in no layer`); continue; }
    for (const [to, evidence] of out) {
      const rt = rank.get(to);
      if (rt === undefined) bad.push(`folder '${to}' is in no layer (${evidence})`);
      else if (rt >= rf) bad.push(`${from} (layer ${rf}) imports ${to} (layer ${rt}): ${evidence}`);
    }
  }
  return bad;
}

/** Folder-level cycles, each as 'a -> b -> ... -> a'. */
export function folderCycles(g: ReadonlyMap<string, readonly string[]>): string[] {
  const fg = folderGraph(g);
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, path: string[]) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') { cycles.push([...path.slice(path.indexOf(n)), n].join(' -> ')); return; }
    state.set(n, 'visiting');
    for (const d of fg.get(n)?.keys() ?? []) visit(d, [...path, n]);
    state.set(n, 'done');
  };
  for (const n of fg.keys()) visit(n, []);
  return cycles;
}

test('src/ folders import only lower layers', () => {
  assert.deepEqual(layerViolations(graph(), LAYERS), []);
});

test('src/ has no folder cycles', () => {
  assert.deepEqual(folderCycles(graph()), []);
});

test('the folder checks catch an upward import, a sideways import, a cycle and an unplaced folder', () => {
  const g = new Map(graph());
  g.set('registry/registry.ts', [...g.get('registry/registry.ts')!, 'dataplane/dataplane.ts']);
  g.set('codec/raw.ts', [...g.get('codec/raw.ts')!, 'batching/heap.ts']);
  g.set('novel/thing.ts', ['errors/errors.ts']);
  const bad = layerViolations(g, LAYERS);
  assert.ok(bad.some((b) => b.startsWith('registry (layer 5) imports dataplane (layer 9): registry/registry.ts -> dataplane/dataplane.ts')), bad.join('\n'));
  assert.ok(bad.some((b) => b.startsWith('codec (layer 2) imports batching (layer 2)')), bad.join('\n'));
  assert.ok(bad.includes("folder 'novel' is in no layer"), bad.join('\n'));
  assert.ok(folderCycles(g).some((c) => c.includes('registry') && c.includes('dataplane')), folderCycles(g).join('\n'));
});

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

test('only the executor knows the worker threads: nothing else imports worker/ or the pool', () => {
  // A model version asks executor/executor.ts to place, load, run and unload; thread
  // choice, the hand-off, spinning and solo sessions stay in executor/ and worker/.
  const offenders: string[] = [];
  for (const [file, deps] of graph()) {
    if (file.startsWith('executor/') || file.startsWith('worker/')) continue;
    for (const d of deps) {
      if (d.startsWith('worker/') || (d.startsWith('executor/') && d !== 'executor/executor.ts' && d !== 'executor/budget.ts')) offenders.push(`${file} -> ${d}`);
    }
  }
  assert.deepEqual(offenders, []);
});
