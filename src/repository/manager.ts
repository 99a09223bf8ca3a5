/**
 * Model control (tritonserver's --model-control-mode): what gets loaded at start,
 * whether the load/unload API is allowed, and periodic rescans in poll mode. It
 * knows the repository folders; the registry owns the versions.
 */
import type { Logger } from 'pino';
import { Unavailable, ModelNotFound, asOspreyError } from '../errors/errors.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { LoadOptions, ModelIndexEntry } from '../types/inference.js';
import { listModels } from './scan.js';

export type ControlMode = 'none' | 'poll' | 'explicit';

export interface ManagerOptions {
  repositories: readonly string[];
  mode: ControlMode;
  loadModels: readonly string[];
  pollSecs: number;
  registry: ModelRegistry;
  logger: Logger;
}

export class RepositoryManager {
  readonly #o: ManagerOptions;
  /** Last scan of model folders: name -> folder. Read synchronously by the index. */
  #folders: ReadonlyMap<string, string> = new Map();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(o: ManagerOptions) {
    this.#o = o;
  }

  get folders(): ReadonlyMap<string, string> {
    return this.#folders;
  }

  async #scan(): Promise<ReadonlyMap<string, string>> {
    this.#folders = await listModels(this.#o.repositories);
    return this.#folders;
  }

  /** Initial load. Models that fail are logged and reported; the others serve. */
  async start(): Promise<void> {
    const folders = await this.#scan();
    let names: string[];
    if (this.#o.mode === 'explicit') {
      names = this.#o.loadModels.includes('*') ? [...folders.keys()] : [...this.#o.loadModels];
    } else {
      names = [...folders.keys()];
    }
    await Promise.all(names.map(async (name) => {
      const dir = folders.get(name);
      if (dir === undefined) {
        this.#o.logger.error({ model: name }, 'failed to load model: no such model folder in the repository');
        return;
      }
      await this.#o.registry.load(name, dir).catch(() => undefined);
    }));
    if (this.#o.mode === 'poll') this.#schedulePoll();
  }

  #schedulePoll(): void {
    this.#timer = setTimeout(() => {
      this.#polling = this.pollOnce().catch((err) => this.#o.logger.error({ err }, 'repository poll failed')).finally(() => {
        if (this.#timer !== undefined) this.#schedulePoll();
      });
    }, this.#o.pollSecs * 1000);
    this.#timer.unref();
  }

  /** Rescan: load new models, reconcile known ones, unload removed ones. */
  async pollOnce(): Promise<void> {
    const folders = await this.#scan();
    const reg = this.#o.registry;
    const work: Promise<unknown>[] = [];
    for (const [name, dir] of folders) work.push(reg.load(name, dir).catch(() => undefined));
    for (const name of reg.modelNames()) if (!folders.has(name) && reg.isLoaded(name)) work.push(reg.unload(name));
    await Promise.all(work);
  }

  #checkExplicit(): void {
    if (this.#o.mode !== 'explicit') throw new Unavailable('explicit model load / unload is not allowed if polling is enabled');
  }

  async load(name: string, options: LoadOptions): Promise<void> {
    this.#checkExplicit();
    const folders = await this.#scan();
    const dir = folders.get(name);
    if (dir === undefined && options.config === undefined) {
      throw new Unavailable(`failed to load '${name}', failed to poll from model repository`);
    }
    try {
      await this.#o.registry.load(name, dir ?? '', options);
    } catch (err) {
      throw new Unavailable(`failed to load '${name}', ${asOspreyError(err).message}`);
    }
  }

  async unload(name: string): Promise<void> {
    this.#checkExplicit();
    if (!this.#o.registry.isLoaded(name) && !this.#folders.has(name)) throw new ModelNotFound(name);
    await this.#o.registry.unload(name);
  }

  index(readyOnly: boolean): ModelIndexEntry[] {
    return this.#o.registry.index(this.#folders, readyOnly);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }
}
