/** Layer 3: slab caches (kmem_cache) on the buddy allocator. */
export { SlabCache, calculateOrder } from './cache.js';
export type { SlabCacheOptions, SlabDebugOptions, SlabStats, SlabList, SlabAttachOptions } from './cache.js';
export { SlabSpace } from './space.js';
