/**
 * Trace playback: load a trace (a bundled one from traces/, or a file),
 * replay it through one allocator or two side by side, and play, pause,
 * step and scrub; footprint and live payload are plotted with uPlot, and
 * the heap's pages are drawn at the current op.
 */
import uPlot from 'uplot';
import { Kmalloc } from '../../src/index.js';
import { BuddyByteAllocator, allocatorNames, opText, type Trace } from '../../src/trace/index.js';
import { button, bytes, el, type View } from './dom.js';
import { MemMap, heapMap, type MapData } from './memmap.js';
import { BYTE_INCRS, COUNT_INCRS, byteTick, countTick, ownAxes } from './axis.js';
import { stateChanged } from './url.js';
import { TraceCursor, bucketMax, parseTraceBytes, recordSeries, type TraceSeries } from './trace-play.js';

const BUNDLED = import.meta.glob('../../traces/*.rep.gz', { query: '?url', import: 'default', eager: true }) as Record<
  string,
  string
>;

const COLORS = ['#2f6fde', '#e0783a'];

interface Side {
  name: string;
  series: TraceSeries;
  cursor: TraceCursor;
  box: HTMLElement;
  now: HTMLElement;
  map: MemMap;
  /** False for allocators with no buddy pages (tlsf, thing): no page map. */
  paged: boolean;
}

/** The trace view. */
export class TraceView implements View {
  readonly id = 'trace';
  readonly title = 'Trace playback';
  readonly el: HTMLElement;
  private trace: Trace | null = null;
  private sides: Side[] = [];
  private pos = 0;
  private playing = false;
  private busy = false;
  private pending = -1;
  private raf = 0;
  private chart: uPlot | null = null;
  private cursorOp = 0;
  /** The bundled trace's file name ('' for a file of the user's: the URL cannot name it). */
  private loadedFrom = '';
  private readonly pick = el('select', { 'aria-label': 'bundled trace', 'data-testid': 'trace-pick' });
  private readonly file = el('input', {
    type: 'file',
    accept: '.rep,.gz,.txt,text/plain',
    'data-testid': 'trace-file',
    'aria-label': 'trace file',
  });
  private readonly allocA = el('select', { 'aria-label': 'allocator A', 'data-testid': 'trace-alloc-a' });
  private readonly allocB = el('select', { 'aria-label': 'allocator B', 'data-testid': 'trace-alloc-b' });
  private readonly status = el('div', { class: 'progress', 'data-testid': 'trace-status' });
  private readonly error = el('div', { class: 'error-box', 'data-testid': 'trace-error', hidden: '' });
  private readonly scrub = el('input', {
    type: 'range',
    min: '0',
    max: '0',
    value: '0',
    class: 'scrub',
    'aria-label': 'scrub',
    'data-testid': 'trace-scrub',
  });
  private readonly speed = el('select', { 'aria-label': 'ops per frame' });
  private readonly playBtn: HTMLButtonElement;
  private readonly opLine = el('div', { class: 'row', 'data-testid': 'trace-op' });
  private readonly chartBox = el('div', { class: 'chart', 'data-testid': 'trace-chart' });
  private readonly sideBox = el('div', { class: 'sides' });
  private readonly summary = el('div', { class: 'row' });

  constructor() {
    for (const path of Object.keys(BUNDLED).sort()) {
      const name = path.split('/').pop()!;
      this.pick.append(el('option', { value: path }, name));
    }
    const gcc = Object.keys(BUNDLED).find((p) => p.includes('gcc-cc1'));
    if (gcc !== undefined) this.pick.value = gcc;
    for (const n of allocatorNames()) {
      this.allocA.append(el('option', { value: n }, n));
      this.allocB.append(el('option', { value: n }, n));
    }
    this.allocB.prepend(el('option', { value: '' }, '— none —'));
    this.allocA.value = 'kmalloc';
    this.allocB.value = '';
    for (const n of [1, 10, 100, 1000, 10000])
      this.speed.append(el('option', { value: String(n) }, `${n} op${n > 1 ? 's' : ''} / frame`));
    this.speed.value = '1000';
    this.playBtn = button('▶ Play', () => this.togglePlay(), {
      'data-testid': 'trace-play',
      title: 'Play / pause (Space)',
    });
    this.file.addEventListener('change', () => {
      const f = this.file.files?.[0];
      if (f !== undefined) void this.loadFile(f);
    });
    this.scrub.addEventListener('input', () => this.seek(Number(this.scrub.value)));
    this.el = el(
      'section',
      { class: 'view', id: 'view-trace' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Trace playback'),
        el(
          'p',
          { class: 'lede' },
          'A malloc-lab trace (a ID SIZE / f ID / r ID SIZE) replayed op by op, with the rules of memkit replay. Footprint = bytes the allocator holds; live payload = bytes the program asked for and still holds.',
        ),
        el(
          'div',
          { class: 'row' },
          el('label', {}, 'Bundled trace ', this.pick),
          button('Load', () => void this.loadBundled(), { 'data-testid': 'trace-load', class: 'primary' }),
          el('span', { class: 'muted' }, 'or a file:'),
          this.file,
        ),
        el(
          'div',
          { class: 'row' },
          el('label', {}, 'Allocator ', this.allocA),
          el('label', {}, ' side by side with ', this.allocB),
          el('span', { class: 'muted' }, '(takes effect at the next load)'),
        ),
        this.status,
        this.error,
      ),
      el(
        'div',
        { class: 'col' },
        el(
          'div',
          { class: 'controls row' },
          button('« Start', () => this.seek(0), { title: 'Start (Home)' }),
          button('◀', () => this.seek(this.pos - 1), { title: 'Step back (←)' }),
          button('Step ▶', () => this.seek(this.pos + 1), { title: 'Step (→)', 'data-testid': 'trace-step' }),
          button('+1000', () => this.seek(this.pos + 1000)),
          this.playBtn,
          this.speed,
          button('End »', () => this.seek(this.trace?.length ?? 0), { title: 'End (End)', 'data-testid': 'trace-end' }),
        ),
        this.scrub,
        this.opLine,
        this.summary,
        this.chartBox,
        el(
          'p',
          { class: 'legend' },
          'Sizes in binary units: 1 KiB = 1024 B, 1 MiB = 1024 KiB. Each plotted point is the largest value of its stretch of ops, so the plotted peak is the true peak.',
        ),
      ),
      this.sideBox,
    );
    this.showOp();
  }

  urlState(): Record<string, string> {
    if (this.trace === null || this.loadedFrom === '') return {};
    const q: Record<string, string> = { trace: this.loadedFrom, a: this.sides[0]?.name ?? '' };
    if (this.sides[1] !== undefined) q.b = this.sides[1].name;
    q.op = String(this.pos);
    return q;
  }

  restore(q: URLSearchParams): void {
    const name = q.get('trace');
    const path = Object.keys(BUNDLED).find((p) => p.split('/').pop() === name);
    if (path === undefined) return;
    const names = allocatorNames();
    const a = q.get('a') ?? 'kmalloc',
      b = q.get('b') ?? '';
    if (!names.includes(a) || (b !== '' && !names.includes(b))) return;
    this.pick.value = path;
    this.allocA.value = a;
    this.allocB.value = b;
    const op = Number(q.get('op') ?? '0');
    void this.loadBundled().then(() => {
      if (Number.isInteger(op) && op > 0) this.seek(op);
    });
  }

  key(e: KeyboardEvent): boolean {
    switch (e.key) {
      case ' ':
        this.togglePlay();
        return true;
      case 'ArrowRight':
      case 'n':
        this.seek(this.pos + 1);
        return true;
      case 'ArrowLeft':
      case 'p':
        this.seek(this.pos - 1);
        return true;
      case 'Home':
        this.seek(0);
        return true;
      case 'End':
        this.seek(this.trace?.length ?? 0);
        return true;
      default:
        return false;
    }
  }

  private async loadBundled(): Promise<void> {
    const path = this.pick.value;
    const name = path.split('/').pop()!;
    await this.guard(async () => {
      this.setStatus(`Downloading ${name}…`);
      const res = await fetch(BUNDLED[path]!);
      if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
      await this.load(name, new Uint8Array(await res.arrayBuffer()), name);
    });
  }

  private async loadFile(f: File): Promise<void> {
    await this.guard(async () => {
      await this.load(f.name, new Uint8Array(await f.arrayBuffer()), '');
    });
    this.file.value = '';
  }

  /** Runs a load; any error is shown in the page, which stays usable. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    this.pause();
    this.error.hidden = true;
    try {
      await fn();
    } catch (e) {
      const err = e as Error;
      this.error.textContent = `${err.name === 'TraceFormatError' ? 'Malformed trace' : err.name}: ${err.message}`;
      this.error.hidden = false;
      this.setStatus(this.trace === null ? 'No trace loaded.' : `Still showing ${this.trace.file}.`);
    }
  }

  /** Loads a trace; `from` is the bundled trace's name for the URL ('' for a user's file). */
  private async load(name: string, data: Uint8Array, from: string): Promise<void> {
    this.setStatus(`Parsing ${name}…`);
    const trace = await parseTraceBytes(name, data, (n) => this.setStatus(`Parsing ${name}: ${bytes(n)}…`));
    const names = [this.allocA.value, this.allocB.value].filter((n) => n !== '');
    const sides: Side[] = [];
    for (const n of names) {
      this.setStatus(`Replaying ${trace.length.toLocaleString('en')} ops through ${n}…`);
      const series = await recordSeries(trace, n, (d) =>
        this.setStatus(`Replaying through ${n}: ${Math.round((100 * d) / trace.length)}%`),
      );
      const i = sides.length;
      const map = new MemMap(300);
      const cursor = await TraceCursor.create(trace, n);
      const paged = hasPages(cursor.alloc);
      if (!paged)
        map.el.replaceChildren(
          el(
            'p',
            { class: 'muted', 'data-testid': `trace-nomap-${sides.length}` },
            `${n} manages one linear region of its own, not buddy pages: there is no page map to draw. Its footprint is the region's high-water mark.`,
          ),
        );
      const now = el('dl', { class: 'stats', 'data-testid': `trace-now-${i}` });
      const peak = el(
        'span',
        { class: 'metric', 'data-testid': `trace-peak-footprint-${i}`, 'data-value': String(series.peakFootprint) },
        bytes(series.peakFootprint),
      );
      const box = el(
        'div',
        { class: 'col', 'data-testid': `trace-side-${i}` },
        el('h3', { style: `color:${COLORS[i]}` }, `${n}`),
        el(
          'div',
          { class: 'row' },
          el('span', {}, 'peak footprint (plotted): '),
          peak,
          el(
            'span',
            { class: 'muted' },
            ` · peak payload ${bytes(series.peakPayload)} · utilization ${(series.peakFootprint > 0 ? (100 * series.peakPayload) / series.peakFootprint : 0).toFixed(1)}% · ${series.failures} failures`,
          ),
        ),
        now,
        map.el,
      );
      sides.push({ name: n, series, cursor, box, now, map, paged });
    }
    this.trace = trace;
    this.sides = sides;
    this.pos = 0;
    this.scrub.max = String(trace.length);
    this.sideBox.replaceChildren(...sides.map((s) => s.box));
    this.summary.replaceChildren(
      el(
        'span',
        { class: 'muted', 'data-testid': 'trace-summary' },
        `${trace.file}: ${trace.length.toLocaleString('en')} ops, ${trace.ids.toLocaleString('en')} ids, header heap size ${bytes(trace.heapSize)}`,
      ),
    );
    this.drawChart();
    this.setStatus(`Loaded ${trace.file}.`);
    this.loadedFrom = from;
    this.el.dataset.loaded = trace.file;
    this.showOp();
  }

  private setStatus(s: string): void {
    this.status.textContent = s;
  }

  private drawChart(): void {
    this.chart?.destroy();
    this.chart = null;
    if (this.sides.length === 0) return;
    const points = 1600;
    const pay = bucketMax(this.sides[0]!.series.payload, points);
    const data: uPlot.AlignedData = [pay.x, pay.y, ...this.sides.map((s) => bucketMax(s.series.footprint, points).y)];
    // The plotted figures, for the page and its tests.
    this.sides.forEach((s, i) => {
      const plotted = Math.max(...(data[i + 2] as number[]));
      s.box.querySelector('[data-testid^="trace-peak-footprint"]')!.setAttribute('data-plotted', String(plotted));
    });
    const width = Math.max(280, this.chartBox.clientWidth || 900);
    const own = ownAxes(
      [
        { scale: 'x', side: 2, title: 'op', incrs: COUNT_INCRS, text: countTick },
        { scale: 'y', side: 3, title: 'bytes', incrs: BYTE_INCRS, text: byteTick },
      ],
      this.chartBox,
    );
    this.chart = new uPlot(
      {
        width,
        height: 260,
        scales: { x: { time: false } },
        axes: own.axes,
        series: [
          { label: 'op' },
          {
            label: 'live payload',
            stroke: '#2fb380',
            width: 1.5,
            fill: 'rgba(47,179,128,.12)',
            value: (_u, v) => (v === null ? '' : bytes(v)),
          },
          ...this.sides.map((s, i) => ({
            label: `footprint ${s.name}`,
            stroke: COLORS[i]!,
            width: 2,
            value: (_u: uPlot, v: number | null) => (v === null ? '' : bytes(v)),
          })),
        ],
        hooks: {
          draw: [
            own.draw,
            (u: uPlot) => {
              // The current op as a vertical line.
              const x = u.valToPos(this.cursorOp, 'x', true);
              const c = u.ctx;
              c.save();
              c.strokeStyle = '#c0392b';
              c.lineWidth = 2 * devicePixelRatio;
              c.beginPath();
              c.moveTo(x, u.bbox.top);
              c.lineTo(x, u.bbox.top + u.bbox.height);
              c.stroke();
              c.restore();
            },
          ],
        },
      },
      data,
      this.chartBox,
    );
    this.chart.root.addEventListener('click', () => {
      const u = this.chart!;
      if (u.cursor.left !== undefined && u.cursor.left >= 0) this.seek(Math.round(u.posToVal(u.cursor.left, 'x')));
    });
  }

  private togglePlay(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  private play(): void {
    if (this.trace === null) return;
    if (this.pos >= this.trace.length) this.seek(0);
    this.playing = true;
    this.playBtn.textContent = '⏸ Pause';
    this.playBtn.classList.add('on');
    const frame = (): void => {
      if (!this.playing || this.trace === null) return;
      if (!this.busy) this.seek(this.pos + Number(this.speed.value), true);
      if (this.pos >= this.trace.length) this.pause();
      else this.raf = requestAnimationFrame(frame);
    };
    this.raf = requestAnimationFrame(frame);
  }

  private pause(): void {
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.playBtn.textContent = '▶ Play';
    this.playBtn.classList.remove('on');
    stateChanged();
  }

  /** Moves every side to op `to` (replaying from the start when going back). */
  private seek(to: number, fromPlay = false): void {
    if (this.trace === null) return;
    if (!fromPlay) this.pause();
    to = Math.max(0, Math.min(to, this.trace.length));
    if (this.busy) {
      this.pending = to;
      return;
    }
    this.busy = true;
    void (async () => {
      try {
        for (const s of this.sides) {
          if (to < s.cursor.pos) s.cursor = await TraceCursor.create(this.trace!, s.name);
          s.cursor.run(to);
        }
        this.pos = to;
        this.showOp();
      } catch (e) {
        this.error.textContent = `${(e as Error).name}: ${(e as Error).message}`;
        this.error.hidden = false;
        this.pause();
      } finally {
        this.busy = false;
      }
      if (this.pending >= 0) {
        const p = this.pending;
        this.pending = -1;
        this.seek(p, this.playing);
      }
    })();
  }

  private showOp(): void {
    // (Not on every frame of play: browsers throttle frequent URL updates.)
    if (!this.playing) stateChanged();
    const t = this.trace;
    if (t === null) {
      this.opLine.replaceChildren(
        el('span', { class: 'muted' }, 'Load a trace to start. Keys: Space play/pause, ← → step, Home/End.'),
      );
      return;
    }
    this.scrub.value = String(this.pos);
    const last = this.pos > 0 ? this.pos - 1 : -1;
    this.opLine.replaceChildren(
      el('span', {}, `op ${this.pos.toLocaleString('en')} / ${t.length.toLocaleString('en')}`),
    );
    if (last >= 0)
      this.opLine.append(
        el('span', { class: 'muted' }, ` · last: line ${t.line[last]} `),
        el('span', { class: 'op' }, opText(t, last)),
      );
    this.cursorOp = this.pos;
    this.chart?.redraw(false, false);
    for (const s of this.sides) {
      const a = s.cursor.alloc;
      const rows: Array<[string, string]> = [
        ['footprint now', bytes(a.footprint())],
        ['live payload now', bytes(s.cursor.payload)],
        ['plotted footprint at this op', bytes(s.series.footprint[this.pos]!)],
        ['failures so far', `${s.cursor.failures}`],
      ];
      s.now.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
      if (s.paged) s.map.set(mapOf(a));
    }
  }
}

/** True when the allocator's memory is buddy pages (a page map can be drawn). */
function hasPages(a: unknown): boolean {
  return a instanceof Kmalloc || a instanceof BuddyByteAllocator;
}

/** The page map of a trace allocator, when it has buddy pages. */
function mapOf(a: unknown): MapData {
  if (a instanceof Kmalloc) {
    // The page tables kmalloc sizes for its maximum heap (3 GiB for a
    // replay) come first and would fill the map: start after them.
    const m = heapMap(a.buddy, { kmalloc: a });
    const first = m.blocks[0];
    if (first !== undefined && first.owner === 'metadata' && m.blocks.length > 1) {
      const skip = first.pages;
      return {
        pages: m.pages - skip,
        pageSize: m.pageSize,
        base: m.base + skip * m.pageSize,
        skipped: skip,
        blocks: m.blocks.slice(1).map((b) => ({ ...b, page: b.page - skip })),
      };
    }
    return m;
  }
  if (a instanceof BuddyByteAllocator) return heapMap(a.buddy, { rawAll: true });
  return { pages: 0, pageSize: 4096, base: 0, blocks: [] };
}
