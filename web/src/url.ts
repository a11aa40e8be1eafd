/**
 * The page's state in its URL: `#view?key=value&...` (e.g.
 * `#buddy?preset=lecture&step=5`), so a teacher can link to a step. Views
 * call `stateChanged()` after any change; main.ts rewrites the hash (with
 * `history.replaceState`, so stepping does not fill the history).
 */

let listener: (() => void) | null = null;
let muted = 0;

/** Called by views after a change of what the URL records. */
export function stateChanged(): void {
  if (muted === 0) listener?.();
}

/** main.ts: what to do on a change. */
export function onStateChanged(fn: () => void): void {
  listener = fn;
}

/** Runs `fn` without URL updates (while restoring from the URL). */
export function quietly<T>(fn: () => T): T {
  muted++;
  try {
    return fn();
  } finally {
    muted--;
  }
}

/** Splits `#view?a=1&b=2` into the view id and its parameters. */
export function parseHash(hash: string): { view: string; params: URLSearchParams } {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = h.indexOf('?');
  return q < 0
    ? { view: h, params: new URLSearchParams() }
    : { view: h.slice(0, q), params: new URLSearchParams(h.slice(q + 1)) };
}

/** `#view?params` for a view and its parameters. */
export function formatHash(view: string, params: Record<string, string>): string {
  const q = new URLSearchParams(params).toString();
  return `#${view}${q === '' ? '' : `?${q}`}`;
}
