// B2's floor with execa, the library every gitopsd command runs through
// (src/core/runner.ts): node starts, turns on the compile cache, loads
// execa's bundle from the V8 code cache exactly as the lean upgrade does
// (dist/cli/code-cache.js, dist/bundle/vendor-execa.cjs of the measured
// build), runs the same `git fetch` through execa, saves the caches, exits.
// No config, no lock, no state: what is left of B2 above this is gitopsd's
// own work. Usage: node fetch-execa.mjs DIST REPO
const [dist, repo] = process.argv.slice(2);
const { enableCompileCache } = await import(`${dist}/cli/compile-cache.js`);
const { loadBundle, saveCaches } = await import(`${dist}/cli/code-cache.js`);
const cacheDir = enableCompileCache();
const { execa } = loadBundle(`${dist}/bundle/vendor-execa.cjs`, cacheDir).exports;
await execa('git', ['-C', repo, 'fetch', '--no-tags', '--quiet', 'origin'], { timeout: 60_000 });
saveCaches();
