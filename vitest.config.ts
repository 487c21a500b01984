import { configDefaults, defineConfig } from 'vitest/config';

// Per-file settings, given to each project explicitly: a project that
// `extends` the root would also run the globalSetup (a full build) again.
const perFile = { testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    globalSetup: ['test/setup/global.ts'],
    // 2 cores: integration tests spawn git/jj/nix themselves.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
    projects: [
      {
        test: {
          ...perFile,
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/**/*.alone.test.ts'],
        },
      },
      // Files named *.alone.test.ts must not run next to any other file (a
      // store-wide `nix-store --gc` in the shared test-bed store): they form
      // a later group, which starts only after every other file has finished.
      {
        test: { ...perFile, name: 'alone', include: ['test/**/*.alone.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
