/**
 * GC view: a ManagedHeap's object graph (nodes, edges, roots) and an
 * incremental collection one small step at a time: white objects turn gray
 * when reached, black when scanned; the sweep frees what stayed white
 * (lecture: "nodes that are reachable from a root are safe").
 */
import uPlot from 'uplot';
import { ManagedHeap, type HeapGraph, type Root } from '../../src/index.js';
import { button, el, fingerprint, presetBar, rng, svg, type View } from './dom.js';
import { Player, playerUrl, restorePlayer, type Preset, type Step } from './player.js';
import { BYTE_INCRS, COUNT_INCRS, byteTick, countTick, ownAxes } from './axis.js';

const defineNode = (heap: ManagedHeap) => heap.defineType('Node', { left: 'ref', right: 'ref', value: 'i32' });
type NodeType = ReturnType<typeof defineNode>;

interface GcState {
  heap: ManagedHeap;
  Node: NodeType;
  names: Map<number, string>;
  byName: Map<string, number>;
  roots: Map<string, Root>;
  /** Objects freed by the collector (drawn as ghosts), with their last edges. */
  freed: Set<number>;
  lastGraph: HeapGraph | null;
  cycleDone: boolean;
  pos: Map<number, [number, number]>;
  history: { step: number[]; heap: number[]; live: number[]; work: number[] };
  layout: 'lecture' | 'auto';
}

const W = 760,
  H = 380;

/** Hand placed, like the lecture's picture: roots on the left, garbage on the right. */
const LECTURE_POS: Record<string, [number, number]> = {
  A: [200, 90],
  B: [330, 50],
  C: [330, 180],
  D: [470, 60],
  E: [200, 260],
  F: [600, 210],
  G: [690, 300],
  H: [640, 90],
};

function graphBytes(g: HeapGraph): number {
  return g.nodes.reduce((s, n) => s + n.size, 0);
}

/** Wraps a step so that it records the stats after it ran. */
function recorded(label: string, apply: (s: GcState) => string): Step<GcState> {
  return {
    label,
    apply: (s) => {
      const g0 = s.heap.graph();
      const before = new Set(g0.nodes.map((n) => n.id));
      const color0 = new Map(g0.nodes.map((n) => [n.id, g0.phase === 'idle' ? 'idle' : n.color]));
      const text = apply(s);
      const g = s.heap.graph();
      placeNodes(s, g);
      const now = new Set(g.nodes.map((n) => n.id));
      for (const id of before) if (!now.has(id)) s.freed.add(id);
      const st = s.heap.stats();
      const h = s.history;
      h.step.push(h.step.length + 1);
      h.heap.push(graphBytes(g));
      h.live.push(st.liveBytes);
      // The collector's work in this step, counted (not timed: one step of
      // a few objects takes microseconds, below what a browser timer can
      // resolve): objects shaded (white -> gray -> black) plus objects freed.
      let work = 0;
      for (const n of g.nodes) {
        const c0 = color0.get(n.id);
        if (c0 !== undefined && c0 !== 'idle' && g.phase !== 'idle' && c0 !== n.color)
          work += n.color === 'black' && c0 === 'white' ? 2 : 1;
        if (c0 === 'idle' && g.phase !== 'idle' && n.color !== 'white') work += n.color === 'black' ? 2 : 1;
      }
      for (const id of before) if (!now.has(id)) work++;
      h.work.push(work);
      return text;
    },
  };
}

type Edge = [string, 'left' | 'right', string];

function doBuild(s: GcState, edges: Edge[], names: string[]): void {
  for (const n of names) {
    const a = s.Node.alloc();
    s.names.set(a, n);
    s.byName.set(n, a);
  }
  for (const [from, f, to] of edges) s.Node.fields[f].set(s.byName.get(from)!, s.byName.get(to)!);
}

function doRoot(s: GcState, name: string, kind: 'handle' | 'global'): void {
  const a = s.byName.get(name)!;
  if (kind === 'handle') s.roots.set(name, s.heap.root(a));
  else s.heap.setGlobal(name, a);
}

function build(edges: Edge[], names: string[]): Step<GcState> {
  return recorded(`allocate ${names.join(', ')}`, (s) => {
    doBuild(s, edges, names);
    return `${names.length} objects allocated and linked (${edges.length} pointers). Nothing is collected yet: allocation only.`;
  });
}

function rootStep(name: string, kind: 'handle' | 'global'): Step<GcState> {
  return recorded(`root ${name} (${kind === 'handle' ? 'local variable' : 'global'})`, (s) => {
    doRoot(s, name, kind);
    return `${name} is now a root (${kind === 'handle' ? 'a pointer held by a local variable' : 'a global'}).`;
  });
}

function dropRoot(name: string): Step<GcState> {
  return recorded(`drop root ${name}`, (s) => {
    const r = s.roots.get(name);
    if (r !== undefined) r.release();
    else s.heap.deleteGlobal(name);
    s.roots.delete(name);
    return `The local variable holding ${name} went out of scope: ${name} is no longer a root.`;
  });
}

function gcStep(budget: number): Step<GcState> {
  return recorded(`collector step (budget ${budget})`, (s) => {
    const phase = s.heap.phase;
    const before = s.heap.graph();
    const done = s.heap.step(budget);
    const after = s.heap.graph();
    if (done) s.cycleDone = true;
    const col = (g: HeapGraph, c: string): string[] =>
      g.nodes.filter((n) => n.color === c).map((n) => s.names.get(n.id) ?? '?');
    if (phase === 'idle') {
      return `A collection starts (mark phase): every object turns white, the roots are shaded gray (on the mark stack), then the collector pops one: ${col(after, 'gray').join(', ') || 'none'} gray now.`;
    }
    if (done) {
      const freed = before.nodes
        .filter((n) => !after.nodes.some((m) => m.id === n.id))
        .map((n) => s.names.get(n.id) ?? '?');
      return `Mark stack empty: the white objects are unreachable. The sweep frees ${freed.join(', ') || 'nothing'}; this collection (mark, then sweep) is finished.`;
    }
    const blackened = col(after, 'black').filter((n) => !col(before, 'black').includes(n));
    return `Pop a gray object, scan its fields, shade its white children gray: ${blackened.join(', ') || '—'} now black; gray: ${col(after, 'gray').join(', ') || 'none'}.`;
  });
}

const collectAll = recorded('collect() (stop the world)', (s) => {
  const before = s.heap.graph().nodes.length;
  s.heap.collect();
  return `A whole collection at once (mark, then sweep): ${before - s.heap.graph().nodes.length} object(s) freed.`;
});

const LECTURE: Array<Step<GcState>> = [
  build(
    [
      ['A', 'left', 'B'],
      ['A', 'right', 'C'],
      ['B', 'left', 'D'],
      ['E', 'left', 'C'],
      ['F', 'left', 'G'],
      ['G', 'left', 'F'],
      ['H', 'left', 'D'],
    ],
    ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'],
  ),
  rootStep('A', 'handle'),
  rootStep('E', 'handle'),
  ...Array.from({ length: 6 }, () => gcStep(1)),
  dropRoot('A'),
  gcStep(1),
  gcStep(1),
  gcStep(1),
];

function randomGraph(n: number, seed: number): Array<Step<GcState>> {
  const r = rng(seed);
  const names = Array.from({ length: n }, (_, i) => `${i}`);
  const edges: Edge[] = [];
  // Mostly a tree hanging from the roots (so marking has somewhere to
  // spread), some objects left out, and a few extra pointers (shared
  // children, cycles, garbage pointing at live objects).
  const free: Array<[string, 'left' | 'right']> = [
    ['0', 'left'],
    ['0', 'right'],
    ['1', 'left'],
    ['1', 'right'],
    ['2', 'left'],
    ['2', 'right'],
  ];
  for (let i = 3; i < n; i++) {
    if (r() < 0.75 && free.length > 0) {
      const [p, f] = free.splice(Math.floor(r() * Math.min(free.length, 8)), 1)[0]!;
      edges.push([p, f, `${i}`]);
    }
    free.push([`${i}`, 'left'], [`${i}`, 'right']);
  }
  for (let j = 0; j < n / 5 && free.length > 0; j++) {
    const [p, f] = free.splice(Math.floor(r() * free.length), 1)[0]!;
    edges.push([p, f, `${Math.floor(r() * n)}`]);
  }
  const setup = recorded(`allocate ${n} objects, link them, root 0, 1 and 2`, (s) => {
    doBuild(s, edges, names);
    doRoot(s, '0', 'handle');
    doRoot(s, '1', 'handle');
    doRoot(s, '2', 'global');
    return `${n} objects with ${edges.length} pointers at random; objects 0 and 1 are held by local variables, 2 by a global.`;
  });
  return [setup, ...Array.from({ length: 13 }, () => gcStep(4))];
}

function placeNodes(s: GcState, g: HeapGraph): void {
  if (s.layout === 'lecture') {
    for (const n of g.nodes)
      if (!s.pos.has(n.id)) s.pos.set(n.id, LECTURE_POS[s.names.get(n.id) ?? ''] ?? [W / 2, H / 2]);
    return;
  }
  const fresh = g.nodes.filter((n) => !s.pos.has(n.id));
  if (fresh.length === 0) return;
  // Layers by BFS depth from the roots; unreachable objects in the right-hand column group.
  const adj = new Map<number, number[]>();
  for (const e of g.edges) adj.set(e.from, [...(adj.get(e.from) ?? []), e.to]);
  const depth = new Map<number, number>();
  let q = g.roots.map((r) => r.target);
  for (const t of q) depth.set(t, 0);
  while (q.length > 0) {
    const nq: number[] = [];
    for (const a of q)
      for (const b of adj.get(a) ?? [])
        if (!depth.has(b)) {
          depth.set(b, depth.get(a)! + 1);
          nq.push(b);
        }
    q = nq;
  }
  const maxD = Math.max(0, ...depth.values());
  const layers = new Map<number, number[]>();
  const garbage: number[] = [];
  for (const n of fresh) {
    const d = depth.get(n.id);
    if (d === undefined) garbage.push(n.id);
    else layers.set(d, [...(layers.get(d) ?? []), n.id]);
  }
  // Unreachable objects: a grid at the right, under a label.
  const gcols = Math.ceil(garbage.length / 8);
  const gx = W - 20 - gcols * 38;
  garbage.forEach((id, i) => s.pos.set(id, [gx + Math.floor(i / 8) * 38 + 14, 50 + (i % 8) * 40]));
  // Reachable objects: one column per BFS depth.
  const right = garbage.length > 0 ? gx - 40 : W - 30;
  for (const [d, ids] of layers) {
    ids.forEach((id, i) => {
      const x = 110 + (d * (right - 110)) / Math.max(1, maxD);
      const y = 30 + ((i + 0.5) * (H - 50)) / ids.length;
      s.pos.set(id, [x + (i % 2) * 14, y]);
    });
  }
}

/** The GC view. */
export class GcView implements View {
  readonly id = 'gc';
  readonly title = 'GC';
  readonly el: HTMLElement;
  private layout: 'lecture' | 'auto' = 'lecture';
  private readonly player: Player<GcState>;
  private readonly graph = el('div', { 'data-testid': 'gc-graph' });
  private readonly phase = el('span', { class: 'phase', 'data-testid': 'gc-phase' });
  private readonly stats = el('dl', { class: 'stats', 'data-testid': 'gc-stats' });
  private readonly chartBox = el('div', { class: 'chart' });
  private chart: uPlot | null = null;
  private readonly presets: Preset[] = [
    {
      id: 'lecture',
      name: 'Lecture: reachability (roots, reachable, unreachable, the F ↔ G loop)',
      load: () => {
        this.layout = 'lecture';
        this.player.load(LECTURE, 'lecture');
      },
    },
    {
      id: 'random40',
      name: 'Random graph, 40 objects',
      load: () => {
        this.layout = 'auto';
        this.player.load(randomGraph(40, 3), 'random40');
      },
    },
  ];

  constructor() {
    this.player = new Player<GcState>(
      {
        create: () => {
          const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false });
          return {
            heap,
            Node: defineNode(heap),
            names: new Map(),
            byName: new Map(),
            roots: new Map(),
            freed: new Set(),
            lastGraph: null,
            cycleDone: false,
            pos: new Map(),
            history: { step: [], heap: [], live: [], work: [] },
            layout: this.layout,
          };
        },
        render: (s) => this.render(s),
      },
      'gc',
    );
    this.el = el(
      'section',
      { class: 'view', id: 'view-gc' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Garbage collection: mark and sweep'),
        el(
          'p',
          { class: 'lede' },
          'Objects reachable from a root are safe; what cannot be reached is garbage. Marking spreads from the roots (white → gray → black); the sweep frees what stayed white.',
        ),
        presetBar('gc', this.presets),
        el(
          'div',
          { class: 'row' },
          button('collector step', () => this.player.push(gcStep(1))),
          button('collect()', () => this.player.push(collectAll)),
        ),
      ),
      el(
        'div',
        { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el, el('h3', {}, 'heap.stats()'), this.stats),
        el(
          'div',
          { class: 'col' },
          el('div', { class: 'row' }, el('b', {}, 'phase: '), this.phase),
          this.graph,
          el(
            'div',
            { class: 'legend' },
            el(
              'span',
              { class: 'sw' },
              el('i', { style: 'background:#fff;border-color:#8792a5' }),
              'white: not reached (yet)',
            ),
            el('span', { class: 'sw' }, el('i', { style: 'background:#9aa3b2' }), 'gray: reached, on the mark stack'),
            el('span', { class: 'sw' }, el('i', { style: 'background:#1f2633' }), 'black: scanned (or idle: live)'),
            el(
              'span',
              { class: 'sw' },
              el('i', { style: 'background:#fff;border:1.5px dashed #e0a0a0' }),
              'freed by the sweep',
            ),
            el('span', { class: 'sw' }, el('i', { style: 'background:#2f6fde;height:3px' }), 'root'),
          ),
          el('h3', {}, "Heap bytes, live bytes after the last sweep, and the collector's work per step"),
          this.chartBox,
        ),
      ),
    );
    this.presets[0]!.load();
  }

  urlState(): Record<string, string> {
    return playerUrl(this.player);
  }

  restore(q: URLSearchParams): void {
    restorePlayer(this.player, this.presets, q);
  }

  shown(): void {
    this.player.goto(this.player.position);
  }

  key(e: KeyboardEvent): boolean {
    return this.player.key(e);
  }

  private render(s: GcState): void {
    const g = s.heap.graph();
    placeNodes(s, g);
    if (s.lastGraph === null) s.lastGraph = g;
    const r = g.nodes.length > 20 ? 11 : 20;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'gc-svg', role: 'img', 'aria-label': 'object graph' });
    root.append(
      svg(
        'defs',
        {},
        svg(
          'marker',
          { id: 'garrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' },
          svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7a8598' }),
        ),
        svg(
          'marker',
          { id: 'rarrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' },
          svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#2f6fde' }),
        ),
      ),
    );
    const line = (a: [number, number], b: [number, number], cls: string, marker: string): SVGElement => {
      const dx = b[0] - a[0],
        dy = b[1] - a[1];
      const len = Math.hypot(dx, dy) || 1;
      const ux = dx / len,
        uy = dy / len;
      // A slight curve, so that A->B and B->A do not overlap.
      const mx = (a[0] + b[0]) / 2 - uy * 14,
        my = (a[1] + b[1]) / 2 + ux * 14;
      return svg('path', {
        d: `M ${a[0] + ux * r} ${a[1] + uy * r} Q ${mx} ${my} ${b[0] - ux * (r + 2)} ${b[1] - uy * (r + 2)}`,
        class: cls,
        'marker-end': marker,
      });
    };
    // Ghosts of freed objects.
    for (const id of s.freed) {
      const p = s.pos.get(id);
      if (p === undefined) continue;
      root.append(svg('circle', { cx: p[0], cy: p[1], r, class: 'gnode freed' }));
      root.append(svg('text', { x: p[0], y: p[1] + 4, class: 'gnode-label freed' }, s.names.get(id) ?? ''));
    }
    for (const e of g.edges) {
      const a = s.pos.get(e.from),
        b = s.pos.get(e.to);
      if (a !== undefined && b !== undefined) root.append(line(a, b, 'gedge', 'url(#garrow)'));
    }
    g.roots.forEach((rt, i) => {
      const b = s.pos.get(rt.target);
      if (b === undefined) return;
      const label =
        rt.kind === 'global'
          ? `global ${rt.name ?? ''}`
          : rt.kind === 'stack'
            ? 'stack'
            : `local ${s.names.get(rt.target) ?? ''}`;
      const a: [number, number] = [40, b[1] + (i % 2) * 6];
      root.append(svg('text', { x: 4, y: a[1] - 8, class: 'groot' }, label));
      root.append(line(a, b, 'groot-edge', 'url(#rarrow)'));
    });
    for (const n of g.nodes) {
      const p = s.pos.get(n.id)!;
      const c = svg('circle', {
        cx: p[0],
        cy: p[1],
        r,
        class: `gnode ${n.color}`,
        'data-name': s.names.get(n.id) ?? '',
        'data-color': n.color,
      });
      c.append(
        svg('title', {}, `${s.names.get(n.id) ?? ''}: ${n.type} at 0x${n.id.toString(16)}, ${n.size} B, ${n.color}`),
      );
      root.append(
        c,
        svg(
          'text',
          { x: p[0], y: p[1] + 4, class: `gnode-label ${n.color !== 'white' ? 'dark' : ''}` },
          s.names.get(n.id) ?? '',
        ),
      );
    }
    if (g.nodes.length === 0 && s.freed.size === 0) {
      root.append(
        svg(
          'text',
          { x: W / 2, y: H / 2 - 10, class: 'gc-hint', 'data-testid': 'gc-hint' },
          'The heap is empty: no objects yet.',
        ),
        svg(
          'text',
          { x: W / 2, y: H / 2 + 14, class: 'gc-hint small' },
          'Press Step ▶ (or →) to allocate the objects, or pick a preset above.',
        ),
      );
    }
    this.graph.replaceChildren(root);
    this.phase.textContent = g.phase;
    this.phase.className = `phase ${g.phase}`;
    const st = s.heap.stats();
    const rows: Array<[string, string]> = [
      ['objects', `${g.nodes.length}`],
      ['heap bytes', `${graphBytes(g)}`],
      ['live bytes (last sweep)', `${st.liveBytes}`],
      ['collections', `${st.collections}`],
      ['objects freed', `${st.objectsFreed}`],
      ['pauses', `${st.pauses.count}`],
      ['longest pause', pauseText(st.pauses.maxMs, st.pauses.count)],
    ];
    this.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    this.drawChart(s);
    this.el.dataset.sig = fingerprint(
      JSON.stringify([g.phase, g.nodes.map((n) => [n.id, n.color]), g.roots.map((r) => r.target), g.edges.length]),
    );
  }

  private drawChart(s: GcState): void {
    const h = s.history;
    const data: uPlot.AlignedData = [h.step, h.heap, h.live, h.work];
    const width = Math.max(300, this.chartBox.clientWidth || 600);
    if (this.chart === null || this.chart.width !== width) {
      this.chart?.destroy();
      const own = ownAxes(
        [
          { scale: 'x', side: 2, title: 'step', incrs: COUNT_INCRS, text: countTick },
          { scale: 'y', side: 3, title: 'bytes', incrs: BYTE_INCRS, text: byteTick },
          { scale: 'work', side: 1, title: 'objects', incrs: COUNT_INCRS, text: countTick },
        ],
        this.chartBox,
      );
      this.chart = new uPlot(
        {
          width,
          height: 180,
          legend: { show: true },
          scales: {
            x: { time: false },
            y: { range: (_u, _min, max) => [0, Math.max(1024, max * 1.1)] },
            work: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] },
          },
          axes: own.axes,
          hooks: { draw: [own.draw] },
          series: [
            { label: 'step' },
            { label: 'heap bytes', stroke: '#3f7dc4', width: 2 },
            { label: 'live after sweep', stroke: '#2fb380', width: 2 },
            {
              label: 'objects shaded + freed',
              stroke: '#e0783a',
              scale: 'work',
              paths: uPlot.paths.bars!({ size: [0.5, 20] }),
              fill: 'rgba(224,120,58,.35)',
            },
          ],
        },
        data,
        this.chartBox,
      );
    } else {
      this.chart.setData(data);
    }
  }
}

/**
 * A pause figure at the precision a browser can give it: its timer is
 * coarsened (0.1 ms, jittered), so a pause under 1 ms is reported as such,
 * not as a number of microseconds that is noise.
 */
function pauseText(maxMs: number, count: number): string {
  if (count === 0) return '—';
  if (maxMs < 1) return '< 1 ms (too short to time)';
  return `≈ ${maxMs.toPrecision(2)} ms`;
}
