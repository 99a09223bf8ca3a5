/**
 * The shadow runner: copies of answered requests sent to shadow versions, and the
 * comparison of their outputs with the primary's (counters per pair, a rate-limited
 * disagreement log line).
 *
 * Shadows run in a later macrotask (setImmediate), after the primary's answer has
 * been written, through the executor server.ts hands in (validate against the
 * shadow's config, queue at its lowest priority). They are dropped, never queued,
 * when they would wait behind or hold up real traffic. A request's input tensors
 * (views into the request body or gRPC message, read-only) are referenced by the
 * job until its shadow runs finish, which keeps their buffers alive. The runner
 * never holds a version beyond a run: it looks shadows up in the registry each time.
 */
import type { Logger } from 'pino';
import type { InferenceRequest } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';
import type { OutputDiff } from './compare.js';
import {
  type ModelTraffic, type ServingVersion, type ShadowExecutor, type VersionSource, ShadowPair,
} from './model-traffic.js';

export interface ShadowRunnerOptions<V extends ServingVersion> {
  registry: VersionSource<V>;
  /** Runs one shadow copy; undefined: every shadow is dropped as 'stopped'. */
  executor: ShadowExecutor<V> | undefined;
  logger: Logger;
  now: () => number;
  /** Shadow runs in flight at once across all models; more are dropped. */
  maxInFlight: number;
  /** At most one disagreement log line per pair per this many ms. */
  disagreementLogMs: number;
}

/** A shadow job: one answered request and the versions to copy it to. */
class ShadowJob<V extends ServingVersion> {
  constructor(
    readonly runner: ShadowRunner<V>,
    readonly model: ModelTraffic,
    readonly request: InferenceRequest,
    readonly primary: V,
    readonly outputs: Tensor[],
    readonly shadows: readonly number[],
  ) {}
}

/** setImmediate callback: module-level, so scheduling a job allocates no closure. */
// `any`: the job's version type is its runner's; the callback only hands it back.
function runShadowJob(job: ShadowJob<any>): void {
  job.runner.run(job);
}

export class ShadowRunner<V extends ServingVersion> {
  readonly #o: ShadowRunnerOptions<V>;
  #inFlight = 0;
  #stopped = false;

  constructor(o: ShadowRunnerOptions<V>) {
    this.#o = o;
  }

  /** Shadow runs in flight now (all models). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Shadows not yet started are dropped from now on. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Schedule shadow copies of an answered request, in a later macrotask so the
   * primary's response is written first. `outputs` are the primary's raw outputs.
   */
  schedule(m: ModelTraffic, shadows: readonly number[], request: InferenceRequest, primary: V, outputs: Tensor[]): void {
    setImmediate(runShadowJob, new ShadowJob(this, m, request, primary, outputs, shadows));
  }

  /** @internal Runs a shadow job (from setImmediate). */
  run(job: ShadowJob<V>): void {
    const reg = this.#o.registry;
    for (const version of job.shadows) {
      if (version === job.primary.version) continue;
      const pair = this.#pair(job.model, job.primary.version, version);
      const executor = this.#o.executor;
      if (this.#stopped || executor === undefined) { pair.dropped.stopped++; continue; }
      let sv: V;
      try {
        sv = reg.resolve(job.model.model, String(version));
      } catch {
        pair.dropped.not_loaded++;
        continue;
      }
      // Drop rather than queue: the shadow must never wait behind, or make wait,
      // real traffic. Busy = the shadow version has a queue or every instance is
      // running, the primary has a queue, no instance of the shadow is idle (a
      // shadow batch on a busy worker thread would make the next primary batch there
      // wait for it), or enough shadows are already running.
      if (this.#inFlight >= this.#o.maxInFlight || sv.batcher.queued > 0
        || sv.batcher.inFlight >= sv.instances.count || job.primary.batcher.queued > 0 || !sv.hasIdleInstance()) {
        pair.dropped.busy++;
        continue;
      }
      const req = job.request;
      const copy: InferenceRequest = {
        modelName: req.modelName,
        modelVersion: String(version),
        id: req.id,
        parameters: req.parameters,
        inputs: req.inputs,
        // Raw outputs only (no classification), the same names as the primary's.
        outputs: job.outputs.map((t) => ({ name: t.name })),
        deadline: Infinity,
      };
      pair.submitted++;
      this.#inFlight++;
      let p: Promise<Tensor[]>;
      try {
        p = executor(sv, copy);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (outs) => this.#compared(job, pair, outs),
        (err: unknown) => {
          pair.failed++;
          this.#o.logger.debug({ model: job.model.model, primary: pair.primary, shadow: pair.shadow, err: (err as Error)?.message }, 'shadow request failed');
        },
      ).finally(() => { this.#inFlight--; });
    }
  }

  #pair(m: ModelTraffic, primary: number, shadow: number): ShadowPair {
    const key = `${primary}>${shadow}`;
    let p = m.pairs.get(key);
    if (p === undefined) {
      p = new ShadowPair(primary, shadow);
      m.pairs.set(key, p);
    }
    return p;
  }

  #compared(job: ShadowJob<V>, pair: ShadowPair, outs: Tensor[]): void {
    pair.completed++;
    let diffs: OutputDiff[];
    try {
      diffs = pair.comparison.add(job.outputs, outs);
    } catch (err) {
      this.#o.logger.error({ err, model: job.model.model }, 'shadow comparison failed');
      return;
    }
    const bad = diffs.filter((d) => !d.exact);
    if (bad.length === 0) return;
    const now = this.#o.now();
    if (now - pair.lastLog < this.#o.disagreementLogMs) { pair.suppressed++; return; }
    pair.lastLog = now;
    this.#o.logger.info({
      model: job.model.model, primary: pair.primary, shadow: pair.shadow, id: job.request.id,
      outputs: bad.map((d) => ({
        name: d.name, max_abs_diff: d.maxAbs,
        ...(d.topRows > 0 ? { top_class_differs: d.topDiffers, top_class_primary: d.topPrimary, top_class_shadow: d.topShadow } : {}),
      })),
      suppressed: pair.suppressed,
    }, 'shadow disagreement');
    pair.suppressed = 0;
  }
}
