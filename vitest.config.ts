import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // PGlite's first start on a new directory runs initdb, which takes seconds on a busy machine.
    hookTimeout: 60_000,
    testTimeout: 30_000,
  },
});
