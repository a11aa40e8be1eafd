/**
 * The workers view's heap map: one cell per page, and inside each page its
 * bytes, 16 B a pixel (a 4 KiB page is 16 x 16 pixels), so every live block
 * shows in the colour of the worker that allocated it. The page's kind
 * (free, size-class page, TLSF chunk, metadata) is its background. One
 * canvas and one ImageData, no node per page.
 */
import { bytes, el, hex, tooltip } from '../dom.js';
import type { HeapPicture, LiveBlock, PageRun } from './source.js';

/** Worker lane colours (blue, orange, green, magenta): clear of the page backgrounds. */
export const LANE_COLORS = ['#2f6fde', '#e0783a', '#1f9e6e', '#c2409a'];
const UNKNOWN = '#7d8595';

/** Page backgrounds by kind. */
const KIND: Array<{ test: (owner: string) => boolean; name: string; color: string; info: string }> = [
  { test: (o) => o === 'free', name: 'free page', color: '#eef1f5', info: 'free (in the buddy)' },
  {
    test: (o) => o.startsWith('slab '),
    name: 'size-class page',
    color: '#d9e1ec',
    info: 'size-class page (blocks up to 512 B)',
  },
  { test: (o) => o.includes('TLSF'), name: 'TLSF chunk', color: '#eadfcf', info: 'TLSF chunk (medium blocks)' },
  { test: (o) => o.startsWith('large'), name: 'large block', color: '#f3d2bc', info: 'large block (whole pages)' },
  { test: () => true, name: 'metadata', color: '#59627a', info: 'allocator metadata' },
];

function rgba(css: string): number {
  const m = /^#([0-9a-f]{6})$/i.exec(css);
  const v = m === null ? 0x808080 : Number.parseInt(m[1]!, 16);
  // ImageData is RGBA in memory: little-endian u32 = 0xAABBGGRR.
  return (0xff000000 | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}

function darker(css: string): number {
  const c = rgba(css);
  const f = (x: number): number => Math.round(x * 0.62);
  return (0xff000000 | (f((c >> 16) & 0xff) << 16) | (f((c >> 8) & 0xff) << 8) | f(c & 0xff)) >>> 0;
}

const PX = 16; // pixels per page side
const PITCH = PX + 1;

/** Names a lane for hover text and the legend (the view knows slots and states). */
export type LaneName = (lane: number) => string;

export class HeapCanvas {
  readonly el: HTMLElement;
  private readonly canvas = el('canvas', { 'data-testid': 'workers-map' });
  private readonly wrap: HTMLElement;
  private readonly legend = el('div', { class: 'legend', 'data-testid': 'workers-map-legend' });
  private readonly caption = el('div', { class: 'muted small' });
  private pic: HeapPicture | null = null;
  private cols = 1;
  private granule = 16;
  /** CSS pixels per canvas pixel: 2 when the box is wide enough for 16 pages a row at that size. */
  private scale = 1;

  constructor(
    private readonly laneName: LaneName,
    /** The lane of a heap slot, -1 for none (a page owned by a slot is framed in that lane's colour). */
    private readonly laneOfSlot: (slot: number) => number,
  ) {
    this.wrap = el('div', { class: 'mapwrap wmap' }, this.canvas);
    this.el = el('div', { class: 'memmap' }, this.caption, this.wrap, this.legend);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => tooltip(null));
    new ResizeObserver(() => this.draw()).observe(this.wrap);
  }

  set(p: HeapPicture): void {
    this.pic = p;
    this.draw();
    this.drawLegend();
  }

  private draw(): void {
    const p = this.pic;
    if (p === null) return;
    const box = Math.max(PITCH * 4, this.wrap.clientWidth - 2);
    this.scale = box >= 16 * PITCH * 2 ? 2 : 1;
    const W = Math.floor(box / this.scale);
    const cols = Math.max(1, Math.floor((W + 1) / PITCH));
    const rows = Math.ceil(p.pages / cols);
    this.cols = cols;
    this.granule = p.pageSize / (PX * PX);
    const w = cols * PITCH - 1;
    const h = rows * PITCH - 1;
    this.canvas.width = w;
    this.canvas.height = h;
    this.canvas.style.width = `${w * this.scale}px`;
    this.canvas.style.height = `${h * this.scale}px`;
    const g = this.canvas.getContext('2d');
    if (g === null) return;
    const img = g.createImageData(w, h);
    const px = new Uint32Array(img.data.buffer);
    px.fill(rgba('#fbfcfd'));
    const at = (page: number, o: number): number => {
      const x = (page % cols) * PITCH + (o & (PX - 1));
      const y = Math.floor(page / cols) * PITCH + (o >> 4);
      return y * w + x;
    };
    for (const r of p.runs) {
      const c = rgba(kindOf(r).color);
      for (let page = r.page; page < r.page + r.pages; page++) for (let o = 0; o < PX * PX; o++) px[at(page, o)] = c;
    }
    const colors = LANE_COLORS.map(rgba);
    const edges = LANE_COLORS.map(darker);
    const unknown = rgba(UNKNOWN);
    for (const b of p.blocks) {
      const first = Math.floor((b.addr - p.base) / this.granule);
      const last = Math.floor((b.addr + b.size - 1 - p.base) / this.granule);
      const c = colors[b.lane] ?? unknown;
      for (let gi = first; gi <= last; gi++) {
        const page = gi >> 8;
        if (page >= p.pages) break;
        px[at(page, gi & 255)] = gi === first ? (edges[b.lane] ?? unknown) : c;
      }
    }
    // Pages owned by one worker (per-worker pages): a frame in its colour.
    for (const r of p.runs) {
      if (r.ownerSlot < 0) continue;
      const c = colors[this.laneOfSlot(r.ownerSlot)] ?? unknown;
      for (let page = r.page; page < r.page + r.pages; page++)
        for (let i = 0; i < PX; i++) {
          px[at(page, i)] = c;
          px[at(page, (PX - 1) * PX + i)] = c;
          px[at(page, i * PX)] = c;
          px[at(page, i * PX + PX - 1)] = c;
        }
    }
    g.putImageData(img, 0, 0);
    this.caption.textContent = `${p.pages} pages of ${bytes(p.pageSize)}; a page is a square of 16 × 16 dots, each dot ${this.granule} B. Hover for details.`;
  }

  private drawLegend(): void {
    const p = this.pic;
    if (p === null) return;
    const byLane = new Map<number, { n: number; bytes: number }>();
    for (const b of p.blocks) {
      const t = byLane.get(b.lane) ?? { n: 0, bytes: 0 };
      t.n++;
      t.bytes += b.size;
      byLane.set(b.lane, t);
    }
    const items: HTMLElement[] = [];
    for (const [lane, t] of [...byLane.entries()].sort((a, b) => a[0] - b[0])) {
      items.push(
        el(
          'span',
          { class: 'sw', 'data-lane': String(lane) },
          el('i', { style: `background:${LANE_COLORS[lane] ?? UNKNOWN}` }),
          `${lane < 0 ? 'no owner recorded yet' : this.laneName(lane)}: ${t.n} block${t.n === 1 ? '' : 's'}, ${bytes(t.bytes)}`,
        ),
      );
    }
    if (p.runs.some((r) => r.ownerSlot >= 0))
      items.push(
        el(
          'span',
          { class: 'sw' },
          el('i', { style: 'background:#fff;border:2px solid #59627a' }),
          "framed: a page of one worker's own (its colour)",
        ),
      );
    const kinds = new Map<string, number>();
    for (const r of p.runs) {
      const k = kindOf(r);
      kinds.set(k.name, (kinds.get(k.name) ?? 0) + r.pages);
    }
    for (const k of KIND) {
      const n = kinds.get(k.name);
      if (n !== undefined)
        items.push(el('span', { class: 'sw' }, el('i', { style: `background:${k.color}` }), `${k.name} · ${n} p`));
    }
    this.legend.replaceChildren(...items);
  }

  private hover(e: MouseEvent): void {
    const p = this.pic;
    if (p === null) return;
    const r = this.canvas.getBoundingClientRect();
    const x = Math.floor((e.clientX - r.left) / this.scale);
    const y = Math.floor((e.clientY - r.top) / this.scale);
    const c = Math.floor(x / PITCH);
    const row = Math.floor(y / PITCH);
    const ox = x % PITCH;
    const oy = y % PITCH;
    const page = row * this.cols + c;
    if (c >= this.cols || page >= p.pages || ox >= PX || oy >= PX) {
      tooltip(null);
      return;
    }
    const addr = p.base + page * p.pageSize + (oy * PX + ox) * this.granule;
    const run = runAt(p.runs, page);
    const b = blockAt(p.blocks, addr);
    const where = `page ${page} (${hex(p.base + page * p.pageSize)}): ${run === null ? '?' : kindOf(run).info}`;
    tooltip(
      b === null
        ? `${hex(addr)}: not in a live block\n${where}`
        : `block ${hex(b.addr)}, ${bytes(b.size)}\nallocated by ${b.lane < 0 ? '(not recorded yet)' : this.laneName(b.lane)}\n${where}`,
      e.clientX,
      e.clientY,
    );
  }
}

function kindOf(r: PageRun): (typeof KIND)[number] {
  return KIND.find((k) => k.test(r.owner))!;
}

function runAt(runs: PageRun[], page: number): PageRun | null {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid]!.page <= page) lo = mid;
    else hi = mid - 1;
  }
  return runs[lo] ?? null;
}

function blockAt(blocks: LiveBlock[], addr: number): LiveBlock | null {
  let lo = 0;
  let hi = blocks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (blocks[mid]!.addr <= addr) lo = mid;
    else hi = mid - 1;
  }
  const b = blocks[lo];
  return b !== undefined && b.addr <= addr && addr < b.addr + b.size ? b : null;
}
