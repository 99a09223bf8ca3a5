/**
 * `--http-engine auto|net|node|uws` -> the engine that serves. `auto` (the default) is
 * `net` (node:net sockets + Node's llhttp parser, net.ts): node:http's parser and
 * refusals at about uWS's cost per request. `node` is node:http itself. Both answer
 * pipelined HTTP/1.1 requests in order, which uWebSockets.js cannot: uWS closes a connection, natively and without an answer, when a request
 * arrives on it while the previous answer is still pending ("denying async
 * pipelining", HttpContext.h; no API avoids it, and an inference is never answered
 * synchronously), so a client that pipelines POSTs would lose them. `uws` takes a
 * native uWebSockets.js (~1.7x less server CPU per request measured here) for
 * deployments whose clients never pipeline (behind a proxy or ingress); where none
 * loads that is a startup error, never a server answering through an imitation.
 */
import { StartupError } from '../../../errors/startup.js';
import type { HttpEngine, HttpEngineChoice } from './engine.js';
import { netEngine } from './net.js';
import { nodeEngine } from './node.js';
import { loadNativeUws, UWS_CANDIDATES, type UwsCandidate } from './uws-native.js';
import { uwsEngine } from './uws.js';

export interface EngineSelection {
  readonly engine: HttpEngine;
  /** What the startup log adds to the engine's name ('' for nothing). */
  readonly note: string;
}

/**
 * uSockets verifies a client certificate that is presented against its CA file but
 * lets a client that presents none through (measured: test/frontends/tls.test.ts), and
 * uWS offers no way to see the certificate in a handler; so mutual TLS is served by
 * the net engine (node:tls) or node:https.
 */
export const UWS_NO_MUTUAL_TLS = 'uWebSockets.js cannot require a client certificate (mutual TLS is served by the net and node engines)';

/** The log's word on each choice: what the other engine would change. */
export const AUTO_NOTE = 'the default; answers pipelined requests in order (--http-engine node: node:http; uws: native uWebSockets.js, but a request pipelined behind one still running closes the connection unanswered)';
export const UWS_NOTE = 'a request pipelined behind one still running closes its connection unanswered (uWS); clients that pipeline need the default engine';

/** `requireClientCert`: HTTP mutual TLS was asked for (--http-use-ssl-mutual). */
export function selectHttpEngine(choice: HttpEngineChoice, candidates: readonly UwsCandidate[] = UWS_CANDIDATES, requireClientCert = false): EngineSelection {
  if (choice === 'node') return { engine: nodeEngine, note: '' };
  if (choice === 'auto') return { engine: netEngine(), note: AUTO_NOTE };
  if (choice === 'net') return { engine: netEngine(), note: '' };
  if (requireClientCert) throw new StartupError(`--http-engine uws with --http-use-ssl-mutual: ${UWS_NO_MUTUAL_TLS}; use --http-engine auto, net or node`);
  const load = loadNativeUws(candidates);
  if (load.ok) return { engine: uwsEngine(load.native), note: UWS_NOTE };
  throw new StartupError(`--http-engine uws: no native uWebSockets.js loads on Node ${process.version} (${process.platform} ${process.arch}): ${load.reasons.join('; ')}`);
}
