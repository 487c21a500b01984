import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2 cores: integration tests spawn git/jj/nix themselves.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
