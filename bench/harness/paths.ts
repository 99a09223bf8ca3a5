/**
 * Where things are. Osprey is reached as the `osprey` package (a `file:..` dependency):
 * its command (package.json `bin`), its bundled model repository and its proto files
 * are part of what the package ships, so the bench needs nothing from its sources.
 * Results and bench-only models live in this package's own folder.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ospreyPackageJson = require.resolve('osprey/package.json');

/** The installed `osprey` package's folder. */
export const OSPREY_ROOT = dirname(ospreyPackageJson);

/** The `osprey` command's script: start it with `node OSPREY_MAIN --model-repository ...`. */
export const OSPREY_MAIN = join(OSPREY_ROOT,
  (JSON.parse(readFileSync(ospreyPackageJson, 'utf8')) as { bin: { osprey: string } }).bin.osprey);

/** The model repository the package ships (tabular, cnn, ...). */
export const OSPREY_REPOSITORY = join(OSPREY_ROOT, 'model-repository');

/** KServe's gRPC service definition as the package ships it. */
export const OSPREY_PROTO_DIR = join(OSPREY_ROOT, 'proto');

/** This package's folder (bench/), from its sources or from dist/ alike. */
export const BENCH_ROOT = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  // harness/ in the sources, dist/harness/ once compiled.
  return here.endsWith(`${join('dist', 'harness')}`) ? join(here, '..', '..') : join(here, '..');
})();

/** A bench program's path once compiled: benchScript('baselines/naive-server') -> bench/dist/baselines/naive-server.js. */
export function benchScript(name: string): string {
  return join(BENCH_ROOT, 'dist', `${name}.js`);
}
