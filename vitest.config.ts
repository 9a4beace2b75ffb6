import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each file gets its own process: PGlite is WebAssembly with its own memory, and a crashed
    // file must not take the others down. Two cores, two workers.
    pool: 'forks',
    maxWorkers: 2,
    // Generous: several tests start real processes (tsx, PGlite, Azurite), slow on a busy machine.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    env: { NODE_ENV: 'test' },
  },
});
