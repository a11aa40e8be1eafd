import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/arena/index.js';
import { HeapCorruptionError, InvalidArgumentError, MemkitError, OutOfMemoryError } from '../../src/errors/index.js';
import { HeaderSlot, Memory, readSlot } from '../../src/memory/index.js';

/** Where the first chunk's data starts in a memory-backed arena: header 64 + state 64 + chunk header 16. */
const DATA0 = 272;

/** Everything observable about an arena, for "looks the same" checks. */
function look(a: Arena): unknown {
  const mark = a.mark();
  return { pos: mark % 2 ** 32, stats: a.stats(), chunks: a.chunkList() };
}

describe('the lecture example (Arena Allocator: Alloc / Free)', () => {
  it('alloc 4, alloc 16, then clear: looks the same as when we started', () => {
    const arena = new Arena({ bytes: 64 });
    const start = look(arena);
    expect(arena.used).toBe(0);
    expect(arena.capacity).toBe(64);

    // "Then we allocate 4 bytes": the pointer bumps by 4
    const a = arena.alloc(4, 1);
    expect(a).toBe(DATA0);
    expect(arena.used).toBe(4);
    // "Then we allocate 16 bytes": right after (the slide leaves alignment out)
    const b = arena.alloc(16, 1);
    expect(b).toBe(DATA0 + 4);
    expect(arena.used).toBe(20);

    // "we free all allocations, and we can then use it again as if fresh"
    arena.reset();
    expect(arena.used).toBe(0);
    expect(look(arena)).toEqual(start);
    expect(arena.alloc(4, 1)).toBe(a);
  });

  it('with the default 8-byte alignment, the 16 bytes start after 4 bytes of padding', () => {
    const arena = new Arena({ bytes: 64 });
    expect(arena.alloc(4)).toBe(DATA0);
    expect(arena.alloc(16)).toBe(DATA0 + 8);
    expect(arena.used).toBe(24); // padding included
    expect(arena.stats().available).toBe(64 - 24);
  });

  it('the lecture loop: many iterations, each allocating then clearing, never grows', () => {
    const arena = new Arena({ bytes: 2048 });
    for (let i = 0; i < 1000; i++) {
      const ptr = arena.alloc(4);
      const img = arena.alloc(1024);
      arena.memory.u32[ptr >>> 2] = i;
      arena.memory.u8.fill(i & 0xff, img, img + 1024);
      expect(ptr).toBe(DATA0);
      arena.reset();
    }
    expect(arena.stats()).toMatchObject({ used: 0, capacity: 2048, chunks: 1, waste: 0 });
  });
});

describe('alignment', () => {
  it('every power of two up to 4096 is honoured, and padding counts in used', () => {
    const arena = new Arena({ bytes: 1 << 16 });
    let used = 0;
    for (let k = 0; k <= 12; k++) {
      const align = 2 ** k;
      const before = arena.mark() % 2 ** 32;
      const p = arena.alloc(3, align);
      expect(p % align).toBe(0);
      expect(p).toBeGreaterThanOrEqual(before);
      expect(p - before).toBeLessThan(align);
      used += p - before + 3;
      expect(arena.used).toBe(used);
    }
  });

  it('an alignment larger than the arena is out of memory, not a bad argument', () => {
    const arena = new Arena({ bytes: 64 });
    arena.alloc(1);
    expect(() => arena.alloc(8, 2 ** 20)).toThrow(OutOfMemoryError);
    expect(arena.used).toBe(1);
  });

  it('a whole fixed arena can be taken by one allocation', () => {
    const arena = new Arena({ bytes: 100 });
    expect(arena.alloc(100)).toBe(DATA0);
    expect(() => arena.alloc(1, 1)).toThrow(OutOfMemoryError);
  });
});

describe('mark / rewind', () => {
  it('rewind frees everything after the mark; the same addresses come back', () => {
    const arena = new Arena({ bytes: 1024 });
    arena.alloc(10);
    const m = arena.mark();
    const used = arena.used;
    const p = arena.alloc(100);
    const q = arena.alloc(7, 32);
    arena.rewind(m);
    expect(arena.used).toBe(used);
    expect(arena.alloc(100)).toBe(p);
    expect(arena.alloc(7, 32)).toBe(q);
  });

  it('nested marks rewind in any stack order; rewinding to the top is a no-op', () => {
    const arena = new Arena({ bytes: 1024 });
    const m0 = arena.mark();
    arena.alloc(8);
    const m1 = arena.mark();
    arena.alloc(8);
    const m2 = arena.mark();
    arena.rewind(m2);
    expect(arena.used).toBe(16);
    arena.rewind(m1);
    expect(arena.used).toBe(8);
    arena.rewind(m0);
    expect(arena.used).toBe(0);
  });

  it('a mark released by a rewind stays stale after the top passes it again (generations)', () => {
    for (const make of [
      () => new Arena({ bytes: 1024 }),
      () => new Arena({ bytes: 64, maxBytes: 4096, chunkBytes: 64 }),
    ]) {
      const arena = make();
      const m0 = arena.mark();
      arena.alloc(100);
      const m1 = arena.mark();
      arena.rewind(m0);
      const b = arena.alloc(300);
      const before = look(arena);
      expect(() => arena.rewind(m1)).toThrow(/stale mark/);
      expect(look(arena)).toEqual(before);
      const c = arena.alloc(100);
      expect(c).toBeGreaterThanOrEqual(b + 300); // no overlap with b
      arena.rewind(m0); // m0 itself is still good
      expect(arena.used).toBe(0);
    }
  });

  it('marks of enclosing scopes stay valid through many inner rewinds (a loop of run() calls)', () => {
    const arena = new Arena({ bytes: 1 << 16 });
    const outer = arena.mark();
    const kept: number[] = [];
    for (let i = 0; i < 100; i++) {
      kept.push(arena.alloc(16));
      arena.run((a) => {
        a.alloc(32);
        a.run((b) => b.alloc(8));
      });
    }
    expect(arena.used).toBe(1600);
    arena.rewind(outer);
    expect(arena.used).toBe(0);
  });

  it('a scope opened after earlier rewinds, or after a long history of them, keeps its mark', () => {
    const arena = new Arena({ bytes: 1 << 16 });
    const nested = (): void => {
      arena.run((a) => {
        a.alloc(32);
        a.run((b) => b.alloc(8));
      });
    };
    nested(); // history: a rewind that started a new generation
    for (let i = 0; i < 30; i++) {
      arena.alloc(16);
      nested();
    } // ... many, at rising offsets
    const y = arena.mark();
    const usedAtY = arena.used;
    for (let i = 0; i < 30; i++) {
      arena.alloc(16);
      nested();
    }
    arena.rewind(y);
    expect(arena.used).toBe(usedAtY);
    // and every mark of the loop above is stale now
    const z = arena.mark();
    arena.alloc(8);
    const inner = arena.mark();
    arena.rewind(z);
    arena.alloc(64);
    expect(() => arena.rewind(inner)).toThrow(/stale mark/);
  });

  it('a mark beyond the current top is stale: InvalidArgumentError, arena unchanged', () => {
    const arena = new Arena({ bytes: 1024 });
    const m0 = arena.mark();
    arena.alloc(64);
    const m1 = arena.mark();
    arena.rewind(m0);
    const before = look(arena);
    expect(() => arena.rewind(m1)).toThrow(InvalidArgumentError);
    expect(() => arena.rewind(m1)).toThrow(/beyond the current top/);
    expect(look(arena)).toEqual(before);
  });

  it('a mark from before a reset is stale, even where the top is now past it', () => {
    const arena = new Arena({ bytes: 1024 });
    const m = arena.mark();
    arena.alloc(64);
    arena.reset();
    arena.alloc(128);
    const before = look(arena);
    expect(() => arena.rewind(m)).toThrow(/before a reset/);
    expect(look(arena)).toEqual(before);
  });

  it('numbers that are no mark of this arena are rejected', () => {
    const arena = new Arena({ bytes: 1024 });
    arena.alloc(64);
    const before = look(arena);
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, 5, 2 ** 32 + DATA0, '272' as unknown as number]) {
      expect(() => arena.rewind(bad)).toThrow(InvalidArgumentError);
    }
    expect(look(arena)).toEqual(before);
    expect(arena.alloc(8)).toBe(DATA0 + 64);
  });
});

describe('growth by chaining chunks (memory mode)', () => {
  it('a fixed arena does not grow: full means OutOfMemoryError with the size asked', () => {
    const arena = new Arena({ bytes: 64 });
    arena.alloc(60);
    const before = look(arena);
    let err: unknown;
    try {
      arena.alloc(16);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(16);
    expect(look(arena)).toEqual(before);
    expect(arena.alloc(4, 4)).toBe(DATA0 + 60); // still usable
  });

  it('chains new chunks when one is full, counting the bytes left at its end as waste', () => {
    const arena = new Arena({ bytes: 256, maxBytes: 8192 });
    const len0 = arena.memory.byteLength;
    const ptrs: number[] = [];
    for (let i = 0; i < 40; i++) ptrs.push(arena.alloc(40));
    const st = arena.stats();
    expect(st.mode).toBe('memory');
    expect(st.chunks).toBeGreaterThan(1);
    expect(st.used).toBe(40 * 40);
    expect(st.capacity).toBeLessThanOrEqual(8192);
    expect(arena.memory.byteLength).toBeGreaterThan(len0);
    // every allocation lies inside one chunk's data, none overlap
    const chunks = arena.chunkList();
    expect(chunks.every((c) => c.kind === 'chain')).toBe(true);
    for (const p of ptrs) expect(chunks.some((c) => p >= c.data && p + 40 <= c.end)).toBe(true);
    const sorted = [...ptrs].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(40);
    // waste = what was left in each full chunk
    let waste = 0;
    for (let i = 0; i + 1 < chunks.length; i++) waste += chunks[i]!.end - chunks[i]!.data - chunks[i]!.used;
    expect(st.waste).toBe(waste);
    expect(st.used + st.waste + st.available).toBe(st.capacity);
  });

  it('after a reset the chunks are reused: the same workload does not grow the memory again', () => {
    const arena = new Arena({ bytes: 256, maxBytes: 1 << 16 });
    const run = (): number[] => Array.from({ length: 100 }, (_, i) => arena.alloc(1 + (i % 50), 1 << (i % 5)));
    const first = run();
    const len = arena.memory.byteLength;
    const chunks = arena.stats().chunks;
    arena.reset();
    expect(arena.stats()).toMatchObject({ used: 0, waste: 0, chunks });
    expect(arena.chunkList().filter((c) => c.kind === 'spare').length).toBe(chunks - 1);
    expect(run()).toEqual(first);
    expect(arena.memory.byteLength).toBe(len);
  });

  it('a request larger than a chunk gets a chunk of its own size', () => {
    const arena = new Arena({ bytes: 256, maxBytes: 1 << 16, chunkBytes: 256 });
    const p = arena.alloc(5000, 64);
    expect(p % 64).toBe(0);
    const c = arena.chunkList().find((x) => p >= x.data && p < x.end)!;
    expect(c.end - p).toBeGreaterThanOrEqual(5000);
  });

  it('rewind across chunks makes later chunks spare and restores used and waste', () => {
    const arena = new Arena({ bytes: 256, maxBytes: 1 << 16 });
    arena.alloc(200);
    const m = arena.mark();
    const st0 = arena.stats();
    for (let i = 0; i < 30; i++) arena.alloc(100);
    expect(arena.stats().chunks).toBeGreaterThan(2);
    arena.rewind(m);
    const st1 = arena.stats();
    expect(st1).toMatchObject({ used: st0.used, waste: st0.waste, available: st0.available });
    expect(st1.chunks).toBeGreaterThan(2); // kept as spares
    expect(arena.chunkList()[0]!.kind).toBe('chain');
    expect(
      arena
        .chunkList()
        .slice(1)
        .every((c) => c.kind === 'spare'),
    ).toBe(true);
  });

  it('stops at maxBytes: OutOfMemoryError, unchanged, usable after', () => {
    const arena = new Arena({ bytes: 256, maxBytes: 1024 });
    let n = 0;
    let err: unknown;
    for (;;) {
      try {
        arena.alloc(64);
        n++;
      } catch (e) {
        err = e;
        break;
      }
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(64);
    expect(arena.capacity).toBeLessThanOrEqual(1024);
    expect(n * 64).toBeLessThanOrEqual(1024);
    expect(n).toBeGreaterThanOrEqual(12); // at most one 64-byte slot lost per chunk end
    const before = look(arena);
    expect(() => arena.alloc(64)).toThrow(OutOfMemoryError);
    expect(look(arena)).toEqual(before);
    arena.reset();
    expect(arena.alloc(64)).toBe(DATA0);
  });

  it('a size above maxBytes can never fit: OutOfMemoryError (the arena is full for it), unchanged', () => {
    const arena = new Arena({ bytes: 256, maxBytes: 1024 });
    const before = look(arena);
    expect(() => arena.alloc(1025)).toThrow(OutOfMemoryError);
    expect(look(arena)).toEqual(before);
  });
});

describe('scopes', () => {
  it('using s = arena.scope() rewinds at the end of the block', () => {
    const arena = new Arena({ bytes: 1024 });
    arena.alloc(8);
    {
      using s = arena.scope();
      expect(typeof s.mark).toBe('number');
      arena.alloc(100);
      {
        using _inner = arena.scope();
        arena.alloc(100);
        expect(arena.used).toBe(8 + 104 + 100);
      }
      expect(arena.used).toBe(8 + 100);
    }
    expect(arena.used).toBe(8);
  });

  it('using rewinds also when the block throws', () => {
    const arena = new Arena({ bytes: 1024 });
    expect(() => {
      using _s = arena.scope();
      arena.alloc(100);
      throw new Error('boom');
    }).toThrow('boom');
    expect(arena.used).toBe(0);
  });

  it('run(fn) returns what fn returns and rewinds, also when fn throws', () => {
    const arena = new Arena({ bytes: 1024 });
    const p0 = arena.alloc(16);
    const r = arena.run((a) => {
      const p = a.alloc(32);
      a.memory.u8[p] = 7;
      return a.memory.u8[p]! + a.used;
    });
    expect(r).toBe(7 + 48);
    expect(arena.used).toBe(16);
    expect(() =>
      arena.run((a) => {
        a.alloc(8);
        throw new RangeError('x');
      }),
    ).toThrow(RangeError);
    expect(arena.used).toBe(16);
    expect(arena.alloc(1)).toBe(p0 + 16);
  });

  it('a reset inside a scope makes the scope end throw (its mark is stale)', () => {
    const arena = new Arena({ bytes: 1024 });
    expect(() =>
      arena.run((a) => {
        a.alloc(8);
        a.reset();
      }),
    ).toThrow(InvalidArgumentError);
    expect(arena.used).toBe(0);
  });

  it('using arena = new Arena(...) makes the instance unusable after the block', () => {
    let kept: Arena | null = null;
    {
      using arena = new Arena({ bytes: 64 });
      kept = arena;
      arena.alloc(8);
    }
    expect(() => kept!.alloc(8)).toThrow(MemkitError);
    expect(() => kept!.used).toThrow(MemkitError);
    kept.dispose(); // idempotent
  });
});

describe('state in the buffer: attach', () => {
  it('registers its state in the header slot, right after the header', () => {
    const arena = new Arena({ bytes: 64 });
    expect(readSlot(arena.memory, HeaderSlot.Arena)).toBe(64);
    expect(arena.stateAddress).toBe(64);
  });

  it('a second instance sees and continues the same arena', () => {
    const a = new Arena({ bytes: 256, maxBytes: 4096 });
    const p = a.alloc(100);
    const b = Arena.attach(a.memory);
    expect(b.used).toBe(100);
    const q = b.alloc(8);
    expect(q).toBe(p + 104);
    expect(a.used).toBe(112);
    for (let i = 0; i < 20; i++) a.alloc(64); // grows through a
    expect(b.stats()).toEqual(a.stats());
    const m = b.mark();
    a.alloc(8);
    b.rewind(m);
    expect(a.used).toBe(b.used);
    b.reset();
    expect(a.used).toBe(0);
    a.dispose(); // memory mode: only this instance ends
    expect(b.alloc(8)).toBe(DATA0);
  });

  it('a copy of the buffer is the same arena, frozen at the copy', () => {
    const a = new Arena({ bytes: 256 });
    const p = a.alloc(10);
    a.memory.u8[p] = 99;
    const copy = Memory.wrap(a.memory.buffer.slice(0) as ArrayBuffer);
    const b = Arena.attach(copy);
    a.alloc(50);
    expect(b.used).toBe(10);
    expect(b.bytes[p]).toBe(99);
    expect(b.alloc(8)).toBe(p + 16);
  });

  it('shared: true puts the arena in a SharedArrayBuffer', () => {
    const a = new Arena({ bytes: 256, shared: true });
    expect(a.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const b = Arena.attach(Memory.wrap(a.memory.buffer));
    a.alloc(8);
    expect(b.used).toBe(8);
  });

  it('attach without an arena: typed errors', () => {
    expect(() => Arena.attach(Memory.create({ bytes: 256 }))).toThrow(HeapCorruptionError);
    const a = new Arena({ bytes: 256 });
    expect(() => Arena.attach(a.memory, { at: 128 })).toThrow(HeapCorruptionError);
    expect(() => Arena.attach(a.memory, { at: 3 })).toThrow(HeapCorruptionError);
    expect(() => Arena.attach(a.memory, { at: 1 << 20 })).toThrow(HeapCorruptionError);
    expect(() => Arena.attach(a.memory, { at: 1.5 })).toThrow(InvalidArgumentError);
  });
});

describe('views', () => {
  it('view(addr, n) shares the allocation bytes; bad ranges are rejected', () => {
    const arena = new Arena({ bytes: 256 });
    const p = arena.alloc(16);
    const v = arena.view(p, 16);
    v[3] = 42;
    expect(arena.bytes[p + 3]).toBe(42);
    expect(() => arena.view(p, 1 << 20)).toThrow(InvalidArgumentError);
    expect(() => arena.view(-1, 2)).toThrow(InvalidArgumentError);
  });
});
