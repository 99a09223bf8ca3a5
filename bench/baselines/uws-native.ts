/**
 * The protocol floor's uWebSockets.js: the first of the two native builds this package
 * installs (the same two Osprey installs, newest first) whose binary loads here. Each
 * package's own entry point is bypassed because uws-trufflesuite's falls back to a
 * JavaScript imitation when its binary does not fit, and a floor measured on that
 * would be no floor.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UwsApi from 'uws-btc-vision';

export type Uws = typeof UwsApi;

const require = createRequire(import.meta.url);

/** [npm alias, package root relative to its main file, binary folder relative to the root] */
const BUILDS: readonly (readonly [string, string, string])[] = [
  ['uws-btc-vision', '.', '.'],
  ['uws-trufflesuite', '..', 'binaries'],
];

/** The loaded native uWS, or why no build loads (one reason per build). */
export function loadUws(): { uws: Uws } | { reasons: string[] } {
  const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const reasons: string[] = [];
  for (const [alias, up, binaries] of BUILDS) {
    try {
      const uws = require(join(dirname(require.resolve(alias)), up, binaries, file)) as Uws;
      if (typeof uws.App === 'function') return { uws };
      reasons.push(`${alias}: ${file} has no App`);
    } catch (err) {
      reasons.push(`${alias}: ${String((err as Error).message).split('\n')[0]}`);
    }
  }
  return { reasons };
}
