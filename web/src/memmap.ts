/**
 * The memory map: pages of a buddy-managed heap drawn on a canvas, one cell
 * per page, colored by owner, with hover details and zoom. One canvas, not a
 * node per page, so tens of thousands of pages stay smooth.
 */
import type { Arena, BuddyAllocator, Kmalloc } from '../../src/index.js';
import { bytes, el, hex, tooltip } from './dom.js';

/** A run of pages with one owner. */
export interface MapBlock {
  page: number;
  pages: number;
  /** Legend entry (e.g. `free`, `slab kmalloc-96`). */
  owner: string;
  color: string;
  /** Hover text. */
  info: string;
}

/** What a heap looks like to the map. */
export interface MapData {
  pages: number;
  pageSize: number;
  base: number;
  blocks: MapBlock[];
  /** Leading metadata pages not drawn (the map starts after them). */
  skipped?: number;
}

const FREE = ['#f1f3f6', '#e2e7ee', '#d2d9e3', '#c2cbd8', '#b2bdcd', '#a2afc2'];

/** Color of a free block of order k (larger = a little darker). */
export function freeColor(k: number): string {
  return FREE[Math.min(FREE.length - 1, Math.floor(k / 2))]!;
}

/** A distinct color per cache index. */
export function cacheColor(i: number): string {
  // Greens, teals, yellows and pinks: clear of the free grays, large-block
  // orange, raw-block blue and arena purple.
  const hues = [150, 172, 88, 52, 325, 192, 120, 345, 70, 300, 160, 40];
  const h = hues[i % hues.length]!;
  const l = [52, 64, 42][Math.floor(i / hues.length) % 3]!;
  return `hsl(${h} 55% ${l}%)`;
}

export const LARGE_COLOR = '#e0783a';
export const META_COLOR = '#59627a';
export const ARENA_COLOR = '#8c5bd6';
export const RAW_COLOR = '#2f6fde';
export const TLSF_COLOR = '#7a5230';

/**
 * Classifies every block of `buddy`: free (by order), slab of a kmalloc cache,
 * large kmalloc block, arena chunk, a raw `allocPages` block the caller names,
 * or metadata (allocator state: the slab space tables, counters).
 */
export function heapMap(
  buddy: BuddyAllocator,
  parts: { kmalloc?: Kmalloc | undefined; arena?: Arena | undefined; raw?: Map<number, string>; rawAll?: boolean } = {},
): MapData {
  const ps = buddy.pageSize;
  const slabs = new Map<
    number,
    { cache: number; name: string; inuse: number; objs: number; list: string; size: number }
  >();
  const large = new Set<number>();
  const tlsfChunks = new Map<number, number>(); // chunk address -> owner's worker slot
  const k = parts.kmalloc;
  if (k !== undefined) {
    k.forEachTlsfChunk((addr, slot) => tlsfChunks.set(addr, slot));
    k.caches.forEach((c, i) =>
      c.forEachSlab((addr, inuse, list) =>
        slabs.set(addr, { cache: i, name: c.name, inuse, objs: c.objectsPerSlab, list, size: c.size }),
      ),
    );
    k.forEachBlock((addr, size) => {
      if (size >= ps && (addr - buddy.base) % ps === 0 && !slabs.has(addr) && !tlsfChunks.has(addr)) large.add(addr);
    });
  }
  const chunks = new Map<number, { used: number; size: number; cur: boolean }>();
  const a = parts.arena;
  if (a !== undefined) {
    const list = a.chunkList();
    list.forEach((c, i) => {
      // A buddy chunk starts at its block; the header is at the block start.
      const block = Math.floor((c.address - buddy.base) / ps) * ps + buddy.base;
      chunks.set(block, { used: c.used, size: c.end - c.data, cur: i === list.length - 1 });
    });
  }
  const blocks: MapBlock[] = [];
  buddy.forEachBlock((addr, pages, free, order) => {
    const page = (addr - buddy.base) / ps;
    const where = `${hex(addr)} · ${pages} page${pages === 1 ? '' : 's'} (${bytes(pages * ps)})`;
    if (free) {
      blocks.push({
        page,
        pages,
        owner: 'free',
        color: freeColor(order),
        info: `free block, order ${order}\n${where}`,
      });
      return;
    }
    const s = slabs.get(addr);
    if (s !== undefined) {
      blocks.push({
        page,
        pages,
        owner: `slab ${s.name}`,
        color: cacheColor(s.cache),
        info: `slab of ${s.name} (${s.list})\n${s.inuse}/${s.objs} objects of ${s.size} B in use\n${where}`,
      });
    } else if (tlsfChunks.has(addr)) {
      blocks.push({
        page,
        pages,
        owner: 'kmalloc TLSF chunk',
        color: TLSF_COLOR,
        info: `TLSF chunk of kmalloc${
          buddy.memory?.shared === true ? ` (worker slot ${tlsfChunks.get(addr)}'s medium heap)` : ' (medium sizes)'
        }, good fit in segregated lists\n${where}`,
      });
    } else if (large.has(addr)) {
      blocks.push({ page, pages, owner: 'large kmalloc', color: LARGE_COLOR, info: `large kmalloc block\n${where}` });
    } else if (chunks.has(addr)) {
      const c = chunks.get(addr)!;
      blocks.push({
        page,
        pages,
        owner: 'arena chunk',
        color: ARENA_COLOR,
        info: `arena chunk${c.cur ? ' (current)' : ''}\n${bytes(c.used)} of ${bytes(c.size)} used\n${where}`,
      });
    } else if (parts.raw?.has(addr) === true || parts.rawAll === true) {
      blocks.push({
        page,
        pages,
        owner: 'buddy block',
        color: RAW_COLOR,
        info: `allocPages block ${parts.raw?.get(addr) ?? ''}, order ${order}\n${where}`,
      });
    } else {
      blocks.push({
        page,
        pages,
        owner: 'metadata',
        color: META_COLOR,
        info: `allocator metadata (descriptor tables, counters, arena state)\n${where}`,
      });
    }
  });
  return { pages: buddy.pages, pageSize: ps, base: buddy.base, blocks };
}

/** The canvas map with zoom buttons, hover and a legend. */
export class MemMap {
  readonly el: HTMLElement;
  private readonly canvas = el('canvas', { 'data-testid': 'memmap-canvas' });
  private readonly wrap: HTMLElement;
  private readonly legend = el('div', { class: 'legend', 'data-testid': 'memmap-legend' });
  private readonly zoomLabel = el('span', { class: 'muted' });
  private data: MapData = { pages: 0, pageSize: 4096, base: 0, blocks: [] };
  private cell = 0; // 0 = fit
  private cols = 1;
  private size = 8;

  constructor(private readonly heightHint = 420) {
    this.wrap = el('div', { class: 'mapwrap' }, this.canvas);
    const z = (f: number): void => {
      this.cell = Math.max(2, Math.min(48, Math.round((this.cell === 0 ? this.size : this.cell) * f)));
      this.draw();
    };
    const zb = (t: string, title: string, fn: () => void): HTMLButtonElement => {
      const b = el('button', { title }, t);
      b.addEventListener('click', fn);
      return b;
    };
    this.el = el(
      'div',
      { class: 'memmap' },
      el(
        'div',
        { class: 'maptools' },
        zb('−', 'Zoom out', () => z(0.5)),
        zb('+', 'Zoom in', () => z(2)),
        zb('fit', 'Fit to the box', () => {
          this.cell = 0;
          this.draw();
        }),
        this.zoomLabel,
        el('span', { class: 'muted' }, '· Ctrl+wheel zooms · hover a page for details'),
      ),
      this.wrap,
      this.legend,
    );
    this.wrap.addEventListener(
      'wheel',
      (e) => {
        if (!e.ctrlKey) return;
        e.preventDefault();
        z(e.deltaY < 0 ? 1.25 : 0.8);
      },
      { passive: false },
    );
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => tooltip(null));
    new ResizeObserver(() => this.draw()).observe(this.wrap);
  }

  /** Shows a new heap state. */
  set(data: MapData): void {
    this.data = data;
    this.draw();
    this.drawLegend();
  }

  private draw(): void {
    const W = Math.max(100, this.wrap.clientWidth - 2);
    const n = Math.max(1, this.data.pages);
    const fit = Math.max(2, Math.min(40, Math.floor(Math.sqrt((W * this.heightHint) / n))));
    const cell = this.cell === 0 ? fit : this.cell;
    this.size = cell;
    const cols = Math.max(1, Math.floor(W / cell));
    const rows = Math.ceil(n / cols);
    this.cols = cols;
    const dpr = window.devicePixelRatio || 1;
    const cw = cols * cell,
      ch = rows * cell;
    this.canvas.width = Math.ceil(cw * dpr);
    this.canvas.height = Math.ceil(ch * dpr);
    this.canvas.style.width = `${cw}px`;
    this.canvas.style.height = `${ch}px`;
    const skipped = this.data.skipped ?? 0;
    this.zoomLabel.textContent = `${cell}px/page · ${n} page${n === 1 ? '' : 's'} of ${bytes(this.data.pageSize)}${skipped > 0 ? ` (after ${skipped} pages of allocator metadata, not drawn)` : ''}`;
    const g = this.canvas.getContext('2d');
    if (g === null) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cw, ch);
    const gap = cell >= 5 ? 1 : 0;
    let odd = false;
    for (const b of this.data.blocks) {
      g.fillStyle = b.color;
      // Small cells have no gaps: shade every other block so neighbours stay apart.
      odd = !odd;
      // Row segments of the block.
      let p = b.page;
      const end = b.page + b.pages;
      while (p < end) {
        const r = Math.floor(p / cols),
          c = p % cols;
        const len = Math.min(end - p, cols - c);
        g.fillRect(c * cell, r * cell, len * cell - gap, cell - gap);
        if (cell < 8 && odd && b.owner !== 'free') {
          g.fillStyle = 'rgba(0,0,0,0.16)';
          g.fillRect(c * cell, r * cell, len * cell - gap, cell - gap);
          g.fillStyle = b.color;
        }
        p += len;
      }
      if (cell >= 8) {
        // Mark the block start with a darker edge.
        const r = Math.floor(b.page / cols),
          c = b.page % cols;
        g.fillStyle = 'rgba(0,0,0,0.35)';
        g.fillRect(c * cell, r * cell, 2, cell - gap);
      }
    }
  }

  private drawLegend(): void {
    const tally = new Map<string, { color: string; pages: number }>();
    for (const b of this.data.blocks) {
      const t = tally.get(b.owner);
      if (t === undefined) tally.set(b.owner, { color: b.owner === 'free' ? FREE[2]! : b.color, pages: b.pages });
      else t.pages += b.pages;
    }
    const entries = [...tally.entries()].sort((a, b) =>
      a[0] === 'free' ? -1 : b[0] === 'free' ? 1 : b[1].pages - a[1].pages,
    );
    // Slab caches get one entry each for the largest few, then a summary.
    const slabs = entries.filter(([n]) => n.startsWith('slab '));
    const others = entries.filter(([n]) => !n.startsWith('slab '));
    const shown = [...others, ...slabs.slice(0, 6)];
    const rest = slabs.slice(6);
    const items = shown.map(([name, t]) =>
      name === 'free'
        ? el(
            'span',
            { class: 'sw', 'data-owner': name },
            `free · ${t.pages} p, shaded by block order:`,
            ...FREE.map((c, i) =>
              el(
                'span',
                {
                  class: 'sw ramp',
                  title: `free block of order ${2 * i}${i + 1 < FREE.length ? ` or ${2 * i + 1}` : ' or more'} (${1 << (2 * i)}${i + 1 < FREE.length ? `–${1 << (2 * i + 1)}` : '+'} pages)`,
                },
                el('i', { style: `background:${c}` }),
                i + 1 < FREE.length ? `${2 * i}–${2 * i + 1}` : `${2 * i}+`,
              ),
            ),
          )
        : el(
            'span',
            { class: 'sw', 'data-owner': name },
            el('i', { style: `background:${t.color}` }),
            `${name} · ${t.pages} p`,
          ),
    );
    if (rest.length > 0) {
      const pages = rest.reduce((s, [, t]) => s + t.pages, 0);
      items.push(
        el(
          'span',
          { class: 'sw', title: rest.map(([n, t]) => `${n}: ${t.pages} p`).join('\n') },
          el('i', {
            style: `background:linear-gradient(90deg,${rest
              .slice(0, 4)
              .map(([, t]) => t.color)
              .join(',')})`,
          }),
          `${rest.length} more slab caches · ${pages} p`,
        ),
      );
    }
    this.legend.replaceChildren(...items);
  }

  private hover(e: MouseEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const c = Math.floor((e.clientX - r.left) / this.size);
    const row = Math.floor((e.clientY - r.top) / this.size);
    const page = row * this.cols + c;
    if (c < 0 || c >= this.cols || page < 0 || page >= this.data.pages) {
      tooltip(null);
      return;
    }
    // Binary search for the block holding `page`.
    const bl = this.data.blocks;
    let lo = 0,
      hi = bl.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (bl[mid]!.page <= page) lo = mid;
      else hi = mid - 1;
    }
    const b = bl[lo];
    if (b === undefined) return;
    tooltip(
      `page ${page + (this.data.skipped ?? 0)} (${hex(this.data.base + page * this.data.pageSize)})\n${b.info}`,
      e.clientX,
      e.clientY,
    );
  }
}
