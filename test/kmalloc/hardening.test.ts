/**
 * Kmalloc at its public boundary: every method x the bad values of the
 * hardening issue gives a MemkitError and leaves every byte of the buffer as
 * it was; and a wasm-side grow between any two calls changes no result.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Kmalloc, Memory, MemkitError } from '../../src/index.js';
import { badValues } from '../support/bad-values.js';

/** The shared bad values, plus interior addresses of the other two tiers and an empty object. */
function kmallocBadValues(p: number, t: number, l: number, other: number): unknown[] {
  return [...badValues(p, other).map(([, v]) => v), t + 8, l + 4096, {}];
}

describe('Kmalloc bad-input matrix', () => {
  // Unshared; and a worker's instance on a shared heap, the blocks being another worker's (the
  // maker's), so frees of them and of addresses inside them take the remote-free path.
  for (const where of ['unshared', 'a worker on a shared heap'] as const)
    it(`every method refuses every bad value with a MemkitError, the buffer byte-identical after (${where})`, () => {
      const maker =
        where === 'unshared'
          ? new Kmalloc({ bytes: 1 << 20 })
          : new Kmalloc({ memory: Memory.create({ bytes: 2 << 20, shared: true }) });
      const p = maker.alloc(24);
      const t = maker.alloc(3000);
      const l = maker.alloc(100_000);
      const k = where === 'unshared' ? maker : Kmalloc.attach(Memory.wrap(maker.memory.buffer));
      const other = new Kmalloc({ bytes: 1 << 20 }).alloc(5000) + (1 << 21); // past this heap's pages
      const calls: Array<[string, (b: unknown) => unknown, (b: unknown) => boolean]> = [
        // [name, call, whether b is a value the method accepts (then it is not a bad input for it)]
        ['free', (b) => k.free(b as number), () => false],
        ['kfree', (b) => k.kfree(b as number), (b) => b === 0], // kfree(0) does nothing, as in the kernel
        ['usableSize', (b) => k.usableSize(b as number), () => false],
        ['ksize', (b) => k.ksize(b as number), () => false],
        [
          'pageOwner',
          (b) => k.pageOwner(b as number),
          (b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b < 2 ** 32, // any address: -1 off class pages
        ],
        ['realloc(b, 8)', (b) => k.realloc(b as number, 8), (b) => b === 0], // realloc(0, n) allocates
        ['krealloc(b, 8)', (b) => k.krealloc(b as number, 8), (b) => b === 0],
        [
          'realloc(p, b)',
          (b) => k.realloc(p, b as number),
          (b) => typeof b === 'number' && b >= 0 && b < 2 ** 32 && Number.isInteger(b),
        ],
        [
          'alloc',
          (b) => k.alloc(b as number),
          (b) => typeof b === 'number' && b >= 0 && Number.isInteger(b) && b < 2 ** 20,
        ],
        [
          'kmalloc',
          (b) => k.kmalloc(b as number),
          (b) => typeof b === 'number' && b >= 0 && Number.isInteger(b) && b < 2 ** 20,
        ],
        [
          'kzalloc',
          (b) => k.kzalloc(b as number),
          (b) => typeof b === 'number' && b >= 0 && Number.isInteger(b) && b < 2 ** 20,
        ],
      ];
      let refused = 0;
      for (const b of kmallocBadValues(p, t, l, other)) {
        for (const [name, call, accepts] of calls) {
          if (accepts(b)) continue;
          const before = Uint8Array.from(k.bytes);
          const stats = JSON.stringify([k.slabinfo(), k.footprint(), k.tlsf.stats(), k.largeStats()]);
          let thrown: unknown;
          try {
            call(b);
          } catch (e) {
            thrown = e;
          }
          expect(thrown, `${name} with ${typeof b === 'bigint' ? `${b}n` : String(b)}`).toBeInstanceOf(MemkitError);
          expect(Buffer.compare(k.bytes, before), `${name}: the buffer changed`).toBe(0);
          expect(JSON.stringify([k.slabinfo(), k.footprint(), k.tlsf.stats(), k.largeStats()])).toBe(stats);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(150);
      // the live blocks are still live, and usable
      for (const a of [p, t, l]) {
        expect(k.isAllocated(a)).toBe(true);
        k.free(a);
        expect(k.isAllocated(a)).toBe(false);
      }
      let live = 0;
      k.forEachBlock(() => live++);
      expect(live).toBe(0);
    });

  it('options: an unknown or malformed option names itself; new Kmalloc() is a small heap that grows', () => {
    expect(() => new Kmalloc({ bytes: 1 << 20, tlsfAbove: 64 } as never)).toThrow(/unknown option "tlsfAbove"/);
    for (const bad of [-1, 1.5, NaN, '4096', 10n, null, {}]) {
      let e: unknown;
      try {
        new Kmalloc({ bytes: bad as number });
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect((e as InvalidArgumentError).argument).toBe('bytes');
    }
    const k = new Kmalloc();
    const blocks = Array.from({ length: 3000 }, () => k.kmalloc(1000)); // 3 MB: more than it starts with
    expect(new Set(blocks).size).toBe(3000);
    for (const b of blocks) k.kfree(b);
  });
});

describe('Kmalloc over a WebAssembly.Memory the wasm side grows', () => {
  it('every public method gives the same results with a grow before each call', () => {
    const plain = new Kmalloc({ memory: Memory.wrap(new WebAssembly.Memory({ initial: 64, maximum: 4096 })) });
    const wasm = new WebAssembly.Memory({ initial: 64, maximum: 4096 });
    const grown = new Kmalloc({ memory: Memory.wrap(wasm) });
    const run = (k: Kmalloc, grow: () => void): unknown[] => {
      const out: unknown[] = [];
      const live: number[] = [];
      let seed = 7;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed % n;
      };
      for (let i = 0; i < 300; i++) {
        grow();
        const r = rnd(10);
        if (r < 5 || live.length === 0) {
          const size = [1, 24, 64, 65, 700, 3000, 9000, 70_000][rnd(8)]!;
          const a = k.kmalloc(size);
          grow();
          k.bytes.fill(i & 0xff, a, a + size);
          live.push(a);
          out.push(a, k.ksize(a));
        } else if (r < 7) {
          const j = rnd(live.length);
          grow();
          live[j] = k.krealloc(live[j]!, [8, 100, 5000][rnd(3)]!);
          out.push(live[j]);
        } else {
          const j = rnd(live.length);
          grow();
          k.kfree(live[j]!);
          live.splice(j, 1);
        }
      }
      for (const f of [
        () => k.footprint(),
        () => k.slabinfo(),
        () => k.largeStats(),
        () => k.tlsf.stats(),
        () => k.isAllocated(live[0]!),
        () => {
          const blocks: number[] = [];
          k.forEachBlock((a, s) => blocks.push(a, s));
          return blocks;
        },
        () => k.caches.map((c) => c.stats()),
        () => k.shrink(),
      ]) {
        grow();
        out.push(f());
      }
      return out;
    };
    const a = run(plain, () => {});
    const b = run(grown, () => wasm.grow(1));
    expect(wasm.buffer.byteLength).toBeGreaterThan(64 * 65536 + 300 * 65536);
    expect(b).toEqual(a);
  });
});
