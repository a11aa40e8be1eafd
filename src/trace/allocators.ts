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
}

/**
 * Name -> allocator. Order is the default order of `memkit replay`.
 */
export const ALLOCATORS: Readonly<Record<string, AllocatorEntry>> = {
  // name: { description, create: async (heapBytes) => ByteAllocator },
  kmalloc: { description: 'memkit Kmalloc: size-class pages up to 64 B, a TLSF heap to 64 KiB, larger sizes as buddy pages', create: async (h) => new (await import('../kmalloc/index.js')).Kmalloc(heapOptions(h)) },
  buddy: { description: 'memkit BuddyAllocator, bytes rounded up to 4 KiB pages (2^k pages a block)', create: async (h) => (await import('./buddy-adapter.js')).createBuddyAllocator(h) },
  thing: { description: '@thi.ng/malloc MemPool: first fit, address-ordered lists (free is O(live blocks)); realloc = malloc+copy+free', create: async (h) => (await import('../peers/thing.js')).createThingAllocator(h) },
  tlsf: { description: 'TLSF (two-level segregated fit) compiled to WebAssembly', create: async (h) => (await import('../peers/tlsf.js')).createTlsfAllocator(h) },
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

/**
 * Creates the allocator `name` for a trace with `heapBytes` of peak payload.
 *
 * @throws InvalidArgumentError for an unknown name, or whatever the factory throws (a
 * missing peer package gives a message naming it).
 */
export async function createAllocator(name: string, heapBytes: number): Promise<ByteAllocator> {
  const e = Object.hasOwn(ALLOCATORS, name) ? ALLOCATORS[name] : undefined;
  if (e === undefined) throw new InvalidArgumentError(`unknown allocator "${name}" (known: ${allocatorNames().join(', ')})`);
  return e.create(heapBytes);
}
