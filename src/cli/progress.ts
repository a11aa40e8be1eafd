/**
 * A one-line progress bar on stderr, redrawn in place with `\r` (only when
 * stderr is a terminal and the output is not JSON), with an estimate of the
 * time left for the whole run.
 *
 * @module
 */

const WIDTH = 30;

/** `75` -> `1:15`; `3725` -> `1:02:05`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? h + ':' : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/**
 * The progress bar of `memkit replay`. The run is `totalOps` ops in all
 * (every trace times every allocator); each replay reports its own
 * `done / total`, and the time left is the elapsed time scaled by the ops
 * still to do.
 */
export class Progress {
  /** False: every method does nothing. */
  readonly enabled: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly now: () => number;
  private label = '';
  private last = '';
  private totalOps = 0;
  private finishedOps = 0;
  private current = 0;
  private t0 = 0;

  /**
   * Draws on `out` when `enabled`. `now` (milliseconds) is for tests;
   * default `performance.now`.
   */
  constructor(out: NodeJS.WritableStream, enabled: boolean, now: () => number = () => performance.now()) {
    this.out = out;
    this.enabled = enabled;
    this.now = now;
  }

  /** Sets the ops of the whole run and starts its clock. */
  begin(totalOps: number): void {
    this.totalOps = totalOps;
    this.finishedOps = 0;
    this.t0 = this.now();
  }

  /** Starts a bar for one replay, `label`. */
  start(label: string): void {
    this.label = label;
    this.last = '';
    this.current = 0;
    if (this.enabled) this.update(0, 1);
  }

  /** Redraws at `done / total` of the current replay (only when the text changes). */
  update(done: number, total: number): void {
    if (!this.enabled) return;
    this.current = done;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const fill = Math.round((pct / 100) * WIDTH);
    const text = `\r${this.label} [${'#'.repeat(fill)}${'-'.repeat(WIDTH - fill)}] ${String(pct).padStart(3)}%${this.eta()}`;
    if (text === this.last) return;
    this.last = text;
    this.out.write(text + '\x1b[K');
  }

  /** `  about 1:15 left` for the whole run, or '' before there is a rate to go by. */
  eta(): string {
    const done = this.finishedOps + this.current;
    const elapsed = (this.now() - this.t0) / 1000;
    if (this.totalOps <= 0 || done <= 0 || elapsed < 0.5) return '';
    const left = (elapsed * Math.max(0, this.totalOps - done)) / done;
    return `  about ${formatDuration(left)} left`;
  }

  /** Erases the bar; `ops` is what the finished replay did (counted as done). */
  done(ops: number): void {
    this.finishedOps += ops;
    this.current = 0;
    if (this.enabled) this.out.write('\r\x1b[2K');
  }
}
