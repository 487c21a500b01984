// Bundles the tsc output (dist/) into dist/bundle/: the entry the bins load
// (gitopsd.js, src/cli/entry.ts), the full CLI (main.js, src/cli/main.ts: one
// ESM entry plus lazily loaded chunks, one per dynamic import), and the lean
// bundles of the commands that must start fast (lean-*.js, one file each).
// Start-up then reads a few files instead of resolving hundreds of modules
// (docs/benchmarks.md, B1, B2).
// winston, simple-git and prom-client stay external on purpose: they are
// loaded only when needed (a log line, a git client, a metrics file), and
// CommonJS packages keep their exports intact that way. The lean bundles
// take prom-client from a file of their own instead (vendor-prom-client.cjs,
// below), and do not load winston (they log with the plain backend).
//
// The swap is safe while other processes run the old bundle (parallel test
// runs in one checkout): chunk names carry a content hash, so new chunks are
// added beside the old ones, and the entry is renamed into place last.
// Chunks no entry has used for an hour are removed.
import { build } from 'esbuild';
import { git, root } from './git-query.mjs';
import { stringWidthLazy } from './string-width-lazy.mjs';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The build's identity, for `gitopsd --version` and `gitopsd version --json`
// (src/core/build-info.ts). $GITOPSD_COMMIT wins (the Nix package has no .git:
// flake.nix passes self.rev, or self.dirtyRev which ends in "-dirty"); else
// git in the source tree; else "unknown".
function buildInfo() {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const fromEnv = process.env.GITOPSD_COMMIT;
  if (fromEnv !== undefined && fromEnv !== '') {
    const dirty = fromEnv.endsWith('-dirty');
    return { version, commit: dirty ? fromEnv.slice(0, -'-dirty'.length) : fromEnv, dirty };
  }
  const commit = git(['rev-parse', '--verify', 'HEAD']);
  if (commit === null || !/^[0-9a-f]{40,64}$/.test(commit)) return { version, commit: 'unknown', dirty: null };
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { version, commit, dirty: status === null ? null : status !== '' };
}
// The node flags gitopsd.service starts `gitopsd daemon` with (package.json
// "gitopsd"."daemonNodeFlags"; src/cycle/daemon-node.ts, nix/module.nix):
// long options only, so that nothing in the list can be read as a script.
function daemonNodeFlags() {
  const flags = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).gitopsd?.daemonNodeFlags;
  if (
    !Array.isArray(flags) ||
    !flags.every((f) => typeof f === 'string' && /^--[a-z0-9][a-z0-9-]*(=[A-Za-z0-9._-]+)?$/.test(f))
  ) {
    throw new Error(
      'package.json "gitopsd"."daemonNodeFlags" must be an array of long options such as "--no-turbofan"',
    );
  }
  return flags;
}
/**
 * zod ships 60-odd message locales and re-exports them all from its `z`
 * namespace (`export * as locales` in zod/v4/mini/external.js,
 * zod/v4/classic/external.js and zod/v4/core/index.js), so a bundle that
 * imports `z` evaluates every one of them on each start: 600 KB of the 760 KB
 * zod chunk (docs/benchmarks.md, B1).
 * gitopsd's messages are English only and it never reads `z.locales`: the
 * locales index is resolved to English alone. `en` is also what classic zod
 * installs as its default; gitopsd's schemas use zod/mini, which installs
 * none, so src/core/zod.ts installs `en` itself.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-en' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};
/**
 * node-cron imports `node:crypto` (for `randomUUID`, the id of a task) and
 * `child_process` (for `fork`, its background tasks) at the top of its
 * modules, so every process that reads `schedule.cron` loaded both: about
 * 20 ms of CPU on each `gitopsd status` for crypto alone (issue 19, B1 in
 * docs/benchmarks.md). gitopsd uses node-cron's parser, validator and
 * matcher; it creates a task only to match `L`/`W`/`#` expressions
 * (src/shared/cron-schedule.ts) and never forks one. The two imports are
 * made lazy: `randomUUID` is Web Crypto's `globalThis.crypto.randomUUID()`
 * (Node's own implementation of the same RFC 4122 v4 UUID, loaded on first
 * call), and `fork` is required on first call. The build fails if the text
 * to replace is not found exactly once (a new node-cron version is then
 * looked at, never bundled half-patched).
 */
const nodeCronLazyBuiltins = {
  name: 'node-cron-lazy-builtins',
  setup(b) {
    const edits = {
      '_shared.js': [
        ["import { randomUUID } from 'node:crypto';", 'const randomUUID = () => globalThis.crypto.randomUUID();'],
      ],
      'node-cron.js': [
        [
          "import { fork } from 'child_process';",
          "import { createRequire as nodeCronCreateRequire } from 'node:module';\n" +
            "const fork = (...args) => nodeCronCreateRequire(import.meta.url)('child_process').fork(...args);",
        ],
        ["import 'node:crypto';", ''],
      ],
    };
    b.onLoad({ filter: /[\\/]node_modules[\\/]node-cron[\\/]dist[\\/](_shared|node-cron)\.js$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      for (const [from, to] of edits[args.path.split(/[\\/]/).at(-1)]) {
        const n = text.split(from).length - 1;
        if (n !== 1)
          throw new Error(`node-cron-lazy-builtins: ${JSON.stringify(from)} found ${n} times in ${args.path}`);
        text = text.replace(from, to);
      }
      return { contents: text, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};
/**
 * The lean bundles use execa from a file of its own (dist/bundle/vendor-execa.cjs):
 * the runner loads it on the first command it runs (src/core/runner.ts), which
 * `status` usually never does, and 250 KB of execa inlined in a lean bundle
 * cost every start its reading and compiling (docs/benchmarks.md, issue 19
 * fifth pass). execa holds no state that gitopsd's code shares, so the lean
 * bundles and the full CLI each having their own copy is safe. The import
 * keeps the name './vendor-execa.js'; src/cli/code-cache.ts runs it from
 * vendor-execa.cjs.
 */
const vendorExeca = {
  name: 'vendor-execa',
  setup(b) {
    b.onResolve({ filter: /^execa$/ }, () => ({ path: './vendor-execa.js', external: true }));
  },
};
/**
 * prom-client, which `upgrade` and `fleet status` load only when metrics are
 * on, is a file of its own for the lean bundles too
 * (dist/bundle/vendor-prom-client.cjs), run with its own code cache as
 * vendor-execa.cjs is. Through node's loader it would come from node's
 * compile cache, which the full CLI shares; a lean bundle turns on V8's
 * `--verify-snapshot-checksum` (src/cli/code-cache.ts), which is part of
 * every code cache's flags hash, so each turn of a lean command and a full
 * one rejected and wrote again the other's 88 entries for prom-client and
 * its dependencies (docs/benchmarks.md, nineteenth session). Turning the
 * flag on for node's compile cache too cost every full-CLI start 6-17 ms
 * (the checksums of its caches). The full CLI keeps prom-client from
 * node_modules; it holds no state the two copies would have to share
 * (each run makes its own Registry).
 */
const vendorPromClient = {
  name: 'vendor-prom-client',
  setup(b) {
    b.onResolve({ filter: /^prom-client$/ }, () => ({ path: './vendor-prom-client.js', external: true }));
  },
};
/**
 * The entry (dist/bundle/gitopsd.js, src/cli/entry.ts) loads the full CLI
 * (main.js) or a lean bundle (lean-*.js) by name, beside it: those imports
 * stay imports.
 */
const entryLinks = {
  name: 'entry-links',
  setup(b) {
    b.onResolve({ filter: /^\.\/(main|lean-[a-z-]+)\.js$/ }, (args) =>
      /[\\/]dist[\\/]cli[\\/]entry\.js$/.test(args.importer) ? { path: args.path, external: true } : undefined,
    );
  },
};
const outdir = join(root, 'dist', 'bundle');
const tmp = join(root, 'dist', `bundle.tmp-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
const common = {
  outdir: tmp,
  bundle: true,
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
  define: {
    GITOPSD_BUILD: JSON.stringify(buildInfo()),
    GITOPSD_DAEMON_NODE_FLAGS: JSON.stringify(daemonNodeFlags()),
  },
};
const cli = (name) => join(root, 'dist', 'cli', `${name}.js`);
// The full CLI: one ESM entry plus lazily loaded chunks, one per dynamic import.
await build({
  ...common,
  // fs-boundary-child runs as the dotfiles user (src/sync/fs-boundary.ts
  // starts it next to the module that names it, so it sits beside the chunks).
  entryPoints: {
    main: cli('main'),
    'fs-boundary-child': join(root, 'dist', 'sync', 'fs-boundary-child.js'),
  },
  splitting: true,
  plugins: [zodEnglishOnly, nodeCronLazyBuiltins, stringWidthLazy],
});
// The lean bundles (src/cli/lean-*.ts): one file each, no chunks. They and
// execa's file are written without whitespace and with esbuild's syntax
// minification (the names stay: stack traces keep every function's name;
// the linked .map gives the lines): V8 reads the source of every function
// it compiles on first call, and a start compiles hundreds. Measured
// interleaved in the test bed (30 runs, load 2.5-5): CPU of `status --json`
// 314 -> 293 ms and 310 -> 292 ms (mean), of a no-op upgrade 478 -> 449 ms
// (docs/benchmarks.md, issue 19, fifth pass). The full CLI stays as written.
const compact = { minifyWhitespace: true, minifySyntax: true };
//
// The lean bundles and the files of execa and prom-client are CommonJS
// scripts (lean-*.cjs, vendor-*.cjs), which the entry runs with a V8 code cache made after a
// first run (src/cli/code-cache.ts). The first line of each is a key: the
// SHA-256 of the file's text as built (with the key still zeros), which
// names the cache, so a new build never reads an old build's cache (V8
// itself checks only the source's length). Their dynamic imports (the two
// vendor files; node's builtins) go through the entry's
// `__gImp` (a vm.Script's own import() needs an experimental option that
// warns on stderr): the name has import's length, so the source map's
// columns stay true. The build fails on any other import( left.
const leanKeyZeros = '0'.repeat(64);
const cjsScript = {
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  banner: {
    // "use strict" first: esbuild's own comes after this banner, where it is no directive.
    js: `// gitopsd-code-cache-key ${leanKeyZeros}\n"use strict";const __gitopsdImportMetaUrl = require('node:url').pathToFileURL(__filename).href;`,
  },
  define: { ...common.define, 'import.meta.url': '__gitopsdImportMetaUrl' },
  splitting: false,
};
await build({
  ...common,
  ...compact,
  ...cjsScript,
  entryPoints: {
    'lean-status': cli('lean-status'),
    'lean-sync': cli('lean-sync'),
    'lean-upgrade': cli('lean-upgrade'),
    'lean-fleet-status': cli('lean-fleet-status'),
  },
  plugins: [zodEnglishOnly, nodeCronLazyBuiltins, vendorExeca, vendorPromClient],
});
await build({
  ...common,
  ...compact,
  ...cjsScript,
  // Bundled, not external, in these two files: each is all of its package.
  external: common.external.filter((e) => e !== 'prom-client'),
  entryPoints: { 'vendor-execa': 'execa', 'vendor-prom-client': 'prom-client' },
});
for (const f of readdirSync(tmp).filter((f) => /^(lean-[a-z-]+|vendor-[a-z-]+)\.cjs$/.test(f))) {
  let text = readFileSync(join(tmp, f), 'utf8');
  if (text.includes('__gImp')) throw new Error(`bundle: ${f} already contains __gImp`);
  text = text.replace(/\bimport\("(\.\/vendor-[a-z-]+\.js|node:[a-z_/]+)"\)/g, '__gImp("$1")');
  if (f.startsWith('lean-') && !text.includes('__gImp("./vendor-execa.js")')) {
    throw new Error(`bundle: ${f} has no import of vendor-execa.js`);
  }
  // A static import of a vendor file would be a require of a ./vendor-*.js that does not exist.
  const req = text.match(/\brequire\("\.\/vendor-[^"]*"\)/);
  if (req !== null) throw new Error(`bundle: ${f} requires ${req[0]}; import it dynamically (src/cli/code-cache.ts)`);
  const left = text.match(/\bimport\s*\(.{0,40}/);
  if (left !== null) throw new Error(`bundle: ${f} still has a dynamic import (${left[0]}); src/cli/code-cache.ts`);
  if (!text.startsWith(`// gitopsd-code-cache-key ${leanKeyZeros}\n`)) throw new Error(`bundle: ${f} has no key line`);
  const key = createHash('sha256').update(text).digest('hex');
  writeFileSync(join(tmp, f), text.replace(leanKeyZeros, key));
}
// The entry, last: a file of a few KB that loads one of the above.
await build({
  ...common,
  define: { ...common.define, GITOPSD_LEAN_CJS: 'true' },
  entryPoints: { gitopsd: cli('entry') },
  splitting: false,
  plugins: [entryLinks],
});
mkdirSync(outdir, { recursive: true });
const fresh = readdirSync(tmp);
// The entry is renamed into place last: it is what names the others.
const entries = fresh.filter((f) => f.startsWith('gitopsd.js'));
for (const f of fresh.filter((f) => !entries.includes(f))) renameSync(join(tmp, f), join(outdir, f));
for (const f of entries.sort().reverse()) renameSync(join(tmp, f), join(outdir, f)); // .js.map, then .js
rmSync(tmp, { recursive: true, force: true });
const hourAgo = Date.now() - 3600_000;
for (const f of readdirSync(outdir)) {
  if (!fresh.includes(f) && statSync(join(outdir, f)).mtimeMs < hourAgo) rmSync(join(outdir, f), { force: true });
}
