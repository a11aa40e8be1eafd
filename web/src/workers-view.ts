/**
 * Workers view: one Kmalloc heap in a SharedArrayBuffer, used by 2 to 4 real
 * Web Workers at once. Per worker a lane (its heap slot, counters, ops/s,
 * time in heap calls, how often it found the heap lock taken), the heap's
 * pages with every live block in the colour of the worker that allocated
 * it, blocks handed between workers and remote frees travelling back to
 * their owner, the heap lock's holder sampled at each frame; a worker
 * terminated while it holds the lock, and `Kmalloc.recover` from the page.
 *
 * Data: workers/pool.ts (the workers and their counters) and
 * workers/source.ts (the heap; the only module that knows its layout).
 */
import { button, bytes, el, hex, presetBar, svg, type View } from './dom.js';
import { stateChanged } from './url.js';
import { HeapCanvas, LANE_COLORS } from './workers/heap-canvas.js';
import { type CheckReport, type LaneStats, WORKLOADS, WorkerPool, type WorkloadId } from './workers/pool.js';
import {
  OP_ALLOC,
  OP_FREE,
  OP_HAND,
  OP_IDLE,
  OP_REMOTE_FREE,
  S_DEAD,
  S_FAILED,
  S_HOLDING,
  S_IN_HEAP,
  S_PARKED,
  S_RUNNING,
  S_STARTING,
} from './workers/protocol.js';

type Speed = 'slow' | 'normal' | 'fast';
const DELAY: Record<Speed, number> = { slow: 900, normal: 40, fast: 0 };

interface Config {
  preset: string;
  lanes: number;
  workload: WorkloadId;
  speed: Speed;
}

const PRESETS: Array<Config & { name: string }> = [
  { preset: 'handoff', name: 'Producer/consumer · 3 workers', lanes: 3, workload: 'handoff', speed: 'normal' },
  { preset: 'local', name: 'Thread-local · 2 workers', lanes: 2, workload: 'local', speed: 'normal' },
  { preset: 'mixed', name: 'Mixed · 4 workers, full speed', lanes: 4, workload: 'mixed', speed: 'fast' },
  { preset: 'follow', name: 'One op at a time · 2 workers', lanes: 2, workload: 'handoff', speed: 'slow' },
];

const WORKLOAD_TEXT: Record<WorkloadId, string> = {
  local: 'thread-local: each worker frees its own blocks',
  handoff: 'producer/consumer: each block is handed to the next worker, which frees it',
  mixed: 'mixed: thread-local, one free in four handed to another worker',
};

/** A dot travelling between two lanes. */
interface Dot {
  from: number;
  to: number;
  t0: number;
  kind: 'hand' | 'remote';
  node: SVGCircleElement;
}

interface LaneDom {
  root: HTMLElement;
  title: HTMLElement;
  state: HTMLElement;
  fields: Map<string, HTMLElement>;
  last: HTMLElement;
  terminate: HTMLButtonElement;
  recover: HTMLButtonElement;
}

const FIELDS: Array<[string, string, string]> = [
  ['ops', 'ops', 'Operations done (one alloc, free, hand-over or remote free each)'],
  ['rate', 'ops/s', 'Operations per second over the last half second of running'],
  ['allocs', 'allocs', 'kmalloc calls'],
  ['frees', 'own frees', 'kfree of its own blocks'],
  [
    'live',
    'live (its record)',
    "Blocks it allocated that it believes are live: its own count, which hears of others' frees of its blocks through their notices",
  ],
  ['sent', 'remote frees sent', "kfree of another worker's block (a block handed to it)"],
  ['recv', 'remote frees received', 'Notices collected: its blocks that other workers freed'],
  ['waiting', 'notices waiting', 'Remote frees of its blocks not collected yet'],
  [
    'heap',
    'in heap calls',
    'Time inside kmalloc / kfree (lock wait + work), summed over calls timed one by one (the browser timer has 5 µs steps: an estimate), and its share of the time running',
  ],
  [
    'taken',
    'found lock taken',
    'Heap calls that found the heap lock held by another thread (peeked just before the call)',
  ],
  ['pages', 'own pages', 'Size-class pages this worker owns (read from the page descriptors: Kmalloc.pageOwner)'],
  [
    'longest',
    'longest call',
    'The longest single kmalloc / kfree, lock wait included (long ones are waits: another worker held the lock)',
  ],
];

export class WorkersView implements View {
  readonly id = 'workers';
  readonly title = 'Workers';
  readonly el: HTMLElement;
  private cfg: Config = { ...PRESETS[0]! };
  private pool: WorkerPool | null = null;
  private starting: Promise<void> | null = null;
  private wanted = '';
  private userPaused = false;
  private readonly isolated = typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated === true;
  private readonly lanesBox = el('div', { class: 'wlanes', 'data-testid': 'workers-lanes' });
  private readonly overlay = svg('svg', { class: 'wflight', 'aria-hidden': 'true' });
  private readonly lanesWrap: HTMLElement;
  private lanes: LaneDom[] = [];
  private readonly map: HeapCanvas;
  /** Slow mode: what each worker just did, explained. */
  private readonly now = el('div', { class: 'wnow', 'data-testid': 'workers-now', hidden: '' });
  private nowOps = -1;
  private readonly narrative = el('div', {
    class: 'narrative',
    'data-testid': 'workers-narrative',
    'aria-live': 'polite',
  });
  private readonly checkOut = el('div', { class: 'wcheck', 'data-testid': 'workers-check-result' });
  private readonly lockBox = el('dl', { class: 'stats', 'data-testid': 'workers-lock' });
  private readonly status = el('span', { class: 'counter', 'data-testid': 'workers-status' });
  private readonly runBtn: HTMLButtonElement;
  private readonly count: HTMLSelectElement;
  private readonly workload: HTMLSelectElement;
  private readonly speed: HTMLSelectElement;
  private dots: Dot[] = [];
  private lastSent: number[][] = [];
  private lastHanded: number[] = [];
  private samples = 0;
  private held: number[] = [];
  private copyMs = 0;
  private lastPicture = 0;
  private frame = 0;
  private readonly mapNote = el('p', { class: 'notice', 'data-testid': 'workers-map-note', hidden: '' });
  /** Pictures missed in a row (the lock stayed taken, or a torn copy). */
  private missed = 0;
  /** The workers' total ops when the last picture was taken. */
  private pictureOps = -1;
  /** Pages owned per worker slot, from the last picture (null: none yet). */
  private ownPages: Map<number, number> | null = null;

  constructor() {
    this.map = new HeapCanvas(
      (lane) => this.laneName(lane),
      (slot) => this.pool?.laneOfSlot(slot) ?? -1,
    );
    const sel = (tid: string, label: string, opts: Array<[string, string]>): HTMLSelectElement =>
      el('select', { 'data-testid': tid, 'aria-label': label }, ...opts.map(([v, t]) => el('option', { value: v }, t)));
    this.count = sel('workers-count', 'workers', [
      ['2', '2 workers'],
      ['3', '3 workers'],
      ['4', '4 workers'],
    ]);
    this.workload = sel(
      'workers-workload',
      'workload',
      (Object.keys(WORKLOADS) as WorkloadId[]).map((w) => [
        w,
        w === 'handoff' ? 'producer/consumer' : w === 'local' ? 'thread-local' : 'mixed',
      ]),
    );
    this.speed = sel('workers-speed', 'speed', [
      ['slow', 'slow (one op a second)'],
      ['normal', 'normal (25 ops/s each)'],
      ['fast', 'full speed'],
    ]);
    this.count.addEventListener('change', () =>
      this.configure({ ...this.cfg, preset: 'custom', lanes: Number(this.count.value) }),
    );
    this.workload.addEventListener('change', () =>
      this.configure({ ...this.cfg, preset: 'custom', workload: this.workload.value as WorkloadId }),
    );
    this.speed.addEventListener('change', () => {
      this.cfg = { ...this.cfg, speed: this.speed.value as Speed };
      this.pool?.setDelay(DELAY[this.cfg.speed]);
      stateChanged();
    });
    this.runBtn = button('▶ Run', () => this.toggleRun(), {
      'data-testid': 'workers-run',
      title: 'Run / pause (Space)',
    });
    this.lanesWrap = el('div', { class: 'wlanes-wrap' }, this.lanesBox, this.overlay);
    const explain = el(
      'div',
      { class: 'wexplain' },
      el('h3', {}, 'What you see'),
      el(
        'p',
        {},
        'Every worker joined the heap with ',
        el('code', {}, 'Kmalloc.attach(memory)'),
        ' and got a ',
        el('b', {}, 'slot'),
        ' (a number in the heap header; the page, which made the heap, is slot 0). Each allocates small blocks from size-class pages of its own (framed in its colour), and the medium and large blocks from what they all share. A page of its own holds at least 64 blocks, and each worker keeps one empty page per size class as a spare: on this small heap most pages belong to one worker each, with few blocks live in them (the price of not taking a lock).',
      ),
      el(
        'p',
        {},
        el('b', {}, 'The lock. '),
        'Each worker allocates sizes up to 512 B from size-class pages of its own (framed in its colour on the map), with plain reads and writes: no lock. The heap lock, a word in the buffer taken with ',
        el('code', {}, 'Atomics.compareExchange'),
        ' and naming its holder, is taken only for what the workers share: a new page from the buddy, the medium (TLSF) and large blocks. A worker that finds it taken spins a little, then sleeps in ',
        el('code', {}, 'Atomics.wait'),
        ' until the holder lets go. That is why workers sometimes wait: the more of them, and the more they need shared pages, the more often one finds the lock taken.',
      ),
      el(
        'p',
        {},
        el('b', {}, 'A remote free '),
        "is a worker freeing a block another worker allocated (in producer/consumer, every free is one). A block on another worker's page is not put back on that page's lists (only the owner touches them): it goes on the page's ",
        el('code', {}, 'thread_free'),
        ' list with one compareExchange, and the owner takes the whole list back with one exchange when its own lists run dry. The orange dot is that block travelling back to its owner.',
      ),
      el(
        'p',
        {},
        el('b', {}, 'A worker that dies '),
        'without detaching may hold the lock: everyone else then waits for ever. ',
        el('code', {}, 'Kmalloc.recover(memory, slot)'),
        ', called by the thread that saw it die, breaks its lock and frees its slot. The blocks it allocated stay allocated: the heap cannot know whether other workers still use them.',
      ),
    );
    this.el = el(
      'section',
      { class: 'view', id: 'view-workers' },
      el(
        'div',
        { class: 'view-head' },
        el('h2', {}, 'Workers: one heap, several threads'),
        el(
          'p',
          { class: 'lede' },
          'Real Web Workers share one Kmalloc heap in a SharedArrayBuffer. Each lane is a worker; the map shows every live block in the colour of the worker that allocated it.',
        ),
        presetBar(
          'workers',
          PRESETS.map((p) => ({ name: p.name, load: () => this.configure({ ...p }) })),
        ),
        el('div', { class: 'row' }, this.count, this.workload, this.speed),
      ),
      el(
        'div',
        { class: 'grid2' },
        el(
          'div',
          { class: 'col' },
          el(
            'div',
            { class: 'player' },
            el(
              'div',
              { class: 'controls' },
              this.runBtn,
              button('Step ▶', () => this.step(), {
                'data-testid': 'workers-step',
                title: 'One op for each worker (→)',
              }),
              button('↺ Restart', () => this.configure({ ...this.cfg }, true), {
                'data-testid': 'workers-restart',
                title: 'A new heap and new workers',
              }),
              this.status,
            ),
            this.narrative,
            this.now,
          ),
          el('h3', {}, 'The heap lock'),
          this.lockBox,
          el(
            'div',
            { class: 'row' },
            button('Check the heap', () => void this.check(), {
              'data-testid': 'workers-check',
              title: 'Pause, let every worker collect its notices, then check the heap and the counts',
            }),
          ),
          this.checkOut,
          explain,
        ),
        el(
          'div',
          { class: 'col' },
          el('h3', {}, 'Workers'),
          el(
            'div',
            { class: 'legend wlegend' },
            el(
              'span',
              { class: 'sw' },
              el('i', { class: 'wdot-key hand' }),
              'a block handed to the next worker (left)',
            ),
            el(
              'span',
              { class: 'sw' },
              el('i', { class: 'wdot-key remote' }),
              'a remote free going back to the owner (right)',
            ),
          ),
          this.lanesWrap,
          el('h3', {}, 'The heap'),
          this.mapNote,
          this.map.el,
        ),
      ),
    );
    this.syncControls();
    const hook = {
      check: (): Promise<CheckReport> => this.pool?.check() ?? Promise.reject(new Error('no workers')),
      settle: (): Promise<void> => this.pool?.settle() ?? Promise.resolve(),
      stats: (): LaneStats[] =>
        this.pool === null ? [] : Array.from({ length: this.pool.lanes }, (_, l) => this.pool!.stats(l)),
      ready: (): boolean => this.pool !== null && this.starting === null,
    };
    (window as unknown as { memkitWorkers: typeof hook }).memkitWorkers = hook;
  }

  // ------------------------------------------------------------ View

  shown(): void {
    if (!this.isolated) {
      this.narrative.textContent =
        'This page is not cross-origin isolated, so SharedArrayBuffer does not exist here and no heap can be shared with workers. Serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (npm start does).';
      this.narrative.classList.add('error');
      return;
    }
    const key = JSON.stringify([this.cfg.lanes, this.cfg.workload]);
    if (this.pool === null || key !== this.wanted) void this.restart();
    else if (!this.userPaused && this.starting === null) {
      this.pool.setDelay(DELAY[this.cfg.speed]);
      this.pool.run();
    }
    this.loop();
  }

  urlState(): Record<string, string> {
    return {
      preset: this.cfg.preset,
      workers: String(this.cfg.lanes),
      workload: this.cfg.workload,
      speed: this.cfg.speed,
    };
  }

  restore(q: URLSearchParams): void {
    const p = PRESETS.find((x) => x.preset === q.get('preset'));
    const cfg: Config = p !== undefined ? { ...p } : { ...this.cfg, preset: 'custom' };
    const n = Number(q.get('workers'));
    if (n >= 2 && n <= 4 && Number.isInteger(n)) cfg.lanes = n;
    const w = q.get('workload');
    if (w !== null && w in WORKLOADS) cfg.workload = w as WorkloadId;
    const s = q.get('speed');
    if (s === 'slow' || s === 'normal' || s === 'fast') cfg.speed = s;
    if (p === undefined && q.get('preset') === null && q.get('workers') === null && q.get('workload') === null) return;
    this.cfg = cfg;
    this.syncControls();
  }

  key(e: KeyboardEvent): boolean {
    if (e.key === ' ') {
      this.toggleRun();
      return true;
    }
    if (e.key === 'ArrowRight' || e.key === 'n') {
      this.step();
      return true;
    }
    return false;
  }

  // -------------------------------------------------------- controls

  private syncControls(): void {
    this.count.value = String(this.cfg.lanes);
    this.workload.value = this.cfg.workload;
    this.speed.value = this.cfg.speed;
  }

  private configure(cfg: Config, force = false): void {
    const same = cfg.lanes === this.cfg.lanes && cfg.workload === this.cfg.workload;
    this.cfg = cfg;
    this.syncControls();
    this.userPaused = false;
    stateChanged();
    if (!this.isolated) return;
    if (!same || force || this.pool === null) void this.restart();
    else {
      this.pool.setDelay(DELAY[cfg.speed]);
      this.pool.run();
    }
  }

  private async restart(): Promise<void> {
    const cfg = this.cfg;
    this.wanted = JSON.stringify([cfg.lanes, cfg.workload]);
    this.pool?.dispose();
    const pool = new WorkerPool(cfg.lanes, cfg.workload);
    this.pool = pool;
    this.dots.forEach((d) => d.node.remove());
    this.dots = [];
    this.lastSent = Array.from({ length: pool.lanes }, () => new Array<number>(pool.lanes).fill(0));
    this.lastHanded = new Array<number>(pool.lanes).fill(0);
    this.samples = 0;
    this.copyMs = 0;
    this.pictureOps = -1;
    this.ownPages = null;
    this.held = new Array<number>(pool.lanes).fill(0);
    this.checkOut.replaceChildren();
    this.buildLanes(pool.lanes);
    this.narrative.classList.remove('error');
    this.narrative.textContent = `Starting ${pool.lanes} workers on a heap of ${bytes(pool.heap.memory.byteLength)} (${WORKLOAD_TEXT[cfg.workload]})…`;
    const start = pool.start();
    this.starting = start;
    try {
      await start;
    } catch (e) {
      if (this.pool !== pool) return;
      this.narrative.textContent = `⚠ A worker failed to start: ${(e as Error).message}`;
      this.narrative.classList.add('error');
      return;
    } finally {
      if (this.starting === start) this.starting = null;
    }
    if (this.pool !== pool) return;
    pool.setDelay(DELAY[cfg.speed]);
    this.narrative.textContent = `${pool.lanes} workers joined the heap (slots ${Array.from({ length: pool.lanes }, (_, l) => pool.stats(l).slot).join(', ')}). ${cap(WORKLOAD_TEXT[cfg.workload])}.`;
    if (!this.el.hidden) {
      if (this.userPaused) pool.pause();
      else pool.run();
    }
    this.takePicture();
  }

  private toggleRun(): void {
    const p = this.pool;
    if (p === null || this.starting !== null) return;
    if (p.running) {
      p.pause();
      this.userPaused = true;
      this.narrative.textContent = 'Paused: every worker stops after the op it is in. Step ▶ gives each one more op.';
      setTimeout(() => this.takePicture(), 120);
    } else {
      this.userPaused = false;
      p.setDelay(DELAY[this.cfg.speed]);
      p.run();
      this.narrative.textContent = `Running (${this.speed.selectedOptions[0]?.textContent ?? this.cfg.speed}).`;
    }
  }

  private step(): void {
    const p = this.pool;
    if (p === null || this.starting !== null) return;
    if (p.running) p.pause();
    this.userPaused = true;
    p.step();
    setTimeout(() => {
      this.takePicture();
      const said = Array.from({ length: p.lanes }, (_, l) => p.stats(l))
        .filter((s) => s.alive)
        .map((s) => `${this.laneName(s.lane)}: ${lastOp(s, (l) => this.laneName(l))}`);
      this.narrative.textContent = `One op each. ${said.join('. ')}.`;
    }, 150);
  }

  private async check(): Promise<void> {
    const p = this.pool;
    if (p === null || this.starting !== null) return;
    const dead = Array.from({ length: p.lanes }, (_, l) => l).find((l) => p.needsRecovery(l));
    if (dead !== undefined) {
      this.checkOut.textContent = `${this.laneName(dead)} was terminated holding the heap lock: recover it first (nobody else can reach the heap until then).`;
      return;
    }
    this.userPaused = true;
    this.checkOut.textContent = 'Pausing, waiting for every worker to collect its notices…';
    let r: CheckReport;
    try {
      r = await p.check();
    } catch (e) {
      this.checkOut.textContent = `⚠ ${(e as Error).message}`;
      return;
    }
    this.takePicture();
    this.checkOut.dataset.ok = String(r.ok);
    this.checkOut.replaceChildren(
      el('b', {}, r.ok ? '✓ The heap checks out.' : '⚠ Problems:'),
      el(
        'p',
        {},
        `buddy and TLSF invariants, no two live blocks overlap, and each worker's count of its blocks matches the heap's ${r.liveBlocks} live blocks. Remote frees: ${r.sent} sent = ${r.received} received${r.orphans > 0 ? ` + ${r.orphans} of a dead worker's blocks` : ''}${r.pending > 0 ? ` + ${r.pending} notices to a dead worker` : ''}.`,
      ),
      ...r.problems.map((x) => el('p', { class: 'err' }, x)),
    );
  }

  private async terminate(lane: number): Promise<void> {
    const p = this.pool;
    if (p === null) return;
    // It acts between two ops (a parked worker too: it looks at its command every 50 ms).
    const slot = await p.terminateHolding(lane);
    const s = p.stats(lane);
    this.narrative.textContent = `${this.laneName(lane)} (slot ${slot}) took the heap lock and was terminated holding it, without detaching. Every other worker goes on with what takes no lock (its own pages and TLSF heap, large blocks) and then waits for the lock at its first call that needs it (a class page refill, a hand-over list): watch their "in heap call" time grow. Recover slot ${slot} to let them go on. Its blocks (${s.liveBlocks} by its last count) stay allocated.`;
  }

  private recover(lane: number): void {
    const p = this.pool;
    if (p === null) return;
    const s = p.stats(lane);
    const held = p.recover(lane);
    // What the heap holds of it now (the lock is free again, so a picture can be taken).
    const pic = p.picture(100);
    let kept = '';
    if (!('reason' in pic)) {
      const mine = pic.blocks.filter((b) => b.lane === lane);
      kept = ` The heap still holds ${mine.length} block${mine.length === 1 ? '' : 's'} it allocated (${bytes(mine.reduce((a, b) => a + b.size, 0))}), and they stay allocated: the heap cannot know whether another worker still uses them. Those it had handed to others are freed by them when they are done: remote frees with no owner left to tell.`;
      this.map.set(pic);
    }
    this.narrative.textContent = `Kmalloc.recover(memory, ${s.slot}) ${held ? 'broke the lock it held' : 'found it did not hold the lock'} and freed slot ${s.slot}. The others go on.${kept}`;
    if (!this.userPaused) p.run();
  }

  // ------------------------------------------------------------ lanes

  laneName(lane: number): string {
    return `worker ${lane + 1}`;
  }

  private buildLanes(n: number): void {
    this.lanes = [];
    const nodes: HTMLElement[] = [];
    for (let l = 0; l < n; l++) {
      const title = el('b', { class: 'wlane-title' }, `${this.laneName(l)}`);
      const state = el('span', { class: 'wstate', 'data-testid': `workers-state-${l}` });
      const fields = new Map<string, HTMLElement>();
      const grid = el('div', { class: 'fields' });
      for (const [id, label, help] of FIELDS) {
        const v = el('span', { 'data-testid': `workers-${id}-${l}` }, '—');
        fields.set(id, v);
        grid.append(el('span', { class: 'field', title: help }, el('small', {}, label), v));
      }
      const terminate = button('terminate', () => void this.terminate(l), {
        'data-testid': `workers-terminate-${l}`,
        title: 'Terminate this worker without detaching, while it holds the heap lock',
      });
      const recover = button('Kmalloc.recover', () => this.recover(l), {
        'data-testid': `workers-recover-${l}`,
        class: 'primary',
        hidden: '',
      });
      const last = el('div', { class: 'wlast mono', 'data-testid': `workers-last-${l}` });
      const root = el(
        'div',
        { class: 'wlane', 'data-testid': `workers-lane-${l}`, style: `--lane:${LANE_COLORS[l]}` },
        el('div', { class: 'wlane-head' }, el('i', { class: 'wdot' }), title, state, terminate, recover),
        grid,
        last,
      );
      nodes.push(root);
      this.lanes.push({ root, title, state, fields, last, terminate, recover });
    }
    this.lanesBox.replaceChildren(...nodes);
  }

  private renderLanes(all: LaneStats[], holder: number): void {
    const p = this.pool!;
    for (const s of all) {
      const d = this.lanes[s.lane];
      if (d === undefined) continue;
      d.title.textContent = `${this.laneName(s.lane)} · slot ${s.slot < 0 ? '…' : s.slot}`;
      const holds = holder >= 0 && holder === s.slot;
      const stateText = stateName(s, holds);
      d.state.textContent = stateText;
      d.state.className = `wstate ${stateClass(s)}`;
      d.root.classList.toggle('dead', !s.alive);
      d.root.classList.toggle('holds', holds);
      const f = (id: string, v: string): void => {
        const e = d.fields.get(id)!;
        if (e.textContent !== v) e.textContent = v;
      };
      f('ops', s.ops.toLocaleString('en-US'));
      f('rate', s.ops === 0 || s.state === S_PARKED || !s.alive ? '—' : rate(s.opsPerSec));
      f('allocs', String(s.allocs));
      f('frees', String(s.frees));
      f('live', `${s.liveBlocks} · ${bytes(s.liveBytes)}`);
      f('sent', String(s.sent));
      f('recv', String(s.received));
      f('waiting', String(s.pendingIn));
      f('heap', s.calls === 0 ? '—' : `≈ ${ms(s.heapMs)} (${pct(s.heapMs, s.runMs)})`);
      f('taken', s.calls === 0 ? '—' : `${pct(s.contended, s.calls)} of ${s.calls}`);
      f('pages', this.ownPages === null ? '—' : String(this.ownPages.get(s.slot) ?? 0));
      f('longest', s.calls === 0 ? '—' : s.maxCallMs < 0.05 ? '< 0.05 ms' : ms(s.maxCallMs));
      d.last.textContent = s.alive ? `last: ${lastOp(s, (l) => this.laneName(l))}` : 'terminated';
      d.terminate.hidden = !s.alive || p.lanes - all.filter((x) => !x.alive).length <= 1;
      d.terminate.disabled = all.some((x) => x.state === S_HOLDING) || p.needsRecovery(otherDead(all, s.lane));
      d.recover.hidden = !p.needsRecovery(s.lane);
      d.recover.textContent = `Kmalloc.recover(memory, ${s.slot})`;
    }
  }

  private renderLock(all: LaneStats[], holder: number): void {
    const p = this.pool!;
    const rows: Array<[string, string, string]> = [];
    const hl = holder < 0 ? -1 : p.laneOfSlot(holder);
    rows.push([
      'held now by',
      holder < 0
        ? 'nobody'
        : holder === 0
          ? 'the page (slot 0, copying the heap for the map)'
          : `${hl < 0 ? `slot ${holder}` : this.laneName(hl)} (slot ${holder})${hl >= 0 && !all[hl]!.alive ? ', terminated' : ''}`,
      '',
    ]);
    if (this.samples > 0) {
      for (const s of all)
        rows.push([
          `held by ${this.laneName(s.lane)}`,
          `${pct(this.held[s.lane]!, this.samples)} of samples`,
          'The page reads the lock word at every frame it draws (60 a second): the share of those samples in which this worker held the lock. A sampled estimate.',
        ]);
      rows.push(['samples', String(this.samples), '']);
    }
    const waiting = all.filter((s) => s.alive && s.state === S_IN_HEAP && s.inCallMs > 100);
    if (this.copyMs > 0)
      rows.push([
        'held by the page',
        `≈ ${ms(this.copyMs)} per copy of the heap`,
        'The page takes the lock (as slot 0) to copy the heap for the map, four times a second while the workers run: the time of the last copy.',
      ]);
    if (waiting.length > 0)
      rows.push([
        'waiting',
        waiting.map((s) => `${this.laneName(s.lane)} ${(s.inCallMs / 1000).toFixed(1)} s`).join(', '),
        '',
      ]);
    this.lockBox.replaceChildren(
      ...rows.flatMap(([k, v, t]) => [el('dt', t === '' ? {} : { title: t }, k), el('dd', {}, v)]),
    );
  }

  // ------------------------------------------------------- animation

  private loop(): void {
    if (this.frame !== 0) return;
    const tick = (now: number): void => {
      this.frame = 0;
      if (this.el.hidden) {
        // Another tab: stop the workers (they would burn the CPU for nothing).
        if (this.pool?.running === true) this.pool.pause();
        return;
      }
      this.update(now);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  private update(now: number): void {
    const p = this.pool;
    if (p === null) return;
    const all = Array.from({ length: p.lanes }, (_, l) => p.stats(l));
    const holder = p.lockHolder();
    if (this.starting === null && p.running) {
      this.samples++;
      const hl = holder > 0 ? p.laneOfSlot(holder) : -1; // never 0 here: the page takes it only inside takePicture
      if (hl >= 0) this.held[hl]!++;
    }
    this.renderLanes(all, holder);
    this.renderLock(all, holder);
    this.spawnDots(all, now);
    this.moveDots(now);
    const ops = all.reduce((a, s) => a + s.ops, 0);
    this.now.hidden = this.cfg.speed !== 'slow' || ops === 0;
    if (!this.now.hidden && ops !== this.nowOps) {
      this.nowOps = ops;
      this.now.replaceChildren(
        ...all
          .filter((s) => s.alive && s.ops > 0)
          .map((s) =>
            el(
              'p',
              {},
              el('b', { style: `color:${LANE_COLORS[s.lane]}` }, `${this.laneName(s.lane)}: `),
              explainOp(s, (l) => this.laneName(l)),
            ),
          ),
      );
    }
    this.status.textContent = `${p.running ? 'running' : this.starting !== null ? 'starting' : 'paused'} · ${ops.toLocaleString('en-US')} ops`;
    this.runBtn.textContent = p.running ? '⏸ Pause' : '▶ Run';
    this.runBtn.classList.toggle('on', p.running);
    // A new picture four times a second while the workers run (and once more after they stop).
    if ((p.running || ops !== this.pictureOps) && now - this.lastPicture > (this.cfg.speed === 'fast' ? 400 : 250)) {
      this.takePicture(now);
      if (this.missed === 0) this.pictureOps = ops;
    }
  }

  private takePicture(now = performance.now()): void {
    const p = this.pool;
    if (p === null) return;
    this.lastPicture = now;
    const pic = p.picture();
    if ('reason' in pic) {
      // One miss is a busy lock; several in a row are worth saying (a dead worker holding it).
      if (++this.missed < 3) return;
      const hl = pic.reason === 'locked' ? p.laneOfSlot(pic.holder) : -1;
      this.mapNote.textContent =
        pic.reason === 'locked'
          ? `The map is not updated: the heap lock is held by ${hl >= 0 ? this.laneName(hl) : `slot ${pic.holder}`} (slot ${pic.holder}), and the page copies the heap only under the lock.`
          : `A copy of the heap did not open (${pic.message}); this is the last picture.`;
      this.mapNote.hidden = false;
      this.el.dataset.picture = pic.reason;
      return;
    }
    this.missed = 0;
    this.mapNote.hidden = true;
    this.el.dataset.picture = 'ok';
    this.ownPages = new Map();
    for (const r of pic.runs)
      if (r.ownerSlot >= 0) this.ownPages.set(r.ownerSlot, (this.ownPages.get(r.ownerSlot) ?? 0) + r.pages);
    this.copyMs = pic.heldMs;
    this.el.dataset.blocks = String(pic.blocks.length);
    this.map.set(pic);
  }

  private spawnDots(all: LaneStats[], now: number): void {
    const p = this.pool!;
    const budget = 40;
    for (const s of all) {
      for (let j = 0; j < p.lanes; j++) {
        const d = s.sentTo[j]! - this.lastSent[s.lane]![j]!;
        this.lastSent[s.lane]![j] = s.sentTo[j]!;
        for (let i = 0; i < Math.min(d, 3) && this.dots.length < budget; i++)
          this.addDot(s.lane, j, 'remote', now + i * 60);
      }
      const h = s.handed - this.lastHanded[s.lane]!;
      this.lastHanded[s.lane] = s.handed;
      const to = nextAlive(all, s.lane);
      if (to >= 0)
        for (let i = 0; i < Math.min(h, 3) && this.dots.length < budget; i++)
          this.addDot(s.lane, to, 'hand', now + i * 60);
    }
  }

  private addDot(from: number, to: number, kind: Dot['kind'], t0: number): void {
    const node = svg('circle', { r: 4.5, class: `wdot-${kind}`, opacity: 0 });
    this.overlay.append(node);
    this.dots.push({ from, to, t0, kind, node });
  }

  private moveDots(now: number): void {
    const box = this.lanesWrap.getBoundingClientRect();
    const centers = this.lanes.map((d) => {
      const r = d.root.getBoundingClientRect();
      return r.top - box.top + Math.min(r.height / 2, 22);
    });
    const W = box.width;
    const dur = this.cfg.speed === 'slow' ? 900 : 600;
    this.dots = this.dots.filter((d) => {
      const t = (now - d.t0) / dur;
      if (t >= 1) {
        d.node.remove();
        return false;
      }
      if (t < 0) return true;
      const y0 = centers[d.from] ?? 0;
      const y1 = centers[d.to] ?? 0;
      // hand-overs down the left gutter, remote frees back up the right one
      const x = d.kind === 'hand' ? 12 : W - 12;
      const bulge = (d.kind === 'hand' ? -1 : 1) * Math.min(10, Math.abs(y1 - y0) / 6);
      const e = t * t * (3 - 2 * t);
      d.node.setAttribute('cx', (x + bulge * Math.sin(Math.PI * e)).toFixed(1));
      d.node.setAttribute('cy', (y0 + (y1 - y0) * e).toFixed(1));
      d.node.setAttribute('opacity', t < 0.1 ? (t * 10).toFixed(2) : t > 0.9 ? ((1 - t) * 10).toFixed(2) : '1');
      return true;
    });
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function pct(a: number, b: number): string {
  if (b <= 0) return '—';
  const v = (100 * a) / b;
  return `${v < 10 && v > 0 ? v.toFixed(1) : Math.round(v)}%`;
}

function ms(v: number): string {
  return v < 1 ? `${v.toFixed(2)} ms` : v < 1000 ? `${+v.toPrecision(3)} ms` : `${(v / 1000).toFixed(2)} s`;
}

function rate(v: number): string {
  return v >= 10_000 ? `${Math.round(v / 1000)}k` : v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

function nextAlive(all: LaneStats[], lane: number): number {
  for (let d = 1; d < all.length; d++) {
    const j = (lane + d) % all.length;
    if (all[j]!.alive) return j;
  }
  return -1;
}

function otherDead(all: LaneStats[], lane: number): number {
  const d = all.find((s) => !s.alive && s.lane !== lane);
  return d === undefined ? -1 : d.lane;
}

function stateName(s: LaneStats, holds: boolean): string {
  if (!s.alive) return s.recovered ? 'terminated · recovered' : 'terminated · holds the lock';
  switch (s.state) {
    case S_STARTING:
      return 'joining';
    case S_PARKED:
      return 'paused';
    case S_IN_HEAP:
      return s.inCallMs > 100 ? 'waiting for the lock' : holds ? 'in the heap (holds the lock)' : 'in a heap call';
    case S_HOLDING:
      return 'holds the lock';
    case S_FAILED:
      return 'failed';
    case S_DEAD:
      return 'terminated';
    case S_RUNNING:
      return 'running';
    default:
      return '';
  }
}

function stateClass(s: LaneStats): string {
  if (!s.alive) return 'dead';
  if (s.state === S_IN_HEAP && s.inCallMs > 100) return 'waiting';
  if (s.state === S_PARKED) return 'parked';
  return 'running';
}

/** A sentence for a student on a lane's last op (slow mode). */
function explainOp(s: LaneStats, name: (lane: number) => string): string {
  const a = hex(s.lastAddr);
  switch (s.lastOp) {
    case OP_ALLOC:
      return s.lastSize <= 512
        ? `kmalloc(${s.lastSize}) gave it ${a}: the next free block of its own page of that size class, no lock (only a new page from the buddy takes the heap lock).`
        : `kmalloc(${s.lastSize}) gave it ${a}: a medium block from the shared TLSF heap, under the heap lock.`;
    case OP_FREE:
      return `kfree(${a}): a block it allocated itself goes back on its own page's list (no lock; a medium block takes the heap lock).`;
    case OP_HAND:
      return `it put ${a} (${s.lastSize} B) on the ring to ${name(s.lastPeer)} (blue dot). No heap call: the block stays allocated, ${name(s.lastPeer)} will free it.`;
    case OP_REMOTE_FREE:
      return `kfree(${a}), a block ${name(s.lastPeer)} allocated: a remote free. It goes on the thread_free list of ${name(s.lastPeer)}'s page with one compareExchange (the orange dot); ${name(s.lastPeer)} takes it back when its own lists run dry.`;
    case OP_IDLE:
      return 'nothing to do this time: its window is full and nobody handed it a block.';
    default:
      return '…';
  }
}

function lastOp(s: LaneStats, name: (lane: number) => string): string {
  const a = hex(s.lastAddr);
  switch (s.lastOp) {
    case OP_ALLOC:
      return `kmalloc(${s.lastSize}) → ${a}`;
    case OP_FREE:
      return `kfree(${a}), its own block (${s.lastSize} B)`;
    case OP_HAND:
      return `handed ${a} (${s.lastSize} B) to ${name(s.lastPeer)}`;
    case OP_REMOTE_FREE:
      return `kfree(${a}): a remote free of ${name(s.lastPeer)}'s block`;
    case OP_IDLE:
      return 'nothing to do (its window is full, the ring is empty)';
    default:
      return '—';
  }
}
