/** Small DOM helpers (no framework). */

type Child = Node | string | number | null | undefined | false;

/** Creates an element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'number' ? String(c) : c);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: Array<Node | string>
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c);
  return e;
}

/** A button that calls `fn`. */
export function button(text: string, fn: () => void, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = el('button', attrs, text);
  b.addEventListener('click', fn);
  return b;
}

/** `0x` + hex. */
export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Bytes as B / KiB / MiB with 3 significant digits. */
export function bytes(n: number): string {
  if (Math.abs(n) < 1024) return `${n} B`;
  if (Math.abs(n) < 1024 * 1024) return `${+(n / 1024).toPrecision(3)} KiB`;
  if (Math.abs(n) < 1024 ** 3) return `${+(n / 1024 / 1024).toPrecision(4)} MiB`;
  return `${+(n / 1024 ** 3).toPrecision(4)} GiB`;
}

/** The shared hover tooltip. */
export function tooltip(text: string | null, x = 0, y = 0): void {
  const t = document.getElementById('tooltip')!;
  if (text === null) {
    t.hidden = true;
    return;
  }
  t.textContent = text;
  t.hidden = false;
  const w = t.offsetWidth;
  const h = t.offsetHeight;
  t.style.left = `${Math.min(x + 14, window.innerWidth - w - 8)}px`;
  t.style.top = `${Math.min(y + 14, window.innerHeight - h - 8)}px`;
}

/** A small deterministic PRNG (mulberry32), so scenario steps replay identically. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A view: a section of the page with its own keyboard handling. */
export interface View {
  /** Tab id (also the `data-testid` suffix). */
  readonly id: string;
  /** Tab title. */
  readonly title: string;
  /** The section. */
  readonly el: HTMLElement;
  /** Called when the tab is shown. */
  shown?(): void;
  /** Keyboard shortcut; true when handled. */
  key?(e: KeyboardEvent): boolean;
  /** What the URL records of this view (preset, step, ...). */
  urlState?(): Record<string, string>;
  /** Restores the state a URL recorded. */
  restore?(q: URLSearchParams): void;
}

/** A preset bar: one button per preset (`data-testid` = `${id}-preset-${index}`). */
export function presetBar(id: string, presets: Array<{ name: string; load(): void }>): HTMLElement {
  return el(
    'div',
    { class: 'presets' },
    el('span', { class: 'muted' }, 'Presets:'),
    ...presets.map((p, i) => button(p.name, () => p.load(), { 'data-testid': `${id}-preset-${i}` })),
  );
}

/**
 * A short fingerprint (FNV-1a, hex) of an allocator's state, put in the
 * view's `data-sig`: two steps that leave the allocator as it was have the
 * same one (the tests check that no preset ends with such a no-op step).
 */
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
