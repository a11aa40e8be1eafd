/**
 * Many workers, one buddy in a SharedArrayBuffer: random alloc / free with
 * payload stamping, 30% of the blocks handed to another worker (freed there),
 * workers joining as others detach. `MEMKIT_FUZZ=soak` runs it longer.
 * Driver: buddy-harness.ts.
 */
import { describe, it } from 'vitest';
import { SOAK, stress } from './buddy-harness.js';

describe('one buddy, many workers', () => {
  it('2 workers (+2 joining later)', async () => {
    await stress('buddy', 2, SOAK ? 400_000 : 8_000);
  });
  it('4 workers (+4 joining later)', async () => {
    await stress('buddy', 4, SOAK ? 200_000 : 4_000);
  });
  it('per-worker lists with high 6, batch 2: 3 workers (+3 joining later), 1- and 2-page blocks crossing workers', async () => {
    await stress('buddy-pcp', 3, SOAK ? 300_000 : 6_000);
  });
});
