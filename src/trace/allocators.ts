/**
 * The allocators `memkit replay` knows, by name. Each entry is an async
 * factory taking the trace's suggested heap size (header line 1: the peak
 * live payload) and loading its module with a dynamic `import()`, so a peer
 * package is needed only when that allocator is chosen.
 *
 * Adding an allocator is one line in {@link ALLOCATORS}.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { ByteAllocator } from '../memory/byte-allocator.js';

/** Creates a fresh allocator sized for a trace whose live payload peaks at `heapBytes`. */
export type AllocatorFactory = (heapBytes: number) => Promise<ByteAllocator>;

/** A registry entry. */
export interface AllocatorEntry {
  /** One line for `memkit replay --help`. */
  readonly description: string;
  /** The factory. */
  readonly create: AllocatorFactory;
  /**
   * Replayed when no `--allocator` is given (default true). The slow ones
   * (over a minute on the bundled traces) are replayed only when asked for.
   */
  readonly default?: boolean;
  /**
   * For a comparison peer that may be absent: resolves to `null` when it can
   * be created, else to a one-line reason (`memkit replay` then skips it).
   */
  readonly available?: () => Promise<string | null>;
}

/**
 * Name -> allocator. Order is the order of `memkit replay`'s rows. memkit's
 * own allocators come first; the comparison peers (`thing`, `tlsf`) are not
 * part of the library: `thing` needs the optional peer package
 * `@thi.ng/malloc`, `tlsf` the wasm file the build puts beside its module.
 */
export const ALLOCATORS: Readonly<Record<string, AllocatorEntry>> = {
  // name: { description, create: async (heapBytes) => ByteAllocator },
  kmalloc: {
    description:
      'memkit Kmalloc: size-class pages up to 512 B (above 64 B once a size is used enough), a TLSF heap to 64 KiB, larger sizes as buddy pages',
    create: async (h) => new (await import('../kmalloc/index.js')).Kmalloc(heapOptions(h)),
  },
  buddy: {
    description:
      'memkit BuddyAllocator, bytes rounded up to 4 KiB pages (2^k pages a block); not a default (slow on big traces)',
    default: false,
    create: async (h) => (await import('./buddy-adapter.js')).createBuddyAllocator(h),
  },
  tlsf: {
    description: "peer: TLSF (two-level segregated fit, AssemblyScript's) compiled to WebAssembly",
    create: async (h) => (await import('../peers/tlsf.js')).createTlsfAllocator(h),
    available: async () => (await import('../peers/tlsf.js')).tlsfAvailable(),
  },
  thing: {
    description:
      'peer: @thi.ng/malloc MemPool, first fit (free is O(live blocks)); optional package; not a default (minutes a trace)',
    default: false,
    create: async (h) => (await import('../peers/thing.js')).createThingAllocator(h),
    available: async () => (await import('../peers/thing.js')).thingAvailable(),
  },
};

/**
 * Heap options for a trace: start at twice the peak payload (at least 1 MiB),
 * may grow to 32 times it (at least 256 MiB, at most 3 GiB). The allocator
 * counts only what it takes (`footprint()`); the cap bounds the descriptor
 * tables sized for it (about 30 bytes a page: 3 GiB would cost 23 MiB).
 */
function heapOptions(heapBytes: number): { bytes: number; maxBytes: number } {
  const bytes = Math.min(3 * 2 ** 30, Math.max(1 << 20, Math.ceil((2 * heapBytes) / 65536) * 65536));
  const maxBytes = Math.min(3 * 2 ** 30, Math.max(256 << 20, Math.ceil((32 * heapBytes) / 65536) * 65536));
  return { bytes, maxBytes };
}

/** The names of {@link ALLOCATORS}, in order. */
export function allocatorNames(): string[] {
  return Object.keys(ALLOCATORS);
}

/** The allocators `memkit replay` runs when none is named. */
export function defaultAllocatorNames(): string[] {
  return Object.keys(ALLOCATORS).filter((n) => ALLOCATORS[n]!.default !== false);
}

/**
 * Creates the allocator `name` for a trace with `heapBytes` of peak payload.
 *
 * @throws InvalidArgumentError for an unknown name, or whatever the factory throws (a
 * missing peer package gives a message naming it).
 */
export async function createAllocator(name: string, heapBytes: number): Promise<ByteAllocator> {
  const e = Object.hasOwn(ALLOCATORS, name) ? ALLOCATORS[name] : undefined;
  if (e === undefined)
    throw new InvalidArgumentError(`unknown allocator "${name}" (known: ${allocatorNames().join(', ')})`);
  return e.create(heapBytes);
}
