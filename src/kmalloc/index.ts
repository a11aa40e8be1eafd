/**
 * Layer 4: kmalloc, the general allocator: size-class pages, a TLSF heap, buddy pages.
 * Imports slab/, tlsf/, buddy/, memory/ and errors/.
 */
export { Kmalloc, KmallocCache } from './kmalloc.js';
export type { KmallocOptions } from './kmalloc.js';
export { classSizes, classTable, className } from './classes.js';
export type { SizeClassSpec } from './classes.js';
