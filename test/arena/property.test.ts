/**
 * Property tests of the arena against a model: random sequences of
 * alloc(size, align) / mark / rewind / reset / stale rewinds, with payload
 * bytes written into every allocation and checked intact until it is freed.
 *
 * Checked after every step: the address is aligned, inside the data of a
 * chunk of the arena, overlaps no live allocation (an owner map of every
 * byte), `used` grew by exactly the padding plus the size; out of memory
 * only when the model says nothing could fit, and then nothing changed;
 * a rewind drops exactly the allocations made after the mark and restores
 * `used` and `waste`; a reset returns to the initial state (and, over a
 * buddy, gives back every page but the first chunk's).
 *
 * `npm test`: about 150k operations over the three kinds of arena;
 * `MEMKIT_FUZZ=soak npx vitest run test/arena`: 20 times more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/arena/index.js';
import { BuddyAllocator } from '../../src/buddy/index.js';
import { InvalidArgumentError, OutOfMemoryError } from '../../src/errors/index.js';
import { checkPattern, fillPattern, runs } from '../support/fuzz.js';

const U32 = 2 ** 32;
const ALIGNS = [1, 2, 4, 8, 8, 8, 8, 16, 16, 32, 64, 256] as const;

/** One step, as generated: [kind 0-99, a, b] decoded by {@link decode}. */
type Raw = [number, number, number];
type Op =
  | { k: 'alloc'; size: number; align: number }
  | { k: 'mark' }
  | { k: 'rewind'; pick: number }
  | { k: 'reset' }
  | { k: 'stale'; pick: number };

function decode([kind, a, b]: Raw, bigSizes: boolean): Op {
  if (kind < 74) {
    const r = a % 100;
    const size = r < 80 ? 1 + (a % 64) : r < 96 || !bigSizes ? 65 + (a % 336) : 400 + (a % 1600);
    return { k: 'alloc', size, align: ALIGNS[b % ALIGNS.length]! };
  }
  if (kind < 85) return { k: 'mark' };
  if (kind < 95) return { k: 'rewind', pick: a };
  if (kind < 96) return { k: 'reset' };
  return { k: 'stale', pick: a };
}

const rawOps = (maxLength: number): fc.Arbitrary<Raw[]> =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: 99 }), fc.nat(), fc.nat()), { minLength: 1, maxLength, size: 'max' });

interface Setup {
  arena: Arena;
  /** Called after a reset / at the end: extra initial-state checks. */
  atInitial(): void;
  /** True if the arena could not have served `size`/`align` (out of memory is allowed). */
  mayFail(size: number, align: number): boolean;
  /** Fixed arena: the exact address the model expects (or -1 for OOM). */
  exact: boolean;
  /** True if the request fits in chunks the arena holds (so it must not grow). */
  fitsHeld?(size: number, align: number): boolean;
}

interface Live {
  addr: number;
  size: number;
  id: number;
}
interface MarkRec {
  mark: number;
  liveLen: number;
  used: number;
  waste: number;
}

/** What the replays exercised (checked, so a weak generator cannot pass unnoticed). */
const tally = { allocs: 0, oom: 0, rewinds: 0, resets: 0, stale: 0, maxChunks: 0 };

/** Replays `ops` on a fresh arena and checks every step against the model. */
function replay(make: () => Setup, ops: Op[]): void {
  const setup = make();
  const { arena, atInitial, mayFail, exact } = setup;
  const mem = arena.memory;
  const owner = new Int32Array(mem.maxByteLength);
  const initialMark = arena.mark();
  const initialStats = arena.stats();
  const live: Live[] = [];
  let marks: MarkRec[] = [];
  const stale: number[] = [];
  let nextId = 1;

  const checkLive = (from: number): void => {
    const u8 = arena.bytes;
    for (let i = from; i < live.length; i++) {
      const b = live[i]!;
      const bad = checkPattern(u8, b.addr, b.size, b.id);
      if (bad >= 0) throw new Error(`payload of block ${b.id} at ${b.addr} (+${b.size}) damaged at byte ${bad}`);
    }
  };
  const dropTo = (n: number): void => {
    checkLive(0);
    for (let i = n; i < live.length; i++) owner.fill(0, live[i]!.addr, live[i]!.addr + live[i]!.size);
    live.length = n;
  };
  const observe = (): string => JSON.stringify([arena.stats(), arena.mark()]);

  for (const op of ops) {
    switch (op.k) {
      case 'alloc': {
        const before = arena.mark() % U32;
        const used0 = arena.used;
        const snapStats = arena.stats();
        const fitsHeld = setup.fitsHeld?.(op.size, op.align) ?? false;
        let a: number;
        try {
          a = arena.alloc(op.size, op.align);
        } catch (e) {
          if (!(e instanceof OutOfMemoryError)) throw e;
          expect(e.requested).toBe(op.size);
          if (!mayFail(op.size, op.align))
            throw new Error(`out of memory for ${op.size}/${op.align} where the model says it fits`);
          expect(arena.stats()).toEqual(snapStats);
          expect(arena.mark() % U32).toBe(before);
          tally.oom++;
          break;
        }
        if (exact) {
          const want = Math.ceil(before / op.align) * op.align;
          expect(a).toBe(want);
        }
        expect(a % op.align).toBe(0);
        const chunk = arena.chunkList().find((c) => c.kind === 'chain' && a >= c.data && a + op.size <= c.end);
        if (chunk === undefined) throw new Error(`block ${a} (+${op.size}) is not inside a chunk of the arena`);
        const sameChunk = before >= chunk.data && before <= a;
        expect(arena.used - used0).toBe(a - (sameChunk ? before : chunk.data) + op.size);
        for (let i = a; i < a + op.size; i++) {
          if (owner[i] !== 0) throw new Error(`block ${a} (+${op.size}) overlaps live block ${owner[i]} at byte ${i}`);
        }
        const id = nextId++;
        owner.fill(id, a, a + op.size);
        fillPattern(arena.bytes, a, op.size, id);
        live.push({ addr: a, size: op.size, id });
        const st = arena.stats();
        if (fitsHeld && st.capacity !== snapStats.capacity)
          throw new Error(`grew for ${op.size}/${op.align} although a held chunk had room`);
        const chain = arena.chunkList().filter((c) => c.kind === 'chain');
        expect(st.used + st.waste + st.available).toBe(chain.reduce((n, c) => n + c.end - c.data, 0));
        tally.allocs++;
        tally.maxChunks = Math.max(tally.maxChunks, arena.stats().chunks);
        break;
      }
      case 'mark': {
        const st = arena.stats();
        marks.push({ mark: arena.mark(), liveLen: live.length, used: st.used, waste: st.waste });
        break;
      }
      case 'rewind': {
        if (marks.length === 0) break;
        const k = op.pick % marks.length;
        const m = marks[k]!;
        arena.rewind(m.mark);
        dropTo(m.liveLen);
        // Marks taken after m are released: any later rewind to them is stale
        // (even when the top passes their address again).
        for (const later of marks.slice(k + 1)) if (later.used > m.used) stale.push(later.mark);
        marks = marks.slice(0, k + 1);
        const st = arena.stats();
        expect(st.used).toBe(m.used);
        expect(st.waste).toBe(m.waste);
        expect(arena.mark() % U32).toBe(m.mark % U32);
        tally.rewinds++;
        break;
      }
      case 'reset': {
        arena.reset();
        dropTo(0);
        for (const m of marks) stale.push(m.mark);
        marks = [];
        expect(arena.mark() % U32).toBe(initialMark % U32);
        expect(arena.stats()).toMatchObject({ used: 0, waste: 0, available: initialStats.available });
        atInitial();
        tally.resets++;
        break;
      }
      case 'stale': {
        if (stale.length === 0) break;
        const snap = observe();
        expect(() => arena.rewind(stale[op.pick % stale.length]!)).toThrow(InvalidArgumentError);
        expect(observe()).toBe(snap);
        tally.stale++;
        break;
      }
    }
  }
  checkLive(0);
  arena.reset();
  dropTo(0);
  expect(arena.stats()).toMatchObject({ used: 0, waste: 0 });
  atInitial();
  // the first allocation after a reset is where the first ever went
  const fresh = arena.alloc(1, 1);
  expect(fresh).toBe(initialMark % U32);
}

const FIXED_BYTES = 4096;
function fixedSetup(): Setup {
  const arena = new Arena({ bytes: FIXED_BYTES });
  return {
    arena,
    exact: true,
    atInitial: () =>
      expect(arena.stats()).toEqual({
        used: 0,
        capacity: FIXED_BYTES,
        chunks: 1,
        waste: 0,
        available: FIXED_BYTES,
        mode: 'fixed',
      }),
    mayFail: (size, align) => {
      const top = arena.mark() % U32;
      return Math.ceil(top / align) * align + size > arena.chunkList()[0]!.end;
    },
  };
}

const MAX = 8192;
function memorySetup(): Setup {
  const arena = new Arena({ bytes: 512, maxBytes: MAX, chunkBytes: 512 });
  const fitsHeld = (size: number, align: number): boolean => {
    const up = (x: number): number => Math.ceil(x / align) * align;
    const cs = arena.chunkList();
    const cur = cs.filter((c) => c.kind === 'chain').at(-1)!;
    // the arena looks for room in the spares after the current chunk (ones passed over before it wait for a rewind)
    return (
      up(arena.mark() % U32) + size <= cur.end ||
      cs.some((c) => c.kind === 'spare' && c.address > cur.address && up(c.data) + size <= c.end)
    );
  };
  return {
    arena,
    exact: false,
    atInitial: () => {
      const cs = arena.chunkList();
      expect(cs[0]!.kind).toBe('chain');
      expect(cs.slice(1).every((c) => c.kind === 'spare')).toBe(true);
      expect(arena.capacity).toBeLessThanOrEqual(MAX);
    },
    fitsHeld,
    // out of memory only if it fits neither in the current chunk, nor in a
    // spare one, nor in a new chunk at the end within maxBytes
    mayFail: (size, align) => {
      if (fitsHeld(size, align)) return false;
      const up = (x: number): number => Math.ceil(x / align) * align;
      // A new chunk goes after the highest one; chunkList() lists the chain, then the spares
      // (a spare from before a rewind may lie below the chain's last chunk).
      const top = Math.max(...arena.chunkList().map((c) => c.end));
      const data = Math.ceil(top / 16) * 16 + 16;
      return up(data) - data + size > MAX - arena.capacity;
    },
  };
}

const PAGE = 256;
const BUDDY_CAP = 6000;
function buddySetup(): Setup {
  const buddy = new BuddyAllocator({ pages: 32, pageSize: PAGE });
  const arena = new Arena({ buddy, chunkPages: 1, maxBytes: BUDDY_CAP });
  const free1 = buddy.freeCounts();
  return {
    arena,
    exact: false,
    atInitial: () => {
      expect(buddy.freeCounts()).toEqual(free1);
      expect(arena.stats()).toMatchObject({ chunks: 1, capacity: PAGE - 208 });
    },
    mayFail: (size, align) => {
      // The chain's last chunk (the one the mark is in): chunkList() lists spares after the chain.
      const cur = arena
        .chunkList()
        .filter((c) => c.kind === 'chain')
        .at(-1)!;
      if (Math.ceil((arena.mark() % U32) / align) * align + size <= cur.end) return false;
      const need = 16 + size + (align > 16 ? align - 1 : 0);
      const order = Math.ceil(Math.log2(Math.max(1, Math.ceil(need / PAGE))));
      return arena.capacity + size + align > BUDDY_CAP || buddy.stats().largestFreeOrder < order;
    },
  };
}

const KINDS: Array<[string, () => Setup, boolean]> = [
  ['fixed arena (exact model)', fixedSetup, false],
  ['memory-growth arena', memorySetup, true],
  ['buddy-backed arena', buddySetup, true],
];

describe.each(KINDS)('property: %s', (_name, make, bigSizes) => {
  it('random alloc/mark/rewind/reset: aligned, in bounds, no overlap, payload intact, reset = initial', () => {
    let total = 0;
    Object.assign(tally, { allocs: 0, oom: 0, rewinds: 0, resets: 0, stale: 0, maxChunks: 0 });
    fc.assert(
      fc.property(rawOps(700), (raw) => {
        total += raw.length;
        replay(
          make,
          raw.map((r) => decode(r, bigSizes)),
        );
      }),
      {
        numRuns: runs(140),
        ...(process.env.MEMKIT_SEED === undefined ? {} : { seed: Number(process.env.MEMKIT_SEED) }),
      },
    );
    expect(total).toBeGreaterThan(runs(140) * 100);
    expect(tally.oom).toBeGreaterThan(0);
    expect(tally.rewinds).toBeGreaterThan(100);
    expect(tally.resets).toBeGreaterThan(50);
    expect(tally.stale).toBeGreaterThan(10);
    if (make !== fixedSetup) expect(tally.maxChunks).toBeGreaterThan(3);
    if (process.env.MEMKIT_VERBOSE !== undefined) console.log(_name, { ops: total, ...tally });
  });
});
