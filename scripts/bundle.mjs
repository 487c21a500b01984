// Bundles dist/cli/main.js (tsc output) into dist/bundle/: one ESM entry plus
// lazily loaded chunks, one per dynamic import. Start-up then reads a few
// files instead of resolving hundreds of modules (docs/benchmarks.md, B1).
// winston, simple-git and prom-client stay external on purpose: they are
// loaded only when needed (a log line, a git client, a metrics file), and
// CommonJS packages keep their exports intact that way.
//
// The swap is safe while other processes run the old bundle (parallel test
// runs in one checkout): chunk names carry a content hash, so new chunks are
// added beside the old ones, and the entry is renamed into place last.
// Chunks no entry has used for an hour are removed.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const tmp = join(root, 'dist', `bundle.tmp-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
await build({
  entryPoints: { gitopsd: join(root, 'dist', 'cli', 'main.js') },
  outdir: tmp,
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
mkdirSync(outdir, { recursive: true });
const fresh = readdirSync(tmp);
const entries = fresh.filter((f) => f.startsWith('gitopsd.js'));
for (const f of fresh.filter((f) => !entries.includes(f))) renameSync(join(tmp, f), join(outdir, f));
for (const f of entries.sort().reverse()) renameSync(join(tmp, f), join(outdir, f)); // .js.map, then .js
rmSync(tmp, { recursive: true, force: true });
const hourAgo = Date.now() - 3600_000;
for (const f of readdirSync(outdir)) {
  if (!fresh.includes(f) && statSync(join(outdir, f)).mtimeMs < hourAgo) rmSync(join(outdir, f), { force: true });
}
