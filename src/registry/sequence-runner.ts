/**
 * The sequence batcher of one model version: owns its `SequenceScheduler` and the
 * run function that turns a scheduled batch into one ONNX Runtime run on the
 * instance's worker thread (where the slots' implicit state lives). The model version
 * holds one of these instead of feeding its dynamic batcher.
 *
 * Main thread only.
 */
import { configDataTypeToWire } from '../config/datatype.js';
import type { ModelConfig } from '../config/model-config.js';
import { initialStateDims } from '../config/sequence.js';
import type { PreparedRequest } from '../request/prepare.js';
import { Unavailable } from '../errors/errors.js';
import type { PendingResult } from '../request/pending.js';
import type { Instances } from '../executor/executor.js';
import type { RequestedOutput } from '../types/inference.js';
import type { CancelSignal } from '../types/cancel.js';
import type { SequenceRun, StateSpec } from '../types/run.js';
import type { SequenceFlags } from '../request/sequence.js';
import { SequenceScheduler } from '../batching/sequence-scheduler.js';
import type { CorrId, SeqBatch, SeqItem } from '../batching/sequence-types.js';
import { controlInputs, rowInputs, splitRows } from '../request/sequence-tensors.js';

/** One queued request of a sequence (the scheduler's item). */
export class PendingSequence implements SeqItem {
  readonly enqueuedAt = performance.now();
  readonly promise: Promise<PendingResult>;
  resolve!: (r: PendingResult) => void;
  reject!: (e: Error) => void;

  constructor(
    readonly inputs: PreparedRequest['inputs'],
    readonly outputs: RequestedOutput[],
    readonly shapeKey: string,
    readonly corrId: CorrId,
    readonly start: boolean,
    readonly end: boolean,
    readonly timeoutUs: number,
    readonly signal: CancelSignal | undefined,
  ) {
    this.promise = new Promise<PendingResult>((res, rej) => { this.resolve = res; this.reject = rej; });
  }
}

export interface SequenceRunnerOptions {
  config: Readonly<ModelConfig>;
  /** The version's instances (the scheduler's instance i is instance i here). */
  instances: Instances;
  /** Each executed batch: rows that held a request, and the worker's timings. */
  onExecution?: (requests: number, inNs: number, inferNs: number, outNs: number) => void;
}

export class SequenceRunner {
  readonly scheduler: SequenceScheduler<PendingSequence, PendingResult>;
  readonly #o: SequenceRunnerOptions;
  readonly #states: StateSpec[];
  readonly #batched: boolean;

  constructor(o: SequenceRunnerOptions) {
    this.#o = o;
    const cfg = o.config;
    const sb = cfg.sequence_batching!;
    this.#batched = cfg.max_batch_size > 0;
    this.#states = sb.state.map((s) => ({
      input: s.input_name, output: s.output_name,
      datatype: configDataTypeToWire(s.data_type), initialDims: initialStateDims(s),
    }));
    const mbs = Math.max(1, cfg.max_batch_size);
    const oldest = sb.oldest;
    // Without a batch dimension a batch is one request: one slot per instance.
    const slots = !this.#batched ? 1 : oldest !== undefined && oldest.max_candidate_sequences > 0 ? oldest.max_candidate_sequences : mbs;
    const delayUs = oldest?.max_queue_delay_microseconds ?? sb.direct?.max_queue_delay_microseconds ?? 0;
    this.scheduler = new SequenceScheduler<PendingSequence, PendingResult>({
      modelName: cfg.name,
      strategy: oldest !== undefined ? 'oldest' : 'direct',
      instances: o.instances.count,
      slotsPerInstance: slots,
      maxRows: mbs,
      preferred: oldest?.preferred_batch_size,
      delayMs: delayUs / 1000,
      minSlotUtilization: sb.direct?.minimum_slot_utilization ?? 0,
      idleMs: sb.max_sequence_idle_microseconds / 1000,
      onRelease: (instance, slot) => {
        // The state of a released slot is dropped where it lives; a failure only leaks it
        // until the next START in that slot replaces it.
        void o.instances.freeState(instance, [`${instance}/${slot}`]).catch(() => undefined);
      },
    }, (batch) => this.#run(batch));
  }

  submit(p: PreparedRequest, seq: SequenceFlags, timeoutUs: number, signal: CancelSignal | undefined): Promise<PendingResult> {
    const item = new PendingSequence(p.inputs, p.outputs, p.shapeKey, seq.corrId, seq.start, seq.end, timeoutUs, signal);
    this.scheduler.enqueue(item);
    return item.promise;
  }

  /** Whether `id` is live here (its next request must come here, not to a newer version). */
  has(id: CorrId): boolean { return this.scheduler.has(id); }

  /** Stop starting sequences; resolves when the live ones have ended or idled out. */
  retire(versionLabel: string): Promise<void> {
    this.scheduler.refuseStarts(new Unavailable(`model '${this.#o.config.name}' version ${versionLabel} is not ready`));
    return this.scheduler.whenIdle();
  }

  async #run(batch: SeqBatch<PendingSequence>): Promise<(PendingResult | Error)[]> {
    const startedAt = performance.now();
    const cfg = this.#o.config;
    const rows = batch.rows;
    const inputs = rowInputs(rows, this.#batched);
    inputs.push(...controlInputs(cfg.sequence_batching!.control_input, rows, this.#batched));
    const names = new Set<string>();
    for (const it of batch.items) for (const o of it.outputs) names.add(o.name);
    const seq: SequenceRun = {
      states: this.#states,
      batched: this.#batched,
      rows: rows.map((r) => ({ slot: `${batch.instance}/${r.slot}`, start: r.start, ready: r.item !== undefined, end: r.end })),
    };
    const r = await this.#o.instances.runSequence(batch.instance, inputs, [...names], seq);
    this.#o.onExecution?.(batch.items.length, r.timing.inputNs, r.timing.inferNs, r.timing.outputNs);
    const rowOf: number[] = [];
    rows.forEach((row, i) => { if (row.item !== undefined) rowOf.push(i); });
    const perItem = splitRows(cfg, r.outputs, rows.length, batch.items, rowOf);
    return batch.items.map((it, k) => ({
      outputs: perItem[k]!,
      queueNs: Math.max(0, Math.round((startedAt - it.enqueuedAt) * 1e6)),
      computeInputNs: r.timing.inputNs,
      computeInferNs: r.timing.inferNs,
      computeOutputNs: r.timing.outputNs,
    }));
  }
}
