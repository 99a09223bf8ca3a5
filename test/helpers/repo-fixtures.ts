/**
 * Temporary model repositories for the repository and registry tests, and scaler
 * models with any factor: the fixture `scaler` computes y = x * factor, its factor
 * a 4-byte float initializer, so a copy with the float rewritten is a different,
 * valid model and every response's numbers say which file computed it.
 */
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';

export const SCALER_DIR = fileURLToPath(new URL('../../../test/fixtures/models/scaler/', import.meta.url));
export const CNN_DIR = fileURLToPath(new URL('../../../model-repository/cnn/', import.meta.url));

let scalerV1: Buffer | undefined;

/** The scaler model with `factor` as its factor (float32). */
export async function scalerModel(factor: number): Promise<Buffer> {
  scalerV1 ??= await readFile(join(SCALER_DIR, '1', 'model.onnx'));
  const buf = Buffer.from(scalerV1);
  // TensorProto 'factor': name (field 8) then raw_data (field 9, 'J', 4 bytes).
  const at = buf.indexOf(Buffer.from('factorJ\x04', 'latin1'));
  if (at < 0) throw new Error('scaler fixture layout changed: no factor initializer');
  buf.writeFloatLE(factor, at + 8);
  return buf;
}

export const SCALER_CONFIG = `name: "scaler"
platform: "onnxruntime_onnx"
max_batch_size: 16
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]
version_policy: { latest: { num_versions: 1 } }
`;

export const CORRUPT_ONNX = Buffer.from('this is not an ONNX model, just garbage bytes \x00\x01\x02\x03', 'latin1');

export async function tempRepo(prefix = 'osprey-repo-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeRepo(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Write a file whose mtime is an hour old, as a copy made earlier and renamed into place would have. */
export async function writeOld(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
  const t = new Date(Date.now() - 3600_000);
  await utimes(path, t, t);
}

/** Age a folder's own mtime (after filling it), as a folder prepared earlier would have. */
export async function ageDir(path: string): Promise<void> {
  const t = new Date(Date.now() - 3600_000);
  await utimes(path, t, t);
}

/** A scaler model folder with the given versions (factor = version unless given), all old. */
export async function writeScaler(repo: string, name: string, versions: Record<number, number | Buffer>, config = SCALER_CONFIG.replace('"scaler"', `"${name}"`)): Promise<string> {
  const dir = join(repo, name);
  await writeOld(join(dir, 'config.pbtxt'), config);
  for (const [v, f] of Object.entries(versions)) {
    await writeOld(join(dir, v, 'model.onnx'), typeof f === 'number' ? await scalerModel(f) : f);
    await ageDir(join(dir, v));
  }
  await ageDir(dir);
  return dir;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns true (or throw after `ms`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 10_000, every = 25): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger that keeps every record, for asserting what was logged. */
export function memoryLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { records.push(JSON.parse(s)); } });
  return { logger, records };
}
