/**
 * The metrics registry: Triton's metric names and labels (`nv_inference_*` counters and
 * gauges with `model` and `version` labels, `nv_cpu_*`, `nv_cache_*`),
 * Osprey's histograms and gauges, drift gauges and process metrics, in one
 * prom-client `Registry` (not the global default one, so several servers can live
 * in one process, as the tests do).
 *
 * Consistency with the statistics extension: Triton's counters are read at scrape
 * time from the version's `VersionStats`, the very counters GET .../stats reports,
 * so both always show the same counts. Only what the statistics extension does not
 * keep (failure reasons, histograms, worker busy time) is recorded as it happens,
 * through `VersionStats.sink`, into a `VersionSeries` bound once when the version
 * becomes READY and dropped when it is retired: no lookups per request.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { sep } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelVersion } from '../registry/model-version.js';
import type { FailureReason, StatsSink, VersionStats } from '../registry/stats.js';
import type { ModelIndexEntry } from '../types/inference.js';
import { type DriftEmitters, VersionDrift, driftOptions } from './drift.js';
import { type ReferenceTable, readReferenceFile } from './drift-reference.js';
import type { PendingSequence } from '../registry/sequence-runner.js';
import type { SequenceScheduler } from '../batching/sequence-scheduler.js';
import { type Emit, Hist, LATENCY_BUCKETS, type Labels, type MetricType, ScrapedFamily, batchBuckets } from './families.js';

export const FAILURE_REASONS: readonly FailureReason[] = Object.freeze(['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']);

/**
 * Everything recorded for one model version as it happens. It is the version's
 * `StatsSink`: `VersionStats` calls it on the main thread for every request
 * outcome and every execution.
 */
export class VersionSeries implements StatsSink {
  readonly version: ModelVersion;
  readonly labels: Labels;
  /** Failures per reason, indexed like FAILURE_REASONS. */
  readonly failures = new Float64Array(4);
  /** Worker time spent running this version's batches (ORT input + run + output). */
  busyNs = 0;
  readonly request = new Hist(LATENCY_BUCKETS);
  readonly queue = new Hist(LATENCY_BUCKETS);
  readonly compute = new Hist(LATENCY_BUCKETS);
  readonly batch: Hist;
  /** Undefined when drift is off for this model (or for the server). */
  readonly drift: VersionDrift | undefined;

  constructor(v: ModelVersion, drift: VersionDrift | undefined) {
    this.version = v;
    this.labels = Object.freeze({ model: v.name, version: v.versionString });
    this.batch = new Hist(batchBuckets(Math.max(1, v.config.max_batch_size)));
    this.drift = drift;
  }

  success(_batchSize: number, totalNs: number, queueNs: number, inNs: number, inferNs: number, outNs: number): void {
    this.request.observe(totalNs * 1e-9);
    this.queue.observe(queueNs * 1e-9);
    this.compute.observe((inNs + inferNs + outNs) * 1e-9);
  }

  failure(_totalNs: number, reason: FailureReason): void {
    switch (reason) {
      case 'REJECTED': this.failures[0]!++; break;
      case 'CANCELED': this.failures[1]!++; break;
      case 'BACKEND': this.failures[2]!++; break;
      default: this.failures[3]!++; break;
    }
  }

  execution(batchSize: number, inNs: number, inferNs: number, outNs: number): void {
    this.batch.observe(batchSize);
    this.busyNs += inNs + inferNs + outNs;
  }
}

export interface MetricsOptions {
  logger?: Logger;
  /** Every model's versions and states (the repository index), for osprey_model_state. */
  modelStates?: () => ModelIndexEntry[];
  /** Drift statistics for models that do not turn them off (default true). */
  drift?: boolean;
  /** prom-client's process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  /**
   * Triton's nv_cpu_* gauges (`--allow-cpu-metrics`, default on). With `intervalMs`
   * (`--metrics-interval-ms`), utilization is sampled on that period, as tritonserver
   * does; without, it covers the time since the previous scrape.
   */
  cpu?: false | { intervalMs?: number };
}

const us = (ns: number): number => Math.floor(ns / 1000);
const NOOP: Emit = () => undefined;
/** Period (ms) of prom-client's event-loop delay sampling timer (see collectDefaultMetrics below). */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** The model folder of a version, from its session path `<model>/<version>/<file>`. */
function modelDirOf(v: ModelVersion): string {
  const marker = `${sep}${v.versionString}${sep}`;
  const i = v.spec.path.lastIndexOf(marker);
  return i < 0 ? v.spec.path : v.spec.path.slice(0, i);
}

export class OspreyMetrics {
  /** RegistryOptions.onLoadFailed: lifecycle failures are rare, so a label lookup is fine. */
  loadFailed(model: string, version: string): void {
    this.#loadFailures.inc({ model, version });
  }

  readonly registry = new Registry();
  /** Bound versions by `model/version`; at most one instance per label set is exported. */
  readonly #series = new Map<string, VersionSeries>();
  readonly #o: MetricsOptions;
  #cpu = cpuTimes();
  /** Failed loads (bad ONNX file, config mismatch, warmup failure); version '' = the whole model. */
  readonly #loadFailures: Counter<'model' | 'version'>;

  constructor(o: MetricsOptions = {}) {
    this.#o = o;
    const reg = this.registry;
    this.#loadFailures = new Counter({ name: 'osprey_model_load_failures_total', help: 'Model version loads that failed', labelNames: ['model', 'version'], registers: [reg] });
    const each = (fn: (s: VersionSeries, emit: Emit) => void) => (emit: Emit) => { for (const s of this.#series.values()) fn(s, emit); };
    const fromStats = (name: string, help: string, type: MetricType, read: (st: VersionStats, s: VersionSeries) => number): void => {
      new ScrapedFamily(name, help, type, each((s, emit) => emit(s.labels, read(s.version.stats, s)))).register(reg);
    };

    // Triton's per-model counters and gauges (same names, labels and units).
    fromStats('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', 'counter', (st) => st.success.count);
    new ScrapedFamily('nv_inference_request_failure', 'Number of failed inference requests, all batch sizes', 'counter', each((s, emit) => {
      for (let i = 0; i < FAILURE_REASONS.length; i++) emit({ ...s.labels, reason: FAILURE_REASONS[i]! }, s.failures[i]!);
    })).register(reg);
    fromStats('nv_inference_count', 'Number of inferences performed (does not include cached requests)', 'counter', (st) => st.inferenceCount);
    fromStats('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', 'counter', (st) => st.executionCount);
    fromStats('nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)', 'counter', (st) => us(st.success.ns));
    fromStats('nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)', 'counter', (st) => us(st.queue.ns));
    fromStats('nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (does not include cached requests)', 'counter', (st) => us(st.computeInput.ns));
    fromStats('nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)', 'counter', (st) => us(st.computeInfer.ns));
    fromStats('nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)', 'counter', (st) => us(st.computeOutput.ns));
    fromStats('nv_inference_pending_request_count', 'Instantaneous number of pending requests awaiting execution per-model.', 'gauge', (_st, s) => s.version.batcher.queued);
    fromStats('nv_model_load_duration_secs', 'Model load time in seconds', 'gauge', (_st, s) => s.version.loadSeconds);
    fromStats('nv_cache_num_hits_per_model', 'Number of cache hits per model', 'counter', (st) => st.cacheHit.count);
    fromStats('nv_cache_num_misses_per_model', 'Number of cache misses per model', 'counter', (st) => st.cacheMiss.count);

    // Triton's CPU metrics (whole machine, like tritonserver reads /proc).
    const utilization = (): number => {
      const now = cpuTimes();
      const busy = now.busy - this.#cpu.busy;
      const total = now.total - this.#cpu.total;
      this.#cpu = now;
      return total > 0 ? busy / total : 0;
    };
    if (o.cpu !== false) {
      const intervalMs = o.cpu?.intervalMs;
      let sampled = 0;
      if (intervalMs !== undefined) {
        // Sampled on tritonserver's period; the timer never keeps the process alive.
        setInterval(() => { sampled = utilization(); }, intervalMs).unref();
      }
      // Without a period, utilization is over the time since the previous scrape (since start for the first).
      new Gauge({ name: 'nv_cpu_utilization', help: 'CPU utilization rate [0.0 - 1.0]', registers: [reg], collect() { this.set(intervalMs !== undefined ? sampled : utilization()); } });
      new Gauge({ name: 'nv_cpu_memory_total_bytes', help: 'CPU total memory (RAM), in bytes', registers: [reg], collect() { this.set(os.totalmem()); } });
      new Gauge({ name: 'nv_cpu_memory_used_bytes', help: 'CPU used memory (RAM), in bytes', registers: [reg], collect() { this.set(os.totalmem() - os.freemem()); } });
    }

    // Osprey's histograms: where the time goes, with sub-millisecond buckets.
    const hist = (name: string, help: string, pick: (s: VersionSeries) => Hist): void => {
      new ScrapedFamily(name, help, 'histogram', each((s, emit) => pick(s).emit(emit, s.labels))).register(reg);
    };
    hist('osprey_request_duration_seconds', 'Successful request time in the server, from the data plane receiving it to its response, in seconds', (s) => s.request);
    hist('osprey_queue_duration_seconds', 'Time successful requests waited in the batcher queue, in seconds', (s) => s.queue);
    hist('osprey_compute_duration_seconds', 'Compute time (input + infer + output) of the batch that carried each successful request, in seconds', (s) => s.compute);
    hist('osprey_batch_size', 'Rows per model execution (buckets 1, 2, 4, ... up to max_batch_size)', (s) => s.batch);
    const perVersion = (name: string, help: string, type: MetricType, read: (s: VersionSeries) => number): void => {
      new ScrapedFamily(name, help, type, each((s, emit) => emit(s.labels, read(s)))).register(reg);
    };
    perVersion('osprey_queue_depth', 'Requests waiting in the batcher queue', 'gauge', (s) => s.version.batcher.queued);
    // Sequence models only (versions with a sequence batcher).
    const perSequence = (name: string, help: string, type: MetricType, read: (q: SequenceScheduler<PendingSequence, unknown>) => number): void => {
      new ScrapedFamily(name, help, type, each((s, emit) => {
        const q = s.version.sequence?.scheduler;
        if (q !== undefined) emit(s.labels, read(q));
      })).register(reg);
    };
    perSequence('osprey_sequence_active', 'Sequences holding a slot of the sequence batcher', 'gauge', (q) => q.active);
    perSequence('osprey_sequence_backlog', 'Sequences waiting for a free slot', 'gauge', (q) => q.backlogged);
    perSequence('osprey_sequence_started_total', 'Sequences started (START requests accepted)', 'counter', (q) => q.stats.started);
    perSequence('osprey_sequence_ended_total', 'Sequences whose END request ran', 'counter', (q) => q.stats.ended);
    perSequence('osprey_sequence_timed_out_total', 'Sequences released after max_sequence_idle_microseconds without a request', 'counter', (q) => q.stats.timedOut);
    perSequence('osprey_sequence_expired_total', 'Backlogged sequences dropped because a request timeout expired', 'counter', (q) => q.stats.expired);
    perVersion('osprey_inflight_batches', 'Batches running on worker threads', 'gauge', (s) => s.version.batcher.inFlight);
    perVersion('osprey_worker_busy_seconds_total', 'Worker-thread time spent running this version (ONNX Runtime input, run and output), in seconds', 'counter', (s) => s.busyNs / 1e9);
    new ScrapedFamily('osprey_model_state', 'Model version state (1 for the current state): LOADING, READY, UNLOADING, UNAVAILABLE', 'gauge', (emit) => {
      for (const e of this.#o.modelStates?.() ?? []) emit({ model: e.name, version: e.version ?? '', state: e.state }, 1);
    }).register(reg);

    // Drift gauges, one series per tracked feature (bounded by osprey_drift_features).
    // Each family walks the windows; the statistics themselves are computed once per
    // window change (TensorDrift.stats caches them), not once per family.
    const drift = (key: keyof DriftEmitters, name: string, help: string): void => {
      new ScrapedFamily(name, help, 'gauge', (emit) => {
        const sinks = { count: NOOP, nanCount: NOOP, mean: NOOP, std: NOOP, min: NOOP, max: NOOP, psi: NOOP };
        sinks[key] = emit;
        for (const s of this.#series.values()) s.drift?.emit(s.labels, sinks);
      }).register(reg);
    };
    drift('count', 'osprey_drift_count', 'Finite values of the feature in the drift window');
    drift('nanCount', 'osprey_drift_nan_count', 'NaN and Inf values of the feature in the drift window');
    drift('mean', 'osprey_drift_mean', 'Mean of the feature over the drift window');
    drift('std', 'osprey_drift_std', 'Standard deviation of the feature over the drift window');
    drift('min', 'osprey_drift_min', 'Minimum of the feature over the drift window');
    drift('max', 'osprey_drift_max', 'Maximum of the feature over the drift window');
    drift('psi', 'osprey_drift_psi', 'Population stability index of the drift window against its reference distribution');

    // prom-client samples event-loop delay with a timer at this period (ms; its default is
    // 10): at 10 an idle server woke 116 times a second (strace: epoll_pwait every 10 ms),
    // each wake-up taking a core from whatever else runs there (a polling worker at
    // concurrency 1, a neighbour's threads). 100 ms still gives the lag histogram ten
    // samples a second; nodejs_eventloop_lag_seconds itself is measured at each scrape.
    if (o.defaultMetrics !== false) collectDefaultMetrics({ register: reg, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text for GET /metrics. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The series of a version, if bound (tests, the data plane observer). */
  seriesOf(v: ModelVersion): VersionSeries | undefined {
    const s = this.#series.get(`${v.name}/${v.versionString}`);
    return s?.version === v ? s : undefined;
  }

  /**
   * A version became READY: bind its series and drift windows and make them its
   * stats sink. A reload of the same model/version replaces the older instance's
   * series (its counters start over, as the statistics extension's do).
   */
  bind(v: ModelVersion): VersionSeries {
    const key = `${v.name}/${v.versionString}`;
    this.#series.get(key)?.drift?.close();
    const s = new VersionSeries(v, this.#o.drift === false ? undefined : this.#makeDrift(v));
    this.#series.set(key, s);
    v.stats.sink = s;
    return s;
  }

  /** A version was retired: drop its series unless a newer instance took them over. */
  unbind(v: ModelVersion): void {
    const key = `${v.name}/${v.versionString}`;
    const s = this.#series.get(key);
    if (s?.version !== v) return;
    s.drift?.close();
    this.#series.delete(key);
  }

  #makeDrift(v: ModelVersion): VersionDrift | undefined {
    const log = this.#o.logger;
    const warnings: string[] = [];
    const opts = driftOptions(v.config, warnings);
    for (const w of warnings) log?.warn({ model: v.name, version: v.version, reason: w }, 'drift statistics: bad parameter');
    if (opts === undefined) return undefined;
    let refs: { inputs: ReferenceTable; outputs: ReferenceTable } | undefined;
    try {
      const found = readReferenceFile(modelDirOf(v), v.versionString);
      if (found !== undefined) {
        refs = found.table;
        log?.info({ model: v.name, version: v.version, path: found.path }, 'drift statistics: reference distribution loaded');
      }
    } catch (err) {
      log?.warn({ model: v.name, version: v.version, reason: (err as Error).message }, 'drift statistics: invalid reference file; using the first window instead');
    }
    const d = new VersionDrift(v.config, opts, refs);
    return d.all.length > 0 ? d : undefined;
  }
}

/**
 * Machine CPU time so far (any unit; only ratios are used). The first line of
 * /proc/stat, as tritonserver reads it; os.cpus() elsewhere (it builds an object per
 * core and reads more files, so it is the fallback).
 */
function cpuTimes(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'latin1').slice(0, 256).split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal ...
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length >= 4 && f.every(Number.isFinite)) {
      const total = f.reduce((a, b) => a + b, 0);
      const idle = f[3]! + (f[4] ?? 0);
      return { busy: total - idle, total };
    }
  } catch { /* not Linux */ }
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}
