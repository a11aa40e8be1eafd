/** Layer 2: the buddy page allocator. */
export { BuddyAllocator } from './buddy.js';
export type { BuddyOptions, BuddyStats, BlockVisitor } from './buddy.js';
