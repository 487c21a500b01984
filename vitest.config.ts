import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files start first. CI runs on a fresh clone, where vitest has no
 * timing cache and orders files by size: the sync crash suite, a small file
 * that runs for about 13 minutes, then started last, and one worker ran it
 * alone at the end while the other had nothing left to do. Durations (s) are
 * from the CI run of 2026-11-30 10:00 UTC (main 4d17bb9); the CPU was busy
 * throughout (vmstat: 0-1 % idle), so only a tail with one idle worker can be
 * won back this way. A name that no longer exists is ignored.
 */
const LONGEST_FIRST = [
  'test/integration/sync/crash.test.ts', // 809 s in the run of stop 20
  'test/reliability/load.test.ts', // 351
  'test/integration/sync/convergence.test.ts', // 244
  'test/integration/upgrade/crash.test.ts', // 174
  'test/integration/golden/crash.test.ts', // 168
  'test/integration/demo/demo.test.ts', // new in session 6: about 100 s of CPU
  'test/reliability/cycle-crash.test.ts', // 152
  'test/integration/fleet/fleet20.test.ts', // 121
  'test/integration/rollout/fleet9.test.ts', // new in issue 16: 106 s of CPU alone (4-5 min wall under load)
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((name) => f.moduleId.endsWith(`/${name}`));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep vitest's own order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

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
    sequence: { sequencer: LongestFirst },
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
