/** Layer 3b: a TLSF heap (two-level segregated fit) over chunks of buddy pages, for kmalloc's medium sizes. */
export { TlsfHeap, mapping as tlsfMapping } from './tlsf.js';
export type { TlsfOptions, TlsfStats, TlsfAttachOptions } from './tlsf.js';
