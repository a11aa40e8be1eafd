/**
 * Layer 3: slab caches (kmem_cache) on the buddy allocator, and the slab space that owns the
 * page descriptors. Imports buddy/, memory/ and errors/ (never tlsf/, its sibling).
 */
export { SlabCache } from './cache.js';
export { calculateOrder } from './create.js';
export type { SlabCacheOptions, SlabDebugOptions, SlabStats, SlabList, SlabAttachOptions } from './create.js';
export { SlabSpace } from './space.js';
