/**
 * Small allocators for testing the replay engine: a correct first-fit model
 * whose figures are easy to compute by hand, and deliberately broken ones
 * (overlapping blocks, corrupted payload, lost realloc content, a bogus
 * InvalidFreeError) that verification must catch.
 */
import { InvalidFreeError, OutOfMemoryError } from '../../src/errors/index.js';
import type { ByteAllocator } from '../../src/memory/byte-allocator.js';

/**
 * First fit over `capacity` bytes. Blocks are rounded up to 8 bytes and
 * start at 8 or above (address 0 is never handed out), with no headers.
 * footprint() = end of the highest live block ("top"), 0 when empty.
 * realloc is in place when the new size fits the rounded block, else
 * alloc + copy + free.
 */
export class FirstFit implements ByteAllocator {
  name = 'firstfit';
  readonly bytes: Uint8Array | undefined;
  /** Live blocks sorted by address: [start, end) with end = start + rounded size. */
  protected blocks: Array<[number, number]> = [];

  constructor(
    readonly capacity = 1 << 16,
    withBytes = true,
  ) {
    this.bytes = withBytes ? new Uint8Array(capacity) : undefined;
  }

  protected place(size: number): number {
    const need = Math.max(8, Math.ceil(size / 8) * 8);
    let at = 8;
    let i = 0;
    for (; i < this.blocks.length; i++) {
      const [s, e] = this.blocks[i]!;
      if (s - at >= need) break;
      at = e;
    }
    if (at + need > this.capacity) throw new OutOfMemoryError(`firstfit: no ${size} bytes`, size);
    this.blocks.splice(i, 0, [at, at + need]);
    return at;
  }

  alloc(size: number): number {
    return this.place(size);
  }

  protected index(addr: number): number {
    const i = this.blocks.findIndex((b) => b[0] === addr);
    if (i < 0) throw new InvalidFreeError(`firstfit: ${addr} is not allocated`, addr);
    return i;
  }

  free(addr: number): void {
    this.blocks.splice(this.index(addr), 1);
  }

  realloc(addr: number, size: number): number {
    const [s, e] = this.blocks[this.index(addr)]!;
    if (Math.max(8, Math.ceil(size / 8) * 8) <= e - s) return addr;
    const q = this.place(size);
    this.bytes?.copyWithin(q, s, e);
    this.free(addr);
    return q;
  }

  usableSize(addr: number): number {
    const [s, e] = this.blocks[this.index(addr)]!;
    return e - s;
  }

  footprint(): number {
    let top = 0;
    for (const b of this.blocks) top = Math.max(top, b[1]);
    return top;
  }
}

/** Every third alloc returns the address of the block allocated just before it. */
export class OverlappingAllocator extends FirstFit {
  override name = 'overlapping';
  private n = 0;
  private last = 0;
  override alloc(size: number): number {
    this.n++;
    if (this.n % 3 === 0 && this.last !== 0) return this.last;
    this.last = this.place(size);
    return this.last;
  }
  override usableSize(addr: number): number {
    const b = this.blocks.find((x) => x[0] === addr);
    return b === undefined ? 0 : Math.max(0, b[1] - b[0]);
  }
}

/**
 * Keeps a "header" in the 4 bytes before each block it hands out, which are
 * the last bytes of the block below when the two touch: metadata over a live
 * payload.
 */
export class CorruptingAllocator extends FirstFit {
  override name = 'corrupting';
  override alloc(size: number): number {
    const p = this.place(size);
    new DataView(this.bytes!.buffer).setUint32(p - 4, 0xdeadbeef, true);
    return p;
  }
}

/** realloc moves the block but copies only half of it. */
export class LossyReallocAllocator extends FirstFit {
  override name = 'lossy';
  override realloc(addr: number, size: number): number {
    const [s, e] = this.blocks[this.index(addr)]!;
    const q = this.place(size);
    this.bytes!.copyWithin(q, s, s + ((e - s) >> 1));
    this.free(addr);
    return q;
  }
}

/** free() of the 2nd block allocated throws InvalidFreeError although it is live. */
export class RefusingAllocator extends FirstFit {
  override name = 'refusing';
  private second = -1;
  private n = 0;
  override alloc(size: number): number {
    const p = super.alloc(size);
    if (++this.n === 2) this.second = p;
    return p;
  }
  override free(addr: number): void {
    if (addr === this.second) throw new InvalidFreeError(`refusing: will not free ${addr}`, addr);
    super.free(addr);
  }
}
