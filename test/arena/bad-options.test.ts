/**
 * Arena beyond bad-input.test.ts: every option of both constructors and of
 * attach against the shared bad-values table, a PageSource that answers
 * nonsense, attach with a buddy an arena does not take, and view / bytes of
 * a disposed arena.
 */
import { describe, expect, it } from 'vitest';
import { Arena, BuddyAllocator, InvalidArgumentError, MemkitError, OutOfMemoryError } from '../../src/index.js';
import type { PageSource } from '../../src/arena/api.js';
import { badValues } from '../support/bad-values.js';

const whole = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v < 2 ** 31;
const buddy = () => new BuddyAllocator({ pages: 16, pageSize: 256 });

describe('Arena options x bad values: InvalidArgumentError, or a working arena', () => {
  const cases: Array<[string, (v: unknown) => Arena, (v: unknown) => boolean]> = [
    ['bytes', (v) => new Arena({ bytes: v as number }), (v) => whole(v, 0)],
    ['maxBytes', (v) => new Arena({ bytes: 256, maxBytes: v as number }), (v) => v === undefined || whole(v, 256)],
    [
      'chunkBytes',
      (v) => new Arena({ bytes: 256, maxBytes: 4096, chunkBytes: v as number }),
      (v) => v === undefined || whole(v, 1),
    ],
    [
      'shared',
      (v) => new Arena({ bytes: 256, shared: v as boolean }),
      (v) => v === undefined || typeof v === 'boolean',
    ],
    [
      'chunkPages',
      (v) => new Arena({ buddy: buddy(), chunkPages: v as number }),
      (v) => v === undefined || whole(v, 1),
    ],
    [
      'maxBytes (buddy)',
      (v) => new Arena({ buddy: buddy(), maxBytes: v as number }),
      (v) => v === undefined || whole(v, 1),
    ],
    ['buddy', (v) => new Arena({ buddy: v as PageSource }), () => false],
    ['options', (v) => new Arena(v as never), (v) => v === undefined],
  ];
  for (const [option, make, valid] of cases) {
    it(option, () => {
      for (const [label, v] of badValues(64, 4096)) {
        if (valid(v)) {
          if ((v as number) > 1 << 24) continue;
          try {
            make(v).checkInvariants();
          } catch (e) {
            expect(e, `${option} = ${label}`).toBeInstanceOf(OutOfMemoryError); // valid, but more than there is
          }
          continue;
        }
        let err: unknown;
        try {
          make(v);
        } catch (e) {
          err = e;
        }
        expect(err, `${option} = ${label}`).toBeInstanceOf(MemkitError);
      }
    });
  }
});

describe('Arena.attach options and odd PageSources', () => {
  it('attach({ buddy }) of an arena that takes no buddy: InvalidArgumentError (was ignored, any value)', () => {
    const a = new Arena({ bytes: 1024 });
    a.alloc(10);
    const before = Buffer.from(a.memory.u8.slice());
    for (const [label, v] of badValues(64, 4096)) {
      if (v === undefined) continue;
      expect(() => Arena.attach(a.memory, { buddy: v as PageSource }), label).toThrow(InvalidArgumentError);
    }
    expect(() => Arena.attach(a.memory, { buddy: buddy() })).toThrow(InvalidArgumentError);
    for (const [label, v] of badValues(64, 4096)) {
      if (v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v))) continue;
      expect(() => Arena.attach(a.memory, v as never), label).toThrow(InvalidArgumentError);
    }
    expect(Buffer.from(a.memory.u8.slice()).equals(before)).toBe(true);
  });

  it('a PageSource whose blockPages or allocPages answers nonsense: a MemkitError, its block given back', () => {
    for (const [label, lie] of [
      ['huge blockPages', { blockPages: () => 2 ** 20 }],
      ['NaN blockPages', { blockPages: () => Number.NaN }],
      ['0 blockPages', { blockPages: () => 0 }],
      ['string blockPages', { blockPages: () => '4' }],
      ['allocPages past the memory', { allocPages: () => 2 ** 31 }],
      ['allocPages 0', { allocPages: () => 0 }],
      ['allocPages 1.5', { allocPages: () => 1.5 }],
    ] as const) {
      const b = buddy();
      const real = new Set<number>();
      const src: PageSource = {
        pageSize: 256,
        memory: b.memory,
        allocPages: (n) => {
          const x = b.allocPages(n);
          real.add(x);
          return x;
        },
        blockPages: (x) => b.blockPages(x),
        free: (x) => {
          if (real.delete(x)) b.free(x);
        },
        ...(lie as object),
      };
      const free = b.freePages;
      expect(() => new Arena({ buddy: src }), label).toThrow(MemkitError);
      expect(b.freePages, label).toBe(free);
    }
  });

  it('view and bytes of a disposed arena: MemkitError (a buddy arena has given its pages back)', () => {
    for (const a of [new Arena({ bytes: 256 }), new Arena({ buddy: buddy() })]) {
      const p = a.alloc(8);
      a.dispose();
      expect(() => a.view(p, 8)).toThrow(MemkitError);
      expect(() => a.bytes).toThrow(MemkitError);
    }
  });
});
