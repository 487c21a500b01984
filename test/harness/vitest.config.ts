/**
 * Runs only the harness's own tests (test/integration/harness), without the
 * root config's global setup (which builds dist/ first): the harness does not
 * depend on src/. Tools are still required, never skipped (global-setup.ts).
 *
 *   scripts/testbed npx vitest run --config test/harness/vitest.config.ts
 */
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/integration/harness/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
