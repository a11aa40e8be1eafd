/**
 * Shared knobs for property tests: `npm test` runs a few hundred thousand
 * operations per allocator; `npm run fuzz` (MEMKIT_FUZZ=soak) runs millions.
 */
export const SOAK = process.env.MEMKIT_FUZZ === 'soak';

/**
 * The attach fuzzers' watchdog: a case that gives no answer within this is a
 * hang. Generous on purpose: a case takes milliseconds, a hang forever, and a
 * busy 2-core machine (a GC pause in the fuzzing worker, a main thread that
 * reads the case's answer late) once stretched a sound case past 1 s.
 */
export const HANG_MS = 10_000;

/** Scales a run count: `n` normally, `n * soakFactor` in the soak. */
export function runs(n: number, soakFactor = 20): number {
  return SOAK ? n * soakFactor : n;
}

/** Fills `len` bytes at `addr` with a pattern derived from `id`. */
export function fillPattern(u8: Uint8Array, addr: number, len: number, id: number): void {
  for (let i = 0; i < len; i++) u8[addr + i] = (id * 31 + i * 7 + 1) & 0xff;
}

/** Index of the first byte that differs from the pattern, or -1. */
export function checkPattern(u8: Uint8Array, addr: number, len: number, id: number): number {
  for (let i = 0; i < len; i++) if (u8[addr + i] !== ((id * 31 + i * 7 + 1) & 0xff)) return i;
  return -1;
}

/** Interval model of live blocks: throws if [addr, addr+len) overlaps one. */
export class LiveBlocks {
  readonly blocks = new Map<number, { len: number; id: number }>();
  add(addr: number, len: number, id: number): void {
    for (const [a, b] of this.blocks) {
      if (addr < a + b.len && a < addr + len) {
        throw new Error(`block [${addr}, ${addr + len}) overlaps live block [${a}, ${a + b.len})`);
      }
    }
    this.blocks.set(addr, { len, id });
  }
  remove(addr: number): { len: number; id: number } {
    const b = this.blocks.get(addr);
    if (b === undefined) throw new Error(`no live block at ${addr}`);
    this.blocks.delete(addr);
    return b;
  }
  get size(): number {
    return this.blocks.size;
  }
}

/**
 * Writes a payload pattern at both ends of a block of `size` bytes (the head
 * and, when the block is long enough that the two do not overlap, the tail):
 * writing whole multi-MiB blocks would make the tests slow without testing more.
 */
export function fillEnds(u8: Uint8Array, addr: number, size: number, id: number): void {
  const n = Math.min(size, 32);
  fillPattern(u8, addr, n, id);
  if (size >= 64) fillPattern(u8, addr + size - 32, 32, id + 1);
}

/** Checks what {@link fillEnds} wrote; returns a description of the damage or ''. */
export function checkEnds(u8: Uint8Array, addr: number, size: number, id: number): string {
  const n = Math.min(size, 32);
  const h = checkPattern(u8, addr, n, id);
  if (h >= 0) return `head byte ${h} of block at ${addr} changed`;
  if (size >= 64) {
    const t = checkPattern(u8, addr + size - 32, 32, id + 1);
    if (t >= 0) return `tail byte ${size - 32 + t} of block at ${addr} changed`;
  }
  return '';
}
