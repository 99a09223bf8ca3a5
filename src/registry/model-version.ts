/**
 * One loaded version of one model: its frozen config, its instances (sessions the
 * executor placed on worker threads), its batcher and its statistics. The registry
 * owns the lifecycle (LOADING -> READY -> UNLOADING -> gone); this class only serves
 * and retires. It knows nothing of threads: it hands batches to its `Instances`.
 */
import { Batcher } from '../batching/batcher.js';
import type { ModelConfig } from '../config/model-config.js';
import { boolParam } from '../config/params.js';
import type { PreparedRequest } from '../request/prepare.js';
import { InvalidArgument, Unavailable } from '../errors/errors.js';
import { PendingInfer, type PendingResult } from '../request/pending.js';
import type { Instances } from '../executor/executor.js';
import { assembleInputs, batchOutputNames, batchRows, splitOutputs } from '../request/batch.js';
import type { ModelState } from '../types/inference.js';
import type { CancelSignal } from '../types/cancel.js';
import type { SessionSpec } from '../types/run.js';
import type { SequenceFlags } from '../request/sequence.js';
import { SequenceRunner } from './sequence-runner.js';
import { VersionStats } from './stats.js';

/**
 * setTimeout cannot wait less than 1 ms, which would turn a 100 us
 * max_queue_delay into 1-2 ms. Waits of at most 1 ms poll with setImmediate
 * instead: the batcher re-arms until its deadline passes, spinning the event loop
 * for at most that long (and only while a batch is held open).
 */
function armTimer(fn: () => void, ms: number): unknown {
  return ms <= 1 ? setImmediate(fn) : setTimeout(fn, ms);
}

/**
 * The batcher's coalescing flush (BatcherOptions.coalesce): after the event loop's
 * current I/O callbacks, so that every request read in one turn joins one batch.
 * Dispatching each request the moment it arrives made batches of ~3.5 rows at 64
 * concurrent HTTP/JSON clients (a wake-up of a worker and of this thread per 3.5
 * requests); after the turn they were ~15 (bench/README.md "Batches per turn,
 * resting polls"). A request alone in the server (`alone`: no other request counted
 * in) has nothing to wait for, so it goes at once: at concurrency 1 the turn's hop
 * only added queue time (~20 us at load 10).
 */
export function flushAfterIo(alone: () => boolean): (flush: () => void) => void {
  return (flush) => {
    if (alone()) flush();
    else setImmediate(flush);
  };
}

/**
 * The model config's `osprey_batches_ahead` parameter (BatcherOptions.ahead): batches
 * each instance may be handed while it runs one. Triton's onnxruntime backend ignores
 * parameters it does not know, so a config that sets it still loads there. For
 * models whose runs are long next to the round trip of their requests (the bundled
 * cnn: a 10-row batch computes ~8 ms, and each instance idled 21-29% of the time at 32
 * connections waiting for the next one; bench/README.md "Batches formed ahead").
 */
export function batchesAhead(cfg: Readonly<ModelConfig>): number {
  const v = cfg.parameters['osprey_batches_ahead']?.string_value;
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 3) throw new InvalidArgument(`model '${cfg.name}': parameter 'osprey_batches_ahead' must be an integer 0-3, got '${v}'`);
  return n;
}

/**
 * The model config's Osprey-only `osprey_quiet_dispatch` parameter (BatcherOptions.quiet,
 * default false: Triton's rule): at concurrency 1 a request is not held for
 * max_queue_delay_microseconds, which there could gather nothing. For the bundled cnn,
 * whose 300 us delay makes batches under load, the delay was 356 us of a 1.36 ms
 * request at wrk c=1 and put it behind the naive server (bench/README.md "cnn at
 * concurrency 1"). Under concurrency the delay applies as configured.
 */
export function quietDispatch(cfg: Readonly<ModelConfig>): boolean {
  return boolParam(cfg, 'osprey_quiet_dispatch', false);
}

function disarmTimer(h: unknown): void {
  // Timeouts have refresh(); Immediates do not.
  if (typeof (h as NodeJS.Timeout).refresh === 'function') clearTimeout(h as NodeJS.Timeout);
  else clearImmediate(h as NodeJS.Immediate);
}

export class ModelVersion {
  readonly name: string;
  readonly version: number;
  readonly versionString: string;
  readonly config: Readonly<ModelConfig>;
  readonly spec: SessionSpec;
  /** The version's instances: sessions, runs, and the one run-duration estimate. */
  readonly instances: Instances;
  /** Labels per output name, from `label_filename`. */
  readonly labels: ReadonlyMap<string, readonly string[]>;
  readonly stats = new VersionStats();
  readonly batcher: Batcher<PendingInfer, PendingResult>;
  /** The sequence batcher, for a model with `sequence_batching` (its requests never use `batcher`). */
  readonly sequence: SequenceRunner | undefined;
  state: ModelState = 'LOADING';
  reason = '';
  /** Seconds from load start to READY (nv_model_load_duration_secs). */
  loadSeconds = 0;

  constructor(
    name: string, version: number, config: Readonly<ModelConfig>, spec: SessionSpec,
    instances: Instances, labels: ReadonlyMap<string, readonly string[]>,
  ) {
    this.name = name;
    this.version = version;
    this.versionString = String(version);
    this.config = config;
    this.spec = spec;
    this.instances = instances;
    this.labels = labels;
    this.batcher = new Batcher<PendingInfer, PendingResult>({
      maxBatchSize: config.max_batch_size,
      dynamic: config.dynamic_batching,
      instances: instances.count,
      ahead: batchesAhead(config),
      expectedRunMs: () => instances.estimate.ms,
      setTimer: armTimer,
      clearTimer: disarmTimer,
      // `submit` counts a request in (instances.track) after queueing it: none counted = alone.
      coalesce: flushAfterIo(() => instances.serverIdle),
      quiet: quietDispatch(config) ? () => instances.serverQuiet : undefined,
    }, (batch) => this.#run(batch));
    this.sequence = config.sequence_batching === undefined ? undefined : new SequenceRunner({
      config, instances,
      onExecution: (rows, inNs, inferNs, outNs) => this.stats.recordExecution(rows, inNs, inferNs, outNs),
    });
  }

  /**
   * Queue a validated request of a sequence. Allowed while UNLOADING: a retiring
   * version finishes its live sequences (the scheduler refuses new ones).
   */
  submitSequence(p: PreparedRequest, seq: SequenceFlags, timeoutUs: number, signal: CancelSignal | undefined): Promise<PendingResult> {
    if (this.state === 'UNAVAILABLE') return Promise.reject(new Unavailable(`model '${this.name}' version ${this.version} is not ready`));
    return this.instances.track(this.sequence!.submit(p, seq, timeoutUs, signal));
  }

  /** Queue a validated request; resolves with its outputs. */
  submit(p: PreparedRequest, priority: number, timeoutUs: number, deadline: number, signal: CancelSignal | undefined): Promise<PendingResult> {
    // LOADING is allowed: warmup requests run before the version is marked READY.
    if (this.state === 'UNLOADING' || this.state === 'UNAVAILABLE') return Promise.reject(new Unavailable(`model '${this.name}' version ${this.version} is not ready`));
    const item = new PendingInfer(p.inputs, p.outputs, p.batchSize, p.shapeKey, priority, timeoutUs, deadline, signal);
    this.batcher.enqueue(item);
    return this.instances.track(item.promise);
  }

  async #run(batch: PendingInfer[]): Promise<PendingResult[]> {
    const startedAt = performance.now();
    const rows = batchRows(this.config, batch);
    const inputs = assembleInputs(this.config, batch, rows);
    const names = batchOutputNames(this.config, batch);
    let largest = 1;
    if (this.config.max_batch_size > 0) for (const p of batch) if (p.batchSize > largest) largest = p.batchSize;
    const r = await this.instances.run(inputs, names, rows, largest);
    this.stats.recordExecution(rows, r.timing.inputNs, r.timing.inferNs, r.timing.outputNs);
    return splitOutputs(this.config, batch, rows, r.outputs, r.timing, startedAt);
  }

  /** Worker threads of the instances (logs and tests). */
  get threads(): readonly number[] { return this.instances.threads; }

  /** True when some instance has nothing queued or running (shadows run only then). */
  hasIdleInstance(): boolean { return this.instances.hasIdleInstance(); }

  /** Stop taking requests, finish what is queued or running, release the sessions. */
  async retire(): Promise<void> {
    this.state = 'UNLOADING';
    // Live sequences finish here (or idle out) before the sessions, and their state, go.
    if (this.sequence !== undefined) await this.sequence.retire(this.versionString);
    await this.batcher.drain();
    await this.instances.unload();
  }
}
