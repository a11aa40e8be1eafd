/**
 * Buddy view: the lecture's pictures of a buddy allocator, live. The page
 * strip, the block tree (zoomable, for any heap size) and its node-state
 * array, the kernel's bitmap (one bit per buddy pair and order), the free
 * list of each order, and /proc/buddyinfo.
 *
 * Every panel is drawn from one `Picture` (blocks + free lists), so during
 * a split or merge animation all panels show the same moment: the in-between
 * pictures are built from the state before the step the way the kernel's
 * `expand()` and `__free_one_page()` walk (a block being split or merged is
 * off every free list; split-off halves are pushed on the head of their list).
 * The last picture is always read from the allocator itself.
 */
import { BuddyAllocator } from '../../src/index.js';
import { button, el, fingerprint, hex, presetBar, rng, svg, type View } from './dom.js';
import { Player, playerUrl, restorePlayer, type Preset, type Step } from './player.js';

/** A block of the map, by page index. */
interface Block {
  page: number;
  pages: number;
  free: boolean;
  order: number;
  /** Being split or merged: off every free list, not allocated either. */
  limbo?: boolean;
}

/** One moment of the allocator: its blocks and its free lists (page numbers, head first). */
interface Picture {
  blocks: Block[];
  lists: number[][];
}

/** What the view keeps between steps: the allocator and the user's names for blocks. */
interface BuddyState {
  buddy: BuddyAllocator;
  names: Map<number, string>;
  /** The picture before the last step (to show what changed). */
  before: Picture | null;
  /** In-between pictures of the last step's split or merge (drawn once, then cleared). */
  frames: Picture[];
  /** Kind of the last change, for the flash color. */
  flash: 'split' | 'merge' | 'none';
}

/** The allocator's picture now. */
function picture(b: BuddyAllocator): Picture {
  const blocks: Block[] = [];
  b.forEachBlock((addr, pages, free, order) => blocks.push({ page: (addr - b.base) / b.pageSize, pages, free, order }));
  const lists: number[][] = [];
  for (let k = 0; k <= b.maxOrder; k++) lists.push(b.freeList(k).map((a) => (a - b.base) / b.pageSize));
  return { blocks, lists };
}

const key = (x: Block): string => `${x.page}/${x.order}/${x.limbo === true ? 'l' : x.free ? 'f' : 'a'}`;

function range(page: number, pages: number): string {
  return pages === 1 ? `page ${page}` : `pages ${page}–${page + pages - 1}`;
}

/** A picture: `base` with the blocks of [from, to) replaced by `region`, and free lists edited. */
function edit(
  base: Picture,
  from: number,
  to: number,
  region: Block[],
  remove: number[][],
  push: Array<[number, number]>,
): Picture {
  const blocks = [...base.blocks.filter((x) => x.page + x.pages <= from || x.page >= to), ...region].sort(
    (x, y) => x.page - y.page,
  );
  const lists = base.lists.map((l, k) => l.filter((p) => !(remove[k] ?? []).includes(p)));
  for (const [k, p] of push) lists[k]!.unshift(p);
  return { blocks, lists };
}

/**
 * The kernel's bitmap of order k: bit i is the pair of buddies (pages
 * i·2^(k+1) and i·2^(k+1) + 2^k); the kernel flips it each time either
 * buddy goes on or off the free list of order k, so it is 1 exactly when
 * one of the two is free. `find_buddy` then needs one bit to know whether
 * a freed block can merge. No bit for the top order (the whole heap has no buddy).
 */
function kernelBits(p: Picture, pages: number, k: number): number[] {
  const bits = new Array<number>(pages >> (k + 1)).fill(0);
  for (const page of p.lists[k] ?? []) bits[page >> (k + 1)]! ^= 1;
  return bits;
}

function orderOf(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** The bits of every order that differ between two pictures: what the kernel flipped. */
function flips(a: Picture, b: Picture, pages: number, maxOrder: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < maxOrder; k++) {
    const x = kernelBits(a, pages, k),
      y = kernelBits(b, pages, k);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) out.push(`order ${k} bit ${i} → ${y[i]}`);
  }
  return out;
}

function allocStep(name: string, n: number, exact = false): Step<BuddyState> {
  return {
    label: `alloc ${name} (${n} page${n === 1 ? '' : 's'}${exact ? ', exact' : ''})`,
    apply: (s) => {
      const b = s.buddy;
      const before = picture(b);
      const addr = exact ? b.allocPagesExact(n) : b.allocPages(n);
      const page = (addr - b.base) / b.pageSize;
      s.names.set(page, name);
      const k = orderOf(n);
      // The free block the allocation came from: the one that contained `page`.
      const src = before.blocks.find((x) => x.free && x.page <= page && page < x.page + (1 << x.order))!;
      const j = src.order;
      const splits: string[] = [];
      for (let o = j; o > k; o--) splits.push(`2^${o} → 2^${o - 1} + 2^${o - 1}`);
      s.flash = splits.length > 0 ? 'split' : 'none';
      s.before = before;
      s.frames = [];
      if (j > k && !exact) {
        // Taken off list j, then halved once per frame; each upper half goes on the head of its list.
        const to = src.page + (1 << j);
        for (let f = 0; f < j - k; f++) {
          const region: Block[] = [{ page: src.page, pages: 1 << (j - f), free: false, order: j - f, limbo: true }];
          const push: Array<[number, number]> = [];
          for (let o = j - 1; o >= j - f; o--) {
            region.push({ page: src.page + (1 << o), pages: 1 << o, free: true, order: o });
            push.push([o, src.page + (1 << o)]);
          }
          const remove: number[][] = [];
          remove[j] = [src.page];
          s.frames.push(edit(before, src.page, to, region, remove, push));
        }
      }
      const round = 1 << k !== n && !exact ? ` (rounded up to 2^${k} = ${1 << k})` : '';
      const how =
        splits.length > 0
          ? `take the free block of ${range(src.page, 1 << j)} and split ${splits.join(', ')}; `
          : `the free list of order ${k} has a block; `;
      const tail = exact && 1 << k !== n ? `; the ${(1 << k) - n} unused tail pages go back to the free lists` : '';
      return `${exact ? 'allocPagesExact' : 'allocPages'}(${n})${round}: ${how}${name} gets ${range(page, exact ? n : 1 << k)}${tail}.${bitNote(before, picture(b), b)}`;
    },
  };
}

function bitNote(a: Picture, b: Picture, buddy: BuddyAllocator): string {
  const f = flips(a, b, buddy.pages, buddy.maxOrder);
  return f.length === 0 ? '' : ` Kernel bitmap: ${f.join(', ')}.`;
}

function freeStep(name: string): Step<BuddyState> {
  return {
    label: `free ${name}`,
    apply: (s) => {
      let page = -1;
      for (const [p, n] of s.names) if (n === name) page = p;
      if (page < 0) throw new Error(`no block named ${name}`);
      const b = s.buddy;
      const before = picture(b);
      const pages = b.blockPages(b.base + page * b.pageSize);
      const k = orderOf(pages);
      b.free(b.base + page * b.pageSize);
      s.names.delete(page);
      const after = picture(b);
      const merged = after.blocks.find((x) => x.free && x.page <= page && page < x.page + (1 << x.order))!;
      const m = merged.order;
      const merges: string[] = [];
      for (let j = k; j < m; j++) merges.push(`2^${j} + 2^${j} → 2^${j + 1}`);
      s.flash = merges.length > 0 ? 'merge' : 'none';
      s.before = before;
      s.frames = [];
      if (m > k && pages === 1 << k) {
        // The freed block, off every list, absorbs one buddy per frame (taken off that buddy's list).
        for (let o0 = k; o0 < m; o0++) {
          const head = (page >> o0) << o0;
          const region: Block[] = [{ page: head, pages: 1 << o0, free: false, order: o0, limbo: true }];
          const remove: number[][] = [];
          for (let o = k; o < o0; o++) remove[o] = [((page >> o) ^ 1) << o];
          for (let o = o0; o < m; o++)
            region.push({ page: ((page >> o) ^ 1) << o, pages: 1 << o, free: true, order: o });
          s.frames.push(edit(before, merged.page, merged.page + (1 << m), region, remove, []));
        }
      }
      const text =
        merges.length > 0
          ? `free(${name}): ${range(page, pages)} freed; its buddy is free, so coalesce ${merges.join(', ')}: one free block of ${range(merged.page, 1 << m)}.`
          : `free(${name}): the block of ${range(page, pages)} goes on the free list of order ${k}; its buddy is not (wholly) free, so nothing to coalesce.`;
      return text + bitNote(before, after, b);
    },
  };
}

const LECTURE: Array<Step<BuddyState>> = [
  allocStep('A', 1),
  allocStep('B', 2),
  allocStep('C', 3),
  allocStep('D', 1),
  freeStep('D'),
  freeStep('A'),
  freeStep('C'),
  freeStep('B'),
];

/** Heap sizes offered for an empty heap. */
const HEAPS = [16, 32, 64, 256, 1024, 4096];

/** Tree rows drawn at once; deeper levels are reached by zooming into a node. */
const TREE_ROWS = 5;

/** The buddy view. */
export class BuddyView implements View {
  readonly id = 'buddy';
  readonly title = 'Buddy';
  readonly el: HTMLElement;
  private pages = 16;
  private readonly player: Player<BuddyState>;
  private readonly presets: Preset[];
  private animTimer = 0;
  /** The node at the top of the drawn tree: order and index within its level. */
  private zoom = { k: 4, i: 0 };
  private readonly strip = el('div', { class: 'strip', 'data-testid': 'buddy-strip' });
  private readonly tree = el('div', { class: 'tree', 'data-testid': 'buddy-tree' });
  private readonly treeNav = el('div', { class: 'row tree-nav' });
  private readonly array = el('div', { class: 'array', 'data-testid': 'buddy-array' });
  private readonly bitmap = el('div', { class: 'bitmap', 'data-testid': 'buddy-bitmap' });
  private readonly lists = el('div', { class: 'freelists', 'data-testid': 'buddy-freelists' });
  private readonly info = el('pre', { class: 'mono buddyinfo', 'data-testid': 'buddyinfo' });
  private heapIn: HTMLSelectElement | null = null;
  private readonly sizeIn = el('input', {
    type: 'number',
    min: '1',
    max: '64',
    value: '1',
    'aria-label': 'pages',
    'data-testid': 'buddy-n',
  });

  constructor() {
    this.player = new Player<BuddyState>(
      {
        create: () => ({
          buddy: new BuddyAllocator({ pages: this.pages }),
          names: new Map(),
          before: null,
          frames: [],
          flash: 'none',
        }),
        render: (s) => this.render(s),
      },
      'buddy',
    );
    this.presets = [
      {
        id: 'lecture',
        name: 'Lecture: 16 pages, A=1 B=2 C=3 D=1, free D A C B',
        load: () => this.load(16, LECTURE, 'lecture'),
      },
      {
        id: 'exact',
        name: 'Exact allocation (alloc_pages_exact)',
        load: () =>
          this.load(
            16,
            [
              allocStep('A', 5, true),
              allocStep('B', 3),
              allocStep('C', 2),
              freeStep('B'),
              freeStep('A'),
              freeStep('C'),
            ],
            'exact',
          ),
      },
      { id: 'random64', name: '64 pages, random', load: () => this.load(64, randomSteps(64, 7), 'random64') },
      {
        id: 'random1024',
        name: '1024 pages, random (zoom the tree)',
        load: () => this.load(1024, randomSteps(1024, 11, 64), 'random1024'),
      },
    ];
    const heap = el(
      'select',
      { 'aria-label': 'heap pages', 'data-testid': 'buddy-heap' },
      ...HEAPS.map((n) => el('option', { value: String(n) }, `${n} pages`)),
    );
    heap.value = '16';
    heap.addEventListener('change', () => this.load(Number(heap.value), [], 'empty'));
    this.heapIn = heap;
    const custom = el(
      'div',
      { class: 'row' },
      el('label', {}, 'Empty heap of ', heap),
      el('label', {}, ' · allocate ', this.sizeIn, ' pages '),
      button('allocPages', () => this.userAlloc(false), { 'data-testid': 'buddy-alloc' }),
      button('allocPagesExact', () => this.userAlloc(true), { 'data-testid': 'buddy-alloc-exact' }),
      el('span', { class: 'muted' }, ' · click an allocated block to free it'),
    );
    this.el = el(
      'section',
      { class: 'view', id: 'view-buddy' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Buddy allocator'),
        el(
          'p',
          { class: 'lede' },
          'Blocks of 2^k pages, split in halves to fit a request and merged with their buddy when both are free (mm/page_alloc.c). Pages are numbered from 0; hover a block for its address.',
        ),
        presetBar('buddy', this.presets),
        custom,
      ),
      el(
        'div',
        { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el),
        el(
          'div',
          { class: 'col wide' },
          el('h3', {}, 'Pages'),
          this.strip,
          el(
            'div',
            { class: 'legend' },
            swatch('free', 'free block of 2^k pages'),
            swatch('alloc', 'allocated'),
            swatch('limbo', 'being split or merged (on no list)'),
            swatch('flash-split', 'made by a split'),
            swatch('flash-merge', 'made by coalescing'),
          ),
          el(
            'div',
            { class: 'grid2 tight' },
            el(
              'div',
              {},
              el('h3', {}, 'Free lists (one per order, head first)'),
              this.lists,
              el('h3', {}, '/proc/buddyinfo'),
              this.info,
            ),
            el('div', {}, el('h3', {}, 'Block tree'), this.treeNav, this.tree),
          ),
          el(
            'div',
            { class: 'grid2 tight' },
            el(
              'div',
              {},
              el('h3', {}, 'Node states: the tree as an array (index 1 = root; children of i are 2i, 2i+1)'),
              this.array,
            ),
            el('div', {}, el('h3', {}, 'Kernel bitmap: one bit per buddy pair'), this.bitmap),
          ),
        ),
      ),
    );
    this.presets[0]!.load();
  }

  key(e: KeyboardEvent): boolean {
    return this.player.key(e);
  }

  urlState(): Record<string, string> {
    const q = playerUrl(this.player);
    if (this.player.presetId === 'empty') q.pages = String(this.pages);
    return q;
  }

  restore(q: URLSearchParams): void {
    if (q.get('preset') === 'empty') {
      const n = Number(q.get('pages'));
      this.load(HEAPS.includes(n) ? n : 16, [], 'empty');
      return;
    }
    restorePlayer(this.player, this.presets, q);
  }

  private load(pages: number, steps: Array<Step<BuddyState>>, id: string): void {
    this.pages = pages;
    if (this.heapIn !== null) this.heapIn.value = String(pages);
    this.zoom = { k: 31 - Math.clz32(pages), i: 0 };
    this.sizeIn.max = String(pages);
    this.player.load(steps, id);
  }

  private userAlloc(exact: boolean): void {
    const n = Number(this.sizeIn.value);
    const name = nextName(this.player.current);
    this.player.push(allocStep(name, n, exact));
  }

  private render(s: BuddyState): void {
    window.clearTimeout(this.animTimer);
    const final = picture(s.buddy);
    this.el.dataset.sig = fingerprint(JSON.stringify([final, [...s.names]]));
    const frames = s.frames;
    s.frames = [];
    let prev = s.before ?? final;
    const fl = s.flash === 'merge' ? 'flash-merge' : 'flash-split';
    if (frames.length === 0) {
      this.draw(s, final, prev, fl);
      this.el.dataset.frame = '';
      return;
    }
    // Every panel shows the same in-between picture, one per frame, then the result.
    let f = 0;
    const frame = (): void => {
      const p = f < frames.length ? frames[f]! : final;
      this.draw(s, p, prev, fl);
      this.el.dataset.frame = f < frames.length ? String(f) : '';
      prev = p;
      f++;
      // 420 ms a frame; a long chain of splits (a big heap) is played faster, 2.5 s in all.
      if (f <= frames.length) this.animTimer = window.setTimeout(frame, Math.min(420, 2500 / (frames.length + 1)));
    };
    frame();
  }

  /** Draws every panel from one picture; `prev` is the picture just before (for highlights). */
  private draw(s: BuddyState, p: Picture, prev: Picture, flashClass: string): void {
    const b = s.buddy;
    const old = new Set(prev.blocks.map(key));
    const hot = new Set(p.blocks.map(key).filter((k) => !old.has(k)));
    this.drawStrip(s, p, hot, flashClass);
    this.drawLists(b, p, prev, flashClass);
    // In between: the line buddyinfo() would print at that moment; at the end, its own.
    const now = p.blocks.every((x) => x.limbo !== true) && p.lists.every((l, k) => l.length === b.freeList(k).length);
    this.info.textContent = now
      ? b.buddyinfo()
      : `Node 0, zone ${'Normal'.padStart(8)} ${p.lists.map((l) => `${String(l.length).padStart(6)} `).join('')}`;
    this.drawBitmap(b, p, prev);
    this.drawTree(s, p, hot, flashClass);
  }

  private drawStrip(s: BuddyState, p: Picture, hot: Set<string>, flashClass: string): void {
    const b = s.buddy;
    const big = b.pages > 64;
    this.strip.style.gridTemplateColumns = `repeat(${b.pages}, minmax(0, 1fr))`;
    this.strip.classList.toggle('dense', big);
    // Page numbers: every `every` pages, as many as fit side by side.
    const width = this.strip.clientWidth || 700;
    let every = 1;
    while ((width / b.pages) * every < 34) every *= 2;
    const cells: HTMLElement[] = [];
    for (let q = 0; q < b.pages; q += every)
      cells.push(el('div', { class: 'pno', style: `grid-column:${q + 1} / span ${every};grid-row:1` }, q));
    for (const x of p.blocks) {
      const name = s.names.get(x.page) ?? '?';
      const label = x.limbo === true ? '…' : x.free ? `2^${x.order}` : name;
      const state = x.limbo === true ? 'limbo' : x.free ? 'free' : 'alloc';
      const cls = ['blk', state, hot.has(key(x)) ? (x.free || x.limbo === true ? flashClass : 'flash-alloc') : ''].join(
        ' ',
      );
      const c = el(
        'div',
        {
          class: cls,
          style: `grid-column:${x.page + 1} / span ${x.pages};grid-row:2`,
          title: `${x.limbo === true ? 'being split / merged' : x.free ? 'free' : name} · ${range(x.page, x.pages)} · order ${x.order} · address ${hex(b.base + x.page * b.pageSize)} (base ${hex(b.base)} + ${x.page} × ${b.pageSize})`,
          'data-testid': `buddy-block-${x.page}`,
        },
        big && x.pages < every ? null : el('b', {}, label),
        !big && (x.pages >= 2 || b.pages <= 16) ? el('small', {}, `${x.pages}p`) : null,
      );
      if (!x.free && x.limbo !== true) c.addEventListener('click', () => this.player.push(freeStep(name)));
      cells.push(c);
    }
    this.strip.replaceChildren(...cells);
  }

  private drawLists(b: BuddyAllocator, p: Picture, prev: Picture, flashClass: string): void {
    const rows: HTMLElement[] = [];
    for (let k = b.maxOrder; k >= 0; k--) {
      const free = p.lists[k]!;
      const was = new Set(prev.lists[k]);
      const shown = free.slice(0, 24);
      rows.push(
        el(
          'div',
          { class: 'fl-row' },
          el('span', { class: 'fl-order' }, `order ${k}`, el('small', {}, ` ${1 << k} page${k === 0 ? '' : 's'}`)),
          el(
            'span',
            { class: 'fl-list', 'data-testid': `freelist-${k}`, 'data-pages': free.join(',') },
            ...(free.length === 0
              ? [el('span', { class: 'muted' }, 'empty')]
              : shown
                  .flatMap((q, i) => [
                    i > 0 ? el('span', { class: 'arrow' }, '→') : null,
                    el(
                      'span',
                      { class: `chip ${was.has(q) ? '' : flashClass}`, title: `pages ${q}–${q + (1 << k) - 1}` },
                      `p${q}`,
                    ),
                  ])
                  .filter((x): x is HTMLElement => x !== null)),
            free.length > shown.length ? el('span', { class: 'muted' }, ` … ${free.length - shown.length} more`) : null,
          ),
        ),
      );
    }
    this.lists.replaceChildren(...rows);
  }

  private drawBitmap(b: BuddyAllocator, p: Picture, prev: Picture): void {
    const rows: HTMLElement[] = [];
    for (let k = 0; k < b.maxOrder; k++) {
      const bits = kernelBits(p, b.pages, k);
      const was = kernelBits(prev, b.pages, k);
      const shown = Math.min(bits.length, 64);
      const cells: HTMLElement[] = [];
      for (let i = 0; i < shown; i++) {
        const a = i << (k + 1),
          c = a + (1 << k);
        cells.push(
          el(
            'span',
            {
              class: `bit b${bits[i]} ${bits[i] !== was[i] ? 'flipped' : ''}`,
              title: `order ${k}, bit ${i}: buddies ${range(a, 1 << k)} and ${range(c, 1 << k)}: ${bits[i] === 1 ? 'exactly one is free' : 'both or neither free'}`,
            },
            bits[i],
          ),
        );
      }
      rows.push(
        el(
          'div',
          { class: 'bm-row' },
          el('span', { class: 'fl-order' }, `order ${k}`),
          el(
            'span',
            { class: 'bits', 'data-testid': `bitmap-${k}`, 'data-bits': bits.join('') },
            ...cells,
            bits.length > shown ? el('span', { class: 'muted' }, ` … ${bits.length - shown} more`) : null,
          ),
        ),
      );
    }
    this.bitmap.replaceChildren(
      ...rows,
      el(
        'p',
        { class: 'legend' },
        'Bit i of order k is the pair of buddies starting at page i·2^(k+1). The kernel flips it whenever either buddy goes on or off the free list of order k, so 1 means exactly one of them is free: when a block is freed and its pair bit was 1, the buddy is free and they merge. Outlined: flipped by the last step.',
      ),
    );
  }

  private drawTree(s: BuddyState, p: Picture, hot: Set<string>, flashClass: string): void {
    const b = s.buddy;
    const top = 31 - Math.clz32(b.pages);
    if ((b.pages & (b.pages - 1)) !== 0) {
      this.tree.replaceChildren(el('p', { class: 'muted' }, 'The tree is drawn for a heap of 2^k pages.'));
      this.array.replaceChildren();
      this.treeNav.replaceChildren();
      return;
    }
    const all = p.blocks;
    const at = new Map(all.map((x) => [x.page, x]));
    const state = (k: number, i: number): 'free' | 'alloc' | 'split' | 'none' | 'limbo' => {
      const start = i << k;
      const x = at.get(start);
      if (x !== undefined && x.order === k) return x.limbo === true ? 'limbo' : x.free ? 'free' : 'alloc';
      if (x !== undefined && x.order > k) return 'none';
      if (x === undefined) {
        for (const y of all) if (y.page < start && start < y.page + Math.max(y.pages, 1 << y.order)) return 'none';
      }
      return 'split';
    };
    const z = this.zoom;
    const rowsShown = Math.min(TREE_ROWS, z.k + 1);
    const W = 560,
      L = 44,
      rowH = 54;
    const g = svg('svg', {
      viewBox: `0 0 ${W} ${rowsShown * rowH + 12}`,
      class: 'tree-svg',
      role: 'img',
      'aria-label': 'buddy block tree',
    });
    const cellsArr: HTMLElement[] = [];
    for (let d = 0; d < rowsShown; d++) {
      const k = z.k - d;
      const n = 1 << d;
      const span = (W - L) / n;
      const r = Math.min(15, span / 2 - 2);
      const y = d * rowH + 24;
      g.append(svg('text', { x: 2, y: y + 4, class: 'tree-order', 'data-label': 'level' }, `2^${k}`));
      for (let j = 0; j < n; j++) {
        const i = (z.i << d) + j;
        const x = L + (j + 0.5) * span;
        const st = state(k, i);
        if (d > 0) {
          const px = L + (Math.floor(j / 2) + 0.5) * span * 2;
          g.append(svg('line', { x1: px, y1: y - rowH + r + 1, x2: x, y2: y - r, class: `edge ${st}` }));
        }
        const name = st === 'alloc' ? (s.names.get(i << k) ?? '?') : '';
        const fk = `${i << k}/${k}/${st === 'free' ? 'f' : st === 'limbo' ? 'l' : 'a'}`;
        const isNew = (st === 'free' || st === 'alloc' || st === 'limbo') && hot.has(fk);
        const deeper = d === rowsShown - 1 && k > 0 && st === 'split';
        const c = svg('circle', {
          cx: x,
          cy: y,
          r,
          class: `node ${st} ${isNew ? (st === 'alloc' ? 'flash-alloc' : flashClass) : ''} ${deeper ? 'zoomable' : ''}`,
          'data-index': (1 << (top - k)) + i,
        });
        c.append(
          svg(
            'title',
            {},
            `index ${(1 << (top - k)) + i}: order ${k}, ${range(i << k, 1 << k)}: ${st}${deeper ? ' (click to zoom in)' : ''}`,
          ),
        );
        if (deeper)
          c.addEventListener('click', () => {
            this.zoom = { k, i };
            this.render(s);
          });
        g.append(c);
        const label =
          st === 'alloc' ? name : st === 'free' ? `2^${k}` : st === 'split' ? 'S' : st === 'limbo' ? '…' : '';
        if (label !== '' && r >= 9)
          g.append(svg('text', { x, y: y + 4, class: 'node-label', 'data-label': 'node' }, label));
        if (deeper) g.append(svg('text', { x, y: y + r + 11, class: 'tree-more', 'data-label': 'more' }, '▾'));
      }
    }
    this.tree.replaceChildren(g);
    // Zoom controls, when the heap has more levels than are drawn.
    const nav: Array<HTMLElement | string> = [];
    if (top + 1 > TREE_ROWS) {
      nav.push(
        el(
          'span',
          { class: 'muted' },
          z.k === top
            ? `Showing the top ${rowsShown} of ${top + 1} levels; click a ▾ node to zoom in.`
            : `Subtree of ${range(z.i << z.k, 1 << z.k)} (levels 2^${z.k}…2^${z.k - rowsShown + 1}). `,
        ),
      );
      if (z.k < top) {
        nav.push(
          button(
            '▲ up',
            () => {
              this.zoom = { k: z.k + 1, i: z.i >> 1 };
              this.render(s);
            },
            { 'data-testid': 'buddy-tree-up' },
          ),
          button('whole tree', () => {
            this.zoom = { k: top, i: 0 };
            this.render(s);
          }),
        );
      }
    }
    this.treeNav.replaceChildren(...nav);
    // The node-state array: every index for a small heap, the drawn subtree's otherwise.
    for (let d = 0; d < (top < 7 ? top + 1 : rowsShown); d++) {
      const k = (top < 7 ? top : z.k) - d;
      const first = top < 7 ? 0 : z.i << d;
      for (let j = 0; j < 1 << d; j++) {
        const i = first + j;
        const st = state(k, i);
        const idx = (1 << (top - k)) + i;
        cellsArr.push(
          el(
            'div',
            { class: `acell ${st}`, title: `index ${idx}: order ${k}, ${range(i << k, 1 << k)}: ${st}` },
            el('small', {}, idx),
            el('b', {}, st === 'free' ? 'F' : st === 'alloc' ? 'A' : st === 'split' ? 'S' : st === 'limbo' ? '…' : '·'),
          ),
        );
      }
    }
    this.array.replaceChildren(
      el('div', { class: 'acells' }, ...cellsArr),
      el(
        'div',
        { class: 'legend' },
        el(
          'span',
          {},
          `S split · A allocated · F free · · inside a larger block${top >= 7 ? ' (indices of the drawn subtree)' : ''}`,
        ),
      ),
    );
  }
}

function swatch(cls: string, text: string): HTMLElement {
  return el('span', { class: 'sw' }, el('i', { class: `blk ${cls}` }), text);
}

function nextName(s: BuddyState): string {
  const used = new Set(s.names.values());
  for (let i = 0; ; i++) {
    const n = i < 26 ? String.fromCharCode(65 + i) : `X${i}`;
    if (!used.has(n)) return n;
  }
}

/** A seeded random sequence of allocations and frees over `pages` pages. */
function randomSteps(pages: number, seed: number, maxPages = 8): Array<Step<BuddyState>> {
  const r = rng(seed);
  const steps: Array<Step<BuddyState>> = [];
  const live: string[] = [];
  const sizes = new Map<string, number>();
  let used = 0;
  let id = 0;
  for (let i = 0; i < 30; i++) {
    if (live.length > 0 && (r() < 0.4 || used > pages * 0.6)) {
      const j = Math.floor(r() * live.length);
      const name = live.splice(j, 1)[0]!;
      steps.push(freeStep(name));
      used -= sizes.get(name)!;
    } else {
      const n = 1 + Math.floor(r() * r() * maxPages);
      const name = id < 26 ? String.fromCharCode(65 + id) : `X${id}`;
      id++;
      sizes.set(name, 1 << orderOf(n));
      used += 1 << orderOf(n);
      live.push(name);
      steps.push(allocStep(name, n));
    }
  }
  return steps;
}
