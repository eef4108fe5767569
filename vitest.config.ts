import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each PGlite instance holds ~200 MB; two workers fit the two cores and the memory.
    maxWorkers: 2,
    pool: 'forks',
  },
});
