/**
 * Per-model, per-version lifecycle in one place. The order is always:
 *   1. load the new version's session on every instance thread (on threads shared
 *      with serving versions, one at a time: see #loadVersion);
 *   2. run its `model_warmup` requests; mark it READY;
 *   3. swap it into the serving map atomically (one assignment: a request sees the
 *      old map or the new one, never a mix);
 *   4. drain what it replaced (requests already queued or running on the old
 *      version finish there), then unload the old sessions and free them.
 * A failed load leaves what was serving in place and records the reason (index,
 * log, `onLoadFailed`). Operations on one model are serialized; different models
 * load concurrently. Nothing here runs on the request path but `resolve`.
 *
 * What to load is decided by reconciling: the version policy over the version
 * folders present (or the settled ones the watcher reports), against what serves.
 * A version is (re)loaded when it is wanted and not serving, or when its files or
 * the model's config changed since the serving instance was loaded. A version
 * that failed is retried when its files or the config change, or when the load
 * API asks again (`retryFailed`), never on every rescan.
 */
import { readFile, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Logger } from 'pino';
import type { ModelConfig } from '../config/model-config.js';
import { InvalidArgument, ModelNotFound, ModelNotReady, ModelPollFailed, asOspreyError } from '../errors/errors.js';
import type { Executor } from '../executor/executor.js';
import { resolveInside } from '../repository/contained.js';
import { fingerprint, listVersions, statTree } from '../repository/scan.js';
import type { LoadOptions, ModelIndexEntry } from '../types/inference.js';
import { type ConfigPolicy, type ConfigSource, completeConfig, readConfigSource } from '../repository/config-source.js';
import { ModelVersion } from './model-version.js';
import type { Instances } from '../executor/executor.js';
import { sessionSettings } from '../config/session-settings.js';
import { latestCount, selectVersions } from './version-policy.js';
import { warmUp } from './warmup.js';

export interface RegistryOptions {
  /** Places each version's instances on worker threads and runs its batches. */
  executor: Executor;
  intraOpThreads: number;
  /** Intra-op threads of each CPU instance's solo session (0: none); see SessionSettings. */
  soloIntraOpThreads?: number;
  /** GPUs visible to ONNX Runtime's CUDA provider (0 on CPU-only machines). */
  gpuCount: number;
  logger: Logger;
  /** Called after a version is swapped in or out (metrics bind/unbind label children). */
  onVersionReady?: (v: ModelVersion) => void;
  onVersionRetired?: (v: ModelVersion) => void;
  /**
   * A load failed (metrics count it). `version` is '' when the model as a whole
   * failed (unreadable config, no version under the policy); `reason` is what the
   * repository index shows.
   */
  onLoadFailed?: (model: string, version: string, reason: string) => void;
  /** tritonserver's config flags (default: config.pbtxt, auto-complete on, max batch 4). */
  configPolicy?: Readonly<ConfigPolicy>;
  /** `--model-load-thread-count`: models loading at once (default 4). */
  loadThreads?: number;
}

/** How a reconcile was asked for. */
export interface ReconcileHints {
  /**
   * Version folders to consider: the watcher's settled ones. Default: every
   * version folder present now.
   */
  versions?: readonly number[];
  /**
   * Retry versions that failed before even if nothing changed since (the load API
   * does; a rescan does not, so a broken version is not reloaded on every poll).
   * Default true.
   */
  retryFailed?: boolean;
}

interface Failure {
  reason: string;
  /** Config + files stamp of the attempt that failed. */
  stamp: string;
}

interface ModelEntry {
  readonly name: string;
  dir: string;
  /** Serving versions. Replaced (never mutated) on every swap, so readers see old or new. */
  serving: ReadonlyMap<number, ModelVersion>;
  /** Latest serving version, for requests that name none. */
  latest: ModelVersion | undefined;
  /** Config + files stamp each serving instance was loaded from. */
  readonly stamps: WeakMap<ModelVersion, string>;
  loading: Set<number>;
  failures: Map<number, Failure>;
  /** Model-level failure (config error, no versions under the policy); '' when none. */
  reason: string;
  /** The model should be serving (loaded and not since unloaded). */
  wanted: boolean;
  /** Tail of this model's serialized load/unload operations. */
  op: Promise<void>;
}

let generation = 0;

export class ModelRegistry {
  readonly #models = new Map<string, ModelEntry>();
  readonly #opts: RegistryOptions;
  /** Upload folders (`file:` contents) -> serving versions loaded from them. */
  readonly #uploads = new Map<string, number>();
  /** Model loads running now, and those waiting for a turn (`loadThreads` at once). */
  #loading = 0;
  #loadingMost = 0;
  readonly #loadQueue: Array<() => void> = [];
  /**
   * Per model: swapped-out sequence versions still finishing their live sequences.
   * A sequence's later requests go there (`sequenceHolder`), new sequences to the
   * serving version.
   */
  readonly #holders = new Map<string, Set<ModelVersion>>();
  /** Retirements left running after a swap (sequence versions): shutdown waits for them. */
  readonly #background = new Set<Promise<void>>();

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  /** Runs `fn` when fewer than `loadThreads` model loads are running (tritonserver's --model-load-thread-count). */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#loading >= (this.#opts.loadThreads ?? 4)) await new Promise<void>((resolve) => this.#loadQueue.push(resolve));
    else this.#loading++;
    this.#loadingMost = Math.max(this.#loadingMost, this.#loading);
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.#loadQueue.shift();
      if (next !== undefined) next();
      else this.#loading--;
    }
  }

  /** The most model loads that ran at once so far (tests check --model-load-thread-count). */
  get mostLoadsAtOnce(): number { return this.#loadingMost; }

  /** The version that serves a request. Hot path: two map lookups. */
  resolve(name: string, version: string): ModelVersion {
    const e = this.#models.get(name);
    if (e === undefined || (!e.wanted && e.serving.size === 0)) throw new ModelNotFound(name);
    if (version === '') {
      if (e.latest !== undefined) return e.latest;
      throw new ModelNotReady(name);
    }
    // The version string was checked where the request came in (codec/version.ts).
    const v = e.serving.get(Number(version));
    if (v !== undefined) return v;
    const n = Number(version);
    if (e.loading.has(n) || e.failures.has(n)) throw new ModelNotReady(name, version);
    throw new ModelNotFound(name, version);
  }

  /**
   * The swapped-out version where sequence `id` of model `name` is still live, if any.
   * Hot path for sequence models only: one map lookup when nothing is retiring.
   */
  sequenceHolder(name: string, id: bigint | string): ModelVersion | undefined {
    const set = this.#holders.get(name);
    if (set === undefined) return undefined;
    for (const v of set) if (v.sequence?.has(id)) return v;
    return undefined;
  }

  /** Serving versions of a model, newest first; [] when unknown. */
  versions(name: string): ModelVersion[] {
    const e = this.#models.get(name);
    return e === undefined ? [] : [...e.serving.values()].sort((a, b) => b.version - a.version);
  }

  modelNames(): string[] {
    return [...this.#models.keys()];
  }

  /** The model should be serving: loaded (or loading) and not since unloaded. */
  isLoaded(name: string): boolean {
    return this.#models.get(name)?.wanted === true;
  }

  /**
   * Every model that should be serving has a READY version. A newer version that
   * failed while an older one serves does not count against it (the model is
   * available; the index reports the failure); a model with no serving version
   * (its first load still running, or failed) does. Only READY versions are ever
   * in a serving map, so this stays true through a swap.
   */
  allReady(): boolean {
    for (const e of this.#models.values()) {
      if (e.wanted && e.serving.size === 0) return false;
    }
    return true;
  }

  /**
   * Load or reconcile a model from its folder; resolves when done, rejects with
   * Triton's "load failed for model ..." message when any version it tried failed
   * (what serves stays serving).
   */
  load(name: string, dir: string, options?: LoadOptions, hints?: ReconcileHints): Promise<void> {
    let e = this.#models.get(name);
    if (e === undefined) {
      e = {
        name, dir, serving: new Map(), latest: undefined, stamps: new WeakMap(), loading: new Set(), failures: new Map(),
        reason: '', wanted: true, op: Promise.resolve(),
      };
      this.#models.set(name, e);
    }
    const entry = e;
    entry.dir = dir;
    entry.wanted = true;
    const next = entry.op.then(() => this.#limited(() => this.#reconcile(entry, options, hints ?? {})));
    entry.op = next.catch(() => undefined);
    return next;
  }

  /** Stop serving a model: new requests get "unknown model"; in-flight ones finish. */
  unload(name: string): Promise<void> {
    const e = this.#models.get(name);
    if (e === undefined) return Promise.resolve();
    // Marked now: a load still running sees it and does not swap its versions in.
    // Requests keep going to what serves until the swap below empties the map.
    e.wanted = false;
    const next = e.op.then(async () => {
      if (e.wanted) return; // loaded again since: that load won
      const old = [...e.serving.values()];
      this.#swap(e, new Map());
      e.reason = '';
      e.failures.clear();
      await Promise.all(old.map((v) => this.#retire(v)));
      if (old.length > 0) this.#opts.logger.info({ model: name }, 'model unloaded');
    });
    e.op = next.catch(() => undefined);
    return next;
  }

  /**
   * Every model folder, loaded or not, and every model loaded: one row per version
   * (READY, LOADING, UNAVAILABLE with the reason it failed), or one row for the
   * model when it has none (UNKNOWN for a folder never loaded).
   */
  index(folders: ReadonlyMap<string, string>, readyOnly: boolean): ModelIndexEntry[] {
    const out: ModelIndexEntry[] = [];
    const names = new Set(folders.keys());
    for (const [name, e] of this.#models) if (e.wanted || e.serving.size > 0 || e.loading.size > 0) names.add(name);
    for (const name of [...names].sort()) {
      const e = this.#models.get(name);
      const rows: ModelIndexEntry[] = [];
      if (e !== undefined && (e.wanted || e.serving.size > 0 || e.loading.size > 0)) {
        const byVersion = new Map<number, ModelIndexEntry>();
        for (const v of e.serving.values()) {
          // A failed reload (or a broken config) leaves this instance serving; say why it was not replaced.
          const reason = e.failures.get(v.version)?.reason || e.reason;
          byVersion.set(v.version, reason ? { name, version: v.versionString, state: v.state, reason } : { name, version: v.versionString, state: v.state });
        }
        for (const n of e.loading) if (!byVersion.has(n)) byVersion.set(n, { name, version: String(n), state: 'LOADING' });
        for (const [n, f] of e.failures) if (!byVersion.has(n)) byVersion.set(n, { name, version: String(n), state: 'UNAVAILABLE', reason: f.reason });
        for (const n of [...byVersion.keys()].sort((a, b) => a - b)) rows.push(byVersion.get(n)!);
        if (rows.length === 0) {
          // Wanted, nothing failed, nothing listed yet: its load has not reached the versions.
          rows.push(e.reason ? { name, state: 'UNAVAILABLE', reason: e.reason } : e.wanted ? { name, state: 'LOADING' } : { name, state: 'UNAVAILABLE', reason: 'unloaded' });
        }
      } else if (e === undefined) {
        // A folder never loaded: the registry knows no state of it (the wire shows its name alone).
        rows.push({ name, state: 'UNKNOWN' });
      } else {
        rows.push({ name, state: 'UNAVAILABLE', reason: 'unloaded' });
      }
      for (const r of rows) if (!readyOnly || r.state === 'READY') out.push(r);
    }
    return out;
  }

  /** Retire everything (shutdown): in-flight requests finish first. */
  async close(): Promise<void> {
    await Promise.all([...this.#models.keys()].map((n) => this.unload(n)));
    await Promise.all([...this.#background]);
  }

  #swap(e: ModelEntry, serving: ReadonlyMap<number, ModelVersion>): void {
    let latest: ModelVersion | undefined;
    for (const v of serving.values()) if (latest === undefined || v.version > latest.version) latest = v;
    // Two plain assignments with no await between them: no request can see one without the other.
    e.serving = serving;
    e.latest = latest;
  }

  async #retire(v: ModelVersion): Promise<void> {
    let holders: Set<ModelVersion> | undefined;
    if (v.sequence !== undefined) {
      holders = this.#holders.get(v.name) ?? new Set();
      this.#holders.set(v.name, holders);
      holders.add(v);
    }
    try {
      await v.retire();
    } catch (err) {
      this.#opts.logger.error({ model: v.name, version: v.version, err }, 'error while unloading version');
    }
    if (holders !== undefined) {
      holders.delete(v);
      if (holders.size === 0 && this.#holders.get(v.name) === holders) this.#holders.delete(v.name);
    }
    this.#opts.logger.info({ model: v.name, version: v.version }, 'model version unloaded');
    this.#opts.onVersionRetired?.(v);
    await this.#releaseUpload(v.spec.path, -1);
  }

  #retireInBackground(v: ModelVersion): void {
    const p = this.#retire(v).finally(() => this.#background.delete(p));
    this.#background.add(p);
  }

  /** Count versions using an upload folder; remove the folder when none does. */
  async #releaseUpload(path: string, delta: number): Promise<void> {
    for (const [dir, n] of this.#uploads) {
      if (!path.startsWith(dir + sep)) continue;
      const left = n + delta;
      if (left > 0) { this.#uploads.set(dir, left); return; }
      this.#uploads.delete(dir);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      return;
    }
  }

  #modelFailed(e: ModelEntry, reason: string): InvalidArgument {
    e.reason = reason;
    this.#opts.logger.error({ model: e.name, reason }, 'failed to load model');
    this.#opts.onLoadFailed?.(e.name, '', reason);
    return new InvalidArgument(`load failed for model '${e.name}': ${reason}\n`);
  }

  async #reconcile(e: ModelEntry, options: LoadOptions | undefined, hints: ReconcileHints): Promise<void> {
    if (!e.wanted) return; // unloaded while this waited its turn
    let src: ConfigSource;
    let present: number[];
    try {
      src = await readConfigSource(e.name, e.dir, this.#opts.gpuCount, options, this.#opts.configPolicy);
      present = hints.versions !== undefined && !src.uploaded ? [...hints.versions] : await listVersions(src.dir);
    } catch (err) {
      // What serves keeps serving (with its old config).
      if (err instanceof ModelPollFailed) {
        e.reason = err.message;
        this.#opts.logger.error({ model: e.name, reason: err.detail }, err.message);
        this.#opts.onLoadFailed?.(e.name, '', err.message);
        throw err;
      }
      throw this.#modelFailed(e, asOspreyError(err).message);
    }
    try {
      await this.#apply(e, src, present, hints.retryFailed ?? true);
    } finally {
      // An upload folder that no version ended up using.
      if (src.uploaded && !this.#uploads.has(src.dir)) await rm(src.dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async #apply(e: ModelEntry, src: ConfigSource, present: readonly number[], retryFailed: boolean): Promise<void> {
    const wanted = selectVersions(src.partial.version_policy, present);
    if (wanted.length === 0) {
      // The version folders are gone (or none is selected): nothing may keep serving from them.
      const old = [...e.serving.values()];
      this.#swap(e, new Map());
      e.failures.clear();
      const err = this.#modelFailed(e, `at least one version must be available under the version policy of model '${e.name}'`);
      await Promise.all(old.map((v) => this.#retire(v)));
      throw err;
    }
    const stamps = new Map<number, string>();
    for (const n of wanted) stamps.set(n, `${src.stamp}\n${fingerprint(await statTree(join(src.dir, String(n))))}`);
    const toLoad = wanted.filter((n) => {
      const f = e.failures.get(n);
      if (f !== undefined && f.stamp === stamps.get(n) && !retryFailed) return false;
      const v = e.serving.get(n);
      return v === undefined || e.stamps.get(v) !== stamps.get(n);
    });
    // Versions leave LOADING only once the swap below has happened.
    for (const n of toLoad) e.loading.add(n);
    let results: PromiseSettledResult<ModelVersion>[];
    try {
      results = await Promise.allSettled(toLoad.map((n) => this.#loadVersion(e, n, src, stamps.get(n)!)));
    } finally {
      for (const n of toLoad) e.loading.delete(n);
    }
    const loaded = new Map<number, ModelVersion>();
    results.forEach((r, i) => { if (r.status === 'fulfilled') loaded.set(toLoad[i]!, r.value); });

    if (!e.wanted) {
      // Unloaded while loading: the new instances never serve (nor were announced).
      await Promise.all([...loaded.values()].map(async (v) => {
        await v.retire().catch(() => undefined);
        await this.#releaseUpload(v.spec.path, -1);
      }));
      return;
    }
    const next = new Map<number, ModelVersion>();
    for (const n of wanted) {
      // A version whose reload failed keeps its old instance serving.
      const v = loaded.get(n) ?? e.serving.get(n);
      if (v !== undefined) next.set(n, v);
    }
    // `latest N` keeps serving N versions when it can: older ones stay while
    // newer ones failed, as long as their folders are still there.
    const stillThere = new Set(present);
    const target = latestCount(src.partial.version_policy);
    for (const v of [...e.serving.values()].sort((a, b) => b.version - a.version)) {
      if (next.size >= target) break;
      if (!next.has(v.version) && stillThere.has(v.version)) next.set(v.version, v);
    }
    const retired = [...e.serving.values()].filter((v) => next.get(v.version) !== v);
    for (const n of e.failures.keys()) if (!wanted.includes(n)) e.failures.delete(n);
    e.reason = '';
    this.#swap(e, next);
    for (const v of next.values()) {
      if (loaded.get(v.version) !== v) continue;
      this.#opts.logger.info({ model: e.name, version: v.version }, 'model version serving');
      this.#opts.onVersionReady?.(v);
    }
    // A sequence version retires once its live sequences end or idle out, which can
    // take long: the swap does not wait for it (shutdown does, see close()).
    await Promise.all(retired.map((v) => (v.sequence !== undefined ? this.#retireInBackground(v) : this.#retire(v))));

    const failed = toLoad.filter((n) => !loaded.has(n));
    if (failed.length > 0) {
      const parts = failed.map((n) => `version ${n} is at UNAVAILABLE state: ${e.failures.get(n)?.reason ?? 'unknown error'};`);
      throw new InvalidArgument(`load failed for model '${e.name}': ${parts.join(' ')}\n`);
    }
  }

  async #loadVersion(e: ModelEntry, n: number, src: ConfigSource, stamp: string): Promise<ModelVersion> {
    const log = this.#opts.logger;
    const started = performance.now();
    const key = `${e.name}/${n}/${++generation}`;
    const partialCfg = src.partial as Readonly<ModelConfig>;
    const spec = {
      key,
      path: '',
      settings: sessionSettings({ ...partialCfg, parameters: partialCfg.parameters ?? {}, instance_group: partialCfg.instance_group ?? [] }, this.#opts.intraOpThreads, this.#opts.gpuCount, this.#opts.soloIntraOpThreads ?? 0),
    };
    let v: ModelVersion | undefined;
    let instances: Instances | undefined;
    try {
      // Checked here, not in the config: a failed check fails this version only.
      spec.path = await resolveInside(src.dir, src.modelFile, `model file of version ${n}`, String(n));
      instances = this.#opts.executor.place(spec, src.instances);
      const info = await instances.load();
      const cfg = completeConfig(e.name, src, info, this.#opts.gpuCount, this.#opts.configPolicy);
      const labels = new Map<string, string[]>();
      for (const o of cfg.output) {
        if (!o.label_filename) continue;
        const path = await resolveInside(src.dir, o.label_filename, `label file for output '${o.name}'`);
        labels.set(o.name, (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 0));
      }
      v = new ModelVersion(e.name, n, cfg, spec, instances, labels);
      await warmUp(v, src.dir);
      v.state = 'READY';
      v.loadSeconds = (performance.now() - started) / 1000;
      e.failures.delete(n);
      e.stamps.set(v, stamp);
      if (src.uploaded) this.#uploads.set(src.dir, (this.#uploads.get(src.dir) ?? 0) + 1);
      log.info({ model: e.name, version: n, ms: Math.round(performance.now() - started), threads: instances.threads }, 'model version ready');
      return v;
    } catch (err) {
      const reason = asOspreyError(err).message;
      e.failures.set(n, { reason, stamp });
      log.error({ model: e.name, version: n, reason }, 'failed to load model version');
      this.#opts.onLoadFailed?.(e.name, String(n), reason);
      if (v !== undefined) await v.retire().catch(() => undefined);
      else await instances?.unload().catch(() => undefined);
      throw err;
    }
  }
}
