/**
 * The step player shared by the scenario views (buddy, slab, arena, GC,
 * memory map): a scenario is a list of steps; the state after step i is a
 * fresh allocator with steps 0..i-1 applied. The allocators are
 * deterministic, so going back is replaying a prefix, and a user action
 * (alloc, free) is a step added after the current position.
 *
 * A user action the allocator refuses (out of memory, a bad size) is shown
 * as an error and does not become a step. A user action in the middle of a
 * preset replaces the preset's later steps, and says so, with a button that
 * brings them back.
 */
import { el } from './dom.js';
import { stateChanged } from './url.js';

/**
 * Thrown by a step that would change nothing (free the raw blocks when there
 * are none, shrink with no empty slab): the player refuses it like an
 * allocator error, so a step list never holds a step that does nothing.
 */
export class NoChange extends Error {
  override readonly name = 'NoChange';
}

/** One step of a scenario: a label, and what it does to the state. */
export interface Step<S> {
  /** Shown in the step list, e.g. `alloc A (1 page)`. */
  label: string;
  /** Applies the step; returns a sentence saying what happened. */
  apply(state: S): string;
}

/** What a view gives the player. */
export interface ScenarioHost<S> {
  /** A fresh state (a new allocator). */
  create(): S;
  /** Draws the state; `last` is the narrative of the step just applied. */
  render(state: S, last: string, pos: number): void;
}

/** A preset: an id for the URL, a button label, and how to load it. */
export interface Preset {
  id: string;
  name: string;
  load(): void;
}

interface Saved<S> {
  steps: Step<S>[];
  pos: number;
  edited: boolean;
}

/**
 * Controls (reset, back, step, play, end), a step counter, the narrative of
 * the last step and the list of steps, clickable to jump.
 */
export class Player<S> {
  readonly el: HTMLElement;
  private steps: Step<S>[] = [];
  private pos = 0;
  private state: S;
  private timer = 0;
  private edits = false;
  private preset = '';
  private dropped: Saved<S> | null = null;
  private readonly counter: HTMLElement;
  private readonly narrative: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly playBtn: HTMLButtonElement;
  private readonly speed: HTMLSelectElement;

  constructor(
    private readonly host: ScenarioHost<S>,
    private readonly id: string,
  ) {
    this.state = host.create();
    const btn = (text: string, title: string, tid: string, fn: () => void): HTMLButtonElement => {
      const b = el('button', { title, 'data-testid': `${id}-${tid}` }, text);
      b.addEventListener('click', fn);
      return b;
    };
    this.playBtn = btn('▶ Play', 'Play / pause (Space)', 'play', () => this.togglePlay());
    this.speed = el(
      'select',
      { title: 'Play speed', 'aria-label': 'speed' },
      el('option', { value: '1200' }, 'slow'),
      el('option', { value: '600' }, 'normal'),
      el('option', { value: '200' }, 'fast'),
    );
    this.speed.value = '600';
    this.counter = el('span', { class: 'counter', 'data-testid': `${id}-counter` });
    this.narrative = el('div', { class: 'narrative', 'data-testid': `${id}-narrative`, 'aria-live': 'polite' });
    this.notice = el('div', { class: 'notice', 'data-testid': `${id}-notice`, hidden: '' });
    this.list = el('ol', { class: 'steps', 'data-testid': `${id}-steps` });
    this.el = el(
      'div',
      { class: 'player' },
      el(
        'div',
        { class: 'controls' },
        btn('« Reset', 'Reset (Home)', 'reset', () => this.goto(0)),
        btn('◀ Back', 'Step back (←)', 'back', () => this.back()),
        btn('Step ▶', 'Step (→)', 'step', () => this.step()),
        this.playBtn,
        this.speed,
        btn('End »', 'To the end (End)', 'end', () => this.goto(this.steps.length)),
        this.counter,
      ),
      this.narrative,
      this.notice,
      this.list,
    );
  }

  /** Replaces the scenario with a preset's steps and goes to its start. */
  load(steps: Step<S>[], preset = ''): void {
    this.pause();
    this.steps = steps;
    this.preset = preset;
    this.edits = false;
    this.dropped = null;
    this.goto(0);
  }

  /** The id of the loaded preset ('' for none). */
  get presetId(): string {
    return this.preset;
  }

  /** True once the user added a step of their own (the URL then cannot name the state). */
  get edited(): boolean {
    return this.edits;
  }

  /** Number of steps in the scenario. */
  get length(): number {
    return this.steps.length;
  }

  /**
   * Applies a user's step at the current position. Refused (the allocator
   * threw): the error is shown and nothing changes. Accepted: it becomes the
   * next step; the preset's steps after the current position are set aside
   * (a notice offers them back).
   */
  push(step: Step<S>): void {
    this.pause();
    let text: string;
    try {
      text = step.apply(this.state);
    } catch (e) {
      // The allocators leave their state unchanged on an error, but a view
      // may have booked something before the call threw: rebuild to be sure.
      this.goto(this.pos);
      const err = e as Error;
      this.narrative.textContent =
        err.name === 'NoChange'
          ? `Nothing to do, not added as a step: ${err.message}`
          : `⚠ Refused, not added as a step: ${err.name}: ${err.message}`;
      this.narrative.classList.add('error');
      return;
    }
    const tail = this.steps.length - this.pos;
    const saved: Saved<S> = { steps: this.steps, pos: this.pos, edited: this.edits };
    this.steps = [...this.steps.slice(0, this.pos), step];
    this.dropped = tail > 0 ? saved : this.dropped;
    this.edits = true;
    this.pos++;
    this.show(text);
  }

  /** The current state (after `pos` steps). */
  get current(): S {
    return this.state;
  }

  /** Steps applied. */
  get position(): number {
    return this.pos;
  }

  step(): void {
    if (this.pos >= this.steps.length) {
      this.pause();
      return;
    }
    const text = this.run(this.steps[this.pos]!);
    this.pos++;
    this.show(text);
  }

  back(): void {
    this.pause();
    if (this.pos > 0) this.goto(this.pos - 1);
  }

  /** Rebuilds the state after `n` steps. */
  goto(n: number): void {
    n = Math.max(0, Math.min(n, this.steps.length));
    this.state = this.host.create();
    let text =
      this.steps.length > 0
        ? 'Start: a fresh allocator. Press Step ▶ (or →).'
        : 'Start: a fresh allocator. Use the buttons above to add steps.';
    for (let i = 0; i < n; i++) text = this.run(this.steps[i]!);
    this.pos = n;
    this.show(text);
  }

  togglePlay(): void {
    if (this.timer !== 0) this.pause();
    else this.play();
  }

  play(): void {
    if (this.pos >= this.steps.length) this.goto(0);
    this.playBtn.textContent = '⏸ Pause';
    this.playBtn.classList.add('on');
    const tick = (): void => {
      this.step();
      if (this.pos >= this.steps.length) this.pause();
      else this.timer = window.setTimeout(tick, Number(this.speed.value));
    };
    this.timer = window.setTimeout(tick, 150);
  }

  pause(): void {
    if (this.timer !== 0) window.clearTimeout(this.timer);
    this.timer = 0;
    this.playBtn.textContent = '▶ Play';
    this.playBtn.classList.remove('on');
  }

  /** Keyboard shortcuts; true when the key was used. */
  key(e: KeyboardEvent): boolean {
    switch (e.key) {
      case 'ArrowRight':
      case 'n':
        this.pause();
        this.step();
        return true;
      case 'ArrowLeft':
      case 'p':
        this.back();
        return true;
      case ' ':
        this.togglePlay();
        return true;
      case 'Home':
      case 'r':
        this.pause();
        this.goto(0);
        return true;
      case 'End':
        this.pause();
        this.goto(this.steps.length);
        return true;
      default:
        return false;
    }
  }

  private restore(): void {
    const d = this.dropped;
    if (d === null) return;
    this.dropped = null;
    this.steps = d.steps;
    this.edits = d.edited;
    this.goto(d.pos);
  }

  private run(s: Step<S>): string {
    try {
      return s.apply(this.state);
    } catch (e) {
      return `⚠ ${(e as Error).name}: ${(e as Error).message}`;
    }
  }

  private show(text: string): void {
    this.counter.textContent = `step ${this.pos} / ${this.steps.length}`;
    this.narrative.textContent = text;
    this.narrative.classList.toggle('error', text.startsWith('⚠'));
    const d = this.dropped;
    this.notice.hidden = d === null;
    if (d !== null) {
      const n = d.steps.length - d.pos;
      const undo = el('button', { 'data-testid': `${this.id}-restore` }, 'bring them back');
      undo.addEventListener('click', () => this.restore());
      this.notice.replaceChildren(
        `Your step replaced the ${n} step${n === 1 ? '' : 's'} that followed step ${d.pos}. `,
        undo,
      );
    }
    this.list.replaceChildren(
      ...this.steps.map((s, i) => {
        const li = el('li', { class: i < this.pos ? (i === this.pos - 1 ? 'done last' : 'done') : '' }, s.label);
        li.addEventListener('click', () => {
          this.pause();
          this.goto(i + 1);
        });
        return li;
      }),
    );
    const last = this.list.querySelector<HTMLElement>('li.last');
    if (last !== null) this.list.scrollTop = Math.max(0, last.offsetTop - this.list.clientHeight / 2);
    this.host.render(this.state, text, this.pos);
    stateChanged();
  }
}

/**
 * The URL state of a player view: `preset` and `step` (none once the user
 * added steps of their own, since the URL cannot replay those).
 */
export function playerUrl<S>(p: Player<S>): Record<string, string> {
  if (p.presetId === '') return {};
  if (p.edited) return { preset: p.presetId };
  return { preset: p.presetId, step: String(p.position) };
}

/** Restores `preset` and `step` from the URL; true when the preset exists. */
export function restorePlayer<S>(p: Player<S>, presets: Preset[], q: URLSearchParams): boolean {
  const pr = presets.find((x) => x.id === q.get('preset'));
  if (pr === undefined) return false;
  pr.load();
  const step = Number(q.get('step') ?? '0');
  if (Number.isInteger(step) && step > 0) p.goto(step);
  return true;
}
