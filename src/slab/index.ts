/**
 * Layer 3: slab caches (kmem_cache) on the buddy allocator, and the slab space that owns the
 * page descriptors. Imports buddy/, memory/ and errors/ (never tlsf/, its sibling).
 */
export { SlabCache, calculateOrder } from './cache.js';
export type { SlabCacheOptions, SlabDebugOptions, SlabStats, SlabList, SlabAttachOptions } from './cache.js';
export { SlabSpace } from './space.js';
