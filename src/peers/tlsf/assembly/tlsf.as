// AssemblyScript source (not TypeScript: the `.as` extension keeps it out of
// `tsc`). Compiled by scripts/build-tlsf.mjs with `--runtime minimal`, which
// links AssemblyScript's TLSF allocator (std/assembly/rt/tlsf.ts) behind
// heap.alloc / heap.free / heap.realloc. Only the allocator is used here: no
// managed objects are created, so the runtime's collector never runs.
//
// Block layout of rt/tlsf.ts (wasm32), as the JS adapter reads it:
//
//   ptr - 4  +-----------------------------------+-+-+
//            |  size (payload bytes, 16-aligned)  |L|F|   mmInfo (u32)
//   ptr      +===================================+=+=+
//            |  payload ...                           |   size bytes
//            +----------------------------------------+
//   F (bit 0): block is free; L (bit 1): the block to the left is free.
//
// The root structure sits at (__heap_base + 15) & ~15; its last word is the
// `tail` pointer: a zero-size used block at the end of the managed memory.

import { ROOT } from "rt/tlsf";

/** Offset of the `tail` pointer in the root (HL_END of rt/tlsf.ts, wasm32). */
const HL_END: usize = 1568;
const LEFTFREE: u32 = 2;

/** Allocates `size` bytes (16-byte aligned); traps when memory cannot grow. */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Frees a block from alloc/realloc; asserts that it is a used block. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Resizes a block (in place when it can), keeping its content. */
export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}

/** First byte the allocator manages (the TLSF root is placed there). */
export function heapBase(): usize {
  return __heap_base;
}

/** Address of the TLSF root, 0 before the first allocation. */
export function root(): usize {
  return changetype<usize>(ROOT);
}

/**
 * End of the highest block in use: the tail sentinel, or the start of the
 * free block just left of it (found through its `back` pointer) when that
 * block is free. 0 before the first allocation.
 */
export function highWater(): usize {
  const r = changetype<usize>(ROOT);
  if (r == 0) return 0;
  const tail = load<usize>(r + HL_END);
  const info = load<u32>(tail);
  if (info & LEFTFREE) {
    const left = load<usize>(tail - sizeof<usize>());
    return left;
  }
  return tail;
}
