/**
 * Files a model config names (model file, label files, warmup data, ...) must
 * stay inside the model's folder: a config comes from the repository or from a
 * load request's `config` override, and neither may make the server read a file
 * elsewhere on the host. Every such name is checked twice: by its spelling (no
 * absolute path, nothing that climbs out with `..`) and after symbolic links are
 * resolved (a link inside the folder that points out is refused too). The
 * caller then reads the resolved path, so the file read is the file checked.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { InvalidArgument } from '../errors/errors.js';

/** `rel` is relative and stays under its base by its spelling alone. */
export function staysInside(rel: string): boolean {
  if (rel === '' || rel.includes('\0') || isAbsolute(rel)) return false;
  const clean = normalize(rel);
  return clean !== '..' && !clean.startsWith(`..${sep}`) && !isAbsolute(clean);
}

function under(root: string, path: string): boolean {
  const r = relative(root, path);
  return r !== '' && r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r);
}

/**
 * The real path of `<modelDir>/<folder>/<name>` (`folder`: the version folder for
 * a model file, `warmup` for warmup data), or an InvalidArgument naming `what`
 * when it is outside the model folder, by spelling or through a link. `name` is
 * as the config wrote it: it must not be absolute on its own either.
 */
export async function resolveInside(modelDir: string, name: string, what: string, folder = ''): Promise<string> {
  const shown = name;
  const rel = join(folder, name);
  if (!staysInside(name) || !staysInside(rel)) {
    throw new InvalidArgument(`${what} '${shown}' is outside the model folder: paths in a model config must be relative and stay inside it`);
  }
  let root: string;
  let real: string;
  try {
    root = await realpath(modelDir);
    real = await realpath(join(modelDir, rel));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new InvalidArgument(`${what} '${shown}' does not exist in the model folder`);
    }
    throw err;
  }
  if (!under(root, real)) {
    throw new InvalidArgument(`${what} '${shown}' is outside the model folder: it is a symbolic link (or under one) that points out of it`);
  }
  return real;
}
