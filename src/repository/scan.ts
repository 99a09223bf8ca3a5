/**
 * Read the model repository layout: `<repo>/<model>/[config.pbtxt]`,
 * `<repo>/<model>/<version>/<default_model_filename>`. Pure reads; the registry
 * decides what to do with what is found.
 */
import { readdirSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StartupError } from '../errors/startup.js';

/**
 * Every repository root must be a readable folder before anything starts: the
 * operator gets one line naming the path, not a stack trace from the first scan.
 */
export function checkRepositoryRoots(repos: readonly string[]): void {
  for (const repo of repos) {
    try {
      if (!statSync(repo).isDirectory()) throw new StartupError(`model repository '${repo}' is not a directory`);
      readdirSync(repo);
    } catch (err) {
      if (err instanceof StartupError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new StartupError(`model repository '${repo}' does not exist`);
      throw new StartupError(`model repository '${repo}' cannot be read (${code ?? (err as Error).message})`);
    }
  }
}

/** Model name -> folder, in name order, over every repository; the first repository wins a duplicate name. */
export async function listModels(repos: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const repo of repos) {
    const entries = await readdir(repo, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (!found.has(e.name)) found.set(e.name, join(repo, e.name));
    }
  }
  return found;
}

/**
 * listModels, synchronously: for the repository index, which answers from the
 * folders as they are when it is asked (a control call; one readdir per repository).
 */
export function listModelsSync(repos: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const repo of repos) {
    const entries = readdirSync(repo, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
    if (e.isDirectory() && isVersionName(e.name)) out.push(Number(e.name));
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

/** True when `path` was modified less than `ms` before `now` (or is gone: it is changing). */
export async function modifiedWithin(path: string, now: number, ms: number): Promise<boolean> {
  try {
    return now - (await stat(path)).mtimeMs < ms;
  } catch {
    return true;
  }
}

/** One file or folder under a tree, relative to its root ('' is the root itself). */
export interface TreeEntry {
  path: string;
  dir: boolean;
  size: number;
  mtimeMs: number;
}

/**
 * Every file and folder under `root`, the root included, sorted by path; [] when
 * `root` does not exist (or vanished while it was read: a folder being removed).
 * `skip` filters the root's own children by name (version folders, at the model
 * level). Symbolic links are followed, as ONNX Runtime would follow them.
 */
export async function statTree(root: string, skip?: (name: string, dir: boolean) => boolean): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    const abs = rel === '' ? root : join(root, rel);
    let st;
    try {
      st = await stat(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const dir = st.isDirectory();
    out.push({ path: rel, dir, size: dir ? 0 : st.size, mtimeMs: st.mtimeMs });
    // A depth limit guards against symlink loops.
    if (!dir || depth > 16) return;
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const name of names) {
      if (depth === 0 && skip !== undefined) {
        let childDir = false;
        try { childDir = (await stat(join(abs, name))).isDirectory(); } catch { continue; }
        if (skip(name, childDir)) continue;
      }
      await walk(rel === '' ? name : join(rel, name), depth + 1);
    }
  };
  await walk('', 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Names, sizes and modification times of a tree, as one string: equal strings mean
 * nothing was added, removed, resized or rewritten in between (mtime resolution
 * permitting). The root folder's own mtime is left out: it changes whenever an
 * entry is created or renamed inside it, and those changes show up as entries.
 */
export function fingerprint(entries: readonly TreeEntry[]): string {
  let s = '';
  for (const e of entries) {
    if (e.path === '') continue;
    s += e.dir ? `${e.path}/\n` : `${e.path}\t${e.size}\t${e.mtimeMs}\n`;
  }
  return s;
}

/** The newest modification time in a tree (folders included); 0 for an empty list. */
export function newestMtime(entries: readonly TreeEntry[]): number {
  let m = 0;
  for (const e of entries) if (e.mtimeMs > m) m = e.mtimeMs;
  return m;
}

/** Version folder names: positive integers without leading zeros. */
export function isVersionName(name: string): boolean {
  return /^[1-9][0-9]*$/.test(name);
}
