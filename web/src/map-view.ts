/**
 * Memory map view: one buddy allocator shared by kmalloc (slabs and large
 * blocks), an arena (chunks) and raw allocPages blocks, drawn page by page.
 */
import { Arena, BuddyAllocator, Kmalloc } from '../../src/index.js';
import { button, bytes, el, fingerprint, presetBar, rng, type View } from './dom.js';
import { MemMap, heapMap } from './memmap.js';
import { NoChange, Player, playerUrl, type Preset, type Step } from './player.js';

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
      const size = Math.round(min * (max / min) ** s.r());
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
    if (s.live.length === 0) throw new NoChange('no kmalloc block is live.');
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

const shrink = step('kmem_cache_shrink (all caches)', (s) => {
  const n = s.k.shrink();
  if (n === 0)
    throw new NoChange(
      'no cache holds an empty slab (a slab that empties goes back to the buddy at once, beyond the spare each cache keeps).',
    );
  return `The caches' spare empty slabs went back to the buddy: ${n} pages.`;
});

function arenaAllocs(n: number): Step<MapState> {
  return step(`arena: ${n} allocations`, (s) => {
    s.arena ??= new Arena({ buddy: s.buddy, chunkPages: 4 });
    for (let i = 0; i < n; i++) s.arena.alloc(16 + Math.floor(s.r() * 400));
    const st = s.arena.stats();
    return `The arena bumps its pointer; ${st.chunks} chunk(s) from the buddy, ${bytes(st.used)} used of ${bytes(st.capacity)}.`;
  });
}

const arenaReset = step('arena: reset', (s) => {
  if (s.arena === undefined || s.arena.used === 0) throw new NoChange('the arena holds nothing to free.');
  const before = s.arena.stats().chunks;
  s.arena.reset();
  const st = s.arena.stats();
  return `reset(): everything in the arena is freed at once; it gives ${before - st.chunks} of its ${before} chunks back to the buddy and keeps the first.`;
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
  if (s.raw.size === 0) throw new NoChange('there are no raw page blocks to free.');
  for (const a of s.raw.keys()) s.buddy.free(a);
  const n = s.raw.size;
  s.raw.clear();
  return `${n} blocks freed; free buddies coalesce.`;
});

const MIXED: Array<Step<MapState>> = [
  kmallocMany(400, 8, 2048),
  rawPages(8),
  kmallocMany(30, 8192, 65536),
  arenaAllocs(200),
  kfreeFraction(0.5),
  kmallocMany(400, 16, 512),
  rawFree,
  arenaReset,
  kfreeFraction(0.7),
];

const MANY: Array<Step<MapState>> = [
  kmallocMany(20000, 8, 4096),
  kmallocMany(200, 8192, 262144),
  kfreeFraction(0.5),
  arenaAllocs(2000),
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
  private readonly info = el('pre', { class: 'mono buddyinfo', 'data-testid': 'map-buddyinfo' });
  private readonly size: HTMLSelectElement;
  private readonly presets: Preset[];

  constructor() {
    this.player = new Player<MapState>(
      {
        create: () => {
          const buddy = new BuddyAllocator({ pages: this.pages });
          return {
            buddy,
            k: new Kmalloc({ buddy }),
            arena: undefined,
            live: [],
            raw: new Map(),
            rawCount: 0,
            r: rng(42),
          };
        },
        render: (s) => this.render(s),
      },
      'map',
    );
    const size = el(
      'select',
      { 'aria-label': 'heap pages', 'data-testid': 'map-pages' },
      ...[256, 1024, 4096, 16384].map((p) => el('option', { value: String(p) }, `${p} pages (${bytes(p * 4096)})`)),
    );
    size.value = String(this.pages);
    size.addEventListener('change', () => {
      this.pages = Number(size.value);
      this.player.goto(this.player.position);
    });
    this.size = size;
    this.presets = [
      { id: 'mixed', name: 'Mixed workload', load: () => this.setPages(1024, () => this.player.load(MIXED, 'mixed')) },
      {
        id: 'many',
        name: 'Many pages (16384)',
        load: () => this.setPages(16384, () => this.player.load(MANY, 'many')),
      },
    ];
    this.el = el(
      'section',
      { class: 'view', id: 'view-map' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Memory map'),
        el(
          'p',
          { class: 'lede' },
          'One buddy allocator feeding kmalloc (slab caches and large blocks), an arena and raw page blocks. Each cell is a page.',
        ),
        presetBar('map', this.presets),
        el(
          'div',
          { class: 'row' },
          el('label', {}, 'Heap ', size),
          button('kmalloc ×100', () => this.player.push(kmallocMany(100, 8, 2048))),
          button('large ×5', () => this.player.push(kmallocMany(5, 8192, 131072))),
          button('kfree 50%', () => this.player.push(kfreeFraction(0.5))),
          button('shrink', () => this.player.push(shrink)),
          button('arena ×50', () => this.player.push(arenaAllocs(50))),
          button('arena reset', () => this.player.push(arenaReset)),
          button('allocPages ×4', () => this.player.push(rawPages(4))),
          button('free pages', () => this.player.push(rawFree)),
        ),
      ),
      el(
        'div',
        { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el, el('h3', {}, 'Numbers'), this.stats),
        el('div', { class: 'col' }, this.map.el, el('h3', {}, '/proc/buddyinfo'), this.info),
      ),
    );
    this.presets[0]!.load();
  }

  shown(): void {
    this.player.goto(this.player.position);
  }

  urlState(): Record<string, string> {
    const q = playerUrl(this.player);
    const preset = this.presets.find((p) => p.id === this.player.presetId);
    const dflt = preset?.id === 'many' ? 16384 : 1024;
    if (this.pages !== dflt) q.pages = String(this.pages);
    return q;
  }

  restore(q: URLSearchParams): void {
    const pages = Number(q.get('pages'));
    const ok = [256, 1024, 4096, 16384].includes(pages);
    const pr = this.presets.find((x) => x.id === q.get('preset'));
    if (pr === undefined) return;
    pr.load();
    if (ok) {
      this.pages = pages;
      this.size.value = String(pages);
    }
    const step = Number(q.get('step') ?? '0');
    this.player.goto(Number.isInteger(step) && step > 0 ? step : 0);
  }

  private setPages(pages: number, then: () => void): void {
    this.pages = pages;
    this.size.value = String(pages);
    then();
  }

  key(e: KeyboardEvent): boolean {
    return this.player.key(e);
  }

  private render(s: MapState): void {
    this.map.set(heapMap(s.buddy, { kmalloc: s.k, arena: s.arena, raw: s.raw }));
    const b = s.buddy.stats();
    const large = s.k.largeStats();
    const rows: Array<[string, string]> = [
      ['pages', `${b.pages}`],
      ['free pages', `${b.freePages}`],
      ['used blocks', `${b.usedBlocks}`],
      ['largest free', b.largestFreeOrder < 0 ? '—' : `2^${b.largestFreeOrder} pages`],
      ['kmalloc blocks live', `${s.live.length}`],
      ['kmalloc footprint', bytes(s.k.footprint())],
      ['large blocks', `${large.blocks} (${large.pages} p)`],
      ['arena', s.arena === undefined ? '—' : `${bytes(s.arena.used)} / ${bytes(s.arena.capacity)}`],
    ];
    this.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    this.info.textContent = s.buddy.buddyinfo();
    const blocks: number[] = [];
    s.buddy.forEachBlock((a, pages, free) => blocks.push(a, pages, free ? 1 : 0));
    this.el.dataset.sig = fingerprint(
      JSON.stringify([blocks, s.live.length, s.k.footprint(), s.arena?.used ?? -1, s.raw.size]),
    );
  }
}
