/**
 * The previous pool design's task handler, for bench/idle-path.ts only: Osprey's
 * worker logic (`serve`) as a piscina task, its result buffers transferred (an object
 * implementing piscina's Transferable interface, marked movable by `move()`).
 * piscina is a dev dependency: the server's request path uses its own channel
 * (README, "Why not a general task pool").
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type TaskResult, serve } from '../../src/worker/ort-worker.js';
import type { WorkerTask } from '../../src/worker/protocol.js';

export default async function handle(task: WorkerTask): Promise<TaskResult> {
  const { result, transfer } = await serve(task);
  if (transfer.length === 0) return result;
  return move({ [transferableSymbol]: transfer, [valueSymbol]: result } as never) as unknown as TaskResult;
}
