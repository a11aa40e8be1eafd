import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, DoubleFreeError, InvalidFreeError, OutOfMemoryError, TlsfHeap } from '../../src/index.js';
import { SOAK, checkEnds, fillEnds, runs } from '../support/fuzz.js';
import { runAttachFuzz } from '../slab/attach-fuzz.js';

/** Live blocks of the model: addr -> [size, id]; overlap checked by sorting. */
class Model {
  readonly blocks = new Map<number, [len: number, id: number]>();
  add(addr: number, len: number, id: number): void {
    if (this.blocks.has(addr)) throw new Error(`address ${addr} handed out twice`);
    this.blocks.set(addr, [len, id]);
  }
  remove(addr: number): { len: number; id: number } {
    const b = this.blocks.get(addr);
    if (b === undefined) throw new Error(`no live block at ${addr}`);
    this.blocks.delete(addr);
    return { len: b[0], id: b[1] };
  }
  /** Throws if two live blocks overlap. O(n log n). */
  checkDisjoint(): void {
    const xs = [...this.blocks].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < xs.length; i++) {
      const [a, [len]] = xs[i - 1]!;
      if (a + len > xs[i]![0]) throw new Error(`block [${a}, ${a + len}) overlaps the block at ${xs[i]![0]}`);
    }
  }
}

/** Sizes 1 B..64 KiB, most of them small. */
const sizeArb = fc.oneof(
  { weight: 50, arbitrary: fc.integer({ min: 1, max: 512 }) },
  { weight: 35, arbitrary: fc.integer({ min: 513, max: 8192 }) },
  { weight: 15, arbitrary: fc.integer({ min: 8193, max: 65536 }) },
);
type Op = [kind: 'a' | 'f' | 'r', size: number, pick: number];
const opArb: fc.Arbitrary<Op> = fc.tuple(
  fc.constantFrom('a' as const, 'a' as const, 'f' as const, 'r' as const),
  sizeArb,
  fc.nat(),
);

/**
 * Replays ops on a fresh heap against a model of live blocks: no overlap,
 * 8-aligned, inside one of the heap's chunks, payload intact (also across
 * realloc), usableSize >= size; then frees everything and checks that every
 * chunk went back to the buddy.
 */
function replay(
  ops: Iterable<Op>,
  opts: { pages: number; chunkPages: number; everyStep: boolean; quickBytes?: number },
): { n: number; ooms: number; doubles: number } {
  const buddy = new BuddyAllocator({ pages: opts.pages });
  const initial = JSON.stringify(buddy.freeCounts());
  const heap = new TlsfHeap(buddy, { chunkPages: opts.chunkPages, quickBytes: opts.quickBytes });
  let doubles = 0;
  /** Freed and not handed out again since (a double free of each must be refused). */
  const freed = new Set<number>();
  const live = new Model();
  const addrs: number[] = [];
  const sizes = new Map<number, number>();
  let id = 0;
  let n = 0;
  let ooms = 0;
  // Every byte of the block in chunks the heap holds (it may straddle two of one run).
  const inChunk = (a: number, size: number): boolean => {
    const held = new Set<number>();
    heap.forEachChunk((c) => held.add(c));
    const first = a - ((a - buddy.base) % heap.chunkBytes);
    for (let c = first; c < a + size; c += heap.chunkBytes) if (!held.has(c)) return false;
    return true;
  };
  const admit = (a: number, size: number): void => {
    const usable = heap.usableSize(a);
    // Plain checks in the loop (expect() per op would dominate the run time).
    if (a % 8 !== 0) throw new Error(`${a} is not 8-aligned`);
    if (usable < size || usable > size + 23) throw new Error(`usableSize ${usable} for ${size} bytes`);
    if (opts.everyStep && !inChunk(a, usable)) throw new Error(`block ${a} (+${usable}) is not inside the chunks held`);
    live.add(a, size, (id += 2));
    freed.delete(a);
    fillEnds(heap.bytes, a, size, id);
    sizes.set(a, size);
  };
  for (const [kind, wanted, pick] of ops) {
    const size = Math.min(wanted, heap.maxSize);
    n++;
    if (kind === 'a' || addrs.length === 0) {
      let a: number;
      try {
        a = heap.alloc(size);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e;
        ooms++;
        continue;
      }
      admit(a, size);
      addrs.push(a);
    } else {
      const i = pick % addrs.length;
      const a = addrs[i]!;
      const old = sizes.get(a)!;
      const blk = live.remove(a);
      const damage = checkEnds(heap.bytes, a, old, blk.id);
      if (damage !== '') throw new Error(damage);
      sizes.delete(a);
      if (kind === 'f') {
        heap.free(a);
        freed.add(a);
        addrs[i] = addrs[addrs.length - 1]!;
        addrs.pop();
        if (opts.everyStep && pick % 4 === 0) {
          // Free it again at once: refused with DoubleFreeError (it is quick-listed, or free
          // in TLSF, or merged into a free neighbour that keeps its header), the heap unchanged.
          // The state a refused free could touch: the control structure, the block's header and link.
          const digest = (): string =>
            `${heap.bytes.subarray(heap.region, heap.region + 4096).join()}|${heap.bytes.subarray(a - 8, a + 8).join()}`;
          const before = digest();
          let err: unknown = null;
          try {
            heap.free(a);
          } catch (e) {
            err = e;
          }
          // Still a block start (quick-listed, or free in TLSF): DoubleFreeError. Merged into a
          // neighbour or its chunk given back: InvalidFreeError may be all that is left to say.
          let start = false;
          heap.forEachBlock((p) => {
            if (p === a) start = true;
          });
          if (!(err instanceof DoubleFreeError) && (start || !(err instanceof InvalidFreeError)))
            throw new Error(`double free of ${a} gave ${String(err)}`);
          if (digest() !== before) throw new Error(`double free of ${a} changed the heap`);
          if (start) doubles++;
        }
      } else {
        let b: number;
        try {
          b = heap.realloc(a, size);
        } catch (e) {
          if (!(e instanceof OutOfMemoryError)) throw e;
          ooms++;
          live.add(a, old, blk.id);
          sizes.set(a, old);
          continue;
        }
        // The content survives up to the smaller size.
        const keep = Math.min(old, size);
        const moved = checkEnds(heap.bytes, b, Math.min(keep, 32), blk.id);
        if (moved !== '') throw new Error(`realloc lost content: ${moved}`);
        admit(b, size);
        addrs[i] = b;
      }
    }
    if (opts.everyStep) {
      heap.checkInvariants();
      live.checkDisjoint();
    } else if (n % 2000 === 0) {
      live.checkDisjoint();
    }
  }
  live.checkDisjoint();
  heap.checkInvariants();
  for (const a of addrs) {
    const blk = live.remove(a);
    expect(checkEnds(heap.bytes, a, sizes.get(a)!, blk.id)).toBe('');
    heap.free(a);
  }
  heap.checkInvariants();
  expect(heap.stats().usedBlocks).toBe(0);
  expect(heap.stats().usedBytes).toBe(0);
  // Without quick lists at most one spare chunk is kept; quick-listed blocks keep their chunks until shrink.
  if (opts.quickBytes === 0) expect(heap.stats().chunks).toBeLessThanOrEqual(1);
  heap.forEachBlock((_a, _s, free) => {
    if (!free) throw new Error('a block is still used after every free');
  });
  heap.shrink();
  heap.checkInvariants();
  expect(heap.footprint()).toBe(0);
  // Every chunk is back: only the control region is still taken.
  heap.buddy.free(heap.region);
  expect(JSON.stringify(buddy.freeCounts())).toBe(initial);
  return { n, ooms, doubles };
}

/** A seeded op stream (mulberry32) for the long runs. */
function* randomOps(seed: number, count: number, maxLive: number): Generator<Op> {
  let a = seed >>> 0;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let live = 0;
  for (let i = 0; i < count; i++) {
    const u = rnd();
    const size =
      u < 0.5
        ? 1 + Math.floor(rnd() * 512)
        : u < 0.85
          ? 513 + Math.floor(rnd() * 7680)
          : 8193 + Math.floor(rnd() * 57344);
    const r = rnd();
    const kind = live === 0 || (live < maxLive && r < 0.5) ? 'a' : r < 0.8 ? 'f' : 'r';
    if (kind === 'a') live++;
    else if (kind === 'f') live--;
    yield [kind, size, Math.floor(rnd() * 2 ** 31)];
  }
}

describe('TlsfHeap against a model', () => {
  it('random alloc/free/realloc of 1 B..64 KiB (quick lists of 0, 8, 1024 B and the default), a double free after some frees, invariants after every step', () => {
    let ops = 0;
    let doubles = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(16, 32, 64),
        fc.constantFrom<number | undefined>(undefined, 0, 8, 1024),
        fc.array(opArb, { minLength: 50, maxLength: 400 }),
        (chunkPages, quickBytes, script) => {
          const r = replay(script, { pages: 2048, chunkPages, everyStep: true, quickBytes });
          ops += r.n;
          doubles += r.doubles;
        },
      ),
      { numRuns: runs(100) },
    );
    expect(ops).toBeGreaterThan(runs(100) * 50);
    expect(doubles).toBeGreaterThan(runs(100));
  });

  it('long seeded runs (260k ops), including running the buddy dry', () => {
    // Roomy: 64 MiB, up to 300 live blocks; tight: 2 MiB with up to 200, so
    // allocs and reallocs run into OutOfMemoryError (and the heap goes on).
    const roomy = replay(randomOps(1, runs(200_000, 10), 300), { pages: 16384, chunkPages: 64, everyStep: false });
    const tight = replay(randomOps(2, runs(60_000, 10), 200), {
      pages: 512,
      chunkPages: 32,
      everyStep: false,
      quickBytes: 0,
    });
    // the tight run with quick lists: the heap flushes them before it grows, so it runs dry as late
    const tightQ = replay(randomOps(2, runs(60_000, 10), 200), {
      pages: 512,
      chunkPages: 32,
      everyStep: false,
      quickBytes: 32768,
    });
    expect(tightQ.ooms).toBeGreaterThan(0);
    expect(roomy.n + tight.n).toBeGreaterThanOrEqual(runs(260_000, 10));
    expect(roomy.ooms).toBe(0);
    expect(tight.ooms).toBeGreaterThan(0);
  });
});

describe('TlsfHeap.attach on damaged copies (the attach fuzzer; 20k cases in npm run fuzz)', () => {
  it(
    'a typed error or a sound heap, never a hang (a hang watchdog per case)',
    async () => {
      const report = await runAttachFuzz('tlsf', 4242, runs(100, 200));
      expect(report.failures).toEqual([]);
      expect(report.typed + report.usable).toBe(runs(100, 200));
    },
    SOAK ? 1_800_000 : 120_000,
  );
});
