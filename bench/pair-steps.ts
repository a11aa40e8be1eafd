/**
 * Where kmalloc's alloc+free pair spends its time beyond the free-list
 * push/pop bound: the pair rebuilt from the bound one piece of necessary work
 * at a time, each step a contender of one case (so all are timed side by side,
 * interleaved, each with its own monomorphic loop). Part of
 * `npm run bench -- kmalloc`; alone: `npx tsx bench/pair-steps.ts`.
 *
 *   bound      pop and push an Int32Array list inline in the loop
 *   calls      the same behind alloc(size) / free(addr) methods of an object
 *   checks     + the argument checks every public method makes (a number, a
 *                whole number in range: no coercion, typed errors)
 *   buffer     + the state in the buffer: the list head in the worker's own
 *                curFree word (kmalloc's current page: "The current page" in
 *                src/kmalloc/kmalloc.ts), each free block's link in the
 *                block, read through the
 *                Memory's current view (sync() per call: a wasm memory.grow or
 *                another worker may have replaced the buffer)
 *   classes    + size to class (a table lookup: alloc's curFree[class]) and,
 *                in free, the page descriptor's INFO word (the class)
 *   tags       + the free tag (next ^ key) checked when a block is handed out
 *                (use-after-free writes are caught) and written on free
 *                (double free caught in O(1))
 *   routing    + what free learns from the address alone: the page
 *                descriptor, its owner (which tier, which class), the head page,
 *                on the class's grid (an interior pointer is refused), below the
 *                page's unused mark, this worker's page, and which list (the
 *                current page's curFree, else local_free with the used count
 *                and the page-empty test: not taken here, as in kmalloc's pair)
 *   kmalloc    the real Kmalloc (should be close to `routing`)
 *
 * Each step is a stripped copy of kmalloc's fast path up to that piece, over
 * one class page with one block (alloc then free of the same block, as the
 * bound does), so the differences between neighbouring rows are the cost of
 * each piece. @module
 */
import { Kmalloc } from '../src/kmalloc/index.js';
import { Memory } from '../src/memory/index.js';
import {
  DEFAULT_OPTIONS,
  formatCase,
  freshLoop,
  runCases,
  type BenchCase,
  type BenchOptions,
  type CaseResult,
  type Contender,
} from './harness.js';

const SIZE = 64;

interface Pair {
  alloc(size: number): number;
  free(addr: number): void;
}

/** One contender: its own copy of the loop (freshLoop), so each call site sees one class. */
function contender(name: string, role: 'memkit' | 'bound', make: () => Pair): Contender {
  const loop = freshLoop<(a: Pair, n: number, size: number) => number>(
    ['a', 'n', 'size'],
    'let s = 0; for (let i = 0; i < n; i++) { const p = a.alloc(size); a.free(p); s ^= p; } return s;',
  );
  let a: Pair | null = null;
  return {
    name,
    role,
    setup() {
      a = make();
    },
    run: (n) => loop(a!, n, SIZE),
  };
}

/** The free-list push/pop bound: a pop and a push of one Int32Array list, inline in the loop. */
export function pushPopBound(name: string): Contender {
  const next = new Int32Array(2048);
  let head = 0;
  return {
    name,
    role: 'bound',
    setup() {
      for (let i = 0; i < next.length; i++) next[i] = i + 1 < next.length ? i + 1 : -1;
      head = 0;
    },
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = head;
        head = next[p]!;
        next[p] = head;
        head = p;
        s ^= p;
      }
      return s;
    },
  };
}

class Calls implements Pair {
  next = new Int32Array(2048).map((_, i) => i + 1);
  head = 0;
  alloc(_size: number): number {
    const p = this.head;
    this.head = this.next[p]!;
    return p;
  }
  free(p: number): void {
    this.next[p] = this.head;
    this.head = p;
  }
}

class Checks implements Pair {
  next = new Int32Array(2048).map((_, i) => i + 1);
  head = 0;
  max = 4096;
  alloc(size: number): number {
    if (typeof size !== 'number' || size > this.max || size >>> 0 !== size) throw new Error('bad size');
    const p = this.head;
    this.head = this.next[p]!;
    return p;
  }
  free(p: number): void {
    if (typeof p !== 'number' || p >>> 0 !== p || p >= 2048) throw new Error('bad address');
    this.next[p] = this.head;
    this.head = p;
  }
}

/** One 4 KiB class page at byte 4096 of a 64 KiB memory; its descriptor at word 8 (8 words). */
const PAGE = 4096;
const DESC = 8;
const P_FREE = 0;
const P_INFO = 1;
const P_UNUSED = 4;
const P_LOCAL = 5;
const P_USED = 6;
const CUR = 64; // cur[class] words
const CF = 96; // curFree[class] words: the current page's free list
const KEY = 0x5bd1e995;

function layOut(mem: Memory, tags: boolean): void {
  const u32 = mem.u32;
  let prev = 0;
  for (let a = PAGE + PAGE - SIZE; a >= PAGE; a -= SIZE) {
    u32[a >>> 2] = prev; // link
    u32[(a >>> 2) + 1] = tags ? prev ^ KEY : 0;
    prev = a;
  }
  u32[CF + 7] = PAGE; // the current page's blocks count as used in its descriptor
  u32[DESC + P_FREE] = 0;
  u32[DESC + P_INFO] = 0x8000 + 7; // OWNER_CLASS + class 7 (64 B), worker slot 0
  u32[DESC + P_UNUSED] = PAGE + PAGE;
  u32[DESC + P_USED] = PAGE / SIZE;
  u32[CUR + 7] = DESC;
}

class Buffer_ implements Pair {
  mem = Memory.create({ bytes: 1 << 16 });
  constructor() {
    layOut(this.mem, false);
  }
  alloc(size: number): number {
    if (typeof size !== 'number' || size > 4096 || size >>> 0 !== size) throw new Error('bad size');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    const b = u32[CF + 7]!;
    u32[CF + 7] = u32[b >>> 2]!;
    return b;
  }
  free(addr: number): void {
    if (typeof addr !== 'number' || addr >>> 0 !== addr || addr >= 1 << 16) throw new Error('bad address');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    u32[addr >>> 2] = u32[CF + 7]!;
    u32[CF + 7] = addr;
  }
}

/** Size to class, one lookup as in kmalloc (here every size up to 512 B maps to class 7, the 64 B one). */
const TABLE = new Uint8Array(65).fill(7);

class Classes implements Pair {
  mem = Memory.create({ bytes: 1 << 16 });
  table = TABLE;
  constructor() {
    layOut(this.mem, false);
  }
  alloc(size: number): number {
    if (typeof size !== 'number' || size > 512 || size >>> 0 !== size) throw new Error('bad size');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    const f = CF + this.table[(size + 7) >>> 3]!;
    const b = u32[f]!;
    if (b !== 0) {
      u32[f] = u32[b >>> 2]!;
      return b;
    }
    throw new Error('empty');
  }
  free(addr: number): void {
    if (typeof addr !== 'number' || addr >>> 0 !== addr || addr >= 1 << 16) throw new Error('bad address');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    const f = CF + (u32[DESC + ((addr >>> 12) - 1) * 8 + P_INFO]! & 0xff); // the page's class
    u32[addr >>> 2] = u32[f]!;
    u32[f] = addr;
  }
}

class Tags implements Pair {
  mem = Memory.create({ bytes: 1 << 16 });
  table = TABLE;
  key = KEY;
  constructor() {
    layOut(this.mem, true);
  }
  alloc(size: number): number {
    if (typeof size !== 'number' || size > 512 || size >>> 0 !== size) throw new Error('bad size');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    const f = CF + this.table[(size + 7) >>> 3]!;
    const b = u32[f]!;
    if (b !== 0) {
      const a = b >>> 2;
      const next = u32[a]!;
      if ((u32[a + 1]! ^ next) === this.key) {
        u32[f] = next;
        u32[a + 1] = 0;
        return b;
      }
    }
    throw new Error('empty or damaged');
  }
  free(addr: number): void {
    if (typeof addr !== 'number' || addr >>> 0 !== addr || addr >= 1 << 16) throw new Error('bad address');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    const f = CF + (u32[DESC + ((addr >>> 12) - 1) * 8 + P_INFO]! & 0xff); // the page's class
    const a = addr >>> 2;
    if ((u32[a + 1]! ^ u32[a]!) === this.key) throw new Error('double free?');
    const lf = u32[f]!;
    u32[a] = lf;
    u32[a + 1] = lf ^ this.key;
    u32[f] = addr;
  }
}

/** Per class: its stride and (1 + 2^-30) / stride, for kmalloc's grid test (class 7: 64 B). */
const STRIDE = new Int32Array(24).fill(64);
const INVERSE = new Float64Array(24).fill((1 + 2 ** -30) / 64);

class Routing implements Pair {
  mem = Memory.create({ bytes: 1 << 16 });
  table = TABLE;
  key = KEY;
  stride = STRIDE;
  inverse = INVERSE;
  base = 0;
  shift = 12;
  maxPages = 16;
  pt = DESC - 8; // descriptor of page p at pt + 8p: page 1 (byte 4096) is DESC
  nClasses = 24;
  slot = 0;
  cur = CUR;
  cf = CF;
  constructor() {
    layOut(this.mem, true);
  }
  alloc(size: number): number {
    if (typeof size !== 'number') throw new Error('bad size');
    if (size <= 512 && size >>> 0 === size) {
      const mem = this.mem;
      mem.sync();
      const u32 = mem.u32;
      const f = this.cf + this.table[(size + 7) >>> 3]!;
      const b = u32[f]!;
      if (b !== 0) {
        const a = b >>> 2;
        const next = u32[a]!;
        if ((u32[a + 1]! ^ next) === this.key) {
          u32[f] = next;
          u32[a + 1] = 0;
          return b;
        }
      }
    }
    throw new Error('slow path');
  }
  free(addr: number): void {
    if (typeof addr !== 'number') throw new Error('bad address');
    const mem = this.mem;
    mem.sync();
    const u32 = mem.u32;
    const off = addr - this.base;
    const pg = off >>> this.shift;
    if (addr >>> 0 === addr && pg < this.maxPages) {
      const info = u32[this.pt + (pg << 3) + P_INFO]!;
      const cls = (info & 0xffff) - 0x8000;
      if (cls >>> 0 < this.nClasses) {
        const head = pg - ((info >>> 16) & 0xff);
        const h = this.pt + (head << 3);
        const rel = off - ((head << this.shift) >>> 0);
        if (
          ((rel * this.inverse[cls]!) | 0) * this.stride[cls]! === rel &&
          addr < u32[h + P_UNUSED]! &&
          info >>> 24 === this.slot
        ) {
          const a = addr >>> 2;
          const key = this.key;
          if ((u32[a + 1]! ^ u32[a]!) === key) throw new Error('double free?');
          const local = h + P_LOCAL;
          const list = u32[this.cur + cls] === h ? this.cf + cls : local;
          const lf = u32[list]!;
          u32[a] = lf;
          u32[a + 1] = lf ^ key;
          u32[list] = addr;
          if (list === local) this.countOut(h);
          return;
        }
      }
    }
    throw new Error('slow path');
  }
  /** kmalloc's countOut: a block of a page that is not current, counted out of `used`. */
  private countOut(h: number): void {
    const u32 = this.mem.u32;
    const w = u32[h + P_USED]! - 1;
    u32[h + P_USED] = w;
    if ((w - 1) >>> 0 >= 0xffff) throw new Error('page empty or full');
  }
}

/** The contenders, bound first. */
export function contenders(): Contender[] {
  return [
    pushPopBound('bound: push/pop inline'),
    contender('calls: alloc()/free() methods', 'bound', () => new Calls()),
    contender('+ argument checks', 'bound', () => new Checks()),
    contender('+ state in the buffer (sync, views)', 'bound', () => new Buffer_()),
    contender('+ size class, current page', 'bound', () => new Classes()),
    contender('+ free tags (use-after-free, double free)', 'bound', () => new Tags()),
    contender("+ free's routing, grid, which list", 'bound', () => new Routing()),
    contender('Kmalloc kmalloc(64)+kfree', 'memkit', () => {
      const k = new Kmalloc({ bytes: 1 << 22 });
      k.alloc(SIZE); // the class keeps a current page
      return k;
    }),
  ];
}

/** The case (bench/kmalloc.ts runs it after the pair's goal). */
export function pairSteps(): BenchCase {
  return {
    name: `kmalloc(${SIZE})+kfree built up from the push/pop bound, step by step`,
    unit: 'pairs',
    contenders: contenders(),
  };
}

/** Runs the case alone. */
export async function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  return runCases([pairSteps()], options);
}

if (import.meta.url === `file://${process.argv[1]}`) for (const r of await run()) console.log(formatCase(r));
