/**
 * A TlsfHeap used directly from several workers over one SharedArrayBuffer:
 * its public methods take the lock word of its control structure. Random
 * alloc / free / realloc with stamped payloads; a share of the blocks freed
 * by the main thread. At the end: no problem seen, invariants hold, and
 * everything freed leaves the heap as it started.
 */
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { BuddyAllocator, InvalidArgumentError, Memory, TlsfHeap } from '../../src/index.js';
import { lock } from '../../src/memory/lock.js';

it('two workers and the main thread on one TlsfHeap: nothing handed out twice, payloads intact, all freed = empty', async () => {
  const memory = Memory.create({ bytes: 64 << 20, shared: true });
  const heap = new TlsfHeap(new BuddyAllocator({ memory }), { chunkPages: 16 });
  const run = (seed: number) =>
    new Promise<{ problems: string[]; given: number[] }>((resolve, reject) => {
      const w = new Worker(new URL('../workers/fixtures/tlsf-worker.mjs', import.meta.url), {
        workerData: { heap: memory.buffer, ops: 20_000, seed },
      });
      w.once('message', (m: { problems: string[]; given: number[] }) => {
        void w.terminate();
        resolve(m);
      });
      w.once('error', reject);
    });
  // The main thread allocates and frees meanwhile too (it holds the maker's slot 0).
  const mine: number[] = [];
  const busy = setInterval(() => {
    for (let i = 0; i < 50; i++) mine.push(heap.alloc(1 + ((i * 97) % 3000)));
    while (mine.length > 100) heap.free(mine.shift()!);
  }, 1);
  const results = await Promise.all([run(11), run(22)]);
  clearInterval(busy);
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  for (const { given } of results) {
    for (let i = 0; i < given.length; i += 2) {
      const a = given[i]!;
      const size = given[i + 1]!;
      expect(memory.u8[a + size - 1]).toBe((a * 7 + size) & 0xff);
      heap.free(a);
    }
  }
  for (const a of mine) heap.free(a);
  heap.checkInvariants();
  expect(heap.stats().usedBlocks).toBe(0);
  heap.shrink();
  expect(heap.footprint()).toBe(0);
});

it('TlsfHeap.recover breaks the lock of a dead worker slot (and refuses a bad slot); the heap works after', () => {
  const memory = Memory.create({ bytes: 4 << 20, shared: true });
  const heap = new TlsfHeap(new BuddyAllocator({ memory }));
  const word = heap.region >>> 2; // word 0 of the control structure is the lock
  lock(memory.i32, word, 5); // as if worker slot 5 died holding it
  expect(memory.i32[word]! & 0x3fffffff).toBe(6);
  for (const bad of [0, 32, -1, 1.5, Number.NaN, '3', null])
    expect(() => TlsfHeap.recover(memory, bad as number)).toThrow(InvalidArgumentError);
  expect(TlsfHeap.recover(memory, 4)).toBe(false); // slot 4 holds nothing
  expect(TlsfHeap.recover(memory, 5)).toBe(true);
  const p = heap.alloc(100);
  heap.free(p);
  heap.checkInvariants();
});
