import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { createFleet } from '../test/harness/fleet.js';
import { scratch, gitopsd, readTrace, describeCommand, countByProgram } from './common.js';

const dir = await scratch('explore');
const files: Record<string, string> = {};
for (let i = 0; i < 1000; i++)
  files[`dot_config/bench/f${String(i).padStart(4, '0')}.conf`] = `# file ${i}\nkey = ${i}\n`;
let t = performance.now();
const fleet = await createFleet({ dir, names: ['h1'], dotfiles: files });
console.log('fleet', performance.now() - t);
const h = fleet.hosts[0]!;
t = performance.now();
await gitopsd(['cycle', '--config', h.config], { env: h.sim.env });
console.log('cycle', performance.now() - t);
for (const what of [['upgrade'], ['sync'], ['status', '--json']]) {
  const trace = join(dir, `trace-${what[0]}`);
  t = performance.now();
  await gitopsd([...what, '--config', h.config], { env: { ...h.sim.env, GITOPSD_TRACE: trace } });
  console.log(what.join(' '), (performance.now() - t).toFixed(0));
  const cmds = await readTrace(trace);
  console.log(countByProgram(cmds));
  for (const c of cmds) console.log('  ', describeCommand(c));
}
for (let i = 0; i < 10; i++)
  await writeFile(join(h.home, `.config/bench/f${String(i * 7).padStart(4, '0')}.conf`), `edited ${i}\n`);
const trace = join(dir, `trace-sync2`);
t = performance.now();
await gitopsd(['sync', '--config', h.config], { env: { ...h.sim.env, GITOPSD_TRACE: trace } });
console.log('sync edited', (performance.now() - t).toFixed(0));
const cmds = await readTrace(trace);
console.log(countByProgram(cmds));
for (const c of cmds) console.log('  ', describeCommand(c));
