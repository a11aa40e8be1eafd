/**
 * Slab view: one SlabCache, its slabs on the partial / full / empty lists,
 * each slab's objects (used or free) and the freelist chain that runs
 * through the free objects (the lecture's "Slab Allocator High Level").
 */
import { BuddyAllocator, SlabCache, type SlabList } from '../../src/index.js';
import { button, el, fingerprint, hex, presetBar, svg, type View } from './dom.js';
import { NoChange, Player, playerUrl, restorePlayer, type Preset, type Step } from './player.js';

interface SlabState {
  buddy: BuddyAllocator;
  cache: SlabCache;
  names: Map<number, string>;
  fresh: number;
  next: number;
}

const OBJ_SIZE = 112;
const PAGE = 1024;

/** Names the objects of a scripted preset (o1, o2, ...) in its step labels. */
let scripted = 0;

function alloc(count = 1, names = false): Step<SlabState> {
  const first = scripted + 1;
  if (names) scripted += count;
  return {
    label: !names
      ? count === 1
        ? 'alloc'
        : `alloc ×${count}`
      : count === 1
        ? `alloc o${first}`
        : `alloc o${first}–o${first + count - 1}`,
    apply: (s) => {
      const before = s.cache.stats().slabs;
      const got: string[] = [];
      for (let i = 0; i < count; i++) {
        const a = s.cache.alloc();
        const name = `o${++s.next}`;
        s.names.set(a, name);
        s.fresh = a;
        got.push(name);
      }
      const made = s.cache.stats().slabs - before;
      const from =
        made > 0
          ? `${made} new slab${made > 1 ? 's' : ''} from the buddy (2^${s.cache.order} page${s.cache.order > 0 ? 's' : ''}); `
          : '';
      return `${from}${got.join(', ')} ${got.length > 1 ? 'are' : 'is'} the first free object${got.length > 1 ? 's' : ''} of the first partial slab: pop the head of its freelist.`;
    },
  };
}

function free(name: string): Step<SlabState> {
  return {
    label: `free ${name}`,
    apply: (s) => {
      let addr = -1;
      for (const [a, n] of s.names) if (n === name) addr = a;
      if (addr < 0) throw new Error(`no object ${name}`);
      let listBefore: SlabList | null = null;
      const slab = slabOf(s, addr);
      s.cache.forEachSlab((a, _i, l) => {
        if (a === slab) listBefore = l;
      });
      s.cache.free(addr);
      s.names.delete(addr);
      s.fresh = addr;
      let listAfter: SlabList | null = null;
      s.cache.forEachSlab((a, _i, l) => {
        if (a === slab) listAfter = l;
      });
      const moved =
        listBefore !== listAfter ? ` The slab moves from ${listBefore} to ${listAfter ?? 'the buddy'}.` : '';
      return `free(${name}): address math finds its slab (${hex(slab)}); the object is pushed on the front of the slab's freelist.${moved}`;
    },
  };
}

const shrink: Step<SlabState> = {
  label: 'shrink',
  apply: (s) => {
    const n = s.cache.shrink();
    if (n === 0) throw new NoChange('the cache has no empty slab to give back.');
    return `kmem_cache_shrink: ${n} page${n === 1 ? '' : 's'} of empty slabs go back to the buddy.`;
  },
};

function slabOf(s: SlabState, addr: number): number {
  const size = PAGE << s.cache.order;
  return s.buddy.base + Math.floor((addr - s.buddy.base) / size) * size;
}

const a = (n = 1): Step<SlabState> => alloc(n, true);
const LECTURE: Array<Step<SlabState>> = [
  a(),
  a(),
  a(),
  a(6),
  a(),
  free('o2'),
  free('o5'),
  a(),
  free('o10'),
  free('o1'),
  free('o3'),
  a(2),
  free('o4'),
  free('o6'),
  free('o7'),
  free('o8'),
  free('o9'),
  free('o11'),
  free('o12'),
  free('o13'),
  shrink,
];

/** The slab view. */
export class SlabView implements View {
  readonly id = 'slab';
  readonly title = 'Slab';
  readonly el: HTMLElement;
  private readonly player: Player<SlabState>;
  private readonly lists = el('div', { class: 'slab-lists' });
  private readonly info = el('pre', { class: 'mono buddyinfo', 'data-testid': 'slabinfo' });
  private readonly fields = el('div', { class: 'fields' });
  private readonly stats = el('dl', { class: 'stats' });
  private readonly presets: Preset[] = [
    {
      id: 'lecture',
      name: 'Lecture: alloc until full, free, reuse, empty, shrink',
      load: () => this.player.load(LECTURE, 'lecture'),
    },
  ];

  constructor() {
    this.player = new Player<SlabState>(
      {
        create: () => {
          const buddy = new BuddyAllocator({ pages: 32, pageSize: PAGE });
          return {
            buddy,
            cache: new SlabCache(buddy, { name: 'object', size: OBJ_SIZE, minEmpty: 1 }),
            names: new Map(),
            fresh: -1,
            next: 0,
          };
        },
        render: (s) => this.render(s),
      },
      'slab',
    );
    this.el = el(
      'section',
      { class: 'view', id: 'view-slab' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Slab cache'),
        el(
          'p',
          { class: 'lede' },
          `A cache of ${OBJ_SIZE}-byte objects; slabs are ${PAGE}-byte buddy pages. Each slab keeps a pointer to its first free object; each free object holds a pointer to the next one.`,
        ),
        presetBar('slab', this.presets),
        el(
          'div',
          { class: 'row' },
          button('alloc', () => this.player.push(alloc()), { 'data-testid': 'slab-alloc' }),
          button('alloc ×5', () => this.player.push(alloc(5))),
          button('shrink', () => this.player.push(shrink)),
          el('span', { class: 'muted' }, ' · click a used object to free it'),
        ),
      ),
      el(
        'div',
        { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el, el('h3', {}, 'Cache'), this.stats),
        el(
          'div',
          { class: 'col' },
          this.lists,
          el(
            'div',
            { class: 'legend' },
            el('span', { class: 'sw' }, el('i', { style: 'background:var(--alloc)' }), 'object in use'),
            el(
              'span',
              { class: 'sw' },
              el('i', { style: 'background:#fff' }),
              'free object (n = position on the freelist)',
            ),
            el(
              'span',
              { class: 'sw' },
              el('i', { style: 'background:#fff;border:2px solid #e08a00' }),
              'touched by the last step',
            ),
            el('span', { class: 'sw' }, el('i', { style: 'background:#e08a00;height:3px' }), 'freelist chain'),
          ),
          el('h3', {}, '/proc/slabinfo'),
          this.info,
          this.fields,
        ),
      ),
    );
    this.presets[0]!.load();
  }

  key(e: KeyboardEvent): boolean {
    return this.player.key(e);
  }

  urlState(): Record<string, string> {
    return playerUrl(this.player);
  }

  restore(q: URLSearchParams): void {
    restorePlayer(this.player, this.presets, q);
  }

  private render(s: SlabState): void {
    const c = s.cache;
    const by: Record<SlabList, HTMLElement[]> = { partial: [], full: [], empty: [] };
    c.forEachSlab((addr, inuse, list) => by[list].push(this.slabCard(s, addr, inuse)));
    this.lists.replaceChildren(
      ...(['partial', 'full', 'empty'] as const).map((l) =>
        el(
          'div',
          { class: 'slab-list', 'data-testid': `slab-list-${l}`, 'data-count': String(by[l].length) },
          el('h4', {}, `${l} `, el('span', { class: 'muted' }, `(${by[l].length})`)),
          ...(by[l].length === 0 ? [el('p', { class: 'muted' }, 'none')] : by[l]),
        ),
      ),
    );
    const st = c.stats();
    const rows: Array<[string, string]> = [
      ['object size', `${st.objectSize} B`],
      ['slot stride', `${st.stride} B`],
      ['objects / slab', `${st.objectsPerSlab}`],
      ['pages / slab', `${st.pagesPerSlab}`],
      ['slabs', `${st.slabs}`],
      ['active objects', `${st.activeObjects} / ${st.totalObjects}`],
      ['buddy free pages', `${s.buddy.freePages} / ${s.buddy.pages}`],
    ];
    this.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    const slabs: unknown[] = [];
    c.forEachSlab((addr, inuse, list) => slabs.push([addr, inuse, list, c.freeObjects(addr)]));
    this.el.dataset.sig = fingerprint(JSON.stringify([slabs, s.buddy.freePages]));
    // The kernel's line (wrapped at a space on a narrow screen), and its fields named.
    const row = c.slabinfoRow();
    this.info.textContent = row;
    const v = row.split(/\s+/);
    const names: Array<[string, string | undefined]> = [
      ['name', v[0]],
      ['active_objs', v[1]],
      ['num_objs', v[2]],
      ['objsize', v[3]],
      ['objperslab', v[4]],
      ['pagesperslab', v[5]],
      ['active_slabs', v[v.length - 3]],
      ['num_slabs', v[v.length - 2]],
    ];
    this.fields.replaceChildren(
      ...names.map(([k, x]) => el('span', { class: 'field' }, el('small', {}, k), el('b', {}, x ?? ''))),
    );
  }

  private slabCard(s: SlabState, slab: number, inuse: number): HTMLElement {
    const c = s.cache;
    const n = c.objectsPerSlab;
    const freeList = c.freeObjects(slab);
    const order = new Map(freeList.map((a, i) => [a, i]));
    const perRow = Math.min(n, 12);
    const cw = 44,
      chh = 34,
      top = 34,
      left = 50;
    const rows = Math.ceil(n / perRow);
    const W = left + perRow * cw + 10,
      H = top + rows * (chh + 30);
    const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'slab objects' });
    const pos = (i: number): [number, number] => [left + (i % perRow) * cw, top + Math.floor(i / perRow) * (chh + 30)];
    g.append(
      svg(
        'defs',
        {},
        svg(
          'marker',
          { id: 'ah', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' },
          svg('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#e08a00' }),
        ),
      ),
    );
    for (let i = 0; i < n; i++) {
      const addr = slab + i * c.stride + c.objOffset;
      const [x, y] = pos(i);
      const fi = order.get(addr);
      const used = fi === undefined;
      const rect = svg('rect', {
        x,
        y,
        width: cw - 6,
        height: chh,
        rx: 4,
        class: `obj ${used ? 'used' : 'free'} ${addr === s.fresh ? 'fresh' : ''}`,
      });
      const name = s.names.get(addr) ?? '';
      rect.append(svg('title', {}, `${used ? name : 'free'} · ${hex(addr)} · slot ${i}`));
      g.append(
        rect,
        svg(
          'text',
          { x: x + (cw - 6) / 2, y: y + chh / 2 + 4, class: `obj-label ${used ? 'used' : ''}` },
          used ? name : `${fi! + 1}`,
        ),
      );
      if (used) {
        rect.style.cursor = 'pointer';
        rect.addEventListener('click', () => this.player.push(free(name)));
      }
    }
    // Freelist chain: the slab's head pointer, then object to object.
    if (freeList.length > 0) {
      const idx = (a: number): number => (a - c.objOffset - slab) / c.stride;
      const [fx, fy] = pos(idx(freeList[0]!));
      g.append(svg('text', { x: 2, y: 14, class: 'fl-head' }, 'freelist'));
      g.append(
        svg('path', { d: `M 20 18 Q 20 ${fy - 6} ${fx + 4} ${fy - 2}`, class: 'fl-arrow', 'marker-end': 'url(#ah)' }),
      );
      for (let j = 0; j + 1 < freeList.length; j++) {
        const [x1, y1] = pos(idx(freeList[j]!));
        const [x2, y2] = pos(idx(freeList[j + 1]!));
        const ax = x1 + (cw - 6) / 2,
          bx = x2 + (cw - 6) / 2;
        const lift = 10 + Math.min(20, Math.abs(bx - ax) / 8);
        g.append(
          svg('path', {
            d: `M ${ax} ${y1} C ${ax} ${y1 - lift}, ${bx} ${y2 - lift}, ${bx} ${y2 - 1}`,
            class: 'fl-arrow',
            'marker-end': 'url(#ah)',
          }),
        );
      }
    }
    return el(
      'div',
      { class: 'slab-card' },
      el(
        'div',
        { class: 'meta' },
        `slab ${hex(slab)} · ${inuse}/${n} in use · freelist → ${freeList.length === 0 ? 'NULL' : hex(freeList[0]!)}`,
      ),
      g,
    );
  }
}
