/**
 * RSS checks for the hardening tests: "memory given back" means RSS returns near
 * where it started once garbage is collected. Client and server share this
 * process, so the client's own buffers are dropped and collected before measuring.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** RSS after two full collections (and a turn of the event loop for finalizers). */
export async function settledRss(): Promise<number> {
  collect();
  await new Promise((r) => setTimeout(r, 50));
  collect();
  return process.memoryUsage().rss;
}
