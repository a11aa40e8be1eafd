/**
 * Layer 0: the bytes (Memory over an ArrayBuffer, a SharedArrayBuffer or a
 * WebAssembly.Memory), the in-buffer header, cross-worker locks, the
 * ByteAllocator interface. Imports only errors/.
 */
export { Memory, WASM_PAGE_BYTES, MAX_MEMORY_BYTES } from './memory.js';
export type { MemoryBacking, MemoryCreateOptions } from './memory.js';
export {
  HEADER_BYTES,
  HEADER_MAGIC,
  HEADER_VERSION,
  HeaderSlot,
  hasHeader,
  ensureHeader,
  readSlot,
  writeSlot,
  checkHeader,
} from './header.js';
export type { ByteAllocator } from './byte-allocator.js';
