/**
 * Arena view: the chunks of an Arena byte by byte, its allocations, the bump
 * pointer (`top`), and marks / rewinds / reset (lecture: "Arena Allocator").
 */
import { Arena } from '../../src/index.js';
import { button, el, fingerprint, presetBar, svg, type View } from './dom.js';
import { NoChange, Player, playerUrl, restorePlayer, type Preset, type Step } from './player.js';

interface Alloc {
  addr: number;
  size: number;
  name: string;
  seq: number;
}

interface ArenaState {
  arena: Arena;
  allocs: Alloc[];
  marks: Array<{ name: string; mark: number; seq: number }>;
  seq: number;
  fresh: number;
}

type Make = () => Arena;

function alloc(name: string, size: number, align = 8): Step<ArenaState> {
  return {
    label: `alloc ${name} (${size} B${align !== 8 ? `, align ${align}` : ''})`,
    apply: (s) => {
      const before = s.arena.chunkList().filter((c) => c.kind === 'chain').length;
      const top = s.arena.mark() % 2 ** 32;
      const addr = s.arena.alloc(size, align);
      s.allocs.push({ addr, size, name, seq: ++s.seq });
      s.fresh = addr;
      const after = s.arena.chunkList().filter((c) => c.kind === 'chain').length;
      const pad = after === before ? addr - top : 0;
      const moved = after > before ? ' It did not fit in the current chunk: the arena moved on to a new chunk.' : '';
      return `alloc(${size}): ${name} = old top${pad > 0 ? ` + ${pad} B of alignment padding` : ''}; bump top by ${size}. O(1), no metadata per allocation.${moved}`;
    },
  };
}

function mark(name: string): Step<ArenaState> {
  return {
    label: `mark ${name}`,
    apply: (s) => {
      s.marks.push({ name, mark: s.arena.mark(), seq: s.seq });
      return `mark(): ${name} remembers where top is now.`;
    },
  };
}

function rewind(name: string): Step<ArenaState> {
  return {
    label: `rewind to ${name}`,
    apply: (s) => {
      const m = s.marks.find((x) => x.name === name);
      if (m === undefined) throw new Error(`no mark ${name}`);
      if (s.arena.mark() === m.mark) throw new NoChange(`top is at ${name} already.`);
      s.arena.rewind(m.mark);
      const gone = s.allocs.filter((a) => a.seq > m.seq);
      s.allocs = s.allocs.filter((a) => a.seq <= m.seq);
      s.marks = s.marks.filter((x) => x.seq <= m.seq);
      return `rewind(${name}): top goes back to the mark; ${gone.map((a) => a.name).join(', ') || 'nothing'} freed at once.`;
    },
  };
}

const reset: Step<ArenaState> = {
  label: 'clear (reset)',
  apply: (s) => {
    if (s.arena.used === 0 && s.allocs.length === 0 && s.marks.length === 0)
      throw new NoChange('the arena is empty already.');
    s.arena.reset();
    const n = s.allocs.length;
    s.allocs = [];
    s.marks = [];
    const spare = s.arena.chunkList().filter((c) => c.kind === 'spare').length;
    const same =
      spare === 0
        ? ' It looks the same as when we started.'
        : ` Chunk 0 is current again; the other ${spare} chunk${spare === 1 ? '' : 's'} stay${spare === 1 ? 's' : ''} as spare${spare === 1 ? '' : 's'} (the Memory grew and cannot shrink) and will be reused, in order, once chunk 0 is full. So the picture is not the one we started with: the bytes are free, the chunks are kept.`;
    return `reset(): top goes back to the start of the first chunk: all ${n} allocations freed at once.${same}`;
  },
};

const PRESETS: Array<[string, string, Make, Array<Step<ArenaState>>]> = [
  [
    'lecture',
    'Lecture: alloc 4, alloc 16, clear',
    () => new Arena({ bytes: 32 }),
    [alloc('a', 4, 1), alloc('b', 16, 1), reset],
  ],
  [
    'alignment',
    'Alignment: 8-byte aligned allocations',
    () => new Arena({ bytes: 64 }),
    [alloc('a', 4), alloc('b', 16), alloc('c', 3), alloc('d', 8), reset],
  ],
  [
    'growing',
    'Growing arena, marks and rewind',
    () => new Arena({ bytes: 64, maxBytes: 512 }),
    [
      alloc('a', 24),
      alloc('b', 24),
      mark('m1'),
      alloc('c', 40),
      alloc('d', 16),
      mark('m2'),
      alloc('e', 32),
      rewind('m2'),
      rewind('m1'),
      alloc('f', 8),
      alloc('g', 100),
      reset,
    ],
  ],
];

const CELL = 14;

/** The arena view. */
export class ArenaView implements View {
  readonly id = 'arena';
  readonly title = 'Arena';
  readonly el: HTMLElement;
  private make: Make = PRESETS[0]![2];
  private readonly player: Player<ArenaState>;
  private readonly chunks = el('div', { class: 'chunks', 'data-testid': 'arena-chunks' });
  private readonly stats = el('dl', { class: 'stats', 'data-testid': 'arena-stats' });
  private readonly sizeIn = el('input', {
    type: 'number',
    min: '1',
    max: '256',
    value: '8',
    'aria-label': 'bytes',
    'data-testid': 'arena-n',
  });
  private readonly presets: Preset[] = PRESETS.map(([id, name, make, steps]) => ({
    id,
    name,
    load: () => {
      this.make = make;
      this.player.load(steps, id);
    },
  }));

  constructor() {
    this.player = new Player<ArenaState>(
      {
        create: () => ({ arena: this.make(), allocs: [], marks: [], seq: 0, fresh: -1 }),
        render: (s) => this.render(s),
      },
      'arena',
    );
    let n = 0;
    this.el = el(
      'section',
      { class: 'view', id: 'view-arena' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Arena (bump) allocator'),
        el(
          'p',
          { class: 'lede' },
          'Allocation bumps a pointer; there is no per-object free: reset() or rewind(mark) frees everything after a point at once.',
        ),
        presetBar('arena', this.presets),
        el(
          'div',
          { class: 'row' },
          el('label', {}, 'alloc ', this.sizeIn, ' bytes '),
          button('alloc', () => this.player.push(alloc(`x${++n}`, Number(this.sizeIn.value)))),
          button('mark', () => this.player.push(mark(`m${++n}`))),
          button(
            'rewind to last mark',
            () => {
              const m = this.player.current.marks.at(-1);
              this.player.push(
                m !== undefined
                  ? rewind(m.name)
                  : {
                      label: 'rewind',
                      apply: () => {
                        throw new NoChange('no mark to rewind to: press mark first.');
                      },
                    },
              );
            },
            { 'data-testid': 'arena-rewind' },
          ),
          button('reset', () => this.player.push(reset)),
        ),
      ),
      el(
        'div',
        { class: 'grid2' },
        el('div', { class: 'col' }, this.player.el, el('h3', {}, 'arena.stats()'), this.stats),
        el(
          'div',
          { class: 'col' },
          this.chunks,
          el(
            'div',
            { class: 'legend' },
            el('span', { class: 'sw' }, el('i', { style: 'background:#3f7dc4' }), 'allocation'),
            el('span', { class: 'sw' }, el('i', { style: 'background:#f4b942' }), 'alignment padding / waste'),
            el('span', { class: 'sw' }, el('i', { style: 'background:#fff' }), 'free (above top)'),
            el('span', { class: 'sw' }, el('i', { style: 'background:#c0392b;height:4px' }), 'top (bump pointer)'),
            el('span', { class: 'sw' }, el('i', { style: 'background:#2fb380;height:4px' }), 'mark'),
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
    return playerUrl(this.player);
  }

  restore(q: URLSearchParams): void {
    restorePlayer(this.player, this.presets, q);
  }

  private render(s: ArenaState): void {
    const list = s.arena.chunkList();
    const cur = list.filter((c) => c.kind === 'chain').length - 1;
    const cards = list.map((c, ci) => {
      const size = c.end - c.data;
      // A small chunk gets half-rows, so its bytes stay big enough to read on a narrow screen.
      const BYTES_PER_ROW = size <= 64 ? 32 : 64;
      const rows = Math.ceil(size / BYTES_PER_ROW);
      const cols = Math.min(size, BYTES_PER_ROW);
      const padL = 46,
        padT = 26,
        rowH = CELL + 28;
      const W = padL + cols * CELL + 40,
        H = padT + rows * rowH + 6;
      const g = svg('svg', {
        viewBox: `0 0 ${W} ${H}`,
        role: 'img',
        'aria-label': `chunk ${ci}`,
        style: `max-width:${Math.round(W * 1.2)}px`,
      });
      const xy = (off: number): [number, number] => [
        padL + (off % BYTES_PER_ROW) * CELL,
        padT + Math.floor(off / BYTES_PER_ROW) * rowH,
      ];
      const span = (from: number, to: number, fill: string, cls: string, title: string): void => {
        let o = from;
        while (o < to) {
          const [x, y] = xy(o);
          const len = Math.min(to - o, BYTES_PER_ROW - (o % BYTES_PER_ROW));
          const r = svg('rect', { x, y, width: len * CELL, height: CELL, fill, class: cls });
          r.append(svg('title', {}, title));
          g.append(r);
          o += len;
        }
      };
      // Bytes (grid), then the used range as padding, then the allocations on top.
      for (let o = 0; o < size; o++) {
        const [x, y] = xy(o);
        g.append(svg('rect', { x, y, width: CELL, height: CELL, fill: '#fff', class: 'abyte' }));
      }
      if (c.used > 0) span(0, Math.min(c.used, size), '#f4b942', 'apad', 'padding / waste');
      // A chunk the arena moved on from: its tail is waste until a rewind or reset.
      if (ci < cur && c.used < size) span(c.used, size, '#f4b942', 'apad', 'waste: did not fit the next allocation');
      for (const a of s.allocs) {
        if (a.addr < c.data || a.addr >= c.end) continue;
        const fresh = a.addr === s.fresh;
        span(
          a.addr - c.data,
          a.addr - c.data + a.size,
          fresh ? '#2a63a8' : '#3f7dc4',
          'aalloc',
          `${a.name}: ${a.size} B at ${a.addr}`,
        );
        const [x, y] = xy(a.addr - c.data);
        g.append(svg('text', { x: x + 3, y: y + CELL - 2, class: 'ptr', fill: '#fff', 'font-weight': '700' }, a.name));
      }
      for (let r = 0; r < rows; r++)
        g.append(
          svg('text', { x: 2, y: padT + r * rowH + CELL - 1, class: 'ptr', fill: '#6b7485' }, `+${r * BYTES_PER_ROW}`),
        );
      // Pointers: start, top (current chunk), end; marks.
      const pointer = (off: number, label: string, color: string, above: boolean): void => {
        const [x, y] = off >= size ? [padL + (((size - 1) % BYTES_PER_ROW) + 1) * CELL, xy(size - 1)[1]] : xy(off);
        g.append(
          svg('line', {
            x1: x,
            y1: above ? y - 8 : y,
            x2: x,
            y2: above ? y + CELL : y + CELL + 8,
            stroke: color,
            'stroke-width': 2.5,
          }),
        );
        g.append(
          svg(
            'text',
            { x: x + 2, y: above ? y - 10 : y + CELL + 18, class: 'ptr', fill: color, 'font-weight': '600' },
            label,
          ),
        );
      };
      if (ci === cur) pointer(c.used, `top`, '#c0392b', false);
      // Labels below the bytes never touch: 'start' only when 'top' is far enough from it.
      if (ci !== cur || c.used * CELL >= 44) pointer(0, 'start', '#6b7485', false);
      if (c.used < size - 4) pointer(size, 'end', '#6b7485', false);
      // Marks at the same place share one label (m1 = m2).
      const at = new Map<number, string[]>();
      for (const m of s.marks) {
        const addr = m.mark % 2 ** 32;
        if (addr >= c.data && addr <= c.end && (ci === cur || addr < c.end))
          at.set(addr, [...(at.get(addr) ?? []), m.name]);
      }
      for (const [addr, names] of at) pointer(addr - c.data, names.join(' = '), '#2fb380', true);
      return el(
        'div',
        { class: 'chunk', 'data-testid': `arena-chunk-${ci}` },
        el(
          'div',
          { class: 'meta mono muted' },
          `chunk ${ci} · header at ${c.address} · data ${c.data}–${c.end} (${size} B) · ${c.used} B used · ${c.kind}${ci === cur ? ' · current' : ''}`,
        ),
        g,
      );
    });
    this.chunks.replaceChildren(...cards);
    const st = s.arena.stats();
    const rows: Array<[string, string]> = [
      ['mode', st.mode],
      ['used', `${st.used} B`],
      ['capacity', `${st.capacity} B`],
      ['chunks', `${st.chunks}`],
      ['available', `${st.available} B`],
      ['waste', `${st.waste} B`],
    ];
    this.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    this.el.dataset.sig = fingerprint(
      JSON.stringify([list, s.allocs.map((a) => [a.name, a.addr]), s.marks.map((m) => m.name)]),
    );
  }
}
