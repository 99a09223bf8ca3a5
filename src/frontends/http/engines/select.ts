/**
 * `--http-engine auto|uws|node` -> the engine that serves. `auto` takes a native
 * uWebSockets.js where one loads and node:http otherwise; `uws` where none loads is a
 * startup error, never a server answering through an imitation.
 */
import { StartupError } from '../../../errors/startup.js';
import type { HttpEngine, HttpEngineChoice } from './engine.js';
import { nodeEngine } from './node.js';
import { loadNativeUws, UWS_CANDIDATES, type UwsCandidate } from './uws-native.js';
import { uwsEngine } from './uws.js';

export interface EngineSelection {
  readonly engine: HttpEngine;
  /** Why uWS was not taken (auto fell back to node:http); empty otherwise. */
  readonly uwsUnavailable: readonly string[];
}

/**
 * uSockets verifies a client certificate that is presented against its CA file but
 * lets a client that presents none through (measured: test/frontends/tls.test.ts), and
 * uWS offers no way to see the certificate in a handler; so mutual TLS is node:https.
 */
export const UWS_NO_MUTUAL_TLS = 'uWebSockets.js cannot require a client certificate (mutual TLS is served by node:https)';

/** `requireClientCert`: HTTP mutual TLS was asked for (--http-use-ssl-mutual). */
export function selectHttpEngine(choice: HttpEngineChoice, candidates: readonly UwsCandidate[] = UWS_CANDIDATES, requireClientCert = false): EngineSelection {
  if (choice === 'node') return { engine: nodeEngine, uwsUnavailable: [] };
  if (requireClientCert) {
    if (choice === 'uws') throw new StartupError(`--http-engine uws with --http-use-ssl-mutual: ${UWS_NO_MUTUAL_TLS}; use --http-engine node or auto`);
    return { engine: nodeEngine, uwsUnavailable: [UWS_NO_MUTUAL_TLS] };
  }
  const load = loadNativeUws(candidates);
  if (load.ok) return { engine: uwsEngine(load.native), uwsUnavailable: [] };
  if (choice === 'uws') {
    throw new StartupError(`--http-engine uws: no native uWebSockets.js loads on Node ${process.version} (${process.platform} ${process.arch}): ${load.reasons.join('; ')}`);
  }
  return { engine: nodeEngine, uwsUnavailable: load.reasons };
}
