/**
 * Observability wiring for the composition root: the registry's version hooks bind
 * and drop metric series and drift windows; the data plane's three hook calls feed
 * drift sampling, sampled request logs and per-request error logs.
 *
 * The data-plane hooks run on the request path (main thread). None looks anything
 * up: a version's series is its `stats.sink`, bound when it became READY.
 */
import type { PreparedRequest } from '../request/prepare.js';
import type { ModelVersion } from '../registry/model-version.js';
import type { FailureReason } from '../registry/stats.js';
import type { InferenceRequest, ModelIndexEntry } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';
import type { LogControl } from './logger.js';
import { OspreyMetrics, VersionSeries } from './metrics.js';

/** What the data plane reports about each inference request. */
export interface InferObserver {
  /** The request passed validation and is about to be queued. */
  prepared(v: ModelVersion, p: PreparedRequest): void;
  /** The response is ready; `startMs` is `performance.now()` when the request arrived. */
  succeeded(v: ModelVersion, req: InferenceRequest, p: PreparedRequest, outputs: readonly Tensor[], startMs: number): void;
  /** The request failed after its version was resolved. */
  failed(v: ModelVersion, req: InferenceRequest, err: unknown, reason: FailureReason, startMs: number): void;
}

export interface ObservabilityOptions {
  logs: LogControl;
  /** Build the metrics registry (tritonserver --allow-metrics). */
  metrics: boolean;
  /** Drift statistics for models that do not turn them off (default true). */
  drift?: boolean;
  modelStates?: () => ModelIndexEntry[];
}

/** Most per-request error lines written in one second. */
const ERROR_LINES_PER_SECOND = 100;

export class Observability implements InferObserver {
  /** Undefined with --allow-metrics false: no series, no drift. */
  readonly metrics: OspreyMetrics | undefined;
  readonly #logs: LogControl;
  #errorWindowStart = 0;
  #errorsLogged = 0;
  #errorsSuppressed = 0;

  constructor(o: ObservabilityOptions) {
    this.#logs = o.logs;
    this.metrics = o.metrics
      ? new OspreyMetrics({ logger: o.logs.logger, modelStates: o.modelStates, drift: o.drift })
      : undefined;
  }

  /** RegistryOptions.onVersionReady. */
  versionReady(v: ModelVersion): void {
    this.metrics?.bind(v);
  }

  /**
   * RegistryOptions.onVersionRetired: the version drained and released its sessions
   * (the registry logs the lifecycle lines: ready, serving, failed, unloaded).
   */
  versionRetired(v: ModelVersion): void {
    this.metrics?.unbind(v);
  }

  prepared(v: ModelVersion, p: PreparedRequest): void {
    const s = v.stats.sink;
    if (s instanceof VersionSeries && s.drift !== undefined) s.drift.sampleInputs(p);
  }

  succeeded(v: ModelVersion, req: InferenceRequest, p: PreparedRequest, outputs: readonly Tensor[], startMs: number): void {
    const s = v.stats.sink;
    if (s instanceof VersionSeries && s.drift !== undefined) s.drift.sampleOutputs(outputs, p.batchSize);
    if (this.#logs.sampleRequest()) {
      this.#logs.logger.debug({
        model: v.name, version: v.version, id: req.id, batch: p.batchSize, us: Math.round((performance.now() - startMs) * 1000),
      }, 'inference request');
    }
  }

  failed(v: ModelVersion, req: InferenceRequest, err: unknown, reason: FailureReason, startMs: number): void {
    // Under overload every request may fail (queue full): cap the lines per second
    // so logging does not add to the overload, and say how many were left out.
    const now = performance.now();
    if (now - this.#errorWindowStart >= 1000) {
      if (this.#errorsSuppressed > 0) this.#logs.logger.warn({ suppressed: this.#errorsSuppressed }, 'inference request failures not logged (rate limit)');
      this.#errorWindowStart = now;
      this.#errorsLogged = 0;
      this.#errorsSuppressed = 0;
    }
    if (++this.#errorsLogged > ERROR_LINES_PER_SECOND) {
      this.#errorsSuppressed++;
      return;
    }
    const fields = {
      model: v.name, version: v.version, id: req.id, reason,
      code: (err as { code?: unknown } | null)?.code ?? 'INTERNAL',
      error: err instanceof Error ? err.message : String(err),
      us: Math.round((performance.now() - startMs) * 1000),
    };
    // Failures inside the backend are the server's problem; the rest are the client's
    // (bad input, rejected by the queue policy, cancelled).
    if (reason === 'BACKEND') this.#logs.logger.error(fields, 'inference request failed');
    else this.#logs.logger.warn(fields, 'inference request failed');
  }
}
