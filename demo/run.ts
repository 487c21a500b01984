/**
 * `npm run demo`: a simulated fleet of three NixOS hosts, driven by the real
 * gitopsd CLI with real git, jj, chezmoi and nix (in the test bed when they
 * are not installed). Only systemd, the boot loader and reboots are
 * simulated (docs/simulated-host.md). Every step below really runs; the
 * narration prints what the commands printed and what the files now say.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFleet, type Fleet, type FleetHost } from '../test/harness/fleet.js';
import { SHIMS_DIR } from '../test/harness/sim-host.js';
import { run } from '../test/harness/exec.js';
import type { StatusReport } from '../src/status/index.js';
import { MANIFEST, checkWipe, listFiles, wrapperScript } from './fleet-dir.js';
import { followSteps, printedSteps } from './resolve.js';
import { generationStory, unnamedVersions, versionOfToplevel } from './narrate.js';

const t0 = performance.now();
const bold = (s: string): string => (process.stdout.isTTY ? `\u001b[1m${s}\u001b[0m` : s);
/** What the commands printed: shown, but not part of the story. */
const show = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};
/** The story: shown, and kept, so that the end can check it names every version pushed. */
const told: string[] = [];
const say = (s = ''): void => {
  told.push(s);
  show(s);
};
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(0)}s`;

function heading(n: number | string, title: string): void {
  say();
  say(bold(`== ${n}. ${title} (${elapsed()})`));
}

/** Run gitopsd on a host, print the command and its output, and check the exit code. */
async function step(
  h: FleetHost,
  args: string[],
  expectCode: number,
  opts: { quiet?: boolean; env?: Record<string, string>; label?: string } = {},
): Promise<string> {
  const r = await h.gitopsd(args, opts.env === undefined ? {} : { env: opts.env });
  show(`$ [${h.name}${opts.label ?? ''}] gitopsd ${args.join(' ')}   -> exit ${r.exitCode}`);
  if (opts.quiet !== true) {
    for (const line of r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== ''))
      show(`    ${line}`);
  }
  if (r.exitCode !== expectCode) {
    show(r.stderr);
    throw new Error(
      `demo: expected exit ${expectCode} from "gitopsd ${args.join(' ')}" on ${h.name}, got ${r.exitCode}`,
    );
  }
  return r.stdout;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`demo: ${what}`);
  say(`    ok: ${what}`);
}

const short = (s: string | null | undefined): string => (s ? s.slice(0, 10) : '-');
const sys = (p: string | null): string => (p === null ? '-' : p.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ''));

/** `gitopsd status --json` of every host, as a table. */
async function fleetStatus(fleet: Fleet): Promise<void> {
  show();
  show('  host    deployed      running system              boot      golden                      dotfiles');
  for (const h of fleet.hosts) {
    const s = await h.json<StatusReport>(['status']);
    const dot = s.dotfiles.parked
      ? `CONFLICT ${s.dotfiles.parked.paths.join(',')}`
      : (s.dotfiles.lastSync?.result ?? '-');
    show(
      `  ${h.name.padEnd(7)} ${short(s.git.deployed?.commit).padEnd(13)} ${sys(s.system.current).padEnd(27)} ${s.boot.verdict.padEnd(9)} ${sys(s.golden.storePath).padEnd(27)} ${dot}`,
    );
  }
}

async function main(): Promise<void> {
  // Inside the project (bind-mounted into the test bed), so the files outlive
  // the run; wiped at the start of each run.
  const dir = resolve(
    process.env['GITOPSD_DEMO_DIR'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'demo-fleet'),
  );
  // Delete only what an earlier run created (demo/fleet-dir.ts): never a file the user added.
  const force = process.argv.includes('--force');
  const wipe = checkWipe(dir, force);
  if (wipe.kind === 'refuse') {
    process.stderr.write(`demo: not deleting ${dir}: ${wipe.reason}; move them away, or run npm run demo -- --force\n`);
    process.exitCode = 64;
    return;
  }
  await rm(dir, { recursive: true, force: true });
  say(bold('gitopsd demo: a simulated fleet of three NixOS hosts'));
  say(`Real git, jj, chezmoi and nix; simulated systemd, boot loader and reboots. Files: ${dir}`);

  heading(0, 'Build the fleet: alpha, beta and gamma run generation v1');
  const fleet = await createFleet({ dir, names: ['alpha', 'beta', 'gamma'] });
  const [alpha, beta, gamma] = fleet.hosts as [FleetHost, FleetHost, FleetHost];
  say('Each host runs its first daily cycle (the dotfiles are cloned and applied; v1 is recorded as deployed),');
  say('then validates its boot, which pins v1 as the golden generation.');
  for (const h of fleet.hosts) {
    await step(h, ['cycle'], 0);
    await step(h, ['boot', 'validate'], 0, { quiet: true });
  }
  await fleetStatus(fleet);

  heading(1, 'A dotfile edit on alpha reaches the other hosts');
  const bashrc = (await alpha.readHome('.bashrc')) ?? '';
  await alpha.editHome('.bashrc', `${bashrc}export PAGER=less  # added on alpha\n`);
  say('alpha: appended "export PAGER=less" to ~/.bashrc');
  await step(alpha, ['sync'], 0);
  await step(beta, ['sync'], 0);
  await step(gamma, ['sync'], 0);
  for (const h of [beta, gamma])
    check(((await h.readHome('.bashrc')) ?? '').includes('PAGER=less'), `${h.name}'s ~/.bashrc has alpha's line`);

  heading(2, 'The same line edited on alpha and beta at once: parked as a conflict');
  const gitconfig = (await alpha.readHome('.gitconfig')) ?? '';
  await alpha.editHome('.gitconfig', gitconfig.replace('Fleet User', 'Alice on alpha'));
  await beta.editHome('.gitconfig', gitconfig.replace('Fleet User', 'Alice on beta'));
  await beta.editHome('.config/starship.toml', 'add_newline = true  # beta, another file\n');
  say('alpha and beta both changed the name line of ~/.gitconfig; beta also edited ~/.config/starship.toml');
  await step(alpha, ['sync'], 0);
  await step(beta, ['sync'], 1);
  await step(beta, ['sync', 'conflicts'], 0);
  await step(gamma, ['sync'], 0);
  const betaGit = (await beta.readHome('.gitconfig')) ?? '';
  check(!/^(<<<<<<<|>>>>>>>)/m.test(betaGit), "no conflict markers in beta's ~/.gitconfig");
  check(betaGit.includes('Alice on beta'), 'beta keeps its own edit in $HOME while the conflict waits');
  check(((await gamma.readHome('.gitconfig')) ?? '').includes('Alice on alpha'), "gamma got alpha's version");
  check(
    ((await gamma.readHome('.config/starship.toml')) ?? '').includes('beta, another file'),
    "beta's edit to the other file still reached gamma",
  );
  await fleetStatus(fleet);

  heading(3, 'v2, a nix-config commit, is deployed fleet-wide');
  const spec = (version: string, extra: { failingServices?: string[]; breakage?: 'syntax-error' } = {}) =>
    Object.fromEntries(fleet.hosts.map((h) => [h.name, { version, kernelVersion: '6.6.1', ...extra }]));
  // Every version the demo commits, in order; the end checks the story names each.
  const pushed = ['v1'];
  const v2 = await fleet.nixConfig.commitGeneration(spec('v2'), 'fleet: v2');
  pushed.push('v2');
  say(`pushed ${short(v2)} "fleet: v2" to the nix-config remote`);
  for (const h of fleet.hosts) await step(h, ['upgrade'], 0);
  say('Each host reboots (simulated) and validates v2, which becomes the new golden:');
  for (const h of fleet.hosts) {
    await h.sim.boot();
    await step(h, ['boot', 'validate'], 0, { quiet: true });
  }

  heading(4, 'v3-broken, a commit that does not build, is rejected by build validation');
  const broken = await fleet.nixConfig.commitGeneration(spec('v3-broken', { breakage: 'syntax-error' }), 'fleet: typo');
  pushed.push('v3-broken');
  say(`pushed ${short(broken)} "fleet: typo": version v3-broken, which does not build (flake.nix no longer parses)`);
  for (const h of fleet.hosts) await step(h, ['upgrade'], 3);
  say('The next night, the same commit is skipped without building anything:');
  await step(alpha, ['upgrade'], 3);
  const alphaState = await alpha.json<StatusReport>(['status']);
  check(alphaState.system.current?.endsWith('-v2') ?? false, 'alpha still runs v2');

  heading(5, 'v4, a commit that breaks sshd, is rolled back to the golden v2 after two failed boots');
  const sshdBad = await fleet.nixConfig.commitGeneration(
    spec('v4', { failingServices: ['sshd.service'] }),
    'fleet: v4 (sshd will not start)',
  );
  pushed.push('v4');
  say(`pushed ${short(sshdBad)} "fleet: v4"; alpha deploys it for the next boot`);
  await step(alpha, ['upgrade', '--operation', 'boot'], 0);
  await alpha.sim.boot();
  say('alpha reboots into v4 (1st boot):');
  await step(alpha, ['boot', 'validate'], 5);
  await alpha.sim.boot();
  say('alpha reboots into v4 again (2nd boot):');
  await step(alpha, ['boot', 'validate'], 5);
  await alpha.sim.boot();
  say('alpha reboots into the golden v2:');
  await step(alpha, ['boot', 'validate'], 0, { quiet: true });
  await step(alpha, ['boot', 'status'], 0);
  // Told from alpha's real system profile (`nix-env --list-generations`), not written in advance.
  const gens = (await alpha.sim.generations()).map((g) => ({
    number: g.number,
    version: versionOfToplevel(g.storePath) ?? g.storePath,
  }));
  const current = gens.at(-1);
  say(
    `Why the golden v2 is "generation ${current?.number ?? '?'}" now: the rollback does \`nix-env --set\` to the golden system,`,
  );
  say('which adds a new generation of the system profile rather than going back to an old number.');
  for (const line of generationStory(gens, pushed)) say(line);
  check(current?.version === 'v2', `alpha's newest generation (${current?.number ?? '?'}) holds v2, the golden`);
  const after = await alpha.json<StatusReport>(['status']);
  check(after.git.deployed?.commit === v2, `alpha's deployed commit is ${short(v2)} again ("fleet: v2")`);
  say('The next upgrade does not redeploy the rolled-back commit:');
  await step(alpha, ['upgrade'], 3);
  await fleetStatus(fleet);

  heading(6, 'v5 rolls out in waves: alpha is the canary; beta and gamma follow after a 60-minute soak');
  // Each host publishes its status to a git remote of its own (docs/fleet.md);
  // nix-config carries the rollout policy (docs/rollout.md). The clock is
  // injected (GITOPSD_TEST_NOW) so that the soak passes in seconds.
  const statusRemote = join(dir, 'remotes', 'status.git');
  await run('git', ['init', '--quiet', '--bare', statusRemote]);
  for (const h of fleet.hosts) {
    const cfg = JSON.parse(await readFile(h.config, 'utf8')) as Record<string, unknown>;
    cfg['fleet'] = { enable: true, statusRemote, heartbeatSec: 1800 };
    await writeFile(h.config, `${JSON.stringify(cfg, null, 2)}\n`);
  }
  const T0 = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
  const at = (min: number): { env: Record<string, string>; label: string } => ({
    env: { GITOPSD_TEST_NOW: new Date(T0 + min * 60_000).toISOString() },
    label: ` at t+${min} min`,
  });
  const policy = {
    v: 1,
    waves: [
      { name: 'canary', hosts: ['alpha'] },
      { name: 'rest', hosts: ['beta', 'gamma'], soakMinutes: 60 },
    ],
  };
  await fleet.nixConfig.commitFiles(
    { 'gitopsd-rollout.json': `${JSON.stringify(policy, null, 2)}\n` },
    'rollout: alpha first, the rest after 60 min',
  );
  const v5 = await fleet.nixConfig.commitGeneration(spec('v5'), 'fleet: v5');
  pushed.push('v5');
  say(`pushed gitopsd-rollout.json (wave "canary": alpha; wave "rest": beta, gamma, soak 60 min) and`);
  say(`${short(v5)} "fleet: v5" on top of it`);
  for (const h of fleet.hosts) await step(h, ['fleet', 'publish'], 0, { ...at(0), quiet: true });
  say('alpha, the canary, deploys v5 at once; beta must wait for alpha to be healthy on it for 60 min:');
  await step(alpha, ['upgrade'], 0, at(1));
  await step(beta, ['upgrade'], 0, at(2));
  await step(alpha, ['fleet', 'status', '--commit', v5], 1, at(3));
  say("fleet status exits 1 because a host is failed: gamma's last upgrade was v3-broken (step 4).");
  say('An hour later alpha still reports v5 healthy (its hourly publish), and the rest of the fleet follows:');
  await step(alpha, ['fleet', 'publish'], 0, { ...at(62), quiet: true });
  await step(beta, ['upgrade'], 0, at(63));
  await step(gamma, ['upgrade'], 0, at(64));
  const waves = await alpha.gitopsd(['fleet', 'status', '--json'], { env: at(65).env });
  const view = JSON.parse(waves.stdout) as { hosts: { host: string; status?: { deployed?: { commit?: string } } }[] };
  const onV5 = view.hosts.filter((h) => h.status?.deployed?.commit === v5).map((h) => h.host);
  check(onV5.sort().join(',') === 'alpha,beta,gamma', `all three hosts publish ${short(v5)} as deployed`);
  await step(alpha, ['fleet', 'status', '--commit', v5], 0, at(65));
  say("Exit 0: every host is healthy or only warned (beta's parked dotfiles conflict is a warning).");

  heading(7, "A person resolves beta's parked conflict with the steps gitopsd prints");
  say('On beta, the dotfiles user asks gitopsd how, and follows the printed steps line by line:');
  const printed = await step(beta, ['sync', 'conflicts'], 0);
  // The person keeps one name for both hosts: the merge of "Alice on alpha" and "Alice on beta".
  const merged = gitconfig.replace('Fleet User', 'Alice');
  await followSteps({
    steps: printedSteps(printed),
    env: { JJ_USER: 'Alice', JJ_EMAIL: 'alice@example.invalid' },
    merge: async (src) => {
      await writeFile(join(src, 'dot_gitconfig'), merged);
      say('  (the person writes dot_gitconfig with "name = Alice", the merge of both edits, over the conflict)');
    },
    say,
  });
  say("The next sync on beta (tonight's, or now by hand) drops the parked bookmark and applies the merge:");
  await step(beta, ['sync'], 0);
  const syncStatus = await step(beta, ['sync', 'status'], 0);
  const onRemote = await run('git', ['--git-dir', fleet.dotfilesUrl, 'show', 'main:dot_gitconfig']);
  check(onRemote.stdout === merged, "the dotfiles remote's main holds the merged ~/.gitconfig");
  const parkedRefs = await run('git', ['--git-dir', fleet.dotfilesUrl, 'for-each-ref', 'refs/heads/sync/']);
  check(parkedRefs.stdout.trim() === '', 'no parked bookmark (sync/beta) is left on the remote');
  check((await beta.readHome('.gitconfig')) === merged, "beta's ~/.gitconfig is the merged file");
  check(syncStatus.includes('parked conflicts: none'), 'beta has nothing parked');
  await step(alpha, ['sync'], 0);
  check((await alpha.readHome('.gitconfig')) === merged, "alpha's ~/.gitconfig is the merged file too");
  // Step 6's statuses were dated up to 65 min ahead of the real clock, which
  // a reader counts as stale (docs/fleet.md "States"): each host publishes
  // once more, at the real time, so `fleet status` on the demo hosts afterwards
  // shows the fleet as it is.
  say("Step 6's statuses were dated up to 65 min ahead of the real clock; a reader counts such a status as");
  say("stale (the host's clock looks wrong), so each host publishes again now, at the real time:");
  for (const h of fleet.hosts) await step(h, ['fleet', 'publish'], 0, { quiet: true });
  await fleetStatus(fleet);
  const unnamed = unnamedVersions(told.join('\n'), pushed);
  check(unnamed.length === 0, `the story names every version pushed (${pushed.join(', ')})`);

  const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const wrapper = join(dir, 'gitopsd');
  await writeFile(
    wrapper,
    wrapperScript({
      project,
      shimsDir: SHIMS_DIR,
      hosts: fleet.hosts.map((h) => ({ name: h.name, root: h.sim.root, config: h.config })),
    }),
  );
  await chmod(wrapper, 0o755);
  await writeFile(join(dir, MANIFEST), `${listFiles(dir).join('\n')}\n`);

  heading('end', `done in ${elapsed()}`);
  say('Poke around:');
  say(`  fleet           ${dir}`);
  say(`  nix-config      ${fleet.nixConfig.workDir} (remote ${fleet.nixConfig.remoteDir})`);
  say(`  dotfiles remote ${fleet.dotfilesUrl}`);
  for (const h of fleet.hosts) {
    say(`  ${h.name.padEnd(15)} root ${h.sim.root}, home ${h.home}, config ${h.config}`);
  }
  say('Any gitopsd command on a demo host, with the true answers (it runs inside the test bed, where the');
  say("hosts' store paths are):");
  say(`  ${relative(process.cwd(), wrapper) || wrapper} alpha status`);
  say(`  ${relative(process.cwd(), wrapper) || wrapper} beta sync status`);
  say('Step 6 ran on a clock injected up to 65 min ahead: `status` shows those runs as "in the future".');
  say(`A new run deletes ${dir} only if it holds nothing the demo did not create (else: npm run demo -- --force).`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
