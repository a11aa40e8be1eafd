/**
 * Layer 3 (beside slab/): a TLSF heap (two-level segregated fit) over chunks of buddy pages,
 * kmalloc's medium tier. Imports buddy/, memory/ and errors/ (never slab/, its sibling).
 */
export { TlsfHeap, mapping as tlsfMapping } from './tlsf.js';
export type { TlsfOptions, TlsfStats, TlsfAttachOptions } from './tlsf.js';
