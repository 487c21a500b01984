// B2's lower floor: node starts, spawns the same `git fetch` with node's
// own child_process (no execa, no code of gitopsd's), waits, exits: what any
// node program (an ES module, as bin/gitopsd is) that runs the fetch costs
// at least. Usage: node fetch-spawn.mjs REPO
// eslint-disable-next-line no-restricted-imports -- a baseline: the point is to run without the runner
import { spawn } from 'node:child_process';

const repo = process.argv[2] ?? '.';
const child = spawn('git', ['-C', repo, 'fetch', '--no-tags', '--quiet', 'origin'], {
  stdio: 'ignore',
  timeout: 60_000,
});
child.on('exit', (code) => {
  process.exitCode = code === 0 ? 0 : 1;
});
