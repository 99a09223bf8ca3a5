/**
 * Read the model repository layout: `<repo>/<model>/[config.pbtxt]`,
 * `<repo>/<model>/<version>/<default_model_filename>`. Pure reads; the registry
 * decides what to do with what is found.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Model name -> folder, over every repository; the first repository wins a duplicate name. */
export async function listModels(repos: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const repo of repos) {
    const entries = await readdir(repo, { withFileTypes: true });
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (!found.has(e.name)) found.set(e.name, join(repo, e.name));
    }
  }
  return found;
}

/** Version folders: directories named by positive integers; anything else is ignored. */
export async function listVersions(modelDir: string): Promise<number[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  const out: number[] = [];
  for (const e of entries) {
    if (e.isDirectory() && /^[1-9][0-9]*$/.test(e.name)) out.push(Number(e.name));
  }
  return out.sort((a, b) => a - b);
}

export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
