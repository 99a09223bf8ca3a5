/**
 * Model control (tritonserver's --model-control-mode): what gets loaded at start,
 * whether the load/unload API is allowed, and the repository watcher: in 'poll' and
 * 'watch' modes its differences go to the registry; in every mode it watches each
 * model's traffic.json for the traffic router. It knows the repository folders; the
 * registry owns the versions.
 */
import type { Logger } from 'pino';
import { InvalidArgument, ModelPollFailed, Unavailable } from '../errors/errors.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { LoadOptions, ModelIndexEntry } from '../types/inference.js';
import { listModelsSync } from '../repository/scan.js';
import { type ModelChange, RepositoryWatcher } from './watcher.js';

/** 'watch' is Osprey's: 'poll' driven by file-system events, with the poll as a safety net. */
export type ControlMode = 'none' | 'poll' | 'watch' | 'explicit';

/** Default time files must stay unchanged before a new or changed version loads. */
export const DEFAULT_SETTLE_MS = 1000;

export interface ManagerOptions {
  repositories: readonly string[];
  mode: ControlMode;
  loadModels: readonly string[];
  /** Rescan interval in 'poll' mode; the safety-net rescan in 'watch' mode. */
  pollSecs: number;
  /** Files must stay unchanged this long before they load (default 1000). */
  settleMs?: number;
  /** `--model-config-name` (see WatcherOptions.configName). */
  configName?: string;
  registry: ModelRegistry;
  /** A model's traffic.json changed, or was read for a version that became ready (undefined: none). */
  onPolicyFile?(model: string, text: string | undefined): void;
  /** How often traffic.json files are read (default 1000 ms). */
  policyPollMs?: number;
  logger: Logger;
}

export class RepositoryManager {
  readonly #o: ManagerOptions;
  /** The one repository watcher; in 'none' and 'explicit' modes it watches only the policy files. */
  readonly #watcher: RepositoryWatcher;
  /** Registry operations started from watcher reports, awaited by stop(). */
  readonly #inflight = new Set<Promise<void>>();
  /** Models that failed to load in start() (tritonserver's --exit-on-error reads them). */
  readonly #startupFailures: string[] = [];

  get startupFailures(): readonly string[] { return this.#startupFailures; }

  constructor(o: ManagerOptions) {
    this.#o = o;
    this.#watcher = new RepositoryWatcher({
      repositories: o.repositories,
      mode: o.mode === 'poll' || o.mode === 'watch' ? o.mode : 'none',
      pollMs: Math.max(1, o.pollSecs * 1000),
      settleMs: o.settleMs ?? DEFAULT_SETTLE_MS,
      onChanges: (changes) => { void this.#apply(changes); },
      onPolicy: o.onPolicyFile,
      policyPollMs: o.policyPollMs,
      configName: o.configName,
      logger: o.logger,
    });
  }

  /** Model folders as last scanned: name -> folder. */
  get folders(): ReadonlyMap<string, string> {
    return this.#watcher.folders;
  }

  #scans(): boolean {
    return this.#o.mode === 'poll' || this.#o.mode === 'watch';
  }

  /** A version of the model became ready: read its traffic.json now (see RepositoryWatcher.policyNow). */
  versionReady(model: string): void {
    this.#watcher.policyNow(model);
  }

  /** Initial load. Models that fail are logged and reported; the others serve. */
  async start(): Promise<void> {
    const mode = this.#o.mode;
    if (this.#scans()) {
      await this.#apply(await this.#watcher.initial(), this.#startupFailures);
      this.#watcher.start();
      return;
    }
    this.#watcher.start();
    const folders = await this.#watcher.listFolders();
    const names = mode === 'explicit'
      ? (this.#o.loadModels.includes('*') ? [...folders.keys()] : [...new Set(this.#o.loadModels)])
      : [...folders.keys()];
    await Promise.all(names.map(async (name) => {
      const dir = folders.get(name);
      if (dir === undefined) {
        this.#o.logger.error({ model: name }, new ModelPollFailed(name).message);
        this.#startupFailures.push(name);
        return;
      }
      await this.#o.registry.load(name, dir).catch(() => { this.#startupFailures.push(name); });
    }));
  }

  /** Hand differences to the registry; resolves when it has acted on all of them. */
  #apply(changes: readonly ModelChange[], failures?: string[]): Promise<void> {
    const reg = this.#o.registry;
    const work = changes.map((c) => {
      this.#o.logger.info({ model: c.name, change: c.kind, details: c.details, versions: c.versions }, 'model repository changed');
      const op = c.kind === 'removed'
        ? reg.unload(c.name).catch(() => undefined)
        // Failures are logged, indexed and counted by the registry; nothing to add here.
        : reg.load(c.name, c.dir, undefined, { versions: c.versions, retryFailed: false }).catch(() => { failures?.push(c.name); });
      this.#inflight.add(op);
      void op.finally(() => this.#inflight.delete(op));
      return op;
    });
    return Promise.all(work).then(() => undefined);
  }

  /**
   * Rescan now and act on the differences (load new and changed models, unload
   * removed ones); resolves when the registry is done. In 'none' and 'explicit'
   * modes it only refreshes the folder list.
   */
  async pollOnce(): Promise<void> {
    if (!this.#scans()) {
      await this.#watcher.listFolders();
      return;
    }
    await this.#apply(await this.#watcher.scan());
  }

  #checkExplicit(): void {
    if (this.#o.mode !== 'explicit') throw new Unavailable('explicit model load / unload is not allowed if polling is enabled');
  }

  /** The load API: resolves when the model is ready, rejects with why it is not. */
  async load(name: string, options: LoadOptions): Promise<void> {
    this.#checkExplicit();
    if (options.files !== undefined && options.files.size > 0 && options.config === undefined) {
      throw new InvalidArgument(`failed to load '${name}', must provide 'config' parameter when 'file:' contents are supplied`);
    }
    const folders = await this.#watcher.listFolders();
    const dir = folders.get(name);
    if (dir === undefined && options.config === undefined) {
      throw new ModelPollFailed(name);
    }
    await this.#o.registry.load(name, dir ?? '', options, { retryFailed: true });
  }

  /** The unload API: resolves once in-flight requests finished and the sessions are gone. Unknown models are a no-op, as in Triton. */
  async unload(name: string): Promise<void> {
    this.#checkExplicit();
    await this.#o.registry.unload(name);
  }

  /** Every model folder in the repositories now, loaded or not, and every loaded model. */
  index(readyOnly: boolean): ModelIndexEntry[] {
    let folders = this.folders;
    try {
      folders = listModelsSync(this.#o.repositories);
      if (!this.#scans()) this.#watcher.useFolders(folders);
    } catch (err) {
      this.#o.logger.warn({ err }, 'failed to read the model repository; the index shows the last scan');
    }
    return this.#o.registry.index(folders, readyOnly);
  }

  async stop(): Promise<void> {
    await this.#watcher.stop();
    await Promise.all([...this.#inflight]);
  }
}
