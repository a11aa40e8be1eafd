/**
 * Memory map view: one buddy allocator shared by kmalloc (slabs and large
 * blocks), an arena (chunks) and raw allocPages blocks, drawn page by page.
 */
import { Arena, BuddyAllocator, Kmalloc } from '../../src/index.js';
import { button, bytes, el, presetBar, rng, type View } from './dom.js';
import { MemMap, heapMap } from './memmap.js';
import { Player, type Step } from './player.js';

interface MapState {
  buddy: BuddyAllocator;
  k: Kmalloc;
  arena: Arena | undefined;
  live: number[];
  raw: Map<number, string>;
  rawCount: number;
  r: () => number;
}

const step = (label: string, apply: (s: MapState) => string): Step<MapState> => ({ label, apply });

function kmallocMany(n: number, min: number, max: number): Step<MapState> {
  return step(`kmalloc ×${n} (${bytes(min)}–${bytes(max)})`, (s) => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      // Log-uniform sizes: many small, a few big, as real programs.
      const size = Math.round(min * Math.pow(max / min, s.r()));
      s.live.push(s.k.kmalloc(size));
      total += size;
    }
    return `${n} kmalloc calls, ${bytes(total)} requested; the heap now takes ${bytes(s.k.footprint())} of pages from the buddy.`;
  });
}

function kfreeFraction(f: number): Step<MapState> {
  return step(`kfree ${Math.round(f * 100)}% at random`, (s) => {
    let n = 0;
    const before = s.k.footprint();
    for (let i = s.live.length - 1; i >= 0; i--) {
      if (s.r() < f) {
        s.k.kfree(s.live[i]!);
        s.live[i] = s.live[s.live.length - 1]!;
        s.live.pop();
        n++;
      }
    }
    return `${n} blocks freed. Slabs that became empty and large blocks go back to the buddy: the footprint goes from ${bytes(before)} to ${bytes(s.k.footprint())}.`;
  });
}

const shrink = step('kmem_cache_shrink (all caches)', (s) => `Empty slabs went back to the buddy: ${s.k.shrink()} pages.`);

function arenaAllocs(n: number): Step<MapState> {
  return step(`arena: ${n} allocations`, (s) => {
    s.arena ??= new Arena({ buddy: s.buddy, chunkPages: 4 });
    for (let i = 0; i < n; i++) s.arena.alloc(16 + Math.floor(s.r() * 400));
    const st = s.arena.stats();
    return `The arena bumps its pointer; ${st.chunks} chunk(s) from the buddy, ${bytes(st.used)} used of ${bytes(st.capacity)}.`;
  });
}

const arenaReset = step('arena: reset', (s) => {
  if (s.arena === undefined) return 'No arena yet.';
  s.arena.reset();
  const st = s.arena.stats();
  return `reset(): everything in the arena is freed at once; it keeps ${st.chunks} chunk(s).`;
});

function rawPages(n: number): Step<MapState> {
  return step(`allocPages ×${n} (1–16 pages)`, (s) => {
    for (let i = 0; i < n; i++) {
      const pages = 1 + Math.floor(s.r() * s.r() * 16);
      s.raw.set(s.buddy.allocPages(pages), `#${++s.rawCount}`);
    }
    return `${n} raw page blocks straight from the buddy (blue), each 2^k pages.`;
  });
}

const rawFree = step('free the raw blocks', (s) => {
  for (const a of s.raw.keys()) s.buddy.free(a);
  const n = s.raw.size;
  s.raw.clear();
  return `${n} blocks freed; free buddies coalesce.`;
});

const MIXED: Array<Step<MapState>> = [
  kmallocMany(400, 8, 2048), rawPages(8), kmallocMany(30, 8192, 65536), arenaAllocs(200),
  kfreeFraction(0.5), kmallocMany(400, 16, 512), rawFree, arenaReset, kfreeFraction(0.7), shrink,
];

/** The memory map view. */
export class MapView implements View {
  readonly id = 'map';
  readonly title = 'Memory map';
  readonly el: HTMLElement;
  private pages = 1024;
  private readonly player: Player<MapState>;
  private readonly map = new MemMap(440);
  private readonly stats = el('dl', { class: 'stats', 'data-testid': 'map-stats' });
  private readonly info = el('pre', { class: 'mono' });

  constructor() {
    this.player = new Player<MapState>({
      create: () => {
        const buddy = new BuddyAllocator({ pages: this.pages });
        return { buddy, k: new Kmalloc({ buddy }), arena: undefined, live: [], raw: new Map(), rawCount: 0, r: rng(42) };
      },
      render: (s) => this.render(s),
    }, 'map');
    const size = el('select', { 'aria-label': 'heap pages', 'data-testid': 'map-pages' },
      ...[256, 1024, 4096, 16384].map((p) => el('option', { value: String(p) }, `${p} pages (${bytes(p * 4096)})`)));
    size.value = String(this.pages);
    size.addEventListener('change', () => {
      this.pages = Number(size.value);
      this.player.goto(this.player.position);
    });
    this.el = el('section', { class: 'view', id: 'view-map' },
      el('div', { class: 'view-head' },
        el('h2', {}, 'Memory map'),
        el('p', { class: 'lede' }, 'One buddy allocator feeding kmalloc (slab caches and large blocks), an arena and raw page blocks. Each cell is a page.'),
        presetBar('map', [['Mixed workload', () => this.player.load(MIXED)], ['Many pages (16384)', () => { size.value = '16384'; this.pages = 16384; this.player.load([kmallocMany(20000, 8, 4096), kmallocMany(200, 8192, 262144), kfreeFraction(0.5), arenaAllocs(2000), shrink]); }]]),
        el('div', { class: 'row' }, el('label', {}, 'Heap ', size),
          button('kmalloc ×100', () => this.player.push(kmallocMany(100, 8, 2048))),
          button('large ×5', () => this.player.push(kmallocMany(5, 8192, 131072))),
          button('kfree 50%', () => this.player.push(kfreeFraction(0.5))),
          button('shrink', () => this.player.push(shrink)),
          button('arena ×50', () => this.player.push(arenaAllocs(50))),
          button('arena reset', () => this.player.push(arenaReset)),
          button('allocPages ×4', () => this.player.push(rawPages(4))),
          button('free pages', () => this.player.push(rawFree)))),
      el('div', { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el, el('h3', {}, 'Numbers'), this.stats),
        el('div', { class: 'col' }, this.map.el, el('h3', {}, '/proc/buddyinfo'), this.info)));
    this.player.load(MIXED);
  }

  shown(): void {
    this.player.goto(this.player.position);
  }

  key(e: KeyboardEvent): boolean {
    return this.player.key(e);
  }

  private render(s: MapState): void {
    this.map.set(heapMap(s.buddy, { kmalloc: s.k, arena: s.arena, raw: s.raw }));
    const b = s.buddy.stats();
    const large = s.k.largeStats();
    const rows: Array<[string, string]> = [
      ['pages', `${b.pages}`], ['free pages', `${b.freePages}`], ['used blocks', `${b.usedBlocks}`],
      ['largest free', b.largestFreeOrder < 0 ? '—' : `2^${b.largestFreeOrder} pages`],
      ['kmalloc blocks live', `${s.live.length}`], ['kmalloc footprint', bytes(s.k.footprint())],
      ['large blocks', `${large.blocks} (${large.pages} p)`],
      ['arena', s.arena === undefined ? '—' : `${bytes(s.arena.used)} / ${bytes(s.arena.capacity)}`],
    ];
    this.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    this.info.textContent = s.buddy.buddyinfo();
  }
}
