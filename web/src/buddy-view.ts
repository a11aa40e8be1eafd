/**
 * Buddy view: the lecture's pictures of a small buddy allocator, live. The
 * page strip, the block tree and its array form, the free list of each
 * order, and /proc/buddyinfo; the blocks a step split or merged flash.
 */
import { BuddyAllocator } from '../../src/index.js';
import { button, el, hex, presetBar, rng, svg, type View } from './dom.js';
import { Player, type Step } from './player.js';

/** A block of the map, by page index. */
interface Block {
  page: number;
  pages: number;
  free: boolean;
  order: number;
}

/** What the view keeps between steps: the allocator and the user's names for blocks. */
interface BuddyState {
  buddy: BuddyAllocator;
  names: Map<number, string>;
  /** Keys (`page/order/free`) of blocks that the last step created. */
  changed: Set<string>;
  /** Kind of the last change, for the flash color. */
  flash: 'split' | 'merge' | 'none';
  next: number;
  /** The pages a split or merge changed, and the in-between pictures to animate. */
  anim: { from: number; to: number; frames: Block[][] } | null;
}

function blocks(b: BuddyAllocator): Block[] {
  const out: Block[] = [];
  b.forEachBlock((addr, pages, free, order) => out.push({ page: (addr - b.base) / b.pageSize, pages, free, order }));
  return out;
}

const key = (x: Block): string => `${x.page}/${x.order}/${x.free ? 'f' : 'a'}`;

function range(page: number, pages: number): string {
  return pages === 1 ? `page ${page}` : `pages ${page}–${page + pages - 1}`;
}

/** Runs `op`, records which blocks are new, and describes the splits or merges. */
function tracked(s: BuddyState, op: () => string): string {
  const before = blocks(s.buddy);
  const beforeKeys = new Set(before.map(key));
  const text = op();
  const after = blocks(s.buddy);
  s.changed = new Set(after.map(key).filter((k) => !beforeKeys.has(k)));
  return text;
}

function allocStep(name: string, n: number, exact = false): Step<BuddyState> {
  return {
    label: `alloc ${name} (${n} page${n === 1 ? '' : 's'}${exact ? ', exact' : ''})`,
    apply: (s) => tracked(s, () => {
      const before = blocks(s.buddy).filter((x) => x.free);
      const addr = exact ? s.buddy.allocPagesExact(n) : s.buddy.allocPages(n);
      const page = (addr - s.buddy.base) / s.buddy.pageSize;
      s.names.set(page, name);
      const k = n === 1 ? 0 : 32 - Math.clz32(n - 1);
      // The free block the allocation came from: the one that contained `page`.
      const src = before.find((x) => x.page <= page && page < x.page + (1 << x.order))!;
      const splits: string[] = [];
      for (let j = src.order; j > k; j--) splits.push(`2^${j} → 2^${j - 1} + 2^${j - 1}`);
      s.flash = splits.length > 0 ? 'split' : 'none';
      // In-between pictures: the source block halved once per frame.
      s.anim = null;
      if (src.order > k && !exact) {
        const frames: Block[][] = [];
        for (let f = 0; f <= src.order - k; f++) {
          const region: Block[] = [{ page: src.page, pages: 1 << (src.order - f), free: true, order: src.order - f }];
          for (let o = src.order - 1; o >= src.order - f; o--) region.push({ page: src.page + (1 << o), pages: 1 << o, free: true, order: o });
          frames.push(region);
        }
        s.anim = { from: src.page, to: src.page + (1 << src.order), frames };
      }
      const round = (1 << k) !== n && !exact ? ` (rounded up to 2^${k} = ${1 << k})` : '';
      const how = splits.length > 0 ? `split ${splits.join(', ')}; ` : `the free list of order ${k} has a block; `;
      const tail = exact && (1 << k) !== n ? `; the ${(1 << k) - n} unused tail pages go back to the free lists` : '';
      return `allocPages(${n})${round}: ${how}${name} gets ${range(page, exact ? n : 1 << k)} at ${hex(addr)}${tail}.`;
    }),
  };
}

function freeStep(name: string): Step<BuddyState> {
  return {
    label: `free ${name}`,
    apply: (s) => tracked(s, () => {
      let page = -1;
      for (const [p, n] of s.names) if (n === name) page = p;
      if (page < 0) throw new Error(`no block named ${name}`);
      const b = s.buddy;
      const pages = b.blockPages(b.base + page * b.pageSize);
      const k = pages === 1 ? 0 : 32 - Math.clz32(pages - 1);
      b.free(b.base + page * b.pageSize);
      s.names.delete(page);
      const merged = blocks(b).find((x) => x.free && x.page <= page && page < x.page + (1 << x.order))!;
      const merges: string[] = [];
      for (let j = k; j < merged.order; j++) merges.push(`2^${j} + 2^${j} → 2^${j + 1}`);
      s.flash = merges.length > 0 ? 'merge' : 'none';
      // In-between pictures: the freed block, then one merge per frame.
      s.anim = null;
      if (merged.order > k && pages === 1 << k) {
        const frames: Block[][] = [];
        for (let o0 = k; o0 < merged.order; o0++) {
          const head = (page >> o0) << o0;
          const region: Block[] = [{ page: head, pages: 1 << o0, free: true, order: o0 }];
          for (let o = o0; o < merged.order; o++) region.push({ page: ((page >> o) ^ 1) << o, pages: 1 << o, free: true, order: o });
          frames.push(region);
        }
        s.anim = { from: merged.page, to: merged.page + (1 << merged.order), frames };
      }
      return merges.length > 0
        ? `free(${name}): ${range(page, pages)} freed; its buddy is free, so coalesce ${merges.join(', ')}: one free block of ${range(merged.page, 1 << merged.order)}.`
        : `free(${name}): ${range(page, pages)} marked free; its buddy is not (completely) free, so nothing to coalesce.`;
    }),
  };
}

const LECTURE: Array<Step<BuddyState>> = [
  allocStep('A', 1), allocStep('B', 2), allocStep('C', 3), allocStep('D', 1),
  freeStep('D'), freeStep('A'), freeStep('C'), freeStep('B'),
];

/** The buddy view. */
export class BuddyView implements View {
  readonly id = 'buddy';
  readonly title = 'Buddy';
  readonly el: HTMLElement;
  private pages = 16;
  private readonly player: Player<BuddyState>;
  private animTimer = 0;
  private readonly strip = el('div', { class: 'strip', 'data-testid': 'buddy-strip' });
  private readonly tree = el('div', { class: 'tree' });
  private readonly array = el('div', { class: 'array' });
  private readonly lists = el('div', { class: 'freelists', 'data-testid': 'buddy-freelists' });
  private readonly info = el('pre', { class: 'mono', 'data-testid': 'buddyinfo' });
  private readonly sizeIn = el('input', { type: 'number', min: '1', max: '64', value: '1', 'aria-label': 'pages', 'data-testid': 'buddy-n' });

  constructor() {
    this.player = new Player<BuddyState>({
      create: () => ({ buddy: new BuddyAllocator({ pages: this.pages }), names: new Map(), changed: new Set(), flash: 'none', next: 0, anim: null }),
      render: (s) => this.render(s),
    }, 'buddy');
    const custom = el('div', { class: 'row' },
      el('label', {}, 'Allocate ', this.sizeIn, ' pages '),
      button('allocPages', () => this.userAlloc(false), { 'data-testid': 'buddy-alloc' }),
      button('allocPagesExact', () => this.userAlloc(true)),
      el('span', { class: 'muted' }, ' · click an allocated block to free it'));
    this.el = el('section', { class: 'view', id: 'view-buddy' },
      el('div', { class: 'view-head' },
        el('h2', {}, 'Buddy allocator'),
        el('p', { class: 'lede' }, 'Blocks of 2^k pages, split in halves to fit a request and merged with their buddy when both are free (mm/page_alloc.c).'),
        presetBar('buddy', [
          ['Lecture: 16 pages, A=1 B=2 C=3 D=1, free D A C B', () => this.load(16, LECTURE)],
          ['Exact allocation (alloc_pages_exact)', () => this.load(16, [allocStep('A', 5, true), allocStep('B', 3), allocStep('C', 2), freeStep('B'), freeStep('A'), freeStep('C')])],
          ['64 pages, random', () => this.load(64, randomSteps(64, 7))],
        ]), custom),
      el('div', { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el),
        el('div', { class: 'col wide' },
          el('h3', {}, 'Pages'), this.strip,
          el('div', { class: 'legend' }, swatch('free', 'free block 2^k'), swatch('alloc', 'allocated'), swatch('flash-split', 'made by a split'), swatch('flash-merge', 'made by coalescing')),
          el('div', { class: 'grid2 tight' },
            el('div', {}, el('h3', {}, 'Free lists (one per order)'), this.lists, el('h3', {}, '/proc/buddyinfo'), this.info),
            el('div', {}, el('h3', {}, 'Block tree'), this.tree)),
          el('h3', {}, 'The tree as an array (index 1 = root; children of i are 2i and 2i+1)'), this.array)));
    this.load(16, LECTURE);
  }

  key(e: KeyboardEvent): boolean {
    return this.player.key(e);
  }

  private load(pages: number, steps: Array<Step<BuddyState>>): void {
    this.pages = pages;
    this.sizeIn.max = String(pages);
    this.player.load(steps);
  }

  private userAlloc(exact: boolean): void {
    const n = Number(this.sizeIn.value);
    const name = nextName(this.player.current);
    this.player.push(allocStep(name, n, exact));
  }

  private drawStrip(s: BuddyState, all: Block[], hot: Set<string>, flashClass: string): void {
    const b = s.buddy;
    this.strip.style.gridTemplateColumns = `repeat(${b.pages}, minmax(0, 1fr))`;
    const cells: HTMLElement[] = [];
    for (let p = 0; p < b.pages; p++) cells.push(el('div', { class: 'pno', style: `grid-column:${p + 1};grid-row:1` }, p));
    for (const x of all) {
      const name = s.names.get(x.page) ?? '?';
      const label = x.free ? `2^${x.order}` : name;
      const cls = ['blk', x.free ? 'free' : 'alloc', hot.has(key(x)) ? (x.free ? flashClass : 'flash-alloc') : ''].join(' ');
      const c = el('div', {
        class: cls, style: `grid-column:${x.page + 1} / span ${x.pages};grid-row:2`,
        title: `${x.free ? 'free' : name} · ${range(x.page, x.pages)} · order ${x.order} · ${hex(b.base + x.page * b.pageSize)}`,
        'data-testid': `buddy-block-${x.page}`,
      }, el('b', {}, label), x.pages >= 2 || b.pages <= 16 ? el('small', {}, `${x.pages}p`) : null);
      if (!x.free) c.addEventListener('click', () => this.player.push(freeStep(name)));
      cells.push(c);
    }
    this.strip.replaceChildren(...cells);
  }

  private render(s: BuddyState): void {
    const b = s.buddy;
    const all = blocks(b);
    const flashClass = s.flash === 'merge' ? 'flash-merge' : 'flash-split';
    // Page strip: the in-between pictures of a split or merge first, then the state.
    window.clearTimeout(this.animTimer);
    const anim = s.anim;
    s.anim = null;
    if (anim !== null) {
      const outside = all.filter((x) => x.page + x.pages <= anim.from || x.page >= anim.to);
      let f = 0;
      const frame = (): void => {
        if (f < anim.frames.length) {
          const shown = [...outside, ...anim.frames[f]!].sort((x, y) => x.page - y.page);
          const hot = new Set(anim.frames[f]!.filter((x) => f === 0 || x.order === anim.frames[f]![0]!.order || s.flash === 'split').map(key));
          this.drawStrip(s, shown, hot, flashClass);
          f++;
          this.animTimer = window.setTimeout(frame, 420);
        } else {
          this.drawStrip(s, all, s.changed, flashClass);
        }
      };
      frame();
    } else {
      this.drawStrip(s, all, s.changed, flashClass);
    }

    // Free lists.
    const rows: HTMLElement[] = [];
    for (let k = b.maxOrder; k >= 0; k--) {
      // In list order, head first: the block the next allocPages of this order takes.
      const free = b.freeList(k).map((addr) => (addr - b.base) / b.pageSize);
      rows.push(el('div', { class: 'fl-row' },
        el('span', { class: 'fl-order' }, `order ${k}`, el('small', {}, ` ${1 << k} page${k === 0 ? '' : 's'}`)),
        el('span', { class: 'fl-list', 'data-testid': `freelist-${k}`, 'data-pages': free.join(',') },
          ...(free.length === 0 ? [el('span', { class: 'muted' }, 'empty')] :
            free.flatMap((p, i) => [i > 0 ? el('span', { class: 'arrow' }, '→') : null,
              el('span', { class: `chip ${s.changed.has(`${p}/${k}/f`) ? flashClass : ''}` }, `p${p}`)]).filter((x): x is HTMLElement => x !== null)))));
    }
    this.lists.replaceChildren(...rows);
    this.info.textContent = b.buddyinfo();

    // Tree and array form (for up to 64 pages).
    if (b.pages > 64 || (b.pages & (b.pages - 1)) !== 0) {
      this.tree.replaceChildren(el('p', { class: 'muted' }, 'The tree is drawn for up to 64 pages (a power of two).'));
      this.array.replaceChildren();
      return;
    }
    const top = 31 - Math.clz32(b.pages);
    const at = new Map(all.map((x) => [x.page, x]));
    const state = (k: number, i: number): 'free' | 'alloc' | 'split' | 'none' => {
      const start = i << k;
      const x = at.get(start);
      if (x !== undefined && x.order === k) return x.free ? 'free' : 'alloc';
      if (x !== undefined && x.order > k) return 'none';
      if (x === undefined) {
        // Inside a block that started before `start`?
        for (const y of all) if (y.page < start && start < y.page + Math.max(y.pages, 1 << y.order)) return 'none';
      }
      return 'split';
    };
    const W = 560, rowH = 54, r = 15;
    const g = svg('svg', { viewBox: `0 0 ${W} ${(top + 1) * rowH + 10}`, class: 'tree-svg', role: 'img', 'aria-label': 'buddy block tree' });
    const cellsArr: HTMLElement[] = [];
    for (let d = 0; d <= top; d++) {
      const k = top - d;
      const n = 1 << d;
      for (let i = 0; i < n; i++) {
        const x = ((i + 0.5) * W) / n;
        const y = d * rowH + 24;
        const st = state(k, i);
        if (d > 0) {
          const px = ((Math.floor(i / 2) + 0.5) * W) / (n / 2);
          g.append(svg('line', { x1: px, y1: y - rowH + r, x2: x, y2: y - r, class: `edge ${st}` }));
        }
        const name = st === 'alloc' ? s.names.get(i << k) ?? '?' : '';
        const isNew = (st === 'free' || st === 'alloc') && s.changed.has(`${i << k}/${k}/${st === 'free' ? 'f' : 'a'}`);
        g.append(svg('circle', { cx: x, cy: y, r: d > 4 ? 7 : r, class: `node ${st} ${isNew ? (st === 'free' ? flashClass : 'flash-alloc') : ''}` }));
        if (d <= 4) g.append(svg('text', { x, y: y + 4, class: 'node-label' }, st === 'alloc' ? name : st === 'free' ? `2^${k}` : st === 'split' ? 'S' : ''));
        const idx = n + i;
        cellsArr.push(el('div', { class: `acell ${st}`, title: `index ${idx}: order ${k}, ${range(i << k, 1 << k)}: ${st}` },
          el('small', {}, idx), el('b', {}, st === 'free' ? 'F' : st === 'alloc' ? 'A' : st === 'split' ? 'S' : '·')));
      }
    }
    for (let d = 0; d <= top; d++) g.append(svg('text', { x: 4, y: d * rowH + 28, class: 'tree-order' }, `2^${top - d}`));
    this.tree.replaceChildren(g);
    this.array.replaceChildren(el('div', { class: 'acells' }, ...cellsArr),
      el('div', { class: 'legend' }, el('span', {}, 'S split · A allocated · F free · · inside a larger block')));
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
function randomSteps(pages: number, seed: number): Array<Step<BuddyState>> {
  const r = rng(seed);
  const steps: Array<Step<BuddyState>> = [];
  const live: string[] = [];
  let used = 0;
  let id = 0;
  for (let i = 0; i < 30; i++) {
    if (live.length > 0 && (r() < 0.4 || used > pages * 0.6)) {
      const j = Math.floor(r() * live.length);
      const name = live.splice(j, 1)[0]!;
      steps.push(freeStep(name));
      used -= sizes.get(name)!;
    } else {
      const n = 1 + Math.floor(r() * r() * 8);
      const name = id < 26 ? String.fromCharCode(65 + id) : `X${id}`;
      id++;
      const k = n === 1 ? 1 : 1 << (32 - Math.clz32(n - 1));
      sizes.set(name, k);
      used += k;
      live.push(name);
      steps.push(allocStep(name, n));
    }
  }
  return steps;
}
const sizes = new Map<string, number>();
