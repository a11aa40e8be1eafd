/** Layer 4: kmalloc, the general allocator made of slab caches. */
export { Kmalloc } from './kmalloc.js';
export type { KmallocOptions } from './kmalloc.js';
export { classSizes, classTable, className } from './classes.js';
export type { SizeClassSpec } from './classes.js';
