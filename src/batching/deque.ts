/**
 * Growable ring buffer. The batcher's per-level queues push at the tail and pop at the
 * head for every request; an Array used that way (`shift`) is O(n) once V8 leaves its
 * fast path, and a linked list allocates a node per request. This reuses one backing
 * array that only grows (doubling), so the steady state allocates nothing.
 */
export class Deque<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private len = 0;
  private mask: number;

  constructor(capacity = 16) {
    let cap = 4;
    while (cap < capacity) cap <<= 1; // power of two so wrap-around is a mask, not a modulo
    this.buf = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number { return this.len; }

  push(value: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & this.mask] = value;
    this.len++;
  }

  /** The head element; undefined when empty. */
  peek(): T | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined; // drop the reference so a finished request can be collected
    this.head = (this.head + 1) & this.mask;
    this.len--;
    return v;
  }

  /** Element `i` counted from the head; the caller keeps `i < length`. */
  at(i: number): T {
    return this.buf[(this.head + i) & this.mask] as T;
  }

  clear(): void {
    for (let i = 0; i < this.len; i++) this.buf[(this.head + i) & this.mask] = undefined;
    this.head = 0;
    this.len = 0;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.len; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}
