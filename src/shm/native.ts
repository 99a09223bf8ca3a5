/**
 * Loads the system shared-memory addon (native/, built by `npm run build:native`).
 * When it is missing or does not load, `shmAddon` is undefined and
 * `shmUnavailableReason` says why; the server serves everything else.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ShmAddon {
  /** Opens an existing POSIX shm object O_RDWR and maps [offset, offset+byteSize). Throws with `code` OPEN, RANGE or MAP. */
  open(key: string, offset: number, byteSize: number): ArrayBuffer;
  /** Detaches the ArrayBuffer and unmaps it now. */
  unmap(buffer: ArrayBuffer): boolean;
  /** Live mappings (tests check none leak). */
  mapped(): number;
}

const ADDON = join('native', 'build', 'Release', 'osprey_shm.node');

function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, ADDON))) return join(dir, ADDON);
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function load(): { addon?: ShmAddon; reason: string } {
  // What a machine without a compiler gets; set to check that path (tests do).
  if (process.env.OSPREY_NO_SHM_ADDON === '1') return { reason: 'OSPREY_NO_SHM_ADDON=1 (the addon is not loaded)' };
  const path = findAddon();
  if (path === undefined) return { reason: `${ADDON} was not built (run 'npm run build:native')` };
  try {
    return { addon: createRequire(import.meta.url)(path) as ShmAddon, reason: '' };
  } catch (err) {
    return { reason: `${ADDON} failed to load: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const loaded = load();
export const shmAddon: ShmAddon | undefined = loaded.addon;
export const shmUnavailableReason: string = loaded.reason;
