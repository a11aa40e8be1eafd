/**
 * Many workers, one Kmalloc heap in a SharedArrayBuffer: random kmalloc /
 * kfree / krealloc (1 B to 1 MiB) with payload stamping, a share of the
 * blocks freed or reallocated by a worker other than the one that allocated
 * them, and workers joining while others finish. The main thread then checks
 * the heap: invariants, and after everything is freed, the footprint of a
 * fresh heap. `MEMKIT_FUZZ=soak` runs it longer.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Kmalloc, Memory } from '../../src/index.js';

const SOAK = process.env.MEMKIT_FUZZ === 'soak';
const SLOTS = 64;

interface Result {
  problems: string[];
  ops: number;
}

type Heap = SharedArrayBuffer | WebAssembly.Memory;

function run(heap: Heap, control: SharedArrayBuffer, seed: number, ops: number): Promise<Result> {
  const worker = new Worker(new URL('./fixtures/stress-worker.mjs', import.meta.url), {
    workerData: { heap, control, slots: SLOTS, ops, seed, maxSize: 1 << 20, handover: 30 },
  });
  return new Promise<Result>((resolve, reject) => {
    worker.once('message', (m: Result) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

/**
 * The heap's memory: a fixed SharedArrayBuffer, or one that starts at 1 MiB and
 * grows (a growable SharedArrayBuffer, a shared WebAssembly.Memory) as the
 * workers need pages, so workers receive blocks in bytes another worker grew
 * the memory by (memory.ts: the header's length word).
 */
type Kind = 'fixed' | 'growable' | 'wasm';

function makeMemory(kind: Kind): { memory: Memory; heap: Heap } {
  if (kind === 'fixed') {
    const memory = Memory.create({ bytes: 64 << 20, shared: true });
    return { memory, heap: memory.buffer as SharedArrayBuffer };
  }
  if (kind === 'growable') {
    const memory = Memory.create({ bytes: 1 << 20, maxBytes: 64 << 20, shared: true });
    return { memory, heap: memory.buffer as SharedArrayBuffer };
  }
  const wasm = new WebAssembly.Memory({ initial: 16, maximum: 1024, shared: true });
  return { memory: Memory.wrap(wasm), heap: wasm };
}

async function stress(workers: number, opsPerWorker: number, maxClass?: number, kind: Kind = 'fixed'): Promise<void> {
  const { memory, heap } = makeMemory(kind);
  const start = memory.byteLength;
  const k = new Kmalloc({
    memory,
    ...(maxClass === undefined ? {} : { maxClass }),
    ...(kind === 'wasm' ? { maxBytes: 64 << 20 } : {}), // JavaScript cannot read a wasm memory's maximum
  });
  const fresh = k.footprint();
  const control = new SharedArrayBuffer((8 + 3 * SLOTS) * 4);
  // the first half of the workers start together; the rest join as the first ones finish
  const first = Array.from({ length: workers }, (_, i) => run(heap, control, 1000 + i, opsPerWorker));
  const late = first.map((p, i) => p.then(() => run(heap, control, 2000 + i, opsPerWorker >> 1)));
  const results = await Promise.all([...first, ...late]);
  const problems = results.flatMap((r) => r.problems);
  expect(problems).toEqual([]);
  expect(new Int32Array(control)[0]).toBe(0);
  // blocks parked in the exchange table: still stamped, then freed here
  const ctl = new Int32Array(control);
  if (kind !== 'fixed') expect(memory.byteLength).toBeGreaterThan(start); // the workers grew it
  for (let s = 0; s < SLOTS; s++) {
    const w = 8 + 3 * s;
    if (ctl[w] !== 2) continue;
    const addr = ctl[w + 1]! >>> 0;
    const size = ctl[w + 2]!;
    const stamp = Uint8Array.from({ length: size }, (_, i) => (addr * 7 + size * 13 + i * 3 + 1) & 0xff);
    expect(Buffer.compare(memory.u8.subarray(addr, addr + size), stamp)).toBe(0);
    k.kfree(addr);
  }
  // Every worker detached: their pages were handed over (empty ones freed, the rest abandoned
  // with remote frees still arriving); the lists, cur tables and counters agree.
  k.checkInvariants();
  let live = 0;
  k.forEachBlock(() => live++);
  expect(live).toBe(0);
  k.shrink();
  k.checkInvariants();
  expect(k.footprint()).toBe(fresh);
}

describe('one Kmalloc heap, many workers', () => {
  it('2 workers (+2 joining later)', async () => {
    await stress(2, SOAK ? 400_000 : 20_000);
  });
  it('4 workers (+4 joining later)', async () => {
    await stress(4, SOAK ? 400_000 : 10_000);
  });
  it('2 workers (+2 joining later), class pages only up to 512 B: sizes above take the per-worker TLSF heaps', async () => {
    await stress(2, SOAK ? 400_000 : 10_000, 512);
  });
  it('2 workers (+2 joining later) on a growable SharedArrayBuffer that they grow from 1 MiB', async () => {
    await stress(2, SOAK ? 400_000 : 10_000, undefined, 'growable');
  });
  it('2 workers (+2 joining later) on a shared WebAssembly.Memory that they grow from 1 MiB', async () => {
    await stress(2, SOAK ? 400_000 : 10_000, undefined, 'wasm');
  });
});
