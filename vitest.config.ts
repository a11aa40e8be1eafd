import { defineConfig } from 'vitest/config';

// `npm run fuzz` (MEMKIT_FUZZ=soak) runs each property and stress test 20x longer: a soak
// test may take many minutes on a busy 2-core machine, so only `npm test` keeps the 2-minute cap.
const soak = process.env.MEMKIT_FUZZ === 'soak';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: soak ? 1_800_000 : 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
