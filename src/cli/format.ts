/**
 * Text output of the `memkit` command: byte and rate formatting, the results
 * table (a Markdown table, aligned, so it reads in a terminal and pastes into
 * a README).
 *
 * @module
 */
import type { ReplayResult } from '../trace/replay.js';

/**
 * `1234567` -> `1.18 MiB`; below 1 KiB: `999 B`. Binary units (1 KiB = 1024 B),
 * as the visualizer's axes, so the command and the page say the same figure.
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** `1234567` -> `1.23 M`. */
export function formatCount(n: number): string {
  if (n < 1e4) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} k`;
  return `${(n / 1e6).toFixed(2)} M`;
}

/** `0.1234` -> `12.3%`. */
export function formatPercent(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

/** Lays out rows as an aligned Markdown table; `right` marks right-aligned columns. */
export function markdownTable(head: string[], rows: string[][], right: boolean[]): string {
  const w = head.map((h, c) => Math.max(h.length, 3, ...rows.map((r) => r[c]!.length)));
  const t = new TableLayout(head, right, w);
  return [t.header(), ...rows.map((r) => t.row(r))].join('\n');
}

/**
 * A Markdown table whose column widths are fixed up front, so that rows can
 * be printed one by one as they are computed and still line up. A cell wider
 * than its column pushes the rest of its row right (the table stays valid
 * Markdown).
 */
export class TableLayout {
  private readonly head: string[];
  private readonly right: boolean[];
  private readonly w: number[];

  /** `widths[c]` is the least width of column `c` (the header's length is the floor). */
  constructor(head: string[], right: boolean[], widths: number[]) {
    this.head = head;
    this.right = right;
    this.w = head.map((h, c) => Math.max(h.length, 3, widths[c] ?? 0));
  }

  /** The header line and the separator line (two lines, no final newline). */
  header(): string {
    const sep =
      '|' + this.w.map((n, c) => (this.right[c] ? '-'.repeat(n + 1) + ':' : '-'.repeat(n + 2))).join('|') + '|';
    return this.row(this.head) + '\n' + sep;
  }

  /** One row (no final newline). */
  row(cells: string[]): string {
    return (
      '| ' + cells.map((x, c) => (this.right[c] ? x.padStart(this.w[c]!) : x.padEnd(this.w[c]!))).join(' | ') + ' |'
    );
  }
}

/** What the `verified` column says. */
function verifiedText(r: ReplayResult): string {
  if (r.violation !== null) return 'FAILED';
  if (r.verification === 'off') return 'off';
  return r.verification === 'full' ? 'yes' : 'overlap only';
}

const RESULT_HEAD = [
  'trace',
  'allocator',
  'ops',
  'ops/s',
  'speed',
  'peak payload',
  'peak footprint',
  'utilization',
  'int. frag',
  'ext. frag',
  'failures',
  'verified',
];
const RESULT_RIGHT = [false, false, true, true, true, true, true, true, true, true, true, false];
/**
 * Widths of the value columns that hold for any result: counts and rates
 * (`formatCount`, at most `999.99 M`), ratios (`12.34x`), bytes (`999.99 MiB`),
 * percentages (`100.0%`), and `overlap only`.
 */
const RESULT_WIDTHS = [0, 0, 8, 8, 7, 9, 9, 6, 6, 6, 8, 12];

/** The cells of one row; `ref` is the trace's first result (the speed reference). */
function resultCells(r: ReplayResult, ref: ReplayResult): string[] {
  return [
    r.trace + (r.truncated ? ' (cut)' : ''),
    r.allocator,
    formatCount(r.ops),
    formatCount(r.opsPerSec),
    speedRatio(r, ref),
    formatBytes(r.peakPayload),
    formatBytes(r.peakFootprint),
    formatPercent(r.utilization),
    formatPercent(r.internalFragmentation),
    formatPercent(r.externalFragmentation),
    String(r.failures),
    verifiedText(r),
  ];
}

/** The results table of `memkit replay`, all at once. */
export function resultsTable(results: ReplayResult[]): string {
  const first = new Map<string, ReplayResult>();
  for (const r of results) if (!first.has(r.trace)) first.set(r.trace, r);
  return markdownTable(
    RESULT_HEAD,
    results.map((r) => resultCells(r, first.get(r.trace)!)),
    RESULT_RIGHT,
  );
}

/**
 * The results table printed a row at a time: {@link ResultsStream.header}
 * first, then {@link ResultsStream.row} as each replay ends. The trace and
 * allocator columns are as wide as the longest name given.
 */
export class ResultsStream {
  private readonly layout: TableLayout;
  private readonly first = new Map<string, ReplayResult>();

  /** `traceNames` and `allocatorNames`: every name a row may show (" (cut)" is allowed for). */
  constructor(traceNames: string[], allocatorNames: string[]) {
    const widths = RESULT_WIDTHS.slice();
    widths[0] = Math.max(0, ...traceNames.map((n) => n.length + ' (cut)'.length));
    widths[1] = Math.max(0, ...allocatorNames.map((n) => n.length));
    this.layout = new TableLayout(RESULT_HEAD, RESULT_RIGHT, widths);
  }

  /** Header and separator lines. */
  header(): string {
    return this.layout.header();
  }

  /** The row of `r` (the first row of a trace is its speed reference). */
  row(r: ReplayResult): string {
    if (!this.first.has(r.trace)) this.first.set(r.trace, r);
    return this.layout.row(resultCells(r, this.first.get(r.trace)!));
  }
}

/**
 * ops/s over the ops/s of the trace's first row (`1.00` for that row), when
 * both replayed the same ops; `-` otherwise.
 */
function speedRatio(r: ReplayResult, ref: ReplayResult): string {
  if (r.ops !== ref.ops || ref.opsPerSec <= 0 || r.violation !== null || ref.violation !== null) return '-';
  const x = r.opsPerSec / ref.opsPerSec;
  return `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}x`;
}

/** The fields of a result in `--json` output (the series is left out). */
export function resultJson(r: ReplayResult): Record<string, unknown> {
  const { series: _series, ...rest } = r;
  return rest;
}
