/** Layer 2: the buddy page allocator (mm/page_alloc.c). Imports memory/ and errors/. */
export { BuddyAllocator } from './buddy.js';
export type { BuddyOptions, BuddyStats, BlockVisitor } from './init.js';
