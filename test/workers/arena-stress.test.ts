/**
 * Many workers, one arena in a SharedArrayBuffer: random alloc / free with
 * payload stamping, 30% of the blocks handed to another worker (freed there),
 * workers joining as others detach. `MEMKIT_FUZZ=soak` runs it longer.
 * Driver: buddy-harness.ts.
 */
import { describe, it } from 'vitest';
import { SOAK, stress } from './buddy-harness.js';

describe('one arena, many workers', () => {
  it('2 workers (+2 joining later)', async () => {
    await stress('arena', 2, SOAK ? 400_000 : 8_000);
  });
  it('4 workers (+4 joining later)', async () => {
    await stress('arena', 4, SOAK ? 200_000 : 4_000);
  });
  it('2 workers, each with its own arena over the shared buddy (no arena lock)', async () => {
    await stress('arena-buddy', 2, SOAK ? 400_000 : 8_000);
  });
});
