/**
 * The memkit visualizer: one tab per view, keyboard shortcuts, the state of
 * the page in its URL (`#buddy?preset=lecture&step=5`), and the views
 * themselves (each in its own module).
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { ArenaView } from './arena-view.js';
import { BuddyView } from './buddy-view.js';
import { el, type View } from './dom.js';
import { GcView } from './gc-view.js';
import { MapView } from './map-view.js';
import { SlabView } from './slab-view.js';
import { TraceView } from './trace-view.js';
import { WorkersView } from './workers-view.js';
import { formatHash, onStateChanged, parseHash, quietly } from './url.js';

const views: View[] = [
  new MapView(),
  new BuddyView(),
  new SlabView(),
  new ArenaView(),
  new GcView(),
  new TraceView(),
  new WorkersView(),
];
const tabs = document.getElementById('tabs')!;
const main = document.getElementById('views')!;
let active: View = views[0]!;

/** Writes the active view's state into the URL. */
function writeUrl(): void {
  const h = formatHash(active.id, active.urlState?.() ?? {});
  if (location.hash !== h) history.replaceState(null, '', h);
}

function show(v: View): void {
  active = v;
  for (const w of views) w.el.hidden = w !== v;
  for (const b of tabs.querySelectorAll('button')) {
    b.classList.toggle('active', b.dataset.view === v.id);
    b.setAttribute('aria-selected', String(b.dataset.view === v.id));
  }
  quietly(() => v.shown?.());
  writeUrl();
}

/** Shows the view a URL names, restoring its state. */
function fromUrl(): void {
  const { view, params } = parseHash(location.hash);
  const v = views.find((w) => w.id === view);
  if (v === undefined) return;
  quietly(() => v.restore?.(params));
  show(v);
}

views.forEach((v, i) => {
  const b = el(
    'button',
    { role: 'tab', 'data-view': v.id, 'data-testid': `tab-${v.id}`, title: `${v.title} (${i + 1})` },
    `${i + 1} · ${v.title}`,
  );
  b.addEventListener('click', () => show(v));
  tabs.append(b);
  main.append(v.el);
});

// After a click, give the focus back to the page, so that Space means
// play/pause (not "press the button again") and the arrows step.
document.addEventListener('click', (e) => {
  const t = e.target as HTMLElement | null;
  const b = t?.closest('button');
  if (b !== null && b !== undefined) b.blur();
});
document.addEventListener('change', (e) => {
  const t = e.target as HTMLElement | null;
  if (t !== null && t.tagName === 'SELECT') t.blur();
});

document.addEventListener('keydown', (e) => {
  const t = e.target as HTMLElement | null;
  if (t !== null && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const n = Number(e.key);
  if (Number.isInteger(n) && n >= 1 && n <= views.length) {
    show(views[n - 1]!);
    e.preventDefault();
    return;
  }
  if (active.key?.(e) === true) e.preventDefault();
});

onStateChanged(() => {
  if (!active.el.hidden) writeUrl();
});
// The URL first (before anything rewrites it), then the first view if it named none.
const start = parseHash(location.hash);
if (views.some((w) => w.id === start.view)) fromUrl();
else show(views[0]!);
document.body.dataset.ready = 'true';

// A link pasted into the same tab, or the back button to an older hash.
window.addEventListener('hashchange', () => {
  const { view } = parseHash(location.hash);
  const h = formatHash(active.id, active.urlState?.() ?? {});
  if (location.hash !== h || view !== active.id) fromUrl();
});
