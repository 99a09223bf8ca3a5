/**
 * Per-model, per-version lifecycle in one place. The order is always: load the new
 * version on its worker threads, warm it up, swap it into the serving map
 * atomically (one assignment), then drain and unload what it replaced. A failed
 * load leaves what was serving in place and records the reason. Loads of one model
 * are serialized; different models load concurrently, off the request path.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ModelConfig } from '../config/model-config.js';
import { InvalidArgument, ModelNotFound, ModelNotReady, asOspreyError } from '../errors/errors.js';
import type { WorkerPool } from '../executor/pool.js';
import { listVersions } from '../repository/scan.js';
import type { LoadOptions, ModelIndexEntry } from '../types/inference.js';
import { type ConfigSource, completeConfig, readConfigSource } from './config-source.js';
import { ModelVersion } from './model-version.js';
import { sessionSettings } from './session-settings.js';
import { latestCount, selectVersions } from './version-policy.js';
import { warmUp } from './warmup.js';

export interface RegistryOptions {
  pool: WorkerPool;
  intraOpThreads: number;
  gpu: boolean;
  logger: Logger;
  /** Called after a version is swapped in or out (metrics bind/unbind label children). */
  onVersionReady?: (v: ModelVersion) => void;
  onVersionRetired?: (v: ModelVersion) => void;
}

interface ModelEntry {
  readonly name: string;
  dir: string;
  /** Serving versions. Replaced (never mutated) on every swap, so readers see old or new. */
  serving: ReadonlyMap<number, ModelVersion>;
  /** Latest serving version, for requests that name none. */
  latest: ModelVersion | undefined;
  loading: Set<number>;
  failures: Map<number, string>;
  /** Model-level failure (config error, no versions) or 'unloaded'. */
  reason: string;
  configStamp: string | undefined;
  /** Tail of this model's serialized load/unload operations. */
  op: Promise<void>;
}

let generation = 0;

export class ModelRegistry {
  readonly #models = new Map<string, ModelEntry>();
  readonly #opts: RegistryOptions;
  #threadCursor = 0;

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  /** The version that serves a request. Hot path: two map lookups. */
  resolve(name: string, version: string): ModelVersion {
    const e = this.#models.get(name);
    if (e === undefined || (e.reason === 'unloaded' && e.serving.size === 0)) throw new ModelNotFound(name);
    if (version === '') {
      if (e.latest !== undefined) return e.latest;
      throw new ModelNotReady(name);
    }
    if (!/^[0-9]+$/.test(version)) throw new InvalidArgument(`failed to parse model version '${version}' for model '${name}': not an integer`);
    const v = e.serving.get(Number(version));
    if (v !== undefined) return v;
    const n = Number(version);
    if (e.loading.has(n) || e.failures.has(n)) throw new ModelNotReady(name, version);
    throw new ModelNotFound(name, version);
  }

  /** Serving versions of a model, newest first; [] when unknown. */
  versions(name: string): ModelVersion[] {
    const e = this.#models.get(name);
    return e === undefined ? [] : [...e.serving.values()].sort((a, b) => b.version - a.version);
  }

  modelNames(): string[] {
    return [...this.#models.keys()];
  }

  isLoaded(name: string): boolean {
    const e = this.#models.get(name);
    return e !== undefined && e.reason !== 'unloaded';
  }

  /** Every model that should be serving has a version and no failure. */
  allReady(): boolean {
    for (const e of this.#models.values()) {
      if (e.reason === 'unloaded') continue;
      if (e.serving.size === 0 || e.failures.size > 0 || e.reason !== '') return false;
    }
    return true;
  }

  /** Load or reconcile a model from its folder; resolves when done (ready or failed). */
  load(name: string, dir: string, options?: LoadOptions): Promise<void> {
    let e = this.#models.get(name);
    if (e === undefined) {
      e = { name, dir, serving: new Map(), latest: undefined, loading: new Set(), failures: new Map(), reason: '', configStamp: undefined, op: Promise.resolve() };
      this.#models.set(name, e);
    }
    const entry = e;
    entry.dir = dir;
    const next = entry.op.then(() => this.#reconcile(entry, options));
    entry.op = next.catch(() => undefined);
    return next;
  }

  /** Stop serving a model: new requests get "unknown model"; in-flight ones finish. */
  unload(name: string): Promise<void> {
    const e = this.#models.get(name);
    if (e === undefined) return Promise.resolve();
    const next = e.op.then(async () => {
      const old = [...e.serving.values()];
      this.#swap(e, new Map());
      e.reason = 'unloaded';
      e.failures.clear();
      e.configStamp = undefined;
      await Promise.all(old.map((v) => this.#retire(v)));
      this.#opts.logger.info({ model: name }, 'model unloaded');
    });
    e.op = next.catch(() => undefined);
    return next;
  }

  index(folders: ReadonlyMap<string, string>, readyOnly: boolean): ModelIndexEntry[] {
    const out: ModelIndexEntry[] = [];
    const names = new Set([...folders.keys(), ...this.#models.keys()]);
    for (const name of [...names].sort()) {
      const e = this.#models.get(name);
      const rows: ModelIndexEntry[] = [];
      if (e !== undefined) {
        for (const v of [...e.serving.values()].sort((a, b) => a.version - b.version)) rows.push({ name, version: v.versionString, state: v.state });
        for (const n of e.loading) if (!e.serving.has(n)) rows.push({ name, version: String(n), state: 'LOADING' });
        for (const [n, reason] of e.failures) if (!e.serving.has(n)) rows.push({ name, version: String(n), state: 'UNAVAILABLE', reason });
        if (rows.length === 0) rows.push({ name, state: 'UNAVAILABLE', reason: e.reason || 'unloaded' });
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
  }

  #swap(e: ModelEntry, serving: ReadonlyMap<number, ModelVersion>): void {
    e.serving = serving;
    let latest: ModelVersion | undefined;
    for (const v of serving.values()) if (latest === undefined || v.version > latest.version) latest = v;
    e.latest = latest;
  }

  async #retire(v: ModelVersion): Promise<void> {
    try {
      await v.retire();
    } catch (err) {
      this.#opts.logger.error({ model: v.name, version: v.version, err }, 'error while unloading version');
    }
    this.#opts.onVersionRetired?.(v);
  }

  #pickThreads(count: number): number[] {
    const size = this.#opts.pool.size;
    const n = Math.max(1, Math.min(count, size));
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((this.#threadCursor + i) % size);
    this.#threadCursor = (this.#threadCursor + n) % size;
    return out;
  }

  async #reconcile(e: ModelEntry, options: LoadOptions | undefined): Promise<void> {
    const log = this.#opts.logger;
    let src: ConfigSource;
    let available: number[];
    try {
      src = await readConfigSource(e.name, e.dir, options);
      available = await listVersions(src.dir);
    } catch (err) {
      e.reason = asOspreyError(err).message;
      log.error({ model: e.name, reason: e.reason }, 'failed to load model');
      throw asOspreyError(err);
    }
    const wanted = selectVersions(src.partial.version_policy, available);
    if (wanted.length === 0) {
      e.reason = `at least one version must be available under the version policy of model '${e.name}'`;
      log.error({ model: e.name, reason: e.reason }, 'failed to load model');
      throw new InvalidArgument(e.reason);
    }
    const configChanged = src.stamp !== e.configStamp;
    const toLoad = wanted.filter((v) => configChanged || !e.serving.has(v));
    // A version that failed before and whose files have not changed is retried too:
    // "fixing the files retries it" needs no special case beyond this.
    const results = await Promise.allSettled(toLoad.map((n) => this.#loadVersion(e, n, src)));
    const next = new Map<number, ModelVersion>();
    const loaded = new Map<number, ModelVersion>();
    results.forEach((r, i) => { if (r.status === 'fulfilled') loaded.set(toLoad[i]!, r.value); });
    for (const n of wanted) {
      // A version whose reload failed keeps its old instance serving.
      const v = loaded.get(n) ?? e.serving.get(n);
      if (v !== undefined) next.set(n, v);
    }
    // Keep old versions serving while a policy's newer versions failed to load
    // (`latest N` still serves N versions when it can).
    const stillThere = new Set(available);
    const target = latestCount(src.partial.version_policy);
    for (const v of [...e.serving.values()].sort((a, b) => b.version - a.version)) {
      if (next.size >= target) break;
      if (!next.has(v.version) && stillThere.has(v.version) && !loaded.has(v.version)) next.set(v.version, v);
    }
    const retired = [...e.serving.values()].filter((v) => next.get(v.version) !== v);
    e.reason = '';
    e.configStamp = src.stamp;
    this.#swap(e, next);
    for (const v of next.values()) if (loaded.get(v.version) === v) this.#opts.onVersionReady?.(v);
    await Promise.all(retired.map((v) => this.#retire(v)));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0 && loaded.size === 0 && next.size === 0) {
      throw asOspreyError((failed[0] as PromiseRejectedResult).reason);
    }
  }

  async #loadVersion(e: ModelEntry, n: number, src: ConfigSource): Promise<ModelVersion> {
    const log = this.#opts.logger;
    const started = performance.now();
    e.loading.add(n);
    const key = `${e.name}/${n}/${++generation}`;
    const partialCfg = src.partial as Readonly<ModelConfig>;
    const filename = src.partial.default_model_filename || 'model.onnx';
    const count = (src.partial.instance_group ?? []).reduce((s, g) => s + (g.count ?? 1), 0) || 2;
    const threads = this.#pickThreads(count);
    const spec = {
      key,
      path: join(src.dir, String(n), filename),
      settings: sessionSettings({ ...partialCfg, parameters: partialCfg.parameters ?? {}, instance_group: partialCfg.instance_group ?? [] }, this.#opts.intraOpThreads, this.#opts.gpu),
    };
    let v: ModelVersion | undefined;
    try {
      const info = await this.#opts.pool.loadOn(threads, spec);
      const cfg = completeConfig(e.name, src, info);
      const labels = new Map<string, string[]>();
      for (const o of cfg.output) {
        if (o.label_filename) labels.set(o.name, (await readFile(join(e.dir, o.label_filename), 'utf8')).split('\n').filter((l) => l.length > 0));
      }
      v = new ModelVersion(e.name, n, cfg, spec, threads, labels, this.#opts.pool);
      await warmUp(v, e.dir);
      v.state = 'READY';
      v.loadSeconds = (performance.now() - started) / 1000;
      e.failures.delete(n);
      log.info({ model: e.name, version: n, ms: Math.round(performance.now() - started), threads }, 'model version ready');
      return v;
    } catch (err) {
      const reason = asOspreyError(err).message;
      e.failures.set(n, reason);
      log.error({ model: e.name, version: n, reason }, 'failed to load model version');
      if (v !== undefined) await v.retire().catch(() => undefined);
      else await this.#opts.pool.unloadOn(threads, key).catch(() => undefined);
      throw err;
    } finally {
      e.loading.delete(n);
    }
  }
}
