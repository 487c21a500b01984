/**
 * Crash injection across a whole `gitopsd cycle` (docs/reliability.md §1).
 *
 * The cycle under test syncs a dotfile edit (capture, commit, fetch, rebase,
 * push, apply) and deploys a new nix-config commit (fetch, build, test,
 * check, profile, boot) in one process. Its step boundaries come from its own
 * trace (GITOPSD_TRACE: every runner command and every state write is a
 * checkpoint), not from a hand-kept list. For each chosen boundary N the
 * fleet is put back to the prepared state, the cycle is SIGKILLed at N
 * (GITOPSD_FAULT_KILL_AT=N), and:
 * - right after the kill: both state files parse, and the profile, boot
 *   default and running system are the recorded deployment (or the pending
 *   activation's previous or new system, which the next run resolves); the
 *   person's edit is still in $HOME;
 * - the next cycle exits 0: the edit is on the remote's main and in $HOME,
 *   the new commit is deployed and running, no activation is pending, no
 *   sync journal is open, no temp file is left;
 * - a third cycle is a no-op: exit 0, no nix command, no push, remote refs
 *   unchanged.
 *
 * CI runs every GITOPSD_RELIABILITY_STRIDE-th point (default 4, plus the
 * last); GITOPSD_RELIABILITY_ALL=1 runs every point. Two fleets work in
 * parallel, each on its own share of the points.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../harness/exec.js';
import { createFleet, type Fleet, type FleetHost } from '../harness/fleet.js';
import { CHEZMOI_TEST_TOML } from '../harness/chezmoi-config.js';
import { removeTempDirs, tempDir } from '../harness/temp.js';
import { nixCommands } from '../integration/upgrade/fixture.js';
import { commandsOf, hostState, readTraceFile, remoteFile, snapshot, type Json } from './helpers.js';

afterAll(removeTempDirs);

const ALL = process.env['GITOPSD_RELIABILITY_ALL'] === '1';
const STRIDE = ALL ? 1 : Number(process.env['GITOPSD_RELIABILITY_STRIDE'] ?? '4');
const WIDTH = 2;
const EDITOR = 'crash-injection-editor';

interface Bed {
  fleet: Fleet;
  host: FleetHost;
  /** The nix-config commit the cycle must deploy, and its store path. */
  commit: string;
  system: string;
  restore: () => Promise<void>;
}

/** A fleet whose next cycle has both a dotfile edit and a new nix-config commit to deploy. */
async function prepare(i: number): Promise<Bed> {
  const fleet = await createFleet({
    dir: await tempDir(`rel-cycle-crash-${i}`),
    names: ['alpha'],
    chezmoiToml: CHEZMOI_TEST_TOML,
  });
  const host = fleet.host('alpha');
  const first = await host.gitopsd(['cycle']);
  expect(first.exitCode, first.stderr).toBe(0);
  await host.editHome('.bashrc', `# ~/.bashrc\nexport EDITOR=${EDITOR}\nalias ll="ls -l"\n`);
  const commit = await fleet.nixConfig.commitGeneration({ alpha: { version: 'v2', kernelVersion: '6.6.1' } }, 'v2');
  const restore = await snapshot(fleet.dir);
  return { fleet, host, commit, system: '', restore };
}

function git(bare: string, args: string[]): Promise<string> {
  return run('git', ['--git-dir', bare, ...args]).then((r) => r.stdout);
}

/** What a kill must never break (checked right after the kill). */
async function afterKill(b: Bed, problems: string[]): Promise<void> {
  const { state, sync } = await hostState(b.host); // both parse, or this throws
  if (state !== null && state['version'] !== 1) problems.push(`state version ${String(state['version'])}`);
  if (sync !== null && sync['version'] !== 1) problems.push(`sync state version ${String(sync['version'])}`);
  const dep = (state?.['deployments'] as Json | undefined)?.['current'] as Json | null | undefined;
  const pending = (state?.['upgrade'] as Json | undefined)?.['pending'] as Json | null | undefined;
  const sim = b.host.sim;
  const [profile, boot, current] = [await sim.profileSystem(), await sim.bootDefault(), await sim.currentSystem()];
  if (pending === null || pending === undefined) {
    const want = String(dep?.['storePath']);
    if (profile !== want || boot !== want || current !== want)
      problems.push(
        `no pending activation, yet profile/boot/current ${profile}/${boot}/${current} != deployed ${want}`,
      );
  } else if (![pending['previous'], pending['storePath']].includes(profile)) {
    problems.push(`pending activation, profile ${profile} is neither its previous nor its new system`);
  }
  if (!((await b.host.readHome('.bashrc')) ?? '').includes(EDITOR)) problems.push('the edit in $HOME was lost');
}

/** The end state after the rerun. */
async function afterRerun(b: Bed, problems: string[]): Promise<void> {
  const { state, sync } = await hostState(b.host);
  const dep = (state?.['deployments'] as Json | undefined)?.['current'] as Json | null | undefined;
  if (dep?.['commit'] !== b.commit) problems.push(`deployed ${String(dep?.['commit'])}, not ${b.commit}`);
  if ((state?.['upgrade'] as Json | undefined)?.['pending'] != null) problems.push('an activation is still pending');
  if ((sync?.['sync'] as Json | undefined)?.['journal'] != null) problems.push('the sync journal is still open');
  const sim = b.host.sim;
  for (const [what, p] of [
    ['profile', await sim.profileSystem()],
    ['boot default', await sim.bootDefault()],
    ['running system', await sim.currentSystem()],
  ] as const) {
    if (p !== b.system) problems.push(`${what} is ${p}, not ${b.system}`);
  }
  if (!((await remoteFile(b.fleet.dotfilesUrl, 'dot_bashrc')) ?? '').includes(EDITOR))
    problems.push('the edit is not on the remote main');
  if (!((await b.host.readHome('.bashrc')) ?? '').includes(EDITOR)) problems.push('the edit is not in $HOME');
  for (const d of [sim.paths.stateDir, join(sim.paths.stateDir, 'sync')]) {
    const temps = (await readdir(d)).filter((f) => f.includes('.tmp-'));
    if (temps.length > 0) problems.push(`temp files left in ${d}: ${temps.join(', ')}`);
  }
}

let beds: Bed[] = [];
let labels: string[] = [];

beforeAll(async () => {
  beds = await Promise.all(Array.from({ length: WIDTH }, (_, i) => prepare(i)));
});

describe('gitopsd cycle: SIGKILL at the step boundaries of a sync + upgrade', () => {
  it('a traced cycle names its boundaries: sync commands, upgrade commands and state writes', async () => {
    const b = beds[0];
    if (b === undefined) throw new Error('no bed');
    const trace = join(b.fleet.dir, '..', 'reference-trace.jsonl');
    const r = await b.host.gitopsd(['cycle'], { env: { GITOPSD_TRACE: trace } });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const cps = (await readTraceFile(trace)).filter((e) => e.event === 'checkpoint');
    labels = cps.map((e) => `${String(e['label'])} ${((e['args'] as string[] | undefined) ?? []).join(' ')}`.trim());
    for (const want of [
      /^cmd:jj .* git push/,
      /^cmd:chezmoi .* re-add/,
      /^cmd:nh os build/,
      /^cmd:nix-env /,
      /^state:write/,
    ])
      expect(
        labels.some((l) => want.test(l)),
        String(want),
      ).toBe(true);
    const system = await b.host.sim.profileSystem();
    expect(system).toMatch(/nixos-system-alpha-v2$/);
    for (const x of beds) x.system = system ?? '';
    process.stdout.write(`cycle crash injection: ${labels.length} checkpoints in one sync + upgrade cycle\n`);
    await b.restore();
  });

  it('after a kill at each chosen point, the state is sound, the next cycle completes, the third is a no-op', async () => {
    const n = labels.length;
    expect(n).toBeGreaterThan(30);
    const chosen = Array.from({ length: n }, (_, i) => i + 1).filter((k) => (k - 1) % STRIDE === 0 || k === n);
    process.stdout.write(
      `cycle crash injection: killing at ${chosen.length} of ${n} points (${ALL ? 'all' : `one in ${STRIDE}, and the last`})\n`,
    );
    const failures: string[] = [];
    const work = async (b: Bed, points: number[]): Promise<void> => {
      for (const k of points) {
        const problems: string[] = [];
        await b.restore();
        const killed = await b.host.gitopsd(['cycle'], { env: { GITOPSD_FAULT_KILL_AT: String(k) } });
        if (killed.exitCode !== -1) problems.push(`the run was not killed (exit ${killed.exitCode})`);
        try {
          await afterKill(b, problems);
        } catch (err) {
          problems.push((err as Error).message);
        }
        const again = await b.host.gitopsd(['cycle']);
        if (again.exitCode !== 0)
          problems.push(`rerun exit ${again.exitCode}: ${again.stdout} ${again.stderr.slice(-600)}`);
        await afterRerun(b, problems).catch((err: unknown) => problems.push((err as Error).message));
        const refs = await git(b.fleet.dotfilesUrl, ['for-each-ref', '--format=%(refname) %(objectname)']);
        const trace = join(b.fleet.dir, `third-${k}.jsonl`);
        const third = await b.host.gitopsd(['cycle'], { env: { GITOPSD_TRACE: trace } });
        const cmds = commandsOf(await readTraceFile(trace));
        if (third.exitCode !== 0) problems.push(`third run exit ${third.exitCode}: ${third.stdout}`);
        if (!/^upgrade: ok: up to date/m.test(third.stdout)) problems.push(`third run upgrade: ${third.stdout}`);
        if (nixCommands(cmds).length > 0) problems.push(`third run ran nix: ${JSON.stringify(nixCommands(cmds))}`);
        if (cmds.some((c) => c.includes('push'))) problems.push('third run pushed');
        if ((await git(b.fleet.dotfilesUrl, ['for-each-ref', '--format=%(refname) %(objectname)'])) !== refs)
          problems.push('third run moved a remote ref');
        if (problems.length > 0)
          failures.push(`kill at ${k} (${(labels[k - 1] ?? '?').slice(0, 100)}): ${problems.join('; ')}`);
      }
    };
    await Promise.all(
      beds.map((b, i) =>
        work(
          b,
          chosen.filter((_, j) => j % WIDTH === i),
        ),
      ),
    );
    expect(failures).toEqual([]);
  }, 1_200_000);
});
