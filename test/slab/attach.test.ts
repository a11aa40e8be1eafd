/**
 * SlabCache.attach (issues 9 and 10): one construction path, an fsck of the
 * state it opens, the same object as a constructed cache.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  HeapCorruptionError,
  InvalidArgumentError,
  Memory,
  SlabCache,
  ensureHeader,
} from '../../src/index.js';
import { PAGE_WORDS, P_NEXT } from '../../src/slab/layout.js';
import { runAttachFuzz } from './attach-fuzz.js';

/** A buddy with two caches in use (one with debug on), objects allocated and freed. */
function built() {
  const buddy = new BuddyAllocator({ pages: 64 });
  const small = new SlabCache(buddy, { name: 'small', size: 40 });
  const big = new SlabCache(buddy, { name: 'big', size: 900, debug: true });
  const a = Array.from({ length: 300 }, () => small.alloc());
  const b = Array.from({ length: 9 }, () => big.alloc());
  for (const x of a.filter((_, i) => i % 4 === 1)) small.free(x);
  big.free(b[3]!);
  return { buddy, small, big, a, b };
}

const copyOf = (m: Memory) => Memory.wrap(m.buffer.slice(0));

describe('SlabCache.attach', () => {
  it('opens a cache by name or id; the copy gives the same stats and the same results for the same operations', () => {
    const { buddy, small, big, a } = built();
    const memory = copyOf(buddy.memory!);
    const small2 = SlabCache.attach(memory, { name: 'small' });
    const big2 = SlabCache.attach(memory, { id: big.id });
    expect(small2.id).toBe(small.id);
    expect(small2.isAllocated(a[0]!)).toBe(true);
    expect(small2.isAllocated(a[1]!)).toBe(false); // freed before the copy
    for (const [x, y] of [
      [small, small2],
      [big, big2],
    ] as const) {
      expect(y.stats()).toEqual(x.stats());
      expect(y.slabinfoRow()).toBe(x.slabinfoRow());
      const slabs = (c: SlabCache) => {
        const s: unknown[] = [];
        c.forEachSlab((...v) => s.push(v));
        return s;
      };
      expect(slabs(y)).toEqual(slabs(x));
      // Same operations, same answers.
      const ops = (c: SlabCache) => {
        const got = Array.from({ length: 80 }, () => c.alloc());
        for (const p of got.filter((_, i) => i % 3 === 0)) c.free(p);
        return [got, c.stats(), c.shrink(), c.stats()];
      };
      expect(ops(y)).toEqual(ops(x));
      y.checkInvariants();
    }
    // The two heaps are apart now: the original's buffer was not touched by the copy.
    expect(() => small.checkInvariants()).not.toThrow();
  });

  it("over a shared buffer, both instances see each other's work", () => {
    const buddy = new BuddyAllocator({ memory: Memory.create({ bytes: 1 << 20, shared: true }) });
    const cache = new SlabCache(buddy, { name: 'shared', size: 64 });
    const other = SlabCache.attach(Memory.wrap(buddy.memory!.buffer));
    const p = other.alloc();
    expect(cache.isAllocated(p)).toBe(true);
    cache.free(p);
    expect(other.isAllocated(p)).toBe(false);
    expect(other.stats()).toEqual(cache.stats());
  });

  it('no slab space, a wrong magic, a truncated buffer, a missing cache: HeapCorruptionError with the address', () => {
    expect(() => SlabCache.attach(Memory.create({ bytes: 65536 }))).toThrow(HeapCorruptionError); // not even a memkit header
    const headerOnly = Memory.create({ bytes: 65536 });
    ensureHeader(headerOnly);
    expect(() => SlabCache.attach(headerOnly)).toThrow(HeapCorruptionError); // no buddy allocator
    const plain = new BuddyAllocator({ pages: 16 });
    expect(() => SlabCache.attach(plain.memory!)).toThrow(/no slab space in this Memory/);
    const { buddy, small } = built();
    const region = buddy.memory!.u32[(16 + 4 * 5) >>> 2]!;
    const bad = copyOf(buddy.memory!);
    bad.u32[(region >>> 2) + 1] = bad.u32[(region >>> 2) + 1]! ^ 1;
    let err: unknown;
    try {
      SlabCache.attach(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeapCorruptionError);
    expect((err as HeapCorruptionError).address).toBe(region + 4);
    expect((err as Error).message).toMatch(/magic SLAB missing/);
    const cut = Memory.wrap(buddy.memory!.buffer.slice(0, region + 1024));
    expect(() => SlabCache.attach(cut)).toThrow(HeapCorruptionError);
    expect(() => SlabCache.attach(copyOf(buddy.memory!), { id: 7 })).toThrow(/no slab cache 7/);
    expect(() => SlabCache.attach(copyOf(buddy.memory!), { name: 'nope' })).toThrow(InvalidArgumentError);
    // A damaged stride (a word that must agree with size, align and flags).
    const strideAt = region + 64 + small.id * 128 + 3 * 4;
    const d2 = copyOf(buddy.memory!);
    d2.u32[strideAt >>> 2] = d2.u32[strideAt >>> 2]! + 8;
    try {
      SlabCache.attach(d2, { name: 'small' });
      err = undefined;
    } catch (e) {
      err = e;
    }
    expect((err as HeapCorruptionError).address).toBe(strideAt);
  });

  it('a cycle in a list or a freelist is found by a bounded walk, not followed forever', () => {
    const { buddy, small, a } = built();
    const region = buddy.memory!.u32[(16 + 4 * 5) >>> 2]!;
    const m = copyOf(buddy.memory!);
    // Partial-list head's next link -> itself.
    const desc = (region >>> 2) + 16 + small.id * 32;
    const head = m.u32[desc + 9]!;
    const pt = (region >>> 2) + m.u32[(region >>> 2) + 4]!;
    m.u32[pt + head * PAGE_WORDS + P_NEXT] = head;
    expect(() => SlabCache.attach(m, { name: 'small' })).toThrow(/a second time/);
    // A free object's pointer -> itself (with its tag forged to match).
    const m2 = copyOf(buddy.memory!);
    const free = a[1]!;
    m2.u32[free >>> 2] = free;
    m2.u32[(free >>> 2) + 1] = (free ^ 0x46524545) >>> 0;
    expect(() => SlabCache.attach(m2, { name: 'small' })).toThrow(/twice \(a cycle\)/);
  });

  it('constructed and attached caches share one hidden class (%HaveSameMap, in a child node)', () => {
    const script = fileURLToPath(new URL('./hidden-class.child.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as Record<string, boolean>;
    expect(result).toEqual({ slab: true, slabViaSpace: true, tlsf: true, tlsfViaBuddy: true, control: false });
  });

  it('attach fuzzer: every damaged word or truncation gives a typed error or a sound heap (a hang watchdog per case)', async () => {
    const report = await runAttachFuzz('slab', 20261201, 500);
    expect(report.failures).toEqual([]);
    expect(report.typed).toBeGreaterThan(0);
    expect(report.usable).toBeGreaterThan(0);
    expect(report.words).toBeGreaterThan(50);
    expect(Math.floor((500 * 6) / 7)).toBeGreaterThanOrEqual(report.words); // every state word was damaged at least once
  });
});
