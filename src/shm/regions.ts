/**
 * Triton's system shared-memory manager: named regions, each a read-write mapping
 * of an existing POSIX shm object (native/, via native.ts), and CUDA shared memory
 * answered as a CPU-only Triton does. Owns every message and code of Triton's
 * system_shared_memory and cuda_shared_memory extensions.
 *
 * Lifetime: a request holds each region it uses (`acquire`) until its answer is
 * written (`release`). Unregistering drops the name at once; the mapping stays until
 * the last holder releases it. Runs on the main thread only.
 */
import { AlreadyExists, Internal, InvalidArgument, NotFound, Unavailable, Unsupported } from '../errors/errors.js';
import { type ShmAddon, shmAddon, shmUnavailableReason } from './native.js';

export interface RegionStatus { name: string; key: string; offset: number; byte_size: number }

export const SHM_DISABLED = "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.";

/** Triton refuses keys of its own Python backend. */
const RESERVED_KEY_PREFIX = 'triton_python_backend_shm_region_';

/** One mapping; `bytes` spans exactly the registered window. */
export class Region {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byteSize: number;
  readonly bytes: Uint8Array;
  readonly #buffer: ArrayBuffer;
  readonly #addon: ShmAddon;
  #holders = 0;
  #registered = true;

  constructor(addon: ShmAddon, name: string, key: string, offset: number, byteSize: number, buffer: ArrayBuffer) {
    this.#addon = addon;
    this.name = name;
    this.key = key;
    this.offset = offset;
    this.byteSize = byteSize;
    this.#buffer = buffer;
    this.bytes = new Uint8Array(buffer);
  }

  /**
   * `size` bytes at `offset` within the region, or Triton's error. The view is valid
   * until the holder releases the region.
   */
  view(offset: number, size: number): Uint8Array {
    if (offset >= this.byteSize && !(offset === 0 && size === 0)) throw new InvalidArgument(`Invalid offset for shared memory region: '${this.name}'`);
    if (offset + size > this.byteSize) throw new InvalidArgument(`Invalid offset + byte size for shared memory region: '${this.name}'`);
    return this.bytes.subarray(offset, offset + size);
  }

  hold(): void { this.#holders++; }

  release(): void {
    if (--this.#holders === 0 && !this.#registered) this.#unmap();
  }

  /** The name is gone; unmap now, or when the last request holding it is done. */
  drop(): void {
    this.#registered = false;
    if (this.#holders === 0) this.#unmap();
  }

  #unmap(): void {
    this.#addon.unmap(this.#buffer);
  }
}

/** A key that names exactly one object directly under /dev/shm: `name` or `/name`. */
function validKey(key: string): boolean {
  const base = key.startsWith('/') ? key.slice(1) : key;
  return base !== '' && base !== '.' && base !== '..' && !base.includes('/') && !base.includes('\0')
    && !base.startsWith(RESERVED_KEY_PREFIX);
}

function isSize(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

export class SharedMemoryManager {
  readonly #allowed: boolean;
  readonly #regions = new Map<string, Region>();

  constructor(opts: { allowClientShm: boolean }) {
    this.#allowed = opts.allowClientShm;
  }

  /** Why system shared memory cannot work here ('' when it can). */
  static get unavailableReason(): string { return shmUnavailableReason; }

  #gate(): void {
    if (!this.#allowed) throw new Unsupported(SHM_DISABLED);
  }

  register(name: string, key: string, offset: number, byteSize: number): void {
    this.#gate();
    if (this.#regions.has(name)) throw new AlreadyExists(`shared memory region '${name}' already in manager`);
    if (!validKey(key)) throw new InvalidArgument(`cannot register shared memory region '${name}' - invalid shm key '${key}'`);
    if (!isSize(offset) || !isSize(byteSize)) throw new InvalidArgument(`failed to register shared memory region '${name}': invalid args`);
    if (shmAddon === undefined) throw new Unavailable(`system shared memory is unavailable on this server: ${shmUnavailableReason}`);
    // shm_open wants the leading slash; both spellings name the same /dev/shm object.
    const objectName = key.startsWith('/') ? key : `/${key}`;
    let buffer: ArrayBuffer;
    try {
      buffer = shmAddon.open(objectName, offset, byteSize);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'RANGE') throw new InvalidArgument(`failed to register shared memory region '${name}': invalid args`);
      if (code === 'OPEN') throw new Internal(`Unable to open shared memory region: '${key}'`);
      throw new Internal(`Unable to map shared memory region: '${key}'`);
    }
    this.#regions.set(name, new Region(shmAddon, name, key, offset, byteSize, buffer));
  }

  /** Every region, or the one named (NOT_FOUND when unknown). Answers with the gate off too. */
  status(name = ''): RegionStatus[] {
    const list = name === '' ? [...this.#regions.values()] : [this.#regions.get(name)];
    return list.map((r) => {
      if (r === undefined) throw new NotFound(`Unable to find system shared memory region: '${name}'`);
      return { name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize };
    });
  }

  /** One region, or all ('' ). Unknown names are a no-op; in-use regions unmap when their requests finish. */
  unregister(name = ''): void {
    this.#gate();
    const names = name === '' ? [...this.#regions.keys()] : [name];
    for (const n of names) {
      const r = this.#regions.get(n);
      if (r === undefined) continue;
      this.#regions.delete(n);
      r.drop();
    }
  }

  /** The region a request names, held until the caller releases it. */
  acquire(name: string): Region {
    const r = this.#regions.get(name);
    if (r === undefined) throw new NotFound(`Unable to find shared memory region: '${name}'`);
    r.hold();
    return r;
  }

  // ---- CUDA shared memory, as a CPU-only Triton answers it ----

  cudaStatus(name = ''): Array<{ name: string; device_id: number; byte_size: number }> {
    if (name !== '') throw new NotFound(`Unable to find cuda shared memory region: '${name}'`);
    return [];
  }

  /** HTTP checks the gate before the body; gRPC refuses with the GPU message even with the gate off. */
  cudaGate(): void {
    this.#gate();
  }

  cudaRegister(name: string, checkGate: boolean): never {
    if (checkGate) this.#gate();
    throw new InvalidArgument(`failed to register CUDA shared memory region: '${name}', GPUs not supported`);
  }

  cudaUnregister(): void {
    this.#gate();
  }

  /** Shutdown: unmap what nothing holds (held regions unmap as their requests finish). */
  close(): void {
    for (const r of this.#regions.values()) r.drop();
    this.#regions.clear();
  }
}
