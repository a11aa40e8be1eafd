/**
 * What the TLSF heap's helper files (check.ts, chunks.ts) see of a heap: the
 * geometry and indices they read, and the list operations they call back
 * (which stay methods of the class: the hot paths call them, and V8 inlines
 * them there). {@link TlsfHeap} implements it (the members not public are
 * marked internal there). Declared here, below the class, so that the
 * helpers import no file that imports them (no cycle).
 *
 * @module
 */
import type { BuddyAllocator } from '../buddy/index.js';
import type { Memory } from '../memory/index.js';

/** A heap as its helper functions use it. */
export interface TlsfCore {
  /** The buddy allocator the chunks come from. */
  readonly buddy: BuddyAllocator;
  /** The Memory the heap lives in. */
  readonly memory: Memory;
  /** Buddy pages per chunk. */
  readonly chunkPages: number;
  /** Bytes per chunk. */
  readonly chunkBytes: number;
  /** u32 index of the control structure. */
  readonly c: number;
  /** Address of the buddy's page 0 (chunk slot 0). */
  readonly base: number;
  /** Chunk slots of the chunk map. */
  readonly maxChunks: number;
  /** Size of the one free block of an empty chunk. */
  readonly whole: number;
  /** Odd multiplier keying the prevSize tags (see layout.ts). */
  readonly key: number;
  /** u32 index of the join map (bit i: chunk i runs on from chunk i - 1, layout.ts "Runs"). */
  readonly j: number;
  /** u32 index of the quick-list table: list i's head at q + 2i, its count at q + 2i + 1. */
  readonly q: number;
  /** Bound on the bytes of the quick lists (T_Q_LIMIT). */
  readonly qLimit: number;
  /** Called after a chunk is added or given back (Kmalloc's page marks), or null. */
  readonly onChunk: ((addr: number, pages: number, added: boolean) => void) | null;
  /** mapping_insert + push of free block H on its list. */
  link(u32: Uint32Array, H: number, size: number): void;
  /** u32 index of the head word of the list a free block of `size` bytes goes on. */
  listOf(size: number): number;
  /** True when A is in a chunk the heap holds (its chunk-map bit). */
  inHeap(u32: Uint32Array, A: number): boolean;
  /** The head a push of a free block of `size` bytes would link to (0: its list is empty). */
  listHead(u32: Uint32Array, size: number): number;
  /** True when every list with blocks for `size` bytes or more has its head in a held chunk. */
  headsFromHeld(u32: Uint32Array, size: number): boolean;
  /** True when unlink(N) will find N's links in held chunks (reads only). */
  linksHeld(u32: Uint32Array, N: number, size: number): boolean;
  /** True when release(H) (header word h) would find nothing damaged (reads only). */
  releasable(u32: Uint32Array, H: number, h: number): boolean;
  /** Takes free block H of `size` bytes off its list. */
  unlink(u32: Uint32Array, H: number, size: number): void;
  /** TLSF's free of used block H (header word h): merged, listed, or its chunk given back. */
  release(u32: Uint32Array, H: number, h: number): void;
  /** Throws: quick list `qi` leads to H, which is not a quick-listed block. */
  badQuick(H: number, qi: number): never;
}
