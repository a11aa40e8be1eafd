/**
 * The lecture's own examples, run on memkit, with the memory map drawn after
 * each step (`npm run demo`): the 16-page buddy walkthrough, the arena
 * example, a slab cache, kmalloc's classes and slabinfo, and garbage
 * collection as reachability from the roots (test/docs/demo.test.ts runs it and
 * checks what it prints).
 *
 * @module
 */
import { Arena, BuddyAllocator, Kmalloc, ManagedHeap, SlabCache } from '../src/index.js';

const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint = (code: number, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s: string): string => paint(1, s);
const dim = (s: string): string => paint(2, s);

/** One cell per page: the owner's letter, or '.' in a free block; '|' between blocks. */
function buddyMap(b: BuddyAllocator, owners: Map<number, string>): string {
  let cells = '';
  let info = '';
  b.forEachBlock((addr, pages, free, order) => {
    const page = (addr - b.base) / b.pageSize;
    const who = free ? '.' : (owners.get(addr) ?? '#');
    const cell = free ? dim(who) : paint(33, who);
    cells += '|' + Array.from({ length: pages }, () => ` ${cell} `).join('');
    info += `${free ? 'free' : who} ${page}-${page + pages - 1} (${pages === 1 << order ? '' : `${pages} of `}2^${order}), `;
  });
  const header = Array.from({ length: b.pages }, (_, i) => String(i).padStart(3)).join('');
  return `  ${dim(header)}\n  ${cells}|\n  ${dim(info.slice(0, -2))}\n  free lists by order: [${b.freeCounts().join(', ')}]   ${dim(b.buddyinfo())}`;
}

function buddyWalkthrough(): void {
  console.log(bold('\n== Buddy algorithm: the walkthrough on 2^4 pages ==\n'));
  const b = new BuddyAllocator({ pages: 16 });
  const owners = new Map<number, string>();
  console.log('start: one free block of 2^4 pages');
  console.log(buddyMap(b, owners));
  const steps: Array<[string, number]> = [
    ['A', 1],
    ['B', 2],
    ['C', 3],
    ['D', 1],
  ];
  const addrs = new Map<string, number>();
  for (const [name, pages] of steps) {
    const addr = b.allocPages(pages);
    owners.set(addr, name);
    addrs.set(name, addr);
    const at = (addr - b.base) / b.pageSize;
    console.log(
      `\n${bold(`${name} = allocPages(${pages})`)}: ${pages === 3 ? 'rounded up to 2^2 pages; ' : ''}split until a block fits -> pages ${at}-${at + b.blockPages(addr) - 1}`,
    );
    console.log(buddyMap(b, owners));
  }
  for (const name of ['D', 'A', 'C', 'B']) {
    const addr = addrs.get(name)!;
    b.free(addr);
    owners.delete(addr);
    console.log(`\n${bold(`free(${name})`)}: coalesce while the buddy (addr XOR size) is free and of the same order`);
    console.log(buddyMap(b, owners));
  }
  const x = b.allocPagesExact(5);
  console.log(
    `\n${bold('allocPagesExact(5)')}: takes 2^3 pages and gives the 3 tail pages back at once (5 pages cost 5, not 8)`,
  );
  console.log(buddyMap(b, new Map([[x, 'X']])));
  b.free(x);
}

function arenaExample(): void {
  console.log(bold('\n== Arena allocation: alloc 4 bytes, alloc 16 bytes, clear ==\n'));
  const arena = new Arena({ bytes: 64 });
  const show = (what: string): void => {
    const s = arena.stats();
    const width = 32;
    const used = Math.round((s.used / s.capacity) * width);
    console.log(
      `${what.padEnd(22)} [${paint(36, '#'.repeat(used))}${dim('.'.repeat(width - used))}] used ${s.used}/${s.capacity} bytes`,
    );
  };
  show('start');
  const a = arena.alloc(4, 1); // the lecture's arena has no alignment: align 1
  show(`alloc(4, 1)  -> ${a}`);
  const b = arena.alloc(16, 1);
  show(`alloc(16, 1) -> ${b}`);
  arena.reset();
  show('reset()  (clear)');
  console.log(dim('Everything is freed at once; it looks the same as when we started.'));
}

function slabExample(): void {
  console.log(bold('\n== Slab allocator: one object size, slabs on partial / full / empty lists ==\n'));
  const buddy = new BuddyAllocator({ pages: 64 });
  const cache = new SlabCache(buddy, { name: 'task_struct', size: 1024 });
  const show = (what: string): void => {
    const s = cache.stats();
    let slabs = '';
    cache.forEachSlab((_addr, inuse, list) => {
      slabs += ` [${'#'.repeat(inuse)}${'.'.repeat(cache.objectsPerSlab - inuse)}]${list[0]}`;
    });
    console.log(`${what.padEnd(26)} partial ${s.partialSlabs} full ${s.fullSlabs} empty ${s.emptySlabs}  ${slabs}`);
  };
  const objs: number[] = [];
  show('new cache (4 objects/slab)');
  for (let i = 0; i < 5; i++) objs.push(cache.alloc());
  show('alloc x5');
  cache.free(objs[0]!);
  show('free the first object');
  const again = cache.alloc();
  console.log(
    dim(`  alloc hands out the first free object again: ${again === objs[0] ? 'same address' : 'another address'}`),
  );
  for (const o of [again, ...objs.slice(1)]) cache.free(o);
  show('free everything');
  cache.shrink();
  show('shrink()');
}

function kmallocExample(): void {
  console.log(
    bold(
      "\n== kmalloc: the kernel's size classes on slab pages, a TLSF heap above them, large sizes as buddy pages ==\n",
    ),
  );
  // The kernel's power-of-two classes up to 4 KiB, each on pages of its own from its first block
  // (memkit's default is 8 classes per doubling up to 512 B, promoted on demand: README, kmalloc).
  const k = new Kmalloc({ bytes: 1 << 20, classes: 'kernel', maxClass: 4096, promoteAfter: 0 });
  const sizes = [8, 30, 100, 1000, 5000, 20000];
  const ps = sizes.map((s) => k.kmalloc(s));
  sizes.forEach((s, i) =>
    console.log(`kmalloc(${String(s).padStart(5)}) -> ksize ${String(k.ksize(ps[i]!)).padStart(5)}`),
  );
  const rows = k
    .slabinfo()
    .split('\n')
    .filter((l) => l.startsWith('slabinfo') || l.startsWith('#') || / [1-9]\d* +\d+ +\d+ +\d+ +\d+ :/.test(l));
  console.log(dim(rows.join('\n')));
  for (const p of ps) k.kfree(p);
}

function gcExample(): void {
  console.log(bold('\n== Garbage collection: objects are nodes, pointers are edges, locals are roots ==\n'));
  const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false });
  const Obj = heap.defineType('Obj', { a: 'ref', b: 'ref' });
  const [A, B, C, D, E, F] = [0, 1, 2, 3, 4, 5].map(() => Obj.alloc()) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const name = new Map([A, B, C, D, E, F].map((o, i) => [o, 'ABCDEF'[i]!]));
  Obj.fields.a.set(A, B); // A -> B -> C, and C -> A: a cycle that a root reaches
  Obj.fields.b.set(A, C);
  Obj.fields.a.set(B, C);
  Obj.fields.a.set(C, A);
  Obj.fields.a.set(D, E); // D -> E: nothing points at D
  Obj.fields.a.set(F, F); // F -> F: a cycle no root reaches
  const local = heap.root(A); // a local variable holding A: a root
  const g = heap.graph();
  const edges = g.edges.map((e) => `${name.get(e.from)}->${name.get(e.to)}`).join(' ');
  console.log(`nodes  ${g.nodes.map((n) => name.get(n.id)).join(' ')}`);
  console.log(`edges  ${edges}`);
  console.log(`roots  ${g.roots.map((r) => name.get(r.target)).join(' ')} (a local variable)`);
  heap.collect();
  const live = [A, B, C, D, E, F].filter((o) => Obj.is(o));
  const dead = [A, B, C, D, E, F].filter((o) => !Obj.is(o));
  console.log(`collect(): reachable from a root, kept: ${live.map((o) => name.get(o)).join(' ')}`);
  console.log(`           not reachable, freed:       ${dead.map((o) => name.get(o)).join(' ')}`);
  console.log(dim('  A cycle is garbage too (F), unless a root reaches it (A, B, C): reachability, not counting.'));
  local.release();
  heap.collect();
  console.log(`release the root, collect(): ${heap.stats().liveObjects} objects live`);
}

buddyWalkthrough();
arenaExample();
slabExample();
kmallocExample();
gcExample();
console.log(`\n${bold('Next:')} npm test, npm run bench, npx memkit replay traces/bash.rep.gz\n`);
