/**
 * The HTTP conformance suite over native uWebSockets.js, where one loads on this
 * machine (Node 20 here; Node 20-25 on glibc >= 2.38). Elsewhere it is reported as
 * skipped with the reasons; test/frontends/http/engine.test.ts fails if uWS does not
 * load where a binary for this Node exists and should.
 */
import { test } from 'node:test';
import { loadNativeUws } from '../../src/frontends/http/engines/uws-native.js';
import { httpConformance } from './http-suite.js';

const load = loadNativeUws();
if (load.ok) httpConformance('uws');
else test('HTTP conformance over uWebSockets.js', { skip: `no native uWebSockets.js loads here: ${load.reasons.join('; ')}` }, () => {});
