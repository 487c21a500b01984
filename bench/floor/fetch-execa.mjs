// The floor of a command that runs one `git fetch` through execa, the
// library every gitopsd command runs through (src/core/runner.ts): node
// starts, turns on the compile cache, loads execa's bundle from the V8 code
// cache exactly as the lean bundles do (dist/cli/code-cache.js,
// dist/bundle/vendor-execa.cjs of the measured build), runs the fetch
// through execa (its output buffered, as the runner does), saves the caches,
// exits. No config, no lock, no state: what is left of B2 or B8 above this
// is gitopsd's own work.
// Usage: node fetch-execa.mjs DIST REPO              (B2: git -C REPO fetch --no-tags --quiet origin)
//        node fetch-execa.mjs DIST --git ARG...      (B8: git ARG..., the fleet reader's own fetch)
const [dist, repo, ...rest] = process.argv.slice(2);
const argv = repo === '--git' ? rest : ['-C', repo, 'fetch', '--no-tags', '--quiet', 'origin'];
const { enableCompileCache } = await import(`${dist}/cli/compile-cache.js`);
const { loadBundle, saveCaches } = await import(`${dist}/cli/code-cache.js`);
const cacheDir = enableCompileCache();
const { execa } = loadBundle(`${dist}/bundle/vendor-execa.cjs`, cacheDir).exports;
await execa('git', argv, { timeout: 60_000 });
saveCaches();
