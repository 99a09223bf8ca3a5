/** The HTTP engines this machine can run: net (the default) and node:http always, uWS where a native build loads. */
import type { HttpEngineName } from '../../src/frontends/http/engines/engine.js';
import { loadNativeUws } from '../../src/frontends/http/engines/uws-native.js';

export function availableEngines(): HttpEngineName[] {
  return loadNativeUws().ok ? ['net', 'uws', 'node'] : ['net', 'node'];
}
