/**
 * Watches the model repositories and reports differences; it never loads or
 * unloads anything (the manager hands each difference to the registry, which
 * owns the version lifecycle).
 *
 * What it reports, per model folder: added, removed, or changed (a version folder
 * added, removed or rewritten; config.pbtxt or another model-level file changed).
 * Each report carries the full list of version folders that are safe to load, so
 * the registry reconciles to a state, not to a stream of events.
 *
 * A unit (the model-level files, or one version folder) is only reported once its
 * files have stopped changing, so a version still being copied (`cp -r`, `rsync`,
 * an unzip) is never loaded half-written:
 *   - settled by observation: the same fingerprint (every entry's path, size and
 *     mtime) seen twice at least `settleMs` apart;
 *   - settled at once: nothing in it (its folders included) was modified in the
 *     last `settleMs`. A folder renamed into place keeps its old mtimes, so it is
 *     picked up by the first scan that sees it. A folder being filled has a fresh
 *     mtime (every create or rename inside it updates it), so `cp -a`/`rsync -a`,
 *     which preserve file mtimes, still wait.
 * A version folder also has to contain its model file (`default_model_filename`,
 * else model.onnx): an empty folder made first and filled later is not a version yet.
 * A writer that stalls for longer than `settleMs` mid-copy cannot be told from a
 * finished one; copy elsewhere and rename into place for that.
 *
 * Scans run one at a time. Triggers: the poll timer (every `pollMs`), a settle
 * timer when something is still changing, and in 'watch' mode file-system events
 * on the repositories, model folders and version folders (debounced), with the
 * poll timer left on as a safety net (fs.watch can miss events, e.g. on network
 * file systems, and does not see below the folders it watches).
 *
 * Each model folder's traffic policy (`traffic.json`) is watched here too, in every
 * mode ('none' watches only it: model control without polling still follows policy
 * edits): read every `policyPollMs` and after each scan, its text handed over when
 * it changed, and on demand when a version of the model becomes ready (`policyNow`).
 * It is not a model file: editing a policy never reloads the model's sessions.
 * Main thread only.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readModelFileName } from '../repository/config-source.js';
import { POLICY_FILE } from '../routing/policy.js';
import { type TreeEntry, fingerprint, listModels, listVersions, modifiedWithin, newestMtime, statTree } from '../repository/scan.js';

export type ChangeKind = 'added' | 'changed' | 'removed';

export interface ModelChange {
  readonly name: string;
  /** The model folder (for 'removed', the folder it was in). */
  readonly dir: string;
  readonly kind: ChangeKind;
  /** Settled, complete version folders, ascending: the only ones to consider loading. */
  readonly versions: number[];
  /** What changed, for the log: 'version 2 added', 'config.pbtxt changed'... */
  readonly details: string[];
}

export interface WatcherOptions {
  repositories: readonly string[];
  /**
   * 'poll': rescan every `pollMs`. 'watch': rescan on file-system events too.
   * 'none': no model scans (the folders come from `listFolders`/`useFolders`); only
   * the policy files are watched.
   */
  mode: 'none' | 'poll' | 'watch';
  pollMs: number;
  /** How long files must stay unchanged before they are reported. */
  settleMs: number;
  /** 'watch' mode: quiet time after the last event before scanning (default 25 ms). */
  debounceMs?: number;
  /** Differences found by background scans (timers, events). Not called for scan(). */
  onChanges(changes: ModelChange[]): void;
  /** A model folder's traffic.json changed (text undefined: there is none); see policyNow. */
  onPolicy?(model: string, text: string | undefined): void;
  /** How often the policy files are read (default 1000 ms). */
  policyPollMs?: number;
  /**
   * `--model-config-name`: a model's `configs/<name>.pbtxt`, where it exists, is its
   * config (default_model_filename included), and that folder counts as model-level
   * files. '' (default): config.pbtxt only.
   */
  configName?: string;
  logger: Logger;
}

/** Settling state of one unit: the model-level files, or one version folder. */
interface Unit {
  /** Fingerprint last reported; undefined while never reported. */
  accepted: string | undefined;
  /** Latest fingerprint that differs from `accepted`, and when it was first seen. */
  seen: string | undefined;
  seenAt: number;
  /** 'waiting for files to settle' was logged for the current change. */
  waitLogged: boolean;
}

type Settle = 'same' | 'settled' | 'pending';

interface WatchedModel {
  dir: string;
  /** Reported as present (and not since as removed). */
  reported: boolean;
  files: Unit;
  versions: Map<number, Unit>;
  /** default_model_filename, cached per model-level fingerprint. */
  modelFile: { fp: string; name: string } | undefined;
  /** When a reported version folder was first seen gone (0 = none is); see #observe. */
  shrinkingSince: number;
  /** The model files and version folders present when shrinkingSince was (re)set. */
  shrinkSig: string;
}

const newUnit = (): Unit => ({ accepted: undefined, seen: undefined, seenAt: 0, waitLogged: false });

/**
 * Model-level files: everything in the model folder except sub-folders, plus warmup/
 * and, with a config name, configs/ (and not the policy file).
 */
function modelChildFilter(configName: string): (name: string, dir: boolean) => boolean {
  return (name, dir) => (dir && name !== 'warmup' && !(configName !== '' && name === 'configs')) || name === POLICY_FILE;
}

export class RepositoryWatcher {
  readonly #o: WatcherOptions;
  readonly #configName: string;
  readonly #skipModelChild: (name: string, dir: boolean) => boolean;
  readonly #models = new Map<string, WatchedModel>();
  #folders: ReadonlyMap<string, string> = new Map();
  /** Tail of the scan queue: scans never overlap. */
  #queue: Promise<void> = Promise.resolve();
  #kickQueued = false;
  #stopped = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #settleAt = Infinity;
  #debounceTimer: NodeJS.Timeout | undefined;
  readonly #watches = new Map<string, FSWatcher>();
  /** Whether the last scan left something unsettled. */
  #pending = false;
  /** traffic.json text last handed over, per model folder name. */
  readonly #policies = new Map<string, string | undefined>();
  #policyTimer: NodeJS.Timeout | undefined;

  constructor(o: WatcherOptions) {
    this.#o = o;
    this.#configName = o.configName ?? '';
    this.#skipModelChild = modelChildFilter(this.#configName);
  }

  /** Model folders seen by the last scan (settled or not): name -> folder. */
  get folders(): ReadonlyMap<string, string> {
    return this.#folders;
  }

  /** The last scan left files that are still changing. */
  get pending(): boolean {
    return this.#pending;
  }

  /**
   * The initial scan: waits (up to `maxRounds` settle intervals) for files that are
   * still changing, so a server started right after a deploy loads what was being
   * copied. Differences are merged per model. Call before start().
   */
  async initial(maxRounds = 5): Promise<ModelChange[]> {
    const merged = new Map<string, ModelChange>();
    for (let round = 0; ; round++) {
      for (const c of await this.scan()) {
        const prev = merged.get(c.name);
        if (prev === undefined) merged.set(c.name, c);
        else if (c.kind === 'removed') { if (prev.kind === 'added') merged.delete(c.name); else merged.set(c.name, c); }
        else merged.set(c.name, { ...c, kind: prev.kind === 'removed' ? 'changed' : prev.kind, details: [...prev.details, ...c.details] });
      }
      if (!this.#pending || round + 1 >= maxRounds) break;
      await new Promise((r) => setTimeout(r, this.#o.settleMs + 10));
    }
    return [...merged.values()];
  }

  /**
   * 'none' mode: list the model folders now (the manager's scan) and keep them as
   * the folders whose policy files are watched.
   */
  async listFolders(): Promise<ReadonlyMap<string, string>> {
    return this.useFolders(await listModels(this.#o.repositories));
  }

  /** 'none' mode: the model folders as listed elsewhere (the repository index). */
  useFolders(folders: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
    this.#folders = folders;
    return folders;
  }

  /** Start the background scans (and, in 'watch' mode, the file-system watches). */
  start(): void {
    this.#stopped = false;
    this.#policyTimer = setInterval(() => this.#checkPolicies(), this.#o.policyPollMs ?? 1000);
    this.#policyTimer.unref();
    if (this.#o.mode === 'none') return;
    this.#pollTimer = setInterval(() => this.#kick(), this.#o.pollMs);
    this.#pollTimer.unref();
    if (this.#o.mode === 'watch') this.#syncWatches();
    if (this.#pending) this.#armSettle(Date.now() + this.#o.settleMs);
  }

  /** Scan now (after any scan in progress) and return the differences; the caller acts on them. */
  scan(): Promise<ModelChange[]> {
    const p = this.#queue.then(() => this.#scanNow());
    this.#queue = p.then(() => undefined, () => undefined);
    return p;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#policyTimer);
    this.#policyTimer = undefined;
    clearTimeout(this.#settleTimer);
    clearTimeout(this.#debounceTimer);
    this.#pollTimer = this.#settleTimer = this.#debounceTimer = undefined;
    this.#settleAt = Infinity;
    for (const w of this.#watches.values()) w.close();
    this.#watches.clear();
    await this.#queue;
  }

  /**
   * Read a model's traffic.json now and hand it over, changed or not: a version of
   * the model just became ready, and a policy naming it may apply now. Synchronous
   * on purpose: called from the registry's ready hook right after a swap, the
   * policy is in force before any request can see the new versions without it.
   */
  policyNow(model: string): void {
    const text = this.#readPolicy(model);
    this.#policies.set(model, text);
    this.#o.onPolicy?.(model, text);
  }

  /** The content is the stamp: an edit within the timestamp granularity that keeps the size would fool an mtime/size check. */
  #readPolicy(model: string): string | undefined {
    const dir = this.#folders.get(model);
    if (dir === undefined) return undefined;
    try {
      return readFileSync(join(dir, POLICY_FILE), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Every model folder's policy file; changes are handed over. A few small reads: microseconds. */
  #checkPolicies(): void {
    if (this.#stopped || this.#o.onPolicy === undefined) return;
    for (const name of this.#policies.keys()) if (!this.#folders.has(name)) this.#policies.delete(name);
    for (const name of this.#folders.keys()) {
      const text = this.#readPolicy(name);
      if (text === this.#policies.get(name)) continue;
      this.#policies.set(name, text);
      this.#o.onPolicy(name, text);
    }
  }

  /** A background scan; several triggers before it starts make one scan. */
  #kick(): void {
    if (this.#stopped || this.#kickQueued) return;
    this.#kickQueued = true;
    const p = this.#queue.then(async () => {
      this.#kickQueued = false;
      if (this.#stopped) return;
      const changes = await this.#scanNow();
      if (changes.length > 0 && !this.#stopped) this.#o.onChanges(changes);
      // In 'watch' mode an edited traffic.json triggers this scan: apply it now.
      this.#checkPolicies();
    });
    this.#queue = p.catch((err: unknown) => this.#o.logger.error({ err }, 'repository scan failed'));
  }

  #armSettle(at: number): void {
    if (this.#stopped || this.#pollTimer === undefined || at >= this.#settleAt) return;
    clearTimeout(this.#settleTimer);
    this.#settleAt = at;
    this.#settleTimer = setTimeout(() => {
      this.#settleAt = Infinity;
      this.#settleTimer = undefined;
      this.#kick();
    }, Math.max(0, at - Date.now()));
    this.#settleTimer.unref();
  }

  #onEvent = (): void => {
    if (this.#stopped) return;
    clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => this.#kick(), this.#o.debounceMs ?? 25);
    this.#debounceTimer.unref();
  };

  /** Watch the repositories, every model folder and every version folder; drop the rest. */
  #syncWatches(): void {
    if (this.#o.mode !== 'watch' || this.#stopped || this.#pollTimer === undefined) return;
    const want = new Set<string>(this.#o.repositories);
    for (const m of this.#models.values()) {
      want.add(m.dir);
      for (const n of m.versions.keys()) want.add(join(m.dir, String(n)));
    }
    for (const [path, w] of this.#watches) {
      if (!want.has(path)) { w.close(); this.#watches.delete(path); }
    }
    for (const path of want) {
      if (this.#watches.has(path)) continue;
      try {
        const w = watch(path, { persistent: false }, this.#onEvent);
        // A watched folder that is removed errors (or just goes quiet); the next scan drops it.
        w.on('error', () => { w.close(); if (this.#watches.get(path) === w) this.#watches.delete(path); });
        this.#watches.set(path, w);
      } catch {
        // Gone already, or out of inotify watches: the poll timer still covers it.
      }
    }
  }

  #settle(u: Unit, fp: string, tree: readonly TreeEntry[], now: number, what: () => Record<string, unknown>): Settle {
    if (u.accepted === fp) {
      u.seen = undefined;
      u.waitLogged = false;
      return 'same';
    }
    if (u.seen !== fp) {
      u.seen = fp;
      u.seenAt = now;
    }
    const quiet = now - newestMtime(tree) >= this.#o.settleMs;
    const unchanged = now - u.seenAt >= this.#o.settleMs;
    if (quiet || unchanged) return 'settled';
    if (!u.waitLogged) {
      u.waitLogged = true;
      this.#o.logger.info({ ...what(), settleMs: this.#o.settleMs }, 'waiting for files to settle');
    }
    return 'pending';
  }

  async #modelFileName(m: WatchedModel, filesFp: string): Promise<string> {
    if (m.modelFile?.fp === filesFp) return m.modelFile.name;
    const name = await readModelFileName(m.dir, this.#configName);
    m.modelFile = { fp: filesFp, name };
    return name;
  }

  async #scanNow(): Promise<ModelChange[]> {
    const now = Date.now();
    let folders: Map<string, string>;
    try {
      folders = await listModels(this.#o.repositories);
    } catch (err) {
      // A repository that cannot be read says nothing about its models: report
      // nothing rather than unloading everything in it.
      this.#o.logger.warn({ err }, 'failed to read the model repository; keeping what is loaded');
      this.#pending = true;
      this.#armSettle(now + Math.max(this.#o.settleMs, 1000));
      return [];
    }
    this.#folders = folders;
    const changes: ModelChange[] = [];
    let pending = false;
    for (const [name, dir] of folders) {
      let m = this.#models.get(name);
      if (m === undefined || m.dir !== dir) {
        // A folder moved to another repository is a new folder with the same name.
        m = { dir, reported: m?.reported ?? false, files: newUnit(), versions: new Map(), modelFile: undefined, shrinkingSince: 0, shrinkSig: '' };
        this.#models.set(name, m);
      }
      const r = await this.#observe(name, m);
      if (r.pending) pending = true;
      if (r.change !== undefined) changes.push(r.change);
    }
    for (const [name, m] of this.#models) {
      if (folders.has(name)) continue;
      this.#models.delete(name);
      if (m.reported) changes.push({ name, dir: m.dir, kind: 'removed', versions: [], details: ['model folder removed'] });
    }
    this.#pending = pending;
    if (pending) this.#armSettle(Date.now() + this.#o.settleMs);
    this.#syncWatches();
    return changes;
  }

  /**
   * One model folder. Each unit's clock is read just before its files are: "nothing
   * written for settleMs" then errs on the side of waiting, however long the scan.
   */
  async #observe(name: string, m: WatchedModel): Promise<{ pending: boolean; change?: ModelChange }> {
    const modelAt = Date.now();
    const modelTree = await statTree(m.dir, this.#skipModelChild);
    // Vanished between the listing and now: the next scan reports the removal.
    if (modelTree.length === 0) return { pending: true };
    const filesFp = fingerprint(modelTree);
    const filesState = this.#settle(m.files, filesFp, modelTree, modelAt, () => ({ model: name, files: 'model' }));
    const modelFile = await this.#modelFileName(m, filesFp);

    let present: number[];
    try {
      present = await listVersions(m.dir);
    } catch {
      return { pending: true };
    }
    const observed: Array<{ n: number; u: Unit; fp: string; state: Settle; complete: boolean }> = [];
    for (const n of present) {
      const now = Date.now();
      const tree = await statTree(join(m.dir, String(n)));
      let u = m.versions.get(n);
      if (u === undefined) {
        u = newUnit();
        m.versions.set(n, u);
      }
      const fp = fingerprint(tree);
      const complete = tree.some((e) => !e.dir && e.path === modelFile);
      observed.push({ n, u, fp, state: tree.length === 0 ? 'pending' : this.#settle(u, fp, tree, now, () => ({ model: name, version: n })), complete });
    }
    const gone = [...m.versions.keys()].filter((n) => !present.includes(n));

    // Removals wait one settle interval too: `rm -rf model/` deletes files and version
    // folders one by one before the model folder, and a scan in between would apply a
    // half-removed model (say, only a failed version 4 left) and answer "no available
    // versions" for a moment. Held, the folder is usually gone by the next look and
    // is reported as removed, whole. A version counts as going when its folder or its
    // model file is gone; the interval restarts while anything keeps changing, so a
    // removal slowed down (a busy machine) is not caught half done either.
    let removing = gone.some((n) => m.versions.get(n)!.accepted !== undefined);
    for (const o of observed) {
      if (removing || o.u.accepted === undefined || o.complete) continue;
      // Its model file is gone: part of a removal while the folder itself was just
      // modified (a deletion inside it), a settled change otherwise.
      removing = await modifiedWithin(join(m.dir, String(o.n)), modelAt, this.#o.settleMs);
    }
    if (m.reported && removing) {
      const sig = `${filesFp}|${observed.map((o) => `${o.n}:${o.fp}`).join(',')}`;
      if (m.shrinkingSince === 0 || sig !== m.shrinkSig) {
        m.shrinkingSince = modelAt;
        m.shrinkSig = sig;
      }
      if (modelAt - m.shrinkingSince < this.#o.settleMs) return { pending: true };
    } else {
      m.shrinkingSince = 0;
    }

    const pending = filesState === 'pending' || observed.some((o) => o.state === 'pending');
    // A new model waits until all of it has settled, so it loads once, whole. A
    // known model waits only for its model-level files (config.pbtxt is read by
    // the registry itself); its versions settle one by one.
    if (m.reported ? filesState === 'pending' : pending) return { pending };

    const details: string[] = [];
    if (filesState === 'settled') {
      if (m.files.accepted !== undefined) details.push('model files changed');
      m.files.accepted = filesFp;
      m.files.seen = undefined;
      m.files.waitLogged = false;
    }
    for (const o of observed) {
      if (o.state !== 'settled') continue;
      if (o.complete) {
        details.push(`version ${o.n} ${o.u.accepted === undefined ? 'added' : 'changed'}`);
        o.u.accepted = o.fp;
        o.u.seen = undefined;
        o.u.waitLogged = false;
      } else if (o.u.accepted !== undefined) {
        // Its model file was deleted: no longer a version.
        details.push(`version ${o.n} removed`);
        o.u.accepted = undefined;
      }
    }
    for (const n of gone) {
      if (m.versions.get(n)!.accepted !== undefined) details.push(`version ${n} removed`);
      m.versions.delete(n);
    }
    const versions = [...m.versions].filter(([, u]) => u.accepted !== undefined).map(([n]) => n).sort((a, b) => a - b);
    if (!m.reported) {
      // Nothing loadable yet (no complete version folder): stay quiet until there is.
      if (versions.length === 0) return { pending };
      m.reported = true;
      return { pending, change: { name, dir: m.dir, kind: 'added', versions, details: details.length > 0 ? details : ['model folder added'] } };
    }
    if (details.length === 0) return { pending };
    return { pending, change: { name, dir: m.dir, kind: 'changed', versions, details } };
  }
}
