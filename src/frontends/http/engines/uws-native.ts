/**
 * Finds a native uWebSockets.js build that loads on this machine.
 *
 * Two builds are installed (npm aliases), newest first:
 *   - uws-btc-vision   (uWS v20.57): Node 20, 22, 24, 25; needs glibc >= 2.38.
 *   - uws-trufflesuite (uWS v20.30): Node <= 20; loads on older glibc.
 * Each package's own entry point is bypassed on purpose: uws-trufflesuite's falls back
 * to a JavaScript imitation when its binary does not fit (and that imitation answers
 * every HTTP request 405, since its getMethod() is upper case). Requiring the `.node`
 * file for this platform and Node ABI ourselves means that what loads is the native
 * binary or nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UwsApi from 'uws-btc-vision';

export type Uws = typeof UwsApi;

export interface UwsCandidate {
  /** The dependency name (an npm alias) in package.json. */
  readonly alias: string;
  /** The package root, relative to the directory of its main file. */
  readonly root: string;
  /** Where the package keeps its binaries, relative to its root. */
  readonly binaryDir: string;
}

/** Preference order: the newest uWS first. */
export const UWS_CANDIDATES: readonly UwsCandidate[] = [
  { alias: 'uws-btc-vision', root: '.', binaryDir: '.' },
  { alias: 'uws-trufflesuite', root: '..', binaryDir: 'binaries' },
];

export interface NativeUws {
  readonly uws: Uws;
  /** For the log: `uws-btc-vision (@btc-vision/uwebsockets.js@20.57.0, uws_linux_x64_115.node)`. */
  readonly description: string;
}

export type UwsLoad = { ok: true; native: NativeUws } | { ok: false; reasons: string[] };

const require = createRequire(import.meta.url);

/** The binary name uWS.js builds use: uws_<platform>_<arch>_<node ABI>.node. */
export function binaryName(): string {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

function loadOne(c: UwsCandidate): NativeUws | string {
  let main: string;
  try {
    main = require.resolve(c.alias);
  } catch {
    return `${c.alias}: not installed`;
  }
  const root = join(dirname(main), c.root);
  const file = join(root, c.binaryDir, binaryName());
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  const label = `${c.alias} (${pkg.name}@${pkg.version}, ${binaryName()})`;
  if (!existsSync(file)) return `${label}: no binary for this platform and Node ${process.version}`;
  let uws: Uws;
  try {
    // uWS from v20.4x reads its header limit once, when the binary loads (4 KiB unless
    // set; past it: 431 and close, natively): node:http's limit, so both engines agree.
    process.env['UWS_HTTP_MAX_HEADERS_SIZE'] ??= String(http.maxHeaderSize);
    uws = require(file) as Uws;
  } catch (err) {
    // e.g. "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found": the first line says it.
    return `${label}: ${String((err as Error).message).split('\n')[0]}`;
  }
  if (typeof uws.App !== 'function' || typeof uws.us_listen_socket_close !== 'function') {
    return `${label}: the binary does not export uWS's App API`;
  }
  return { uws, description: label };
}

let cached: UwsLoad | undefined;

/**
 * The first candidate whose native binary loads, or every candidate's reason for not
 * loading. The default candidate list's answer is cached: a process loads one uWS.
 */
export function loadNativeUws(candidates: readonly UwsCandidate[] = UWS_CANDIDATES): UwsLoad {
  if (candidates === UWS_CANDIDATES && cached !== undefined) return cached;
  const reasons: string[] = [];
  let result: UwsLoad | undefined;
  for (const c of candidates) {
    const r = loadOne(c);
    if (typeof r !== 'string') {
      result = { ok: true, native: r };
      break;
    }
    reasons.push(r);
  }
  result ??= { ok: false, reasons };
  if (candidates === UWS_CANDIDATES) cached = result;
  return result;
}
