import { describe, expect, it } from 'vitest';
import { AllocationTracker, Kmalloc, findLeaks } from '../../src/index.js';

/**
 * A kmalloc heap whose blocks come zeroed (kzalloc): a conservative scan
 * takes stale words (an old free-list pointer) for pointers, as the
 * kernel's kmemleak does, so tests zero their blocks.
 */
function heap() {
  const km = new Kmalloc({ bytes: 1 << 22 });
  const k = { memory: km.memory, alloc: (n: number) => km.kzalloc(n), forEachBlock: km.forEachBlock.bind(km) };
  const u32 = () => km.memory.u32;
  return {
    k,
    put: (at: number, v: number) => {
      u32()[at >>> 2] = v;
    },
  };
}

describe('findLeaks (kmemleak for kmalloc heaps)', () => {
  it('reports exactly the blocks no root reaches, through chains of pointers', () => {
    const { k, put } = heap();
    const root = k.alloc(64);
    const a = k.alloc(16);
    const b = k.alloc(300);
    const big = k.alloc(20_000); // a large (page) block
    const lost1 = k.alloc(32);
    const lost2 = k.alloc(40);
    const lostCycle = k.alloc(16);
    put(root, a);
    put(a + 8, b);
    put(b + 296, big);
    put(lost1, lost2); // lost1 -> lost2, but nothing reaches lost1
    put(lostCycle, lostCycle);
    const r = findLeaks(k, [root]);
    expect(r.leaks.map((l) => l.address).sort((x, y) => x - y)).toEqual(
      [lost1, lost2, lostCycle].sort((x, y) => x - y),
    );
    expect(r.blocks).toBe(7);
    expect(findLeaks(k, [root, lost1]).leaks.map((l) => l.address)).toEqual([lostCycle]);
  });

  it('interior pointers count (as in kmemleak) unless turned off; root ranges are scanned', () => {
    const { k, put } = heap();
    const holder = k.alloc(16);
    const target = k.alloc(128);
    put(holder, target + 100);
    expect(findLeaks(k, [holder]).leaks).toHaveLength(0);
    expect(findLeaks(k, [holder], { interior: false }).leaks.map((l) => l.address)).toEqual([target]);
    // A root region (a "data section"): here a block, which itself is unreferenced.
    const data = k.alloc(16);
    put(data, holder);
    const region = k.alloc(64);
    put(region + 12, data);
    const r = findLeaks(k, [], { rootRanges: [[region, 64]] });
    expect(r.leaks.map((l) => l.address)).toEqual([region]);
  });

  it('prints the kmemleak format, with a backtrace when allocations are tracked', () => {
    const k = new AllocationTracker(new Kmalloc({ bytes: 1 << 22 }));
    const kept = k.alloc(24);
    const makeLeak = () => k.alloc(20);
    const lost = makeLeak();
    k.memory.u8.set([0x6b, 0x6d, 0x6b, 0x00], lost);
    const r = findLeaks(k, [kept]);
    expect(r.leaks).toHaveLength(1);
    expect(r.leaks[0]!.size).toBe(20);
    const lines = r.text.split('\n');
    expect(lines[0]).toBe(`unreferenced object 0x${lost.toString(16).padStart(8, '0')} (size 20):`);
    expect(lines[1]).toBe('  comm "memkit", pid 0, jiffies 0');
    expect(lines[2]).toMatch(/^ {2}hex dump \(first \d+ bytes\):$/);
    expect(lines[3]).toMatch(/^ {4}6b 6d 6b 00 [0-9a-f ]+ {2}kmk\./);
    expect(lines).toContain('  backtrace:');
    expect(r.text).toMatch(/\[<00000000>\] makeLeak/);
    k.free(lost);
    expect(findLeaks(k, [kept]).text).toBe('');
  });
});
