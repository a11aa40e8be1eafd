import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidFreeError, OutOfMemoryError } from '../../src/errors/index.js';
import { createThingAllocator } from '../../src/peers/thing.js';
import { ALLOCATORS, allocatorNames, createAllocator } from '../../src/trace/allocators.js';
import { parseTrace } from '../../src/trace/trace.js';
import { readTrace } from '../../src/trace/read.js';
import { replay } from '../../src/trace/replay.js';
import type { ByteAllocator } from '../../src/memory/byte-allocator.js';

describe('ThingAllocator (@thi.ng/malloc MemPool)', () => {
  it('usableSize is the block minus its 8-byte header; footprint is top', async () => {
    const a = await createThingAllocator(1 << 16);
    const f0 = a.footprint();
    const p = a.alloc(100);
    expect(a.usableSize(p)).toBe(104);
    expect(a.footprint()).toBe(f0 + 112);
    const q = a.alloc(1);
    expect(a.usableSize(q)).toBe(8);
    a.free(q);
    expect(a.footprint()).toBe(f0 + 112); // top block freed: top goes back
    a.free(p);
    expect(a.footprint()).toBe(f0);
  });

  it('typed errors: unknown free, bad size, out of memory', async () => {
    const a = await createThingAllocator(0); // 1 MiB pool
    const p = a.alloc(16);
    expect(() => a.free(p + 8)).toThrow(InvalidFreeError);
    expect(() => a.alloc(-1)).toThrow(InvalidArgumentError);
    expect(() => a.alloc(1.5)).toThrow(InvalidArgumentError);
    expect(() => a.alloc(1 << 21)).toThrow(OutOfMemoryError);
    a.free(p);
  });
});

describe("verification finds the bugs of MemPool's own realloc (@thi.ng/malloc 6.1.150)", () => {
  it('shrinking the top block by 8 bytes: a later block is handed out over a header', async () => {
    // a 0 24 -> block [32, 64) at the top; r 0 16 lowers top to 56 but block 0
    // keeps size 32; a 1 8 gets the block at 56, inside it; f 0 frees [32, 64),
    // covering block 1's header; a 2 24 gets [32, 64) again: its payload
    // [40, 64) holds block 1's header, which f 1 writes.
    const t = parseTrace('0\n3\n7\n1\na 0 24\nr 0 16\na 1 8\nf 0\na 2 24\nf 1\nf 2\n', 'shrink.rep');
    const bad = replay(t, await createThingAllocator(0, { nativeRealloc: true }));
    expect(bad.violation).toMatch(
      /^shrink\.rep:11: thing-native-realloc: op 6 `f 2`: payload of block 2 at 0x00000028 changed before free: byte (16|20) \(address 0x000000(38|3c)\)/,
    );
    // Without verification nothing writes payloads, and the replay goes through.
    expect(replay(t, await createThingAllocator(0, { nativeRealloc: true }), { verify: false }).violation).toBeNull();
    // The adapter's own realloc (the default) is fine.
    expect(replay(t, await createThingAllocator(0)).verified).toBe(true);
  });

  it('a realloc that moves never frees the old block: the footprint does not come back', async () => {
    const t = parseTrace('0\n2\n5\n1\na 0 16\na 1 16\nr 0 64\nf 0\nf 1\n', 'move.rep');
    const native = await createThingAllocator(0, { nativeRealloc: true });
    const f0 = native.footprint();
    replay(t, native);
    expect(native.footprint()).toBeGreaterThan(f0); // leaked: the old 16-byte block
    const own = await createThingAllocator(0);
    replay(t, own);
    expect(own.footprint()).toBe(f0);
  });
});

describe('allocator registry', () => {
  it('names the built-in allocators; unknown names are an InvalidArgumentError', async () => {
    expect(allocatorNames()).toEqual(expect.arrayContaining(['kmalloc', 'buddy', 'thing', 'tlsf']));
    for (const n of allocatorNames()) expect(ALLOCATORS[n]!.description.length).toBeGreaterThan(10);
    await expect(createAllocator('nope', 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('every registered allocator that loads replays a small fuzzed trace, verified', async () => {
    const ops: string[] = [];
    const live: number[] = [];
    let next = 0;
    let seed = 7;
    const rnd = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    while (ops.length < 5000) {
      const k = rnd(10);
      if (k < 5 || live.length === 0) {
        ops.push(`a ${next} ${1 + (rnd(4) === 0 ? rnd(20000) : rnd(200))}`);
        live.push(next++);
      } else if (k < 8) {
        const j = rnd(live.length);
        ops.push(`f ${live[j]}`);
        live.splice(j, 1);
      } else ops.push(`r ${live[rnd(live.length)]} ${1 + rnd(3000)}`);
    }
    const t = parseTrace(`0\n${next}\n${ops.length}\n1\n${ops.join('\n')}\n`, 'fuzz.rep');
    for (const name of allocatorNames()) {
      let a: ByteAllocator;
      try {
        a = await createAllocator(name, 1 << 20);
      } catch (e) {
        // A peer whose build artefact is missing (tlsf.wasm) is skipped, loudly.
        console.warn(`skipping ${name}: ${(e as Error).message}`);
        continue;
      }
      const r = replay(t, a);
      expect(r.violation, name).toBeNull();
      expect(r.verified, name).toBe(true);
      expect(r.failures, name).toBe(0);
    }
  });
});

describe('real traces through every registered allocator, verified', () => {
  const soak = process.env.MEMKIT_FUZZ === 'soak';
  const files = soak ? ['bash', 'gcc-cc1', 'perl', 'python3-json', 'sqlite3'] : ['gcc-cc1'];
  for (const f of files) {
    it(`${f}: ${soak ? 'whole trace' : 'first 100k ops'}`, async () => {
      const t = await readTrace(`traces/${f}.rep.gz`, soak ? {} : { maxOps: 100_000 });
      for (const name of allocatorNames()) {
        if (soak && name === 'thing' && f !== 'gcc-cc1') continue; // MemPool's free is O(live blocks)
        let a: ByteAllocator;
        try {
          a = await createAllocator(name, t.heapSize);
        } catch (e) {
          console.warn(`skipping ${name}: ${(e as Error).message}`);
          continue;
        }
        const r = replay(t, a);
        expect(r.violation, name).toBeNull();
        expect(r.verified, name).toBe(true);
        expect(r.failures, name).toBe(0);
        expect(r.ops, name).toBe(t.length);
      }
    });
  }
});

describe('r ID 0 is realloc(p, 0): a free, replayed and verified the same by every allocator', () => {
  it('a 0 100 / r 0 0 / f 0, and r of a nulled block allocating again', async () => {
    const traces = [
      parseTrace('100\n1\n3\n1\na 0 100\nr 0 0\nf 0\n', 'free.rep'),
      parseTrace('100\n2\n7\n1\na 0 100\na 1 8\nr 0 0\nr 0 0\nr 0 40\nf 0\nf 1\n', 'again.rep'),
    ];
    for (const name of allocatorNames()) {
      if ((await ALLOCATORS[name]!.available?.()) != null) continue; // an optional peer that is not installed
      for (const t of traces) {
        const a = await createAllocator(name, 1 << 16);
        const r = replay(t, a);
        expect(r.violation, `${name} ${t.file}`).toBeNull();
        expect(r.verified, name).toBe(true);
        expect(r.failures, name).toBe(0);
        expect(a.footprint() <= r.peakFootprint, name).toBe(true);
      }
    }
  });
});
