/**
 * @module
 * An indexed binary min-heap of small integer ids (the scheduler's hosts),
 * ordered by a comparison the owner supplies. Indexed so that when one id's
 * key changes (a host takes a node) it is moved in O(log n) instead of the
 * whole heap being rebuilt or searched.
 */

export class IndexedHeap {
  readonly #items: number[] = [];
  /** where each id sits in #items, -1 when it is not in the heap */
  readonly #pos: Int32Array;
  readonly #less: (a: number, b: number) => boolean;

  /** @param capacity ids range over 0..capacity-1 */
  constructor(capacity: number, less: (a: number, b: number) => boolean) {
    this.#pos = new Int32Array(capacity).fill(-1);
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): number | undefined {
    return this.#items[0];
  }

  has(id: number): boolean {
    return this.#pos[id] >= 0;
  }

  push(id: number): void {
    if (this.has(id)) return;
    this.#items.push(id);
    this.#pos[id] = this.#items.length - 1;
    this.#up(this.#items.length - 1);
  }

  pop(): number | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop() as number;
    this.#pos[top] = -1;
    if (items.length > 0) {
      items[0] = last;
      this.#pos[last] = 0;
      this.#down(0);
    }
    return top;
  }

  /** Restores order after the key of `id` changed, in either direction. */
  update(id: number): void {
    const i = this.#pos[id];
    if (i < 0) return;
    this.#up(i);
    this.#down(this.#pos[id]);
  }

  #up(i: number): void {
    const items = this.#items;
    const id = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(id, items[parent])) break;
      items[i] = items[parent];
      this.#pos[items[i]] = i;
      i = parent;
    }
    items[i] = id;
    this.#pos[id] = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const id = items[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.#less(items[child + 1], items[child])) child++;
      if (!this.#less(items[child], id)) break;
      items[i] = items[child];
      this.#pos[items[i]] = i;
      i = child;
    }
    items[i] = id;
    this.#pos[id] = i;
  }
}
