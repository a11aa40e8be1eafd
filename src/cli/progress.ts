/**
 * A one-line progress bar on stderr, redrawn in place with `\r` (only when
 * stderr is a terminal and the output is not JSON).
 *
 * @module
 */

const WIDTH = 30;

/** The progress bar of `memkit replay`. */
export class Progress {
  /** False: every method does nothing. */
  readonly enabled: boolean;
  private readonly out: NodeJS.WritableStream;
  private label = '';
  private last = -1;

  /** Draws on `out` when `enabled`. */
  constructor(out: NodeJS.WritableStream, enabled: boolean) {
    this.out = out;
    this.enabled = enabled;
  }

  /** Starts a bar for `label`. */
  start(label: string): void {
    this.label = label;
    this.last = -1;
    if (this.enabled) this.update(0, 1);
  }

  /** Redraws at `done / total` (only when the shown percentage changes). */
  update(done: number, total: number): void {
    if (!this.enabled) return;
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    if (pct === this.last) return;
    this.last = pct;
    const fill = Math.round((pct / 100) * WIDTH);
    this.out.write(`\r${this.label} [${'#'.repeat(fill)}${'-'.repeat(WIDTH - fill)}] ${String(pct).padStart(3)}%`);
  }

  /** Erases the bar. */
  done(): void {
    if (this.enabled) this.out.write('\r\x1b[2K');
  }
}
