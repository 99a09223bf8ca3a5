/** Runs the ORT ceiling in its own process, so its threads and memory are gone once it has answered. */
import { execFile } from 'node:child_process';
import { benchScript } from './paths.js';
import { promisify } from 'node:util';
import type { CeilingResult } from '../baselines/ort-ceiling.js';

const run = promisify(execFile);

export async function ceilingInChild(repo: string, model: string, durationMs: number, batches?: number[]): Promise<CeilingResult> {
  const args = [benchScript('baselines/ort-ceiling'), '-m', model, '--model-repository', repo,
    '--duration-ms', String(durationMs), '--json'];
  if (batches) args.push('--batch-sizes', batches.join(','));
  const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as CeilingResult;
}
