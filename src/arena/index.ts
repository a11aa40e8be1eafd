/**
 * Layer 1: the arena (bump) allocator. Chunks come from its own Memory
 * (fixed, or grown on demand) or from a buddy allocator, which it sees only
 * through the PageSource interface. Imports memory/ and errors/.
 *
 * @module
 */
export { Arena } from './arena.js';
export type {
  ArenaOptions,
  ArenaMemoryOptions,
  ArenaBuddyOptions,
  ArenaAttachOptions,
  ArenaStats,
  ArenaChunkInfo,
  ArenaScope,
  PageSource,
} from './api.js';
export {
  ARENA_MAGIC,
  CHUNK_HEADER_BYTES as ARENA_CHUNK_HEADER_BYTES,
  STATE_BYTES as ARENA_STATE_BYTES,
} from './layout.js';
