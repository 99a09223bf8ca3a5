/**
 * The naive server's `--piscina` mode, for idle-path.ts: the same `session.run`,
 * moved off the main thread into a piscina worker, as a Node team would first reach
 * for a general task pool. One session per model file, created on first use. Tensors
 * cross the thread boundary by structured clone in both directions.
 */
import * as ort from 'onnxruntime-node';

/** A tensor as it crosses threads: what ort.Tensor carries, minus its methods. */
export interface PlainTensor { type: ort.Tensor.Type; data: ort.Tensor.DataType; dims: readonly number[] }

export interface OrtTask { onnxPath: string; feeds: Record<string, PlainTensor> }

const sessions = new Map<string, Promise<ort.InferenceSession>>();

export default async function run(task: OrtTask): Promise<Record<string, PlainTensor>> {
  let session = sessions.get(task.onnxPath);
  if (session === undefined) {
    session = ort.InferenceSession.create(task.onnxPath);
    sessions.set(task.onnxPath, session);
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(task.feeds)) feeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
  const out = await (await session).run(feeds);
  return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { type: t.type, data: t.data, dims: t.dims }]));
}
