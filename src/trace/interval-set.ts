/**
 * The set of live blocks during a verified replay, as a treap (a binary
 * search tree by start address, heap-ordered by a fixed pseudo-random
 * priority per node) in typed arrays. Node `n` is block id `n - 1`; node 0 is
 * "none". Insert, remove and the overlap query are O(log n) expected, and
 * nothing is allocated per call.
 *
 * ```
 *  node n:  start[n]  end[n]        the interval [start, end), end > start
 *           left[n]   right[n]      children (0 = none)
 *           prio[n]                 parent prio >= child prio
 * ```
 * Invariant (checked by {@link IntervalSet.overlapping} before each insert):
 * the stored intervals never overlap, so the only candidates for overlapping a
 * new `[s, e)` are the block with the greatest start <= s and the block with
 * the smallest start > s.
 *
 * @module
 */

/** A set of disjoint intervals keyed by block id. */
export class IntervalSet {
  private readonly start: Float64Array;
  private readonly end: Float64Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly prio: Uint32Array;
  private root = 0;
  /** Number of intervals stored. */
  size = 0;

  /** A set for ids `0 .. ids-1`. */
  constructor(ids: number) {
    const n = ids + 1;
    this.start = new Float64Array(n);
    this.end = new Float64Array(n);
    this.left = new Int32Array(n);
    this.right = new Int32Array(n);
    this.prio = new Uint32Array(n);
    for (let i = 1; i < n; i++) {
      let h = Math.imul(i, 0x9e3779b1);
      h ^= h >>> 15;
      h = Math.imul(h, 0x85ebca6b);
      this.prio[i] = (h ^ (h >>> 13)) >>> 0;
    }
  }

  /**
   * The id of a stored interval that overlaps `[s, e)`, or -1 if none does.
   * An empty interval (`e <= s`) overlaps nothing.
   */
  overlapping(s: number, e: number): number {
    if (e <= s) return -1;
    const { start, left, right } = this;
    let t = this.root;
    let floor = 0,
      ceil = 0;
    while (t !== 0) {
      if (start[t]! <= s) {
        floor = t;
        t = right[t]!;
      } else {
        ceil = t;
        t = left[t]!;
      }
    }
    if (floor !== 0 && this.end[floor]! > s) return floor - 1;
    if (ceil !== 0 && start[ceil]! < e) return ceil - 1;
    return -1;
  }

  /** Stores `[s, e)` for `id` (call {@link overlapping} first). Empty intervals are not stored. */
  insert(id: number, s: number, e: number): void {
    if (e <= s) return;
    const n = id + 1;
    this.start[n] = s;
    this.end[n] = e;
    this.left[n] = 0;
    this.right[n] = 0;
    this.root = this.ins(this.root, n);
    this.size++;
  }

  /** Removes `id`'s interval (no-op if it was empty); `s` must be its start. */
  remove(id: number, s: number, e: number): void {
    if (e <= s) return;
    this.root = this.rem(this.root, id + 1, s);
    this.size--;
  }

  private ins(t: number, n: number): number {
    if (t === 0) return n;
    const { left, right, prio } = this;
    if (this.start[n]! < this.start[t]!) {
      const l = this.ins(left[t]!, n);
      left[t] = l;
      if (prio[l]! > prio[t]!) {
        // rotate right
        left[t] = right[l]!;
        right[l] = t;
        return l;
      }
    } else {
      const r = this.ins(right[t]!, n);
      right[t] = r;
      if (prio[r]! > prio[t]!) {
        // rotate left
        right[t] = left[r]!;
        left[r] = t;
        return r;
      }
    }
    return t;
  }

  private rem(t: number, n: number, s: number): number {
    if (t === 0) return 0;
    if (t === n) return this.merge(this.left[t]!, this.right[t]!);
    if (s < this.start[t]!) this.left[t] = this.rem(this.left[t]!, n, s);
    else this.right[t] = this.rem(this.right[t]!, n, s);
    return t;
  }

  private merge(a: number, b: number): number {
    if (a === 0) return b;
    if (b === 0) return a;
    if (this.prio[a]! > this.prio[b]!) {
      this.right[a] = this.merge(this.right[a]!, b);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b]!);
    return b;
  }
}
