// B11's floors: a long-lived node process that does nothing but a poll's
// one `git fetch`, every INTERVAL_MS, as the daemon's poll timer does
// (src/cycle/daemon.ts: the next poll is armed when one ends). No config,
// no lock, no state, no log line: what is left of B11 above this is
// gitopsd's own work.
//
// Usage: node poll-loop.mjs DIST MODE INTERVAL_MS DELAY_MS POLLS GIT_ARG...
// - MODE execa: execa from the V8 code cache as gitopsd's lean commands load
//   it (dist/cli/code-cache.js, dist/bundle/vendor-execa.cjs of the measured
//   build; the daemon runs the same execa code, loaded through node's loader
//   and compile cache), output buffered, a timeout, stdin ignored
//   (src/core/runner.ts).
// - MODE spawn: node's own child_process.spawn, stdout read to its end.
// The first poll (after DELAY_MS) is not measured, as B11 does not measure
// the daemon's first; then POLLS more. It prints one JSON line:
// { ownMs, childrenMs } over the POLLS measured polls: this process's
// utime + stime (process.cpuUsage, µs / 1000) and the growth of cutime +
// cstime of the git processes it waited for (/proc/self/stat fields 16 and
// 17, clock ticks; proc(5)).
// eslint-disable-next-line no-restricted-imports -- a floor: the point is to run without the runner
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [dist, mode, intervalArg, delayArg, pollsArg, ...gitArgs] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
const polls = Number(pollsArg);
const TICK_MS = 10; // sysconf(_SC_CLK_TCK) is 100 on Linux

function childrenMs() {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): cutime and cstime are fields 16 and 17.
  return (Number(rest[13]) + Number(rest[14])) * TICK_MS;
}

let fetch;
if (mode === 'execa') {
  const { enableCompileCache } = await import(`${dist}/cli/compile-cache.js`);
  const { loadBundle } = await import(`${dist}/cli/code-cache.js`);
  const { execa } = loadBundle(`${dist}/bundle/vendor-execa.cjs`, enableCompileCache()).exports;
  fetch = async () => {
    const r = await execa('git', gitArgs, { timeout: 60_000, stdin: 'ignore', reject: false });
    if (r.exitCode !== 0) throw new Error(`git ${gitArgs.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  };
} else if (mode === 'spawn') {
  fetch = () =>
    new Promise((resolve, reject) => {
      const c = spawn('git', gitArgs, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.on('error', reject);
      c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`git: exit ${code}: ${out}`))));
    });
} else {
  throw new Error(`poll-loop.mjs: unknown mode ${mode}`);
}

await sleep(Number(delayArg));
await fetch();
const own0 = process.cpuUsage();
const children0 = childrenMs();
for (let i = 0; i < polls; i++) {
  await sleep(intervalMs);
  await fetch();
}
const own = process.cpuUsage(own0);
console.log(JSON.stringify({ ownMs: (own.user + own.system) / 1000, childrenMs: childrenMs() - children0 }));
