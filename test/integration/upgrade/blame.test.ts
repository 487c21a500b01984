/**
 * Issue 13: blame only what a commit caused. The failure inputs of the issue,
 * each through the CLI on the simulated host with real git and nix:
 * (1) a full disk during the build, (2) a locked input that cannot be
 * fetched, (3) a check already failing before the upgrade, (6) an activation
 * that hangs, (7) a checkout owned by another user, (8) the checkout after a
 * run that deploys nothing; and the bad marks: evidence, `bad list`,
 * `bad forget`, a mark from an older gitopsd; a builder that dies of SIGBUS;
 * a fetcher whose server is down; another switch holding
 * switch-to-configuration's lock; an activate script that fails, far up a
 * long stderr (exit 4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { once } from 'node:events';
import { chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  buildToplevel,
  createInputRepo,
  createNixConfigRepo,
  GIT_ENV,
  type InputRepo,
  type NixConfigRepo,
  readToplevel,
} from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run, tryRun } from '../../harness/exec.js';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { checkoutHead, makeHost, nixCommands, readState, upgrade, type TestHost } from './fixture.js';

let base: string;
let input: InputRepo;
let repo: NixConfigRepo;
let t: TestHost;
const gen = (version: string, extra: object = {}): { hosta: { version: string; kernelVersion: string } } => ({
  hosta: { version, kernelVersion: '6.6.1', ...extra },
});

interface RetryRec {
  commit: string;
  stage: string;
  class: string;
  cause: string;
  failures: number;
  notBefore: string;
  evidence: string;
}
interface Mark {
  reason: string;
  class: string;
  cause: string | null;
  evidence: string;
  build: { flakeHost: string; flakeAttr: string; lockBlob: string | null; drvPath: string | null } | null;
}
async function retries(): Promise<RetryRec[]> {
  return ((await readState(t)).upgrade as unknown as { retries?: RetryRec[] }).retries ?? [];
}
async function marks(): Promise<Record<string, Mark>> {
  return ((await readState(t)).deployments?.badCommits ?? {}) as unknown as Record<string, Mark>;
}

beforeAll(async () => {
  await requireTools();
  base = await tempDir('upgrade-blame');
  input = await createInputRepo({ dir: join(base, 'input'), value: 'input v1' });
  repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1'), input });
  t = await makeHost(repo, { name: 'hosta', label: 'blame' });
  const first = await upgrade(t);
  expect(first.exitCode, first.stderr).toBe(0);
});
afterAll(removeTempDirs);

describe('environmental build failures are not blamed on the commit', () => {
  it('(1) a full disk during the build: exit 75, nothing marked, the checkout back; it deploys once space is back', async () => {
    const deployed = await checkoutHead(t);
    const c2 = await repo.commitGeneration(gen('v2-disk'), 'v2');
    // buildsDir on a tmpfs whose inodes are all used: nix builds, then fails to
    // create the out-link with the kernel's ENOSPC, exactly as on a full /.
    const builds = join(t.host.paths.stateDir, 'builds');
    await mkdir(builds, { recursive: true });
    const script = [
      'set -e',
      'b=$1; shift',
      'keep=$(mktemp -d)',
      'cp -a "$b/." "$keep/"',
      'mount -t tmpfs -o size=1m,nr_inodes=2 tmpfs "$b"',
      'cp -a "$keep/." "$b/" 2>/dev/null || true',
      'touch "$b/.fill" 2>/dev/null || true',
      'df -i "$b" | tail -1 >&2',
      'exec "$@"',
    ].join('\n');
    const r = await tryRun(
      'unshare',
      [
        '--mount',
        '--propagation',
        'unchanged',
        '--',
        'sh',
        '-c',
        script,
        'sh',
        builds,
        'node',
        join(repoRoot, 'bin', 'gitopsd'),
        'upgrade',
        '--config',
        t.config,
      ],
      { env: { ...t.host.env, TZ: 'UTC' } },
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    expect(r.stdout).toMatch(/not the commit's fault \(the disk is full: .*No space left on device/);
    expect(await marks()).toEqual({});
    const rec = (await retries()).find((x) => x.commit === c2);
    expect(rec).toMatchObject({ stage: 'build', class: 'environmental', cause: 'disk-full', failures: 1 });
    expect(rec?.evidence).toMatch(/^error: creating symlink .*No space left on device/m);
    expect(await checkoutHead(t)).toBe(deployed);
    expect(await t.host.generations()).toHaveLength(1);
    const s = await readState(t);
    expect(s.upgrade?.lastRun).toMatchObject({ result: 'retry-later', exitCode: 75, commit: c2 });

    // Space is back (the namespace and its tmpfs are gone): the same commit deploys.
    const again = await upgrade(t);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c2);
    expect(await retries()).toEqual([]);
  });

  it('(2) a locked input that cannot be fetched: exit 75, not marked bad, the whole error kept; it deploys once reachable', async () => {
    // A value no other test used: the shared store must not hold its source
    // already (nix would then take it by its narHash, without fetching).
    const value = `input v2 ${Date.now()}-${Math.random().toString(36).slice(2)}`;
    await input.commitValue(value);
    // Lock the new input revision as another machine would: in a store and a
    // fetcher cache this host's nix never saw, so the host has to fetch it.
    await run('nix', ['flake', 'update', '--flake', repo.workDir, '--store', join(base, 'other-store')], {
      cwd: repo.workDir,
      env: { XDG_CACHE_HOME: join(base, 'other-cache') },
    });
    const c3 = await repo.commitFiles({}, 'flake.lock: input v2');
    const deployed = await checkoutHead(t);
    const away = `${input.dir}.away`;
    await rename(input.dir, away);
    try {
      const r = await upgrade(t);
      expect(r.exitCode, r.stdout + r.stderr).toBe(75);
      expect(r.stdout).toMatch(/an input or source could not be fetched: error: Git repository .* does not exist/);
      expect(await marks()).toEqual({});
      const rec = (await retries()).find((x) => x.commit === c3);
      expect(rec).toMatchObject({ class: 'environmental', cause: 'fetch-failed', failures: 1 });
      // The whole error, not its first line ("error:" alone, before issue 13).
      expect(rec?.evidence.split('\n').length).toBeGreaterThan(3);
      expect(rec?.evidence).toMatch(/^error:\s*$/m);
      expect(rec?.evidence).toContain('while');
      expect(rec?.evidence).toMatch(/error: Git repository ".*input" does not exist/);
      expect(await checkoutHead(t)).toBe(deployed);
    } finally {
      await rename(away, input.dir);
    }
    const again = await upgrade(t);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c3);
    expect(await readFile(join((await t.host.currentSystem()) ?? '', 'etc/gitopsd-sim/input'), 'utf8')).toBe(
      `${value}\n`,
    );
  });

  it('a substituter that serves a broken NAR: exit 75, not marked bad (nix says "1 dependency failed"); it deploys once built', async () => {
    // A kernel version no other test used: its store path is fetched, not built.
    const kver = `6.6.${Date.now() % 100000}${Math.floor(Math.random() * 1000)}`;
    const c = await repo.commitGeneration(gen('v-subst', { kernelVersion: kver }), 'v-subst');
    // Build it once, put its kernel into a binary cache, and take both out of the store.
    const out = join(base, 'subst-out');
    const top = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: out });
    const kernel = (await readToplevel(top)).kernel.split('/').slice(0, 4).join('/');
    const cache = join(base, 'subst-cache');
    await run('nix', ['copy', '--to', `file://${cache}`, kernel]);
    await rm(out);
    const closure = (await run('nix-store', ['-q', '--referrers-closure', kernel])).stdout.trim().split('\n');
    await run('nix-store', ['--delete', ...closure]);
    // The cache answers every narinfo, and a NAR request with a body that is no
    // NAR (a captive portal, a proxy's error page).
    const server = createServer((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/nar/')) {
        res.writeHead(200).end('<html>not a NAR</html>');
        return;
      }
      readFile(join(cache, path.slice(1))).then(
        (b) => res.writeHead(200).end(b),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    const deployed = await checkoutHead(t);
    try {
      const r = await upgrade(t, [], {
        NIX_CONFIG: `${process.env['NIX_CONFIG'] ?? ''}\nsubstituters = http://127.0.0.1:${port}\nrequire-sigs = false\ndownload-attempts = 1\nfallback = false`,
      });
      expect(r.exitCode, r.stdout + r.stderr).toBe(75);
      expect(r.stdout).toMatch(/not the commit's fault \(a substituter \(binary cache\) did not deliver a path intact/);
      expect(await marks()).toEqual({});
      const rec = (await retries()).find((x) => x.commit === c);
      expect(rec).toMatchObject({ stage: 'build', class: 'environmental', cause: 'substitute-failed', failures: 1 });
      expect(rec?.evidence).toMatch(/Reason: 1 dependency failed/);
      expect(await checkoutHead(t)).toBe(deployed);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
    // Without the broken cache the same commit builds and deploys.
    const again = await upgrade(t);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c);
  });
});

describe('checks and activation', () => {
  it('(3) a check already failing before the upgrade: exit 6 naming it, nothing built or marked; then it deploys', async () => {
    const flag = join(base, 'upstream-up');
    await t.host.writeConfig({
      nixConfig: { url: repo.remoteUrl },
      validation: { checks: [{ name: 'upstream', command: ['test', '-e', flag] }], timeoutSec: 2 },
    });
    const deployed = await checkoutHead(t);
    const c4 = await repo.commitGeneration(gen('v4-innocent'), 'an innocent commit');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(6);
    expect(r.stdout).toMatch(/the health check "upstream" \(exit 1\) already fails on the current system/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect(await marks()).toEqual({});
    expect(await checkoutHead(t)).toBe(deployed);
    expect((await readState(t)).upgrade?.lastRun).toMatchObject({ result: 'refused', exitCode: 6 });

    await writeFile(flag, '');
    const again = await upgrade(t);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c4);
  });

  it('an upstream that goes down after the pre-check: the previous system fails the check too once back, so exit 75, not blamed', async () => {
    // The check passes once (the pre-check, before the build), then fails
    // for good: the upstream it reaches went down during the build.
    const down = join(base, 'upstream-down');
    await t.host.writeConfig({
      nixConfig: { url: repo.remoteUrl },
      validation: {
        checks: [{ name: 'upstream', command: ['sh', '-c', `test ! -e ${down}; r=$?; : > ${down}; exit $r`] }],
        timeoutSec: 2,
      },
    });
    const before = await t.host.currentSystem();
    const deployed = await checkoutHead(t);
    const c = await repo.commitGeneration(gen('v4-upstream-down'), 'an innocent commit');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    expect(r.stdout).toMatch(
      /not the commit's fault \(the check fails on the previous system too, once it is back: upstream\)/,
    );
    expect(await marks()).toEqual({});
    expect(await t.host.currentSystem()).toBe(before);
    expect(await t.host.profileSystem()).toBe(before);
    expect((await retries()).find((x) => x.commit === c)).toMatchObject({
      stage: 'post-switch',
      class: 'environmental',
      cause: 'check-fails-on-previous',
    });
    expect(await checkoutHead(t)).toBe(deployed);

    // The upstream is back: the same commit deploys.
    await rm(down);
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl } });
    const again = await upgrade(t);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c);
  });

  it('(6) an activation that hangs: reverted in the same run, exit 75, not blamed, not retried the next night; retried after the backoff', async () => {
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl }, timeouts: { activateSec: 3 } });
    const before = await t.host.currentSystem();
    const deployed = await checkoutHead(t);
    const hang = join(t.host.root, 'etc/sim/hang-activation');
    await writeFile(hang, 'test\n');
    const c5 = await repo.commitGeneration(gen('v5-hang'), 'v5');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    expect(r.stdout).toMatch(/activating .* failed, and it is not the commit's fault \(the activation did not finish/);
    expect(r.stdout).toMatch(/re-activated the previous system .* in this run/);
    expect(await t.host.currentSystem()).toBe(before);
    expect(await t.host.profileSystem()).toBe(before);
    const acts = (await t.host.activations()).slice(-2).map((a) => a.action);
    expect(acts).toEqual(['test', 'switch']);
    expect(await marks()).toEqual({});
    const s = await readState(t);
    expect(s.upgrade?.pending).toBeNull();
    const rec = (await retries()).find((x) => x.commit === c5);
    expect(rec).toMatchObject({ stage: 'activation', class: 'unknown', cause: 'activation-hang', failures: 1 });
    expect(await checkoutHead(t)).toBe(deployed);

    // The next night: not tried again (no nix at all), and it says until when.
    const next = await upgrade(t);
    expect(next.exitCode).toBe(75);
    expect(next.stdout).toMatch(/not building it again before \S+ \(backoff\)/);
    expect(nixCommands(next.commands)).toEqual([]);

    // Three days later, with the host fixed: deployed.
    await rm(hang);
    const later = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const fixed = await upgrade(t, [], { GITOPSD_TEST_NOW: later });
    expect(fixed.exitCode, fixed.stdout + fixed.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c5);
    expect(await retries()).toEqual([]);
  });
  it("another switch holds the lock: exit 75, nothing activated, marked or written (the profile is the person's); deployed once it is free", async () => {
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl } });
    const before = await t.host.currentSystem();
    const acts = (await t.host.activations()).length;
    // A person's nixos-rebuild sets the profile to their system first, then
    // its switch-to-configuration takes the lock: an older generation here.
    const theirs = (await t.host.generations()).map((g) => g.storePath).find((x) => x !== before);
    expect(theirs).toBeDefined();
    await t.host.exec('nix-env', ['-p', t.host.paths.systemProfile, '--set', theirs ?? '']);
    const generations = (await t.host.generations()).length;
    // A person's nixos-rebuild: flock(1) holds the lock until it is killed
    // (-o: its command does not inherit the lock, so its exit frees it).
    const lock = join(t.host.root, 'run/nixos/switch-to-configuration.lock');
    await mkdir(join(t.host.root, 'run/nixos'), { recursive: true });
    const holder = execa('flock', ['-n', '-o', lock, 'sh', '-c', 'echo held; exec sleep 600'], {
      stdin: 'ignore',
      stderr: 'inherit',
      reject: false,
      timeout: 300_000,
      detached: true,
    });
    await once(holder.stdout, 'data');
    const c = await repo.commitGeneration(gen('v6-locked'), 'v6');
    try {
      const r = await upgrade(t);
      expect(r.exitCode, r.stdout + r.stderr).toBe(75);
      expect(r.stdout).toMatch(/another switch-to-configuration holds its lock .*: Could not acquire lock \(exit 11\)/);
      expect(r.stdout).toMatch(/switch-to-configuration changed nothing, and gitopsd had changed nothing before it/);
      expect(await t.host.currentSystem()).toBe(before);
      // Not put back over the person's: gitopsd sets the profile only after `test`.
      expect(await t.host.profileSystem()).toBe(theirs);
      expect((await t.host.generations()).length).toBe(generations);
      expect((await t.host.activations()).length).toBe(acts);
      expect(await marks()).toEqual({});
      expect((await readState(t)).upgrade?.pending).toBeNull();
      const rec = (await retries()).find((x) => x.commit === c);
      expect(rec).toMatchObject({ stage: 'activation', class: 'environmental', cause: 'switch-locked', failures: 1 });
    } finally {
      process.kill(-(holder.pid ?? 0), 'SIGKILL');
      await holder;
    }
    const next = await upgrade(t);
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(c);
  });
  it('an activate script that fails, then 120 restarted units and a failed one (exit 4): marked bad, not deployed', async () => {
    // main.rs's "Failed to run activate script" is over 2,000 characters up
    // stderr; only a unit outside validation.services failed.
    const before = await t.host.currentSystem();
    const c = await repo.commitGeneration(
      gen('v7-activate-fails', { breakage: 'activate-script-fails', failingServices: ['nginx.service'] }),
      'v7',
    );
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/Activation script snippet 'users' failed \(1\); Failed to run activate script/);
    expect(await t.host.currentSystem()).toBe(before);
    expect(await t.host.profileSystem()).toBe(before);
    expect((await marks())[c]).toMatchObject({ reason: 'activation-failed', cause: 'activation-error' });
    // The tests below need a running system and no marks: the shim left the unit failed.
    await t.host.setUnitState('nginx.service', 'inactive');
    expect((await runCli(['bad', 'forget', c, '--config', t.config], { env: t.host.env })).exitCode).toBe(0);
  });
});

describe('builders that die of a signal', () => {
  it('a builder killed by SIGBUS (as on a full tmpfs build dir): exit 75, not marked bad, retry record bus-error', async () => {
    const deployed = await checkoutHead(t);
    const c = await repo.commitGeneration(gen('v-sigbus', { breakage: 'builder-sigbus' }), 'sigbus');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    expect(r.stdout).toMatch(/not the commit's fault \(a builder died of SIGBUS .*signal 7 \(Bus error\)/);
    expect(await marks()).toEqual({});
    const rec = (await retries()).find((x) => x.commit === c);
    expect(rec).toMatchObject({ stage: 'build', class: 'environmental', cause: 'bus-error', failures: 1 });
    expect(rec?.evidence).toMatch(/Reason: builder failed due to signal 7 \(Bus error\)\./);
    expect(await checkoutHead(t)).toBe(deployed);
  });
  it("a child SIGKILLed 40 lines before the end, above nix's last 25: the full log is read, exit 75, not marked bad", async () => {
    const deployed = await checkoutHead(t);
    const c = await repo.commitGeneration(gen('v-oom-early', { breakage: 'child-killed-early' }), 'oom early');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    // The kill is line 2 of 42 of the toplevel's log: nix showed lines 18 to 42.
    expect(r.stdout).toMatch(
      /not the commit's fault \(a builder was killed by a signal .*: full build log of \/nix\/store\/\S+-nixos-system-hosta-v-oom-early\.drv: line 2 of 42: `Killed`/,
    );
    expect(await marks()).toEqual({});
    const rec = (await retries()).find((x) => x.commit === c);
    expect(rec).toMatchObject({ stage: 'build', class: 'environmental', cause: 'killed', failures: 1 });
    expect(rec?.evidence).toMatch(/Last 25 log lines:/);
    expect(rec?.evidence).not.toMatch(/> Killed/);
    expect(rec?.evidence).toMatch(/gitopsd read the full build log of \S+: line 2 of 42: `Killed`/);
    // One read, of the derivation nix named.
    const drv = /Cannot build '(\/nix\/store\/\S+\.drv)'/.exec(rec?.evidence ?? '')?.[1];
    expect(nixCommands(r.commands).filter((cmd) => cmd.includes('--read-log'))).toEqual([
      ['prlimit', `--data=${1024 * 1024 * 1024}`, '--', 'nix-store', '--read-log', drv],
    ]);
    expect(await checkoutHead(t)).toBe(deployed);
  });
});

describe('a network error in a builder log', () => {
  it('a fetcher (fixed-output derivation) whose server is down: exit 75, not marked bad, retry record network', async () => {
    // Its .drv is read right after the failure: only a fixed-output builder gets the
    // network, so only its network errors are an outage (any other builder's are its
    // own; test/unit/failure/classify.test.ts, builder-net).
    const deployed = await checkoutHead(t);
    const c = await repo.commitGeneration(gen('v-fetch', { breakage: 'fetcher-down' }), 'fetcher down');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    expect(r.stdout).toMatch(/not the commit's fault \(the network or a substituter is unreachable/);
    expect(await marks()).toEqual({});
    const rec = (await retries()).find((x) => x.commit === c);
    expect(rec).toMatchObject({ stage: 'build', class: 'environmental', cause: 'network', failures: 1 });
    expect(rec?.evidence).toMatch(/> fatal: unable to connect to 127\.0\.0\.1/);
    expect(await checkoutHead(t)).toBe(deployed);
  });
});

describe('bad marks', () => {
  let bad: string;
  it('a failing derivation is marked with its class, cause, whole error and what was built', async () => {
    bad = await repo.commitGeneration(gen('v6-broken', { breakage: 'failing-derivation' }), 'broken');
    const r = await upgrade(t);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    const m = (await marks())[bad];
    expect(m).toMatchObject({ reason: 'build-failed', class: 'caused-by-commit', cause: 'build-error' });
    expect(m?.evidence).toMatch(/Reason: builder failed with exit code 1/);
    expect(m?.evidence).toContain('simulated build failure');
    // The whole log was read first (nix showed all of it here) and said nothing of the environment.
    expect(m?.evidence).toMatch(
      /gitopsd read the full build log of \S+-nixos-system-hosta-v6-broken\.drv \(1 line\): no sign/,
    );
    expect(m?.build).toMatchObject({
      flakeHost: 'hosta',
      flakeAttr: `${t.host.paths.nixConfigDir}#nixosConfigurations.hosta.config.system.build.toplevel`,
    });
    expect(m?.build?.drvPath).toMatch(/^\/nix\/store\/\S+-nixos-system-hosta-v6-broken\.drv$/);
    expect(m?.build?.lockBlob).toMatch(/^[0-9a-f]{40}$/);
  });

  it('status and `bad list` show the mark; `bad forget` retracts it and the next upgrade builds it again', async () => {
    const st = await runCli(['status', '--config', t.config], { env: t.host.env });
    expect(st.stdout).toMatch(new RegExp(`known bad\\s+${bad.slice(0, 12)} \\(build-failed: build-error\\)`));
    const list = await runCli(['bad', 'list', '--config', t.config], { env: t.host.env });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout).toContain(`${bad.slice(0, 12)}  build-failed (build-error)`);
    expect(list.stdout).toContain('simulated build failure');
    const json = JSON.parse(
      (await runCli(['bad', 'list', '--json', '--config', t.config], { env: t.host.env })).stdout,
    ) as {
      marks: Array<{ commit: string }>;
    };
    expect(json.marks.map((m) => m.commit)).toEqual([bad]);

    const missing = await runCli(['bad', 'forget', 'abcdef0', '--config', t.config], { env: t.host.env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/no bad mark or retry record for commit abcdef0; "gitopsd bad list"/);

    const f = await runCli(['bad', 'forget', bad.slice(0, 10), '--config', t.config], { env: t.host.env });
    expect(f.exitCode, f.stderr).toBe(0);
    expect(f.stdout).toMatch(/forgot the bad mark \(build-failed\)/);
    expect(await marks()).toEqual({});
    const r = await upgrade(t);
    expect(r.exitCode).toBe(3);
    expect(nixCommands(r.commands).map((c) => c[0])).toContain('nh');
  });

  it('a mark for another flakeHost is another attempt: this build goes ahead', async () => {
    const m = (await marks())[bad];
    expect(m).toBeDefined();
    const state = JSON.parse(await readFile(join(t.host.paths.stateDir, 'state.json'), 'utf8')) as {
      deployments: { badCommits: Record<string, Mark> };
    };
    const entry = state.deployments.badCommits[bad];
    if (entry?.build) entry.build.flakeHost = 'another-host';
    await writeFile(join(t.host.paths.stateDir, 'state.json'), JSON.stringify(state));
    const r = await upgrade(t);
    expect(r.exitCode).toBe(3);
    expect(nixCommands(r.commands).map((c) => c[0])).toContain('nh');
    expect((await marks())[bad]?.build?.flakeHost).toBe('hosta');
  });

  it('a mark written by the previous version is read; one whose own log shows a full disk is cleared and rebuilt', async () => {
    const state = JSON.parse(await readFile(join(t.host.paths.stateDir, 'state.json'), 'utf8')) as {
      deployments: { badCommits: Record<string, unknown> };
    };
    // Exactly what gitopsd wrote before issue 13: no class, cause, evidence or build.
    state.deployments.badCommits = {
      [bad]: {
        commit: bad,
        reason: 'build-failed',
        at: '2026-01-01T04:00:00.000Z',
        message: 'error: writing to file: No space left on device',
        storePath: null,
        logTail: 'error: writing to file: No space left on device\nError: \n   0: Failed to build configuration\n',
      },
    };
    await writeFile(join(t.host.paths.stateDir, 'state.json'), JSON.stringify(state));
    const list = await runCli(['bad', 'list', '--config', t.config], { env: t.host.env });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/built: not recorded \(a mark from before issue 13/);
    const r = await upgrade(t);
    // Re-examined: not the commit's fault, so it is built again (and now fails for its own reason).
    expect(nixCommands(r.commands).map((c) => c[0])).toContain('nh');
    expect(r.exitCode).toBe(3);
    expect((await marks())[bad]).toMatchObject({ cause: 'build-error' });
  });
});

describe('the checkout and its owner', () => {
  it('(8) after a run that deploys nothing, the checkout is back at the deployed commit', async () => {
    const deployed = (await readState(t)).deployments?.current?.commit ?? '';
    // As a boot rollback leaves it: the checkout on the rolled-back (bad) commit.
    const bad = Object.keys(await marks())[0] ?? '';
    expect(bad).not.toBe('');
    await run('git', ['-C', t.host.paths.nixConfigDir, 'checkout', '--quiet', '--detach', bad], { env: GIT_ENV });
    const r = await upgrade(t);
    expect(r.exitCode).toBe(3);
    expect(await checkoutHead(t)).toBe(deployed);
  });

  it('(7) a checkout owned by another user: the message says ownership and gives both fixes', async () => {
    const dir = t.host.paths.nixConfigDir;
    await chown(dir, 12345, 12345);
    try {
      // The test bed's /etc/gitconfig trusts every directory (safe.directory=*,
      // for the shared remotes of the sync tests): read no system config here,
      // nor a global one a person may have left in the test bed's root home.
      const r = await upgrade(t, [], { GIT_CONFIG_SYSTEM: '/dev/null', GIT_CONFIG_GLOBAL: '/dev/null' });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(
        `${dir} is owned by another user, and git refuses to read it ("detected dubious ownership"); the clone is fine, do not remove it: either trust it (git config --system --add safe.directory ${dir}) or give it to root (chown -R root: ${dir})`,
      );
      expect(r.stderr).not.toMatch(/remove it and set nixConfig\.url/);
    } finally {
      await chown(dir, 0, 0);
    }
  });
});
