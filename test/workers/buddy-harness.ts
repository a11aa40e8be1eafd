/**
 * Shared driver of the buddy / slab / arena many-worker tests
 * (buddy-stress, slab-stress, arena-stress, buddy-recover): makes the layer
 * in a shared Memory, runs workers (fixtures/buddy-layers-worker.ts) on it,
 * some joining as others finish, and checks the result from the main thread.
 */
import { Worker } from 'node:worker_threads';
import { expect } from 'vitest';
import { Arena, BuddyAllocator, Memory, SlabCache } from '../../src/index.js';
import { H_WORKERS } from '../../src/memory/header.js';

export type Kind = 'buddy' | 'buddy-pcp' | 'slab' | 'arena' | 'arena-buddy';
export const SOAK = process.env.MEMKIT_FUZZ === 'soak';
const SLOTS = 64;

export interface Result {
  problems: string[];
  ops: number;
  kept: number[];
  slot: number;
}

/** A layer in a shared Memory, and how to check it against a fresh one at the end. */
export interface Heap {
  memory: Memory;
  /** Frees a block parked in the exchange table (or kept by an arena worker). */
  free(addr: number): void;
  check(): void;
  /** Slab caches: slabs the workers hold (active ones and their own lists' ones); buddy-pcp: pages on the workers' lists. */
  workerSlabs?(): number;
  /** Everything freed and detached: the state equals the fresh one's. */
  expectFresh(): void;
}

export function makeHeap(kind: Kind): Heap {
  if (kind === 'buddy' || kind === 'arena-buddy' || kind === 'buddy-pcp') {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    // buddy-pcp: per-worker lists with a small high, so they fill and give batches back all the time
    const buddy = new BuddyAllocator({
      memory,
      pageSize: 512,
      ...(kind === 'buddy-pcp' ? { pcp: { high: 6, batch: 2 } } : {}),
    });
    const fresh = buddy.freeCounts();
    const freePages = buddy.freePages;
    return {
      memory,
      free: (a) => buddy.free(a),
      check: () => buddy.checkInvariants(),
      workerSlabs: () => buddy.stats().cachedPages,
      expectFresh: () => {
        expect(buddy.stats().cachedPages).toBe(0); // every worker's lists drained by its detach
        expect(buddy.freeCounts()).toEqual(fresh);
        expect(buddy.freePages).toBe(freePages);
        expect(buddy.stats().usedBlocks).toBe(0);
      },
    };
  }
  if (kind === 'slab') {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const buddy = new BuddyAllocator({ memory, pageSize: 1024 });
    const cache = new SlabCache(buddy, { name: 'stress', size: 40, minEmpty: 0 });
    const fresh = buddy.freeCounts();
    return {
      memory,
      free: (a) => cache.free(a),
      check: () => {
        cache.checkInvariants();
        buddy.checkInvariants();
      },
      // while the first wave holds still, no worker has detached and the maker allocates nothing,
      // so every slab of the cache is a worker's (active or on its own list)
      workerSlabs: () => cache.stats().slabs,
      expectFresh: () => {
        expect(cache.stats().activeObjects).toBe(0);
        cache.shrink();
        expect(cache.stats().slabs).toBe(0);
        expect(buddy.freeCounts()).toEqual(fresh);
      },
    };
  }
  const arena = new Arena({ bytes: 16 << 10, maxBytes: 24 << 20, chunkBytes: 16 << 10, shared: true });
  const first = arena.stats();
  return {
    memory: arena.memory,
    free: () => {},
    check: () => arena.checkInvariants(),
    expectFresh: () => {
      arena.reset();
      const now = arena.stats();
      expect([now.used, now.waste, now.available]).toEqual([first.used, first.waste, first.available]);
      arena.checkInvariants();
    },
  };
}

export function runWorker(
  kind: Kind,
  heap: SharedArrayBuffer,
  control: SharedArrayBuffer,
  seed: number,
  ops: number,
  joinAfter = 0,
  slots = SLOTS,
  quiet = false,
): { done: Promise<Result>; worker: Worker } {
  const worker = new Worker(new URL('./fixtures/buddy-layers-worker.mjs', import.meta.url), {
    // per-worker arenas are disposed at the end: their blocks are not handed over
    workerData: {
      kind,
      heap,
      control,
      slots,
      ops,
      seed,
      handover: kind === 'arena-buddy' ? 0 : 30,
      joinAfter,
      quiet,
    },
  });
  const done = new Promise<Result>((resolve, reject) => {
    worker.once('message', (m: Result) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
  return { done, worker };
}

/** Blocks parked in the exchange table: their stamps checked, then freed here. */
export function drainExchange(h: Heap, control: SharedArrayBuffer, slots = SLOTS): void {
  const ctl = new Int32Array(control);
  h.memory.sync();
  for (let s = 0; s < slots; s++) {
    const w = 8 + 3 * s;
    if (ctl[w] !== 2) continue;
    const addr = ctl[w + 1]! >>> 0;
    const size = ctl[w + 2]!;
    expect(stamped(h.memory, addr, size)).toBe(true);
    h.free(addr);
    ctl[w] = 0;
  }
}

const PATTERN = Buffer.from(new Uint8Array((1 << 16) + 256).map((_, j) => (3 * j) & 0xff));

/** True when block (addr, size) holds the stamp the worker wrote (see the fixture). */
export function stamped(memory: Memory, addr: number, size: number): boolean {
  const shift = (171 * ((addr * 7 + size * 13 + 1) & 0xff)) & 0xff;
  return Buffer.from(memory.buffer, addr, size).equals(PATTERN.subarray(shift, shift + size));
}

/** No two of the (addr, size) pairs overlap. */
export function expectDisjoint(pairs: number[]): void {
  const order = Array.from({ length: pairs.length >> 1 }, (_, i) => i).sort((i, j) => pairs[2 * i]! - pairs[2 * j]!);
  for (let k = 1; k < order.length; k++) {
    const a = pairs[2 * order[k - 1]!]!;
    const n = pairs[2 * order[k - 1]! + 1]!;
    const b = pairs[2 * order[k]!]!;
    if (a + n > b) expect.fail(`blocks ${a}+${n} and ${b} overlap`);
  }
}

/**
 * `workers` workers start together (a barrier once all have attached),
 * worker i doing (i + 1) / workers of `ops`; as the k-th of them finishes
 * (and detaches) the k-th late worker joins with half of `ops`, while the
 * others still run. At the end: no
 * problem reported, the layer's invariants, every kept block stamped and
 * disjoint, every slot given back, and (all freed) the state of a fresh one.
 */
export async function stress(kind: Kind, workers: number, ops: number): Promise<void> {
  const h = makeHeap(kind);
  const joinedBefore = h.memory.u32[H_WORKERS]!;
  const control = new SharedArrayBuffer((8 + 3 * SLOTS) * 4);
  const buf = h.memory.buffer as SharedArrayBuffer;
  new Int32Array(control)[2] = workers;
  // A slab cache's workers hold still once after their operations (blocks and slabs kept), so that
  // checkInvariants() walks every worker's active slab and own list while they are quiet.
  // So do the workers of a buddy with per-worker lists: checkInvariants() walks their lists, still holding pages.
  const quiet = kind === 'slab' || kind === 'buddy-pcp';
  const first = Array.from(
    { length: workers },
    (_, i) => runWorker(kind, buf, control, 1000 + i, Math.round((ops * (i + 1)) / workers), 0, SLOTS, quiet).done,
  );
  const late = Array.from({ length: workers }, (_, i) => runWorker(kind, buf, control, 2000 + i, ops >> 1, i + 1).done);
  if (quiet) {
    const ctl = new Int32Array(control);
    const deadline = Date.now() + 60_000;
    while (Atomics.load(ctl, 4) < workers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(Atomics.load(ctl, 4)).toBe(workers);
    try {
      h.check(); // every worker attached now is quiet: its lists are walked
      expect(h.workerSlabs?.()).toBeGreaterThan(0); // and there were some to walk
    } finally {
      Atomics.store(ctl, 5, 1);
      Atomics.notify(ctl, 5);
    }
  }
  const results = await Promise.all([...first, ...late]);
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  expect(new Int32Array(control)[0]).toBe(0);
  expect(results.every((r) => r.slot >= 1)).toBe(true);
  h.memory.sync();
  expect(h.memory.u32[H_WORKERS]).toBe(joinedBefore); // every worker detached
  h.check();
  const kept = results.flatMap((r) => r.kept);
  const ctl = new Int32Array(control);
  for (let s = 0; s < SLOTS; s++) if (ctl[8 + 3 * s] === 2) kept.push(ctl[8 + 3 * s + 1]! >>> 0, ctl[8 + 3 * s + 2]!);
  expectDisjoint(kept);
  const broken: number[] = [];
  for (let i = 0; i < kept.length; i += 2) if (!stamped(h.memory, kept[i]!, kept[i + 1]!)) broken.push(kept[i]!);
  expect(broken).toEqual([]);
  drainExchange(h, control);
  h.check();
  h.expectFresh();
}
