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

export function selectHttpEngine(choice: HttpEngineChoice, candidates: readonly UwsCandidate[] = UWS_CANDIDATES): EngineSelection {
  if (choice === 'node') return { engine: nodeEngine, uwsUnavailable: [] };
  const load = loadNativeUws(candidates);
  if (load.ok) return { engine: uwsEngine(load.native), uwsUnavailable: [] };
  if (choice === 'uws') {
    throw new StartupError(`--http-engine uws: no native uWebSockets.js loads on Node ${process.version} (${process.platform} ${process.arch}): ${load.reasons.join('; ')}`);
  }
  return { engine: nodeEngine, uwsUnavailable: load.reasons };
}
