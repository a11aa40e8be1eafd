/**
 * A live SlabCache (not attached: no fsck first) whose state words are
 * damaged one at a time (its descriptor, its slabs' page descriptors, the
 * free pointers of free objects), then every public method called: each
 * answers or throws a MemkitError, none hangs, and a bystander cache in the
 * same buddy (its descriptor, its objects' bytes) and the memkit header are
 * untouched. Runs in a child process (damage.child.ts) under a watchdog. The
 * values include the bystander's addresses and its slab's page index: a list
 * link or head damaged to name that slab made unlink and pushList write the
 * bystander's descriptor (4 cases unshared, 2 shared) until the list
 * operations checked the slabs they write through (SlabCache.checkLink).
 */
import { describe, expect, it } from 'vitest';
import { runDamageChild } from '../support/damage-child.js';

const CHILD = new URL('./damage.child.ts', import.meta.url);

describe('SlabCache: every method on a live cache with one damaged state word', () => {
  for (const mode of [[], ['debug'], ['shared'], ['shared', 'debug']]) {
    it(`${mode.join(' ') || 'plain'}: typed errors only, no hang, no write to the bystander`, async () => {
      const r = await runDamageChild(CHILD, mode, 5000);
      expect(r.hung).toBeNull();
      expect(r.results).toEqual([]);
      expect(r.done).toBeGreaterThan(300);
    }, 20000);
  }
});
