/**
 * Hardening of SlabCache (issue 10): the argument gate of every public
 * method, all-or-nothing bulk operations, free pointers checked before they
 * are followed, addresses above 2 GiB, and reports after a wasm-side grow.
 */
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  HeapCorruptionError,
  InvalidArgumentError,
  InvalidFreeError,
  MemkitError,
  Memory,
  OutOfMemoryError,
  SlabCache,
} from '../../src/index.js';
import { badValues } from '../support/bad-values.js';

/** A cache with live objects on two slabs (one partial, one full) and a free object. */
function world(pages = 64) {
  const buddy = new BuddyAllocator({ pages });
  const cache = new SlabCache(buddy, { name: 'victim', size: 1000 }); // 4 objects per slab
  const objs = Array.from({ length: 7 }, () => cache.alloc());
  cache.free(objs[5]!);
  const live = objs[0]!;
  // Another heap's object: a number that is no object start here (an address
  // that happens to be one here is, as a number, this heap's object).
  const other = new SlabCache(new BuddyAllocator({ pages: 16 }), { name: 'other', size: 24 });
  const foreign = [other.alloc(), other.alloc(), other.alloc()][2]!;
  if (cache.isAllocated(foreign) || (foreign - objs[0]!) % 1000 === 0)
    throw new Error('test setup: the foreign address is an object here');
  return { buddy, cache, objs, live, foreign, memory: buddy.memory! };
}

const bytes = (m: Memory) => Buffer.from(new Uint8Array(m.buffer).slice(0));

describe('SlabCache: one argument gate per public method', () => {
  const w = world();
  const values = badValues(w.live, w.foreign);
  // Values a method takes as valid (it then runs normally): listed so that
  // every other value must be refused. `null` entries: not called.
  type Call = (x: unknown) => unknown;
  const methods: Array<[string, Call, string[]]> = [
    [
      'alloc(requested)',
      (x) => w.cache.alloc(x as number),
      ['0', '-0', '2^31', 'undefined', 'live + 8 (interior)', 'foreign address'],
    ],
    ['free(addr)', (x) => w.cache.free(x as number), []],
    ['allocBulk(n, out)', (x) => w.cache.allocBulk(x as number, new Uint32Array(4)), ['0', '-0']],
    ['allocBulk(1, out)', (x) => w.cache.allocBulk(1, x as number[]), ['[live]']],
    ['freeBulk([addr])', (x) => w.cache.freeBulk([x as number]), []],
    ['freeBulk(addrs)', (x) => w.cache.freeBulk(x as number[]), ['[live]']],
    ['freeBulk([live], n)', (x) => w.cache.freeBulk([w.live], x as number), ['0', '-0', 'undefined']],
    [
      'shrink(keep)',
      (x) => w.cache.shrink(x as number),
      ['0', '-0', '2^31', 'undefined', 'live + 8 (interior)', 'foreign address'],
    ],
    ['forEachSlab(visit)', (x) => w.cache.forEachSlab(x as () => void), ['a function']],
    ['freeObjects(slabAddr)', (x) => w.cache.freeObjects(x as number), []],
    [
      'isAllocated(addr)',
      (x) => w.cache.isAllocated(x as number),
      ['0', '-0', '2^31', 'live + 8 (interior)', 'foreign address'],
    ],
    ['attach(memory)', (x) => SlabCache.attach(x as Memory), []],
    ['attach(memory, options)', (x) => SlabCache.attach(w.memory, x as object), ['undefined']],
    ['attach(memory, { id })', (x) => SlabCache.attach(w.memory, { id: x as number }), ['0', '-0', 'undefined']],
    ['attach(memory, { name })', (x) => SlabCache.attach(w.memory, { name: x as string }), ['undefined']],
    ['new SlabCache(buddy, options)', (x) => new SlabCache(x as BuddyAllocator, { name: 'n', size: 64 }), []],
    ['new SlabCache(b, options)', (x) => new SlabCache(w.buddy, x as { name: string; size: number }), []],
    ...(['size', 'align', 'order', 'minEmpty', 'name', 'ctor', 'debug'] as const).map(
      (key): [string, Call, string[]] => [
        `new SlabCache(b, { ${key} })`,
        (x) => new SlabCache(w.buddy, { name: 'n', size: 64, [key]: x }),
        {
          size: ['live + 8 (interior)', 'foreign address'],
          align: ['undefined'],
          order: ['0', '-0', 'undefined'],
          minEmpty: ['0', '-0', 'undefined', 'live + 8 (interior)', 'foreign address'],
          name: ['"64"', 'String(live)'],
          ctor: ['undefined', 'a function'],
          debug: ['undefined', 'true', 'false'],
        }[key],
      ],
    ),
  ];
  // Methods without arguments ignore extra ones: same result, nothing changed.
  const noArgs: Array<[string, () => unknown]> = [
    ['stats', () => w.cache.stats()],
    ['slabinfoRow', () => w.cache.slabinfoRow()],
    ['footprint', () => w.cache.footprint()],
  ];

  it(`${values.length} bad values x ${methods.length} methods: a MemkitError naming the argument, the buffer byte-identical`, () => {
    expect(values.length).toBeGreaterThanOrEqual(20);
    let refused = 0;
    for (const [name, call, valid] of methods) {
      for (const [label, x] of values) {
        if (valid.includes(label)) continue;
        const before = bytes(w.memory);
        const stats = JSON.stringify(w.cache.stats());
        let err: unknown;
        try {
          call(x);
        } catch (e) {
          err = e;
        }
        expect(err, `${name} with ${label}`).toBeInstanceOf(MemkitError);
        if (err instanceof InvalidArgumentError) expect(err.argument, `${name} with ${label}`).toBeTypeOf('string');
        expect(bytes(w.memory).equals(before), `${name} with ${label} changed the buffer`).toBe(true);
        expect(JSON.stringify(w.cache.stats()), `${name} with ${label}`).toBe(stats);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(methods.length * 15);
    for (const [name, call] of noArgs) {
      const want = JSON.stringify(call());
      const before = bytes(w.memory);
      for (const [label, x] of values) {
        expect(JSON.stringify((call as (v: unknown) => unknown)(x)), `${name}(${label})`).toBe(want);
      }
      expect(bytes(w.memory).equals(before)).toBe(true);
    }
    w.cache.checkInvariants();
  });

  it('valid-but-wrong addresses get InvalidFreeError; a value is never coerced into a real block', () => {
    const { cache, live, foreign, memory } = world();
    const before = bytes(memory);
    expect(() => cache.free(live + 8)).toThrow(InvalidFreeError);
    expect(() => cache.free(foreign)).toThrow(InvalidFreeError);
    expect(() => cache.free(String(live) as unknown as number)).toThrow(InvalidArgumentError);
    expect(() => cache.free({ valueOf: () => live } as unknown as number)).toThrow(InvalidArgumentError);
    expect(() => cache.free(live + 0.5)).toThrow(InvalidArgumentError);
    expect(bytes(memory).equals(before)).toBe(true);
    expect(cache.isAllocated(live)).toBe(true);
  });
});

describe('SlabCache: errors leave the state unchanged', () => {
  it('freeBulk([ok, bad]) frees nothing; freeBulk([a, a]) is a double free that frees nothing', () => {
    const { cache, objs, memory, live } = world();
    const before = bytes(memory);
    expect(() => cache.freeBulk([objs[1]!, objs[1]! + 4])).toThrow(InvalidFreeError);
    expect(() => cache.freeBulk([objs[1]!, objs[5]!])).toThrow(DoubleFreeError); // objs[5] is free
    expect(() => cache.freeBulk([objs[1]!, objs[1]!])).toThrow(DoubleFreeError);
    expect(() => cache.freeBulk([objs[1]!, 'x' as unknown as number])).toThrow(InvalidArgumentError);
    expect(bytes(memory).equals(before)).toBe(true);
    expect(cache.isAllocated(objs[1]!)).toBe(true);
    cache.freeBulk([objs[1]!, live]);
    expect(cache.isAllocated(objs[1]!) || cache.isAllocated(live)).toBe(false);
    cache.checkInvariants();
  });

  it('a failed allocBulk leaves no new slab behind (and no object taken)', () => {
    const buddy = new BuddyAllocator({ pages: 8 });
    const cache = new SlabCache(buddy, { name: 'bulk', size: 1000 }); // 4 per 1-page slab
    const a = cache.alloc();
    const before = bytes(buddy.memory!);
    const stats = JSON.stringify(cache.stats());
    const free = buddy.freePages;
    const out = new Uint32Array(100);
    expect(() => cache.allocBulk(100, out)).toThrow(OutOfMemoryError);
    expect(JSON.stringify(cache.stats())).toBe(stats);
    expect(buddy.freePages).toBe(free);
    expect(bytes(buddy.memory!).equals(before)).toBe(true);
    // What fits is served, from the partial slab first.
    const n = 3 + 4 * buddy.freePages;
    expect(cache.allocBulk(n, out)).toBe(n);
    expect(new Set(out.subarray(0, n)).size).toBe(n);
    expect(out.subarray(0, n).includes(a)).toBe(false);
    cache.checkInvariants();
    expect(cache.stats().activeObjects).toBe(n + 1);
  });

  it('a bad option leaves no slab space and no cache descriptor behind', () => {
    const buddy = new BuddyAllocator({ pages: 64 });
    const before = bytes(buddy.memory!);
    expect(() => new SlabCache(buddy, { name: 'x', size: 64, minEmpty: -1 })).toThrow(InvalidArgumentError);
    expect(() => new SlabCache(buddy, { name: 'x', size: 64, debug: { poison: 1 as unknown as boolean } })).toThrow(
      InvalidArgumentError,
    );
    expect(
      () => new SlabCache(buddy, { name: 'x', size: 64, sise: 3 } as unknown as { name: string; size: number }),
    ).toThrow(/unknown option "sise"/);
    expect(bytes(buddy.memory!).equals(before)).toBe(true);
    expect(buddy.freePages).toBe(64);
  });
});

describe('SlabCache: a write after free cannot steer the allocator', () => {
  const setup = () => {
    const buddy = new BuddyAllocator({ pages: 64 });
    const cache = new SlabCache(buddy, { name: 'uaf', size: 64 });
    const second = new SlabCache(buddy, { name: 'second', size: 64 });
    const objs = Array.from({ length: 10 }, () => cache.alloc());
    const elsewhere = second.alloc();
    return { buddy, cache, objs, elsewhere, u32: buddy.memory!.u32, u8: buddy.memory!.u8 };
  };

  it('zeroing a freed object (memset after free) gives HeapCorruptionError, never address 0', () => {
    const { buddy, cache, objs, u8 } = setup();
    cache.free(objs[3]!);
    u8.fill(0, objs[3]!, objs[3]! + 64);
    const before = bytes(buddy.memory!);
    expect(() => cache.alloc()).toThrow(HeapCorruptionError);
    expect(() => cache.alloc()).toThrow(/Freepointer corrupt in object/);
    expect(bytes(buddy.memory!).equals(before)).toBe(true);
  });

  it('a forged free pointer into another slab, or off the object grid, is refused before it is followed', () => {
    for (const target of ['elsewhere', 'offgrid', 'header'] as const) {
      const { buddy, cache, objs, elsewhere, u32 } = setup();
      cache.free(objs[3]!);
      const next = target === 'elsewhere' ? elsewhere : target === 'offgrid' ? objs[5]! + 8 : 0x10;
      u32[objs[3]! >>> 2] = next; // the free pointer
      u32[(objs[3]! >>> 2) + 1] = (next ^ 0x46524545) >>> 0; // and a tag forged to match
      const before = bytes(buddy.memory!);
      let handed: number | undefined;
      expect(() => {
        handed = cache.alloc();
      }, target).toThrow(HeapCorruptionError);
      expect(handed).toBeUndefined();
      expect(bytes(buddy.memory!).equals(before)).toBe(true);
    }
  });

  it('a partial slab whose freelist was cut off is refused, not served from address 0', () => {
    const buddy = new BuddyAllocator({ pages: 64 });
    const cache = new SlabCache(buddy, { name: 'cut', size: 2000 }); // 4 objects per 2-page slab
    const a = cache.alloc();
    cache.alloc();
    cache.free(a);
    // The user forges "end of list" over a's free pointer and tag.
    buddy.memory!.u32[a >>> 2] = 0;
    buddy.memory!.u32[(a >>> 2) + 1] = 0x46524545;
    expect(cache.alloc()).toBe(a); // the last object the list still reaches
    const before = bytes(buddy.memory!);
    // The two objects cut off are lost; the slab is partial with nothing to give.
    expect(() => cache.alloc()).toThrow(/partial but its freelist is empty/);
    expect(bytes(buddy.memory!).equals(before)).toBe(true);
    expect(() => cache.checkInvariants()).toThrow(HeapCorruptionError);
  });
});

describe('SlabCache: addresses up to 2^32', () => {
  it('a 3 GiB heap: slabs above 2 GiB hand out distinct addresses, free takes them back', () => {
    // The ArrayBuffer is reserved, not touched: only the pages written cost memory.
    const buddy = new BuddyAllocator({ pages: 3 * 2 ** 18 });
    // Take the three 1 GiB blocks and give back the top one: every slab comes from above 2 GiB.
    const blocks = [0, 1, 2].map(() => buddy.allocPages(2 ** 18));
    const top = Math.max(...blocks);
    expect(top).toBeGreaterThan(2 ** 31);
    buddy.free(top);
    const low = blocks.filter((b) => b !== top);
    const caches = [16, 200, 3000].map(
      (size) => new SlabCache(buddy, { name: `hi-${size}`, size, debug: size === 200 }),
    );
    for (const cache of caches) {
      const got = Array.from({ length: 600 }, () => cache.alloc());
      expect(got.every((a) => a > 2 ** 31 && a + cache.size <= buddy.memory!.buffer.byteLength)).toBe(true);
      expect(new Set(got).size).toBe(got.length);
      for (const a of got) expect(cache.isAllocated(a)).toBe(true);
      cache.free(got[1]!);
      expect(() => cache.free(got[1]!)).toThrow(DoubleFreeError);
      for (const a of got.slice(2, 300)) cache.free(a);
      cache.free(got[0]!);
      cache.freeBulk(got.slice(300));
      cache.checkInvariants();
      expect(cache.stats().activeObjects).toBe(0);
      expect(cache.shrink()).toBeGreaterThan(0);
    }
    for (const a of low) buddy.free(a);
  });
});

describe('SlabCache: every method after a wasm-side grow', () => {
  /** Two identical heaps on WebAssembly memories; `grow` grows one of them from the "wasm side". */
  const twin = () => {
    const make = () => {
      const wasm = new WebAssembly.Memory({ initial: 6, maximum: 64 });
      const buddy = new BuddyAllocator({ memory: Memory.wrap(wasm), pages: 64, maxPages: 64 });
      const cache = new SlabCache(buddy, { name: 'wasm', size: 500 });
      const objs = Array.from({ length: 20 }, () => cache.alloc());
      for (const a of objs.filter((_, i) => i % 3 === 0)) cache.free(a);
      return { wasm, buddy, cache, objs };
    };
    return [make(), make()] as const;
  };

  it('each call, made first after a grow that detached the old buffer, gives what the twin that did not grow gives', () => {
    const [grown, still] = twin();
    const slab = (c: SlabCache) => {
      let first = 0;
      c.forEachSlab((a) => {
        first ||= a;
      });
      return first;
    };
    const calls: Array<[string, (h: ReturnType<typeof twin>[0]) => unknown]> = [
      ['stats', (h) => h.cache.stats()],
      ['slabinfoRow', (h) => h.cache.slabinfoRow()],
      ['footprint', (h) => h.cache.footprint()],
      [
        'forEachSlab',
        (h) => {
          const s: unknown[] = [];
          h.cache.forEachSlab((...a) => s.push(a));
          return s;
        },
      ],
      ['freeObjects', (h) => h.cache.freeObjects(slab(h.cache))],
      ['isAllocated', (h) => h.objs.map((a) => h.cache.isAllocated(a))],
      ['checkInvariants', (h) => h.cache.checkInvariants()],
      ['alloc', (h) => h.cache.alloc()],
      ['free', (h) => h.cache.free(h.objs[1]!)],
      [
        'allocBulk',
        (h) => {
          const out = new Uint32Array(30);
          h.cache.allocBulk(30, out);
          return [...out];
        },
      ],
      ['freeBulk', (h) => h.cache.freeBulk([h.objs[2]!, h.objs[4]!])],
      ['shrink', (h) => h.cache.shrink()],
      ['attach', (h) => SlabCache.attach(h.buddy.memory!, { name: 'wasm' }).stats()],
    ];
    for (const [name, call] of calls) {
      const old = grown.wasm.buffer;
      grown.wasm.grow(1);
      expect(old.byteLength, 'the old buffer is detached').toBe(0);
      expect(call(grown), name).toEqual(call(still));
    }
  });
});
