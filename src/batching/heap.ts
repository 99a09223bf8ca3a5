/**
 * Indexed binary min-heap. Each node remembers its own slot (`heapIndex`), so a node can
 * be removed or re-keyed in O(log n) when its request leaves the queue early (dispatched,
 * cancelled). Lazy deletion would be simpler, but requests carrying long gRPC deadlines
 * would then leave stale nodes behind until those deadlines passed: at high request
 * rates that is millions of dead entries.
 */
export interface HeapNode {
  /** Slot in the heap; -1 when not in it. Owned by the heap. */
  heapIndex: number;
  /** Sort key (a time in ms). Owned by the heap: change it through `update`. */
  heapKey: number;
}

export class MinHeap<N extends HeapNode> {
  private readonly a: N[] = [];

  get size(): number { return this.a.length; }

  /** Smallest key; Infinity when empty (so callers can `min()` it without a branch). */
  peekKey(): number {
    return this.a.length === 0 ? Infinity : this.a[0]!.heapKey;
  }

  peek(): N | undefined { return this.a[0]; }

  /** Insert `node`, or move it to `key` if it is already in the heap. */
  update(node: N, key: number): void {
    const i = node.heapIndex;
    if (i < 0) {
      node.heapKey = key;
      node.heapIndex = this.a.length;
      this.a.push(node);
      this.up(node.heapIndex);
      return;
    }
    const old = node.heapKey;
    node.heapKey = key;
    if (key < old) this.up(i);
    else if (key > old) this.down(i);
  }

  remove(node: N): void {
    const i = node.heapIndex;
    if (i < 0) return;
    node.heapIndex = -1;
    const last = this.a.pop()!;
    if (last === node) return;
    this.a[i] = last;
    last.heapIndex = i;
    this.up(i);
    this.down(last.heapIndex);
  }

  clear(): void {
    for (const n of this.a) n.heapIndex = -1;
    this.a.length = 0;
  }

  private up(i: number): void {
    const a = this.a;
    const node = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (parent.heapKey <= node.heapKey) break;
      a[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    a[i] = node;
    node.heapIndex = i;
  }

  private down(i: number): void {
    const a = this.a;
    const n = a.length;
    const node = a[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && a[c + 1]!.heapKey < a[c]!.heapKey) c++;
      const child = a[c]!;
      if (child.heapKey >= node.heapKey) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = node;
    node.heapIndex = i;
  }
}
