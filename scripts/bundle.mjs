// Bundles dist/cli/main.js (tsc output) into dist/bundle/: one ESM entry plus
// lazily loaded chunks, one per dynamic import. Start-up then reads a few
// files instead of resolving hundreds of modules (docs/benchmarks.md, B1).
// winston, simple-git and prom-client stay external on purpose: they are
// loaded only when needed (a log line, a git client, a metrics file), and
// CommonJS packages keep their exports intact that way.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { gitopsd: join(root, 'dist', 'cli', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // CommonJS dependencies bundled into ESM need a `require`.
  banner: {
    js: "import { createRequire as __gitopsdCreateRequire } from 'node:module';\nconst require = __gitopsdCreateRequire(import.meta.url);",
  },
  external: ['winston', 'simple-git', 'prom-client'],
  logLevel: 'warning',
});
