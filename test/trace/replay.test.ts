import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseTrace } from '../../src/trace/trace.js';
import { replay } from '../../src/trace/replay.js';
import { IntervalSet } from '../../src/trace/interval-set.js';
import { BuddyByteAllocator, createBuddyAllocator } from '../../src/trace/buddy-adapter.js';
import { BuddyAllocator } from '../../src/buddy/index.js';
import {
  CorruptingAllocator,
  FirstFit,
  LossyReallocAllocator,
  OverlappingAllocator,
  RefusingAllocator,
} from './model-allocators.js';

const trace = (ops: string[], ids = 16, file = 'hand.rep'): ReturnType<typeof parseTrace> =>
  parseTrace(`0\n${ids}\n${ops.length}\n1\n${ops.join('\n')}\n`, file);

describe('replay figures on hand-made traces (first-fit model, 8-byte granules, blocks from address 8)', () => {
  it('peak payload, footprint, utilization and fragmentation at the peak', () => {
    // op  line        blocks after the op                       live payload  footprint (top)
    // 0   a 0 10      [8,24)                                     10            24
    // 1   a 1 20      [8,24) [24,48)                             30            48
    // 2   a 2 8       [8,24) [24,48) [48,56)   <- payload peak   38            56
    // 3   f 1         [8,24) [48,56)                             18            56
    // 4   a 3 4       [8,24) [24,32) [48,56)                     22            56
    // 5   f 2         [8,24) [24,32)                             14            32
    const t = trace(['a 0 10', 'a 1 20', 'a 2 8', 'f 1', 'a 3 4', 'f 2']);
    const r = replay(t, new FirstFit());
    expect(r.violation).toBeNull();
    expect(r.verified).toBe(true);
    expect(r.verification).toBe('full');
    expect(r.ops).toBe(6);
    expect(r.peakPayload).toBe(10 + 20 + 8);
    expect(r.peakFootprint).toBe(56);
    expect(r.utilization).toBeCloseTo(38 / 56, 12);
    expect(r.peakOp).toBe(2);
    expect(r.footprintAtPeak).toBe(56);
    // Usable at the peak: 16 + 24 + 8 = 48; requested 38.
    expect(r.internalFragmentationBytes).toBe(48 - 38);
    expect(r.internalFragmentation).toBeCloseTo(10 / 56, 12);
    // Free inside the footprint: 56 - 48 = 8 (the reserved bytes [0, 8)). The
    // largest pending request is 4 bytes (op 4); first fit can only place it at
    // 56, growing the footprint, so the probe places nothing: all 8 count.
    expect(r.probeSize).toBe(4);
    expect(r.probeBlocks).toBe(0);
    expect(r.externalFragmentationBytes).toBe(8);
    expect(r.externalFragmentation).toBeCloseTo(8 / 56, 12);
    expect(r.failures).toBe(0);
  });

  it('a hole the largest pending request can use is not external fragmentation', () => {
    // 0 a 0 16 [8,24); 1 a 1 16 [24,40); 2 a 2 16 [40,56); 3 f 1 (hole [24,40));
    // 4 a 3 40 -> [56,96), payload 72 = peak, footprint 96; 5 r 0 8 (in place).
    const t = trace(['a 0 16', 'a 1 16', 'a 2 16', 'f 1', 'a 3 40', 'r 0 8']);
    const r = replay(t, new FirstFit());
    expect(r.violation).toBeNull();
    expect(r.peakPayload).toBe(72);
    expect(r.peakFootprint).toBe(96);
    expect(r.utilization).toBe(0.75);
    expect(r.internalFragmentationBytes).toBe(0);
    // Free: 96 - 72 = 24 = [0,8) + the hole [24,40). Probe of 8 bytes fits the
    // hole twice: 16 usable, 8 left.
    expect(r.probeSize).toBe(8);
    expect(r.probeBlocks).toBe(2);
    expect(r.externalFragmentationBytes).toBe(8);
    // The probe's blocks were freed: the replay went on as if nothing happened.
    expect(r.ops).toBe(6);
  });

  it('realloc that moves keeps the content (verified), and the numbers follow the new size', () => {
    // a 0 8 [8,16); a 1 8 [16,24); r 0 20 -> [24,48), copy; payload 8+8 -> 28 peak
    const t = trace(['a 0 8', 'a 1 8', 'r 0 20', 'f 1', 'f 0']);
    const r = replay(t, new FirstFit());
    expect(r.violation).toBeNull();
    expect(r.verified).toBe(true);
    expect(r.peakPayload).toBe(28);
    expect(r.peakFootprint).toBe(48);
    expect(r.internalFragmentationBytes).toBe(8 + 24 - 28);
  });

  it('--no-verify gives the same figures', () => {
    const t = trace(['a 0 10', 'a 1 20', 'a 2 8', 'f 1', 'a 3 4', 'f 2']);
    const a = replay(t, new FirstFit());
    const b = replay(t, new FirstFit(), { verify: false });
    expect(b.verified).toBe(false);
    expect(b.verification).toBe('off');
    for (const k of [
      'peakPayload',
      'peakFootprint',
      'utilization',
      'internalFragmentationBytes',
      'externalFragmentationBytes',
    ] as const) {
      expect(b[k]).toBe(a[k]);
    }
  });

  it('out of memory counts as a failure; ops on the failed block are skipped', () => {
    // capacity 64: [8,40) for block 0, then 40 bytes do not fit.
    const t = trace(['a 0 32', 'a 1 40', 'r 1 50', 'f 1', 'a 2 16', 'f 0', 'f 2']);
    const r = replay(t, new FirstFit(64));
    expect(r.violation).toBeNull();
    expect(r.failures).toBe(1);
    expect(r.peakPayload).toBe(48);
    expect(r.verified).toBe(true);
  });

  it('offsets-only allocators get overlap checks only', () => {
    const t = trace(['a 0 10', 'a 1 20', 'f 0', 'f 1']);
    const r = replay(t, new FirstFit(1 << 12, false));
    expect(r.verification).toBe('overlap');
    expect(r.verified).toBe(true);
  });

  it('records a series for plots', () => {
    const t = trace(['a 0 10', 'a 1 20', 'a 2 8', 'f 1', 'a 3 4', 'f 2']);
    const r = replay(t, new FirstFit(), { samples: 3 });
    const s = r.series!;
    expect(Array.from(s.op)).toEqual([0, 2, 4, 5]);
    expect(Array.from(s.payload)).toEqual([10, 38, 22, 14]);
    expect(Array.from(s.footprint)).toEqual([24, 56, 56, 32]);
  });

  it('calls onProgress', () => {
    const t = trace(['a 0 10', 'a 1 20', 'a 2 8', 'f 1', 'a 3 4', 'f 2']);
    const seen: number[] = [];
    replay(t, new FirstFit(), { onProgress: (d) => seen.push(d), progressEvery: 2 });
    expect(seen).toEqual([2, 4, 6]);
  });
});

describe('verification catches broken allocators', () => {
  const ops = ['a 0 16', 'a 1 16', 'a 2 16', 'a 3 16', 'f 1', 'f 0', 'f 2', 'f 3'];

  it('overlapping blocks', () => {
    const r = replay(trace(ops, 16, 'ov.rep'), new OverlappingAllocator());
    expect(r.verified).toBe(false);
    // Op 2 (line 7) gets block 1's address.
    expect(r.violation).toMatch(
      /^ov\.rep:7: overlapping: op 2 `a 2 16`: alloc\(16\) for block 2 returned \[0x00000018, 0x00000028\), which overlaps live block 1 at \[0x00000018, 0x00000028\)$/,
    );
    expect(r.ops).toBe(2);
  });

  it('corrupted payload (metadata written over the block below)', () => {
    const r = replay(trace(ops, 16, 'cor.rep'), new CorruptingAllocator());
    expect(r.verified).toBe(false);
    // Block 1 at 0x18..0x28 gets its last 4 bytes overwritten by block 2's header; found at `f 1` (line 9).
    expect(r.violation).toMatch(
      /^cor\.rep:9: corrupting: op 4 `f 1`: payload of block 1 at 0x00000018 changed before free: byte 12 \(address 0x00000024\) is 0xef, expected 0x[0-9a-f]{2}$/,
    );
  });

  it('realloc that loses content', () => {
    const r = replay(trace(['a 0 16', 'a 1 8', 'r 0 64', 'f 0', 'f 1']), new LossyReallocAllocator());
    expect(r.verified).toBe(false);
    expect(r.violation).toMatch(
      /op 2 `r 0 64`: payload of block 0 at 0x00000020 changed after realloc from 0x00000008 \(16 -> 64 bytes\): byte 8 /,
    );
  });

  it('an error other than out of memory stops the replay, even with --no-verify', () => {
    const r = replay(trace(ops), new RefusingAllocator(), { verify: false });
    expect(r.violation).toMatch(/op 4 `f 1`: refusing threw InvalidFreeError on a valid request/);
    expect(r.verified).toBe(false);
  });

  it('without verification the overlapping allocator goes unnoticed', () => {
    // (Blocks 1 and 2 share an address and are never freed here: freeing both
    // would make the model throw InvalidFreeError, which is reported even then.)
    const r = replay(trace(['a 0 16', 'a 1 16', 'a 2 16', 'a 3 16', 'f 0', 'f 3']), new OverlappingAllocator(), {
      verify: false,
    });
    expect(r.violation).toBeNull();
    expect(r.verified).toBe(false);
  });
});

describe('IntervalSet', () => {
  it('agrees with a brute-force list on random insert/remove/query', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 1, max: 20 }), fc.nat(15)), { maxLength: 200 }),
        (steps) => {
          const set = new IntervalSet(16);
          const live = new Map<number, [number, number]>();
          for (const [s, len, id] of steps) {
            const e = s + len;
            let want = -1;
            for (const [k, [a, b]] of live) if (a < e && s < b) want = k;
            const got = set.overlapping(s, e);
            expect(got >= 0).toBe(want >= 0);
            if (got >= 0) {
              const [a, b] = live.get(got)!;
              expect(a < e && s < b).toBe(true);
            }
            if (live.has(id)) {
              const [a, b] = live.get(id)!;
              set.remove(id, a, b);
              live.delete(id);
            } else if (got < 0) {
              set.insert(id, s, e);
              live.set(id, [s, e]);
            }
            expect(set.size).toBe(live.size);
          }
        },
      ),
      { numRuns: process.env.MEMKIT_FUZZ === 'soak' ? 2000 : 200 },
    );
  });
});

describe('BuddyByteAllocator', () => {
  it('rounds bytes up to 2^k pages; footprint is the pages held', () => {
    const a = new BuddyByteAllocator(new BuddyAllocator({ pages: 64, pageSize: 4096 }));
    const p = a.alloc(5000);
    expect(a.usableSize(p)).toBe(8192);
    const q = a.alloc(1);
    expect(a.usableSize(q)).toBe(4096);
    const r = a.alloc(3 * 4096 + 1); // 4 pages -> 4
    expect(a.usableSize(r)).toBe(4 * 4096);
    expect(a.footprint()).toBe((2 + 1 + 4) * 4096);
    a.free(p);
    expect(a.footprint()).toBe(5 * 4096);
    expect(a.realloc(q, 4000)).toBe(q); // fits: in place
    a.bytes![q] = 42;
    const q2 = a.realloc(q, 4097);
    expect(q2).not.toBe(q);
    expect(a.bytes![q2]).toBe(42);
    expect(a.footprint()).toBe((4 + 2) * 4096);
  });

  it('replays a hand-made trace: 100 + 5000 bytes take 1 + 2 pages', () => {
    const t = trace(['a 0 100', 'a 1 5000', 'f 0', 'f 1']);
    const r = replay(t, new BuddyByteAllocator(new BuddyAllocator({ pages: 16, pageSize: 4096 })));
    expect(r.verified).toBe(true);
    expect(r.peakPayload).toBe(5100);
    expect(r.peakFootprint).toBe(3 * 4096);
    expect(r.utilization).toBeCloseTo(5100 / (3 * 4096), 12);
    expect(r.internalFragmentationBytes).toBe(3 * 4096 - 5100);
    expect(r.externalFragmentationBytes).toBe(0);
  });

  it('a fuzzed trace replays verified through createBuddyAllocator, with 64-byte pages', () => {
    const ops: string[] = [];
    const live: number[] = [];
    let next = 0;
    let seed = 12345;
    const rnd = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const n = process.env.MEMKIT_FUZZ === 'soak' ? 200_000 : 20_000;
    while (ops.length < n) {
      const k = rnd(10);
      if (k < 5 || live.length === 0) {
        ops.push(`a ${next} ${1 + rnd(3000)}`);
        live.push(next++);
      } else if (k < 8) {
        const j = rnd(live.length);
        ops.push(`f ${live[j]}`);
        live.splice(j, 1);
      } else ops.push(`r ${live[rnd(live.length)]} ${1 + rnd(3000)}`);
    }
    const t = trace(ops, next);
    const r = replay(t, createBuddyAllocator(1 << 16, { pageSize: 64 }));
    expect(r.violation).toBeNull();
    expect(r.verified).toBe(true);
    expect(r.failures).toBe(0);
  });
});

describe('the fragmentation probe does not disturb the measured allocator', () => {
  it('with probeOn, peak footprint and utilization equal a run without the probe', async () => {
    const {
      readTrace: read,
      truncateTrace: cut,
      createAllocator: make,
      replay: run,
    } = await import('../../src/trace/index.js');
    const t = cut(await read(new URL('../../traces/bash.rep.gz', import.meta.url).pathname), 150_000);
    const plain = run(t, await make('kmalloc', t.heapSize), { verify: false, probe: false });
    const probed = run(t, await make('kmalloc', t.heapSize), {
      verify: false,
      probeOn: await make('kmalloc', t.heapSize),
    });
    expect(probed.probeBlocks).toBeGreaterThan(0);
    expect(probed.peakFootprint).toBe(plain.peakFootprint);
    expect(probed.utilization).toBe(plain.utilization);
  });
});
