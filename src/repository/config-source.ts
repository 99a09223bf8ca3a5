/**
 * Where a model's config comes from for one load: config.pbtxt in its folder, or
 * the load API's JSON `config` override (with `file:` contents written to a private
 * folder, as Triton does). Parsed once per load; completed per version against
 * that version's ONNX signature.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fromJsonConfig, fromPbtxt } from '../config/from-pbtxt.js';
import type { ModelConfig, OnnxModelInfo, PartialModelConfig } from '../config/model-config.js';
import { completeInstanceGroups, finishConfig, instanceCount, modelFileName } from '../config/normalize.js';
import { InvalidArgument, ModelPollFailed } from '../errors/errors.js';
import { staysInside } from './contained.js';
import { fingerprint, readOptional, statTree } from './scan.js';
import type { LoadOptions } from '../types/inference.js';

export interface ConfigSource {
  /** Folder holding the version folders (a private copy when files were uploaded). */
  dir: string;
  partial: PartialModelConfig;
  text: string | undefined;
  path: string | undefined;
  json: string | undefined;
  /** `dir` is a private folder holding `file:` uploads (removed once nothing uses it). */
  uploaded: boolean;
  /**
   * Changes whenever the config does, or a model-level file it names (labels,
   * warmup data): a changed stamp reloads every version.
   */
  stamp: string;
  /** The model file in each version folder (default_model_filename completed). */
  modelFile: string;
  /** Model instances, as the frozen config's instance_group will count them: a worker thread each. */
  instances: number;
}

/** Sizes and mtimes of the label files and warmup data a config refers to. */
async function auxFingerprint(dir: string, partial: PartialModelConfig): Promise<string> {
  let s = fingerprint(await statTree(join(dir, 'warmup')));
  for (const o of partial.output ?? []) {
    // A name that climbs out is refused at load; never walk what it points at.
    if (o?.label_filename && staysInside(o.label_filename)) s += fingerprint(await statTree(join(dir, o.label_filename))) + `${o.label_filename}\n`;
  }
  return s;
}

async function writeUploadedFiles(name: string, files: ReadonlyMap<string, Uint8Array>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `osprey-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
  try {
    for (const [rel, bytes] of files) {
      if (!staysInside(rel)) throw new InvalidArgument(`invalid file path '${rel}' in load request for model '${name}'`);
      const path = join(root, normalize(rel));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
    }
  } catch (err) {
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  return root;
}

/**
 * The facts a load needs before any session exists, from the config as written,
 * by the same rules config normalization applies (one owner for each default).
 */
function facts(name: string, partial: PartialModelConfig, gpuCount: number): { modelFile: string; instances: number } {
  return { modelFile: modelFileName(partial), instances: instanceCount(completeInstanceGroups(partial.instance_group, name, gpuCount)) };
}

/** The model file a version folder of `dir` must hold (reads config.pbtxt; model.onnx when it cannot). */
export async function readModelFileName(dir: string): Promise<string> {
  try {
    const path = join(dir, 'config.pbtxt');
    const text = await readOptional(path);
    return modelFileName(text === undefined ? {} : fromPbtxt(text, path));
  } catch {
    // A broken config.pbtxt is the registry's to report when it loads.
    return modelFileName({});
  }
}

export async function readConfigSource(name: string, dir: string, gpuCount: number, options?: LoadOptions): Promise<ConfigSource> {
  if (options?.files !== undefined && options.files.size > 0 && options.config === undefined) {
    throw new InvalidArgument(`failed to load '${name}', must provide 'config' parameter when 'file:' contents are supplied`);
  }
  if (options?.config !== undefined) {
    let partial: PartialModelConfig;
    let folder: string;
    const uploaded = options.files !== undefined && options.files.size > 0;
    try {
      partial = fromJsonConfig(options.config);
      folder = uploaded ? await writeUploadedFiles(name, options.files!) : dir;
    } catch (err) {
      // Triton fails these while polling, with one message; the cause is only logged.
      throw new ModelPollFailed(name, err instanceof Error ? err.message : String(err));
    }
    const stamp = createHash('sha1').update(options.config).update(folder).update(await auxFingerprint(folder, partial)).digest('hex');
    return { dir: folder, partial, text: undefined, path: undefined, json: options.config, uploaded, stamp, ...facts(name, partial, gpuCount) };
  }
  const path = join(dir, 'config.pbtxt');
  const text = await readOptional(path);
  const partial = text === undefined ? {} : fromPbtxt(text, path);
  const stamp = createHash('sha1').update(text ?? '').update(await auxFingerprint(dir, partial)).digest('hex');
  return { dir, partial, text, path: text === undefined ? undefined : path, json: undefined, uploaded: false, stamp, ...facts(name, partial, gpuCount) };
}

/** The frozen config of one version: the parsed config completed from its ONNX signature, validated. */
export function completeConfig(name: string, src: ConfigSource, onnx: OnnxModelInfo, gpuCount: number): Readonly<ModelConfig> {
  // Label files are checked next to config.pbtxt (a JSON override names none there).
  const labelFileExists = src.path === undefined ? undefined : (f: string) => existsSync(join(src.dir, f));
  return finishConfig(src.partial, name, onnx, { gpuCount, labelFileExists });
}
