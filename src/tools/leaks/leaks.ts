/**
 * A leak detector for manual kmalloc heaps, after the kernel's kmemleak:
 * with no type information, it scans every allocated block word by word for
 * values that point into an allocated block (conservatively: any 32-bit
 * word that looks like an address counts, as kmemleak does), marks from the
 * given roots, and reports the blocks nothing reaches:
 * ```
 * unreferenced object 0x00012340 (size 32):
 *   comm "memkit", pid 0, jiffies 0
 *   hex dump (first 32 bytes):
 *     2a 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  *...............
 *     00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
 *   backtrace:
 *     [<00000000>] makeNode (file:///app/main.js:12:15)
 * ```
 * The backtrace is there when the heap was wrapped in an
 * {@link AllocationTracker}, which records `new Error().stack` per block.
 *
 * Not a hot path: the scan builds a sorted table of blocks (typed arrays)
 * and a JS mark stack.
 *
 * @module
 */
import { InvalidArgumentError, hex } from '../../errors/index.js';
import type { Memory } from '../../memory/memory.js';

/** What findLeaks needs from a heap (a `Kmalloc` has all of it). */
export interface LeakScanTarget {
  /** The Memory that holds the heap's blocks (the scan reads its words). */
  readonly memory: Memory;
  /** Calls `visit(addr, usableSize)` for every allocated block. */
  forEachBlock(visit: (addr: number, usableSize: number) => void): void;
}

/** Options of {@link findLeaks}. */
export interface FindLeaksOptions {
  /**
   * Count a pointer into the middle of a block as a reference (kmemleak
   * does; default true). With false only pointers to a block's start count.
   */
  interior?: boolean;
  /** Extra root regions `[address, bytes]` to scan (a "data section"). */
  rootRanges?: ReadonlyArray<readonly [number, number]>;
  /** Process name printed in the `comm` line (default "memkit"). */
  comm?: string;
}

/** One unreferenced block. */
export interface Leak {
  /** Address of the block. */
  address: number;
  /** Bytes asked for when tracked, else the block's usable size. */
  size: number;
  /** The first (up to) 32 bytes. */
  bytes: Uint8Array;
  /** Allocation stack frames, when the heap was tracked. */
  backtrace?: string[];
}

/** What {@link findLeaks} returns. */
export interface LeakReport {
  /** The unreferenced blocks, in address order (empty when nothing leaked). */
  leaks: Leak[];
  /** Allocated blocks seen. */
  blocks: number;
  /** Bytes scanned for pointers. */
  scannedBytes: number;
  /** The report in kmemleak's format (empty string when nothing leaked). */
  text: string;
}

/**
 * Wraps an allocator and records where each live block was allocated
 * (`new Error().stack`) and its requested size, so that {@link findLeaks}
 * can print a backtrace and scan only the bytes asked for. New blocks are
 * zeroed, so that stale words (an old free-list pointer) do not pass for
 * pointers. It is slow (a stack capture per allocation): a debugging aid.
 *
 * @example
 * ```ts
 * const k = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
 * const p = k.alloc(32);
 * findLeaks(k, []).text;   // "unreferenced object 0x... (size 32): ... backtrace: ..."
 * ```
 */
export class AllocationTracker implements LeakScanTarget {
  private readonly sites = new Map<number, { stack: string; size: number }>();

  constructor(
    /** The heap being tracked. */
    readonly heap: LeakScanTarget & {
      /** Allocates `size` bytes; returns the block's address. */
      alloc(size: number): number;
      /** Frees the block at `addr`. */
      free(addr: number): void;
      /** Resizes the block at `addr` to `size` bytes; returns its address (0 when it freed it). Optional. */
      realloc?(addr: number, size: number): number;
    },
  ) {}

  /** The tracked heap's memory. */
  get memory(): Memory {
    return this.heap.memory;
  }

  /**
   * Allocates (zeroed) through the heap and records the call site.
   *
   * @example
   * ```ts
   * const tracker = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
   * const p = tracker.alloc(30);
   * tracker.requestedSize(p); // 30
   * ```
   */
  alloc(size: number): number {
    const addr = this.heap.alloc(size);
    this.heap.memory.u8.fill(0, addr, addr + size);
    this.sites.set(addr, { stack: new Error().stack ?? '', size });
    return addr;
  }

  /**
   * Frees through the heap and forgets the call site.
   *
   * @example
   * ```ts
   * const tracker = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
   * const p = tracker.alloc(30);
   * tracker.free(p);
   * tracker.backtrace(p); // undefined: no longer tracked
   * ```
   */
  free(addr: number): void {
    this.heap.free(addr);
    this.sites.delete(addr);
  }

  /**
   * Reallocates through the heap (the block's site becomes this call).
   *
   * @example
   * ```ts
   * const tracker = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
   * const p = tracker.realloc(tracker.alloc(30), 100); // tracked from this call now
   * tracker.requestedSize(p); // 100
   * ```
   */
  realloc(addr: number, size: number): number {
    if (this.heap.realloc === undefined) throw new InvalidArgumentError('the tracked heap has no realloc');
    const fresh = this.heap.realloc(addr, size);
    this.sites.delete(addr);
    if (fresh !== 0) this.sites.set(fresh, { stack: new Error().stack ?? '', size });
    return fresh;
  }

  /**
   * Every allocated block of the heap.
   *
   * @example
   * ```ts
   * const tracker = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
   * tracker.alloc(30);
   * tracker.forEachBlock((addr, usableSize) => console.log(usableSize)); // 32
   * ```
   */
  forEachBlock(visit: (addr: number, usableSize: number) => void): void {
    this.heap.forEachBlock(visit);
  }

  /**
   * Stack frames of the allocation of `addr` (innermost first), if tracked.
   *
   * @example
   * ```ts
   * const tracker = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
   * const p = tracker.alloc(30);
   * console.log(tracker.backtrace(p)?.[0]); // the frame that called alloc
   * ```
   */
  backtrace(addr: number): string[] | undefined {
    const site = this.sites.get(addr);
    if (site === undefined) return undefined;
    // Drop "Error" and the tracker's own frame.
    return site.stack
      .split('\n')
      .slice(2)
      .map((l) => l.trim().replace(/^at /, ''))
      .slice(0, 8);
  }

  /**
   * Bytes asked for at `addr`, if tracked.
   *
   * @example
   * ```ts
   * const tracker = new AllocationTracker(new Kmalloc({ bytes: 1 << 20 }));
   * const p = tracker.alloc(30);
   * tracker.requestedSize(p); // 30 (its usable size is 32)
   * tracker.requestedSize(0); // undefined: not tracked
   * ```
   */
  requestedSize(addr: number): number | undefined {
    return this.sites.get(addr)?.size;
  }
}

/**
 * Finds the blocks of a manual heap that no root reaches (kmemleak).
 * Like kmemleak it errs on the side of silence: a stale word that happens
 * to hold a block's address counts as a pointer and hides a leak, while a
 * block is reported only when no reachable word points into it (given all
 * roots). Zeroed blocks (kzalloc, or an {@link AllocationTracker}) keep
 * stale words out.
 *
 * `roots` are addresses (or any values) held outside the heap: a root that
 * points into a block reaches it. Reached blocks are scanned word by word
 * (4-byte aligned u32 values) for more pointers.
 *
 * @example
 * ```ts
 * const k = new Kmalloc({ bytes: 1 << 20 });
 * const list = k.alloc(16); const node = k.alloc(16);
 * k.memory.u32[list >>> 2] = node;          // list -> node
 * const lost = k.alloc(64);                 // nothing points here
 * findLeaks(k, [list]).leaks.map((l) => l.address);   // [lost]
 * ```
 */
export function findLeaks(heap: LeakScanTarget, roots: Iterable<number>, options: FindLeaksOptions = {}): LeakReport {
  const interior = options.interior ?? true;
  const mem = heap.memory;
  mem.sync();
  const addrs: number[] = [];
  const sizes: number[] = [];
  const tracker = heap instanceof AllocationTracker ? heap : null;
  heap.forEachBlock((a, n) => {
    addrs.push(a);
    // Only the bytes asked for, when known: the tail past them is stale.
    sizes.push(tracker?.requestedSize(a) ?? n);
  });
  const count = addrs.length;
  const order = Array.from({ length: count }, (_, i) => i).sort((x, y) => addrs[x]! - addrs[y]!);
  const start = new Float64Array(count);
  const size = new Float64Array(count);
  order.forEach((o, i) => {
    start[i] = addrs[o]!;
    size[i] = sizes[o]!;
  });
  const lo = count === 0 ? 0 : start[0]!;
  const hi = count === 0 ? 0 : start[count - 1]! + size[count - 1]!;
  /** Index of the block containing v (or starting at v), or -1. */
  const lookup = (v: number): number => {
    if (v < lo || v >= hi) return -1;
    let l = 0;
    let r = count - 1;
    while (l < r) {
      const m = (l + r + 1) >>> 1;
      if (start[m]! <= v) l = m;
      else r = m - 1;
    }
    if (interior ? v < start[l]! + size[l]! : v === start[l]) return l;
    return -1;
  };
  const reached = new Uint8Array(count);
  const stack: number[] = [];
  const reach = (v: number): void => {
    const i = lookup(v);
    if (i >= 0 && reached[i] === 0) {
      reached[i] = 1;
      stack.push(i);
    }
  };
  let scannedBytes = 0;
  const scan = (from: number, bytes: number): void => {
    const u32 = mem.u32;
    const first = (from + 3) >>> 2;
    const end = Math.min((from + bytes) >>> 2, u32.length);
    scannedBytes += Math.max(0, end - first) * 4;
    for (let w = first; w < end; w++) {
      const v = u32[w]!;
      if (v >= lo && v < hi) reach(v);
    }
  };
  for (const r of roots) reach(r);
  for (const [a, n] of options.rootRanges ?? []) scan(a, n);
  while (stack.length > 0) {
    const i = stack.pop()!;
    scan(start[i]!, size[i]!);
  }
  const leaks: Leak[] = [];
  for (let i = 0; i < count; i++) {
    if (reached[i] === 1) continue;
    const address = start[i]!;
    const n = Math.min(32, size[i]!);
    const leak: Leak = {
      address,
      size: tracker?.requestedSize(address) ?? size[i]!,
      bytes: mem.u8.slice(address, address + n),
    };
    const bt = tracker?.backtrace(address);
    if (bt !== undefined) leak.backtrace = bt;
    leaks.push(leak);
  }
  return { leaks, blocks: count, scannedBytes, text: formatLeaks(leaks, options.comm ?? 'memkit') };
}

/** Formats leaks the way `/sys/kernel/debug/kmemleak` prints them. */
export function formatLeaks(leaks: readonly Leak[], comm = 'memkit'): string {
  const out: string[] = [];
  for (const leak of leaks) {
    out.push(`unreferenced object ${hex(leak.address)} (size ${leak.size}):`);
    out.push(`  comm "${comm}", pid 0, jiffies 0`);
    out.push(`  hex dump (first ${leak.bytes.length} bytes):`);
    for (let off = 0; off < leak.bytes.length; off += 16) {
      const row = leak.bytes.subarray(off, off + 16);
      const hexes = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
      const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
      out.push(`    ${hexes.padEnd(47)}  ${ascii}`);
    }
    if (leak.backtrace !== undefined) {
      out.push('  backtrace:');
      for (const frame of leak.backtrace) out.push(`    [<00000000>] ${frame}`);
    }
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
