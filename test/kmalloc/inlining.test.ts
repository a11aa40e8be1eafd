/**
 * A loop written with the README's kernel names costs what the workers
 * benchmark says only if V8 inlines `kmalloc` (and `alloc`) and `kfree` (and
 * `free`) into it. V8 (Node 20) inlines at most 920 bytes of bytecode into one
 * function and takes a candidate only if 1.2x its size still fits. On 3 Dec,
 * with `alloc` grown to 225 bytes by its INFO check, `kfree` no longer fitted in
 * the workers benchmark's loop and ran as a call; `Memory.sync` went from 51
 * bytes to 39 and it fits again, with 5 bytes to spare (docs/kmalloc.md). Since
 * 4 Dec (the current page's free list in the slot's curFree table) alloc is 177
 * bytes and free 408 (445 before), so the loop has about 85 bytes more to spare. This
 * test runs that loop's shape (fixtures/readme-loop.ts) on a worker's attached
 * instance of a shared heap, per file and bundled, and checks what V8 did.
 *
 * Not checked: the same loop on an unshared heap. There V8 optimizes `kfree` on
 * its own first and inlines free's page paths into it (pageFreed, freeTlsf: its
 * "inlined bytecode size" becomes about 800), and then takes it for too big.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inlinedInto, inliningTrace } from '../support/inlining.js';

const fixture = fileURLToPath(new URL('./fixtures/readme-loop.ts', import.meta.url));

/** Every optimization of `loop` inlined kmalloc, alloc, kfree and free. */
function expectInlined(out: string): void {
  const into = (callee: string): number => inlinedInto(out, callee, 'loop');
  const optimizations = into('kmalloc');
  expect(optimizations).toBeGreaterThanOrEqual(1);
  expect(into('alloc')).toBe(optimizations);
  expect(into('kfree')).toBe(optimizations);
  expect(into('free')).toBe(optimizations);
}

describe("Kmalloc: kmalloc and kfree inlined whole into a user's loop (shared heap, a worker's instance)", () => {
  it('per file (as tsx and tsc emit the modules)', () => {
    expectInlined(inliningTrace(fixture, 'per file', { SHARED: '1' }));
  }, 60_000);

  it('bundled (esbuild, as an app bundler builds it)', () => {
    expectInlined(inliningTrace(fixture, 'bundled', { SHARED: '1' }));
  }, 60_000);
});
