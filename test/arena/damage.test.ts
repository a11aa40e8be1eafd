/**
 * A live Arena (not attached: no fsck first) whose state words or chunk
 * header words are damaged one at a time, then every public method called:
 * each answers or throws a MemkitError, none hangs, no alloc answers an
 * address outside the memory, and the memkit header is untouched. A buddy
 * arena has a bystander, pages another owner took from the same buddy, and
 * each word is also damaged to its address, an address inside it and its end:
 * its bytes stay as they were and its pages stay allocated (the chain checks of
 * 4 Dec: on the code before them, three such cases gave its pages back to the
 * buddy). Runs in a child process (damage.child.ts) under a watchdog.
 */
import { describe, expect, it } from 'vitest';
import { runDamageChild } from '../support/damage-child.js';

const CHILD = new URL('./damage.child.ts', import.meta.url);

describe('Arena: every method on a live arena with one damaged state or chunk-header word', () => {
  for (const mode of [['memory'], ['buddy'], ['shared']]) {
    it(`${mode.join(' ') || 'plain'}: typed errors only, no hang, no address outside the memory, the memkit header untouched`, async () => {
      const r = await runDamageChild(CHILD, mode, 5000);
      expect(r.hung).toBeNull();
      expect(r.results).toEqual([]);
      expect(r.done).toBeGreaterThan(350);
    }, 20000);
  }
});
