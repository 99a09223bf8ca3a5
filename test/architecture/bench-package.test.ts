/**
 * bench/ is a package of its own (bench/package.json): it reaches Osprey only as the
 * `osprey` package and the subpaths its package.json exports (e.g. `osprey/hpack`),
 * never through Osprey's sources, and the root build and tests do not compile it.
 * Read as text here, so `npm test` needs nothing installed in bench/.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BENCH = join(ROOT, 'bench');
const SKIP = new Set(['node_modules', 'dist', 'results']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (SKIP.has(e.name) ? [] : sources(join(dir, e.name))) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The `osprey/...` subpaths the root package.json exports. */
const EXPORTED = new Set(Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports)
  .filter((k) => k !== '.').map((k) => `osprey/${k.slice(2)}`));

const SPECIFIER = /(?:^\s*(?:import|export)\s[^'"]*?from\s+|\bimport\s*\(\s*|new URL\(\s*)['"]([^'"]+)['"]/gm;

/** The imports of one file (text) that leave the bench package: relative paths out of it, or an `osprey/...` subpath not exported. */
export function escapes(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1]!;
    if (spec.startsWith('.')) {
      const rel = relative(BENCH, resolve(dirname(file), spec));
      if (rel.startsWith('..') || rel.split(sep)[0] === '..') out.push(spec);
    } else if (spec.startsWith('osprey/') && !EXPORTED.has(spec)) {
      out.push(spec);
    }
  }
  return out;
}

test('no bench source reaches into Osprey past its package exports', () => {
  const files = sources(BENCH);
  assert.ok(files.length > 30, `found only ${files.length} bench sources`);
  const bad = files.flatMap((f) => escapes(f, readFileSync(f, 'utf8')).map((s) => `${relative(ROOT, f)}: ${s}`));
  assert.deepEqual(bad, []);
});

test('the check sees an import of the sources, a compiled-output URL and a deep package path', () => {
  const f = join(BENCH, 'harness', 'x.ts');
  assert.deepEqual(escapes(f, "import { WorkerPool } from '../../src/executor/pool.js';\n"), ['../../src/executor/pool.js']);
  assert.deepEqual(escapes(f, "const u = new URL('../../dist/src/main.js', import.meta.url);\n"), ['../../dist/src/main.js']);
  assert.deepEqual(escapes(f, "const m = await import('osprey/dist/src/server.js');\n"), ['osprey/dist/src/server.js']);
  assert.deepEqual(escapes(f, "import { startServer } from 'osprey';\nimport { arg } from './args.js';\n"), []);
  assert.deepEqual(escapes(f, "import { HpackDecoder } from 'osprey/hpack';\nimport p from 'osprey/package.json';\n"), []);
  assert.deepEqual(escapes(f, "import { huffmanDecode } from 'osprey/huffman';\n"), ['osprey/huffman']);
});

test('the root build does not compile bench/, and bench builds with its own tsconfig', () => {
  const root = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
  assert.deepEqual(root.include.filter((p) => p.startsWith('bench')), []);
  const pkg = JSON.parse(readFileSync(join(BENCH, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['osprey'], 'file:..');
  assert.ok(readFileSync(join(BENCH, 'tsconfig.json'), 'utf8').includes('"outDir": "dist"'));
});
