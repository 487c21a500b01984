/**
 * The bad-input catalogue (docs/reliability.md §2), on one simulated fleet:
 * each bad input gets a clear one-line error and its documented exit code,
 * and nothing is changed or lost (state, system and repositories compared
 * before and after).
 *
 * Covered elsewhere and not repeated here (docs/reliability.md lists them):
 * a flake that does not evaluate and a derivation that fails
 * (test/integration/upgrade/basic.test.ts), an unsigned commit and a
 * force-push (test/integration/upgrade/git-rules.test.ts), an unreachable
 * remote for upgrade alone and sync alone (upgrade/basic.test.ts,
 * sync/features.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessCommandError, run, tryRun } from '../harness/exec.js';
import { createFleet, type Fleet, type FleetHost } from '../harness/fleet.js';
import { GIT_ENV } from '../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../harness/temp.js';
import { readLockInfo } from '../../src/core/lock.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { MALFORMED } from '../helpers/malformed-configs.js';
import {
  commandsOf,
  hangingServer,
  hostState,
  readTraceFile,
  remoteFile,
  systemAndRepos,
  taggedProcesses,
  treeDigest,
  type Json,
} from './helpers.js';

afterAll(removeTempDirs);

/** Dotfiles whose names a shell or an argv parser could trip over. */
const ODD_DOTFILES: Record<string, string> = {
  'dot_my file.conf': 'space v1\n',
  '-dash.conf': 'dash v1\n',
  'dot_ünïcödé-✓.txt': 'unicode v1\n',
  'dot_$(touch PWNED);x': 'meta v1\n',
  'dot_it\'s a "quote"': 'quote v1\n',
};
const targetOf = (src: string): string => src.replace(/^dot_/, '.');

let fleet: Fleet;
let alpha: FleetHost;
let beta: FleetHost;
let scratch: string;
let version = 1;

const remotes = (): { nixConfig: string; dotfiles: string } => ({
  nixConfig: fleet.nixConfig.remoteDir,
  dotfiles: fleet.dotfilesUrl,
});

/** A config for `h` with `change` applied (written outside the fleet). */
async function configVariant(h: FleetHost, name: string, change: (c: Json) => void): Promise<string> {
  const c = JSON.parse(await readFile(h.config, 'utf8')) as Json;
  change(c);
  const f = join(scratch, `${h.name}-${name}.json`);
  await writeFile(f, JSON.stringify(c, null, 2));
  return f;
}

function stderrLines(s: string): string[] {
  // Structured log lines (JSON) are the log; the error is the one plain line.
  return s
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('{'))
    .map((l) => l.trim());
}

async function newCommit(hosts: string[], extra: Partial<{ failingServices: string[] }> = {}): Promise<string> {
  version += 1;
  const spec = Object.fromEntries(hosts.map((h) => [h, { version: `v${version}`, kernelVersion: '6.6.1', ...extra }]));
  return fleet.nixConfig.commitGeneration(spec, `v${version}`);
}

beforeAll(async () => {
  scratch = await tempDir('rel-bad-input-scratch');
  fleet = await createFleet({
    dir: await tempDir('rel-bad-input'),
    names: ['alpha', 'beta'],
    dotfiles: { dot_bashrc: '# ~/.bashrc\n', ...ODD_DOTFILES },
  });
  alpha = fleet.host('alpha');
  beta = fleet.host('beta');
  for (const h of [alpha, beta]) {
    const r = await h.gitopsd(['cycle']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  }
});

describe('configs', () => {
  const defaultStateDir = '/var/lib/gitopsd';
  let before: Record<string, string>;
  let hadDefaultStateDir: boolean;
  beforeAll(async () => {
    before = await treeDigest(fleet.dir);
    hadDefaultStateDir = existsSync(defaultStateDir);
  });

  it(`${MALFORMED.length} malformed configs: gitopsd cycle exits 78 with one line naming the key, and touches nothing`, async () => {
    const failures: string[] = [];
    for (const [i, [text, key, pattern]] of MALFORMED.entries()) {
      const f = join(scratch, `malformed-${i}.json`);
      await writeFile(f, text);
      const r = await runCli(['cycle', '--config', f], { env: alpha.sim.env });
      const lines = stderrLines(r.stderr);
      if (r.exitCode !== 78) failures.push(`${key}: exit ${r.exitCode}`);
      if (lines.length !== 1 || !pattern.test(lines[0] ?? '') || !(lines[0] ?? '').includes(f))
        failures.push(`${key}: stderr ${JSON.stringify(r.stderr)}`);
      if (r.stdout !== '') failures.push(`${key}: stdout ${JSON.stringify(r.stdout)}`);
    }
    expect(failures).toEqual([]);
    expect(await treeDigest(fleet.dir)).toEqual(before);
    expect(existsSync(defaultStateDir)).toBe(hadDefaultStateDir);
    process.stdout.write(`bad input: ${MALFORMED.length} malformed configs through gitopsd cycle\n`);
    // One CLI process per config, one after another: about 3 s each on a busy
    // 2-core machine, more than the default 120 s for 41 configs.
  }, 600_000);
});

describe('a corrupt or truncated state file', () => {
  const damages: Array<[string, (valid: string) => string, RegExp]> = [
    ['garbage', (_valid: string) => 'this is not json {{{\n', /is not valid JSON/],
    ['truncated', (valid: string) => valid.slice(0, Math.floor(valid.length / 2)), /is not valid JSON/],
    ['a JSON array', (_valid: string) => '[1, 2, 3]\n', /is not a JSON object/],
    [
      'no version',
      (valid: string) => JSON.stringify({ ...(JSON.parse(valid) as Json), version: undefined }),
      /has no "version"/,
    ],
  ];
  it.each(damages)(
    '%s: exit 1, moved aside to state.json.corrupt-<time>, nothing else changed; the next run starts fresh',
    async (_name, damage, why) => {
      const file = join(alpha.sim.paths.stateDir, 'state.json');
      const valid = await readFile(file, 'utf8');
      const system = await systemAndRepos(alpha, remotes());
      const bad = damage(valid);
      await writeFile(file, bad);
      const r = await alpha.gitopsd(['upgrade']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      const lines = stderrLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(why);
      const aside = /moved aside to (\S+state\.json\.corrupt-\S+) and the next run starts from an empty state/.exec(
        lines[0] ?? '',
      )?.[1];
      expect(aside, lines[0]).toBeDefined();
      expect(await readFile(aside ?? '', 'utf8')).toBe(bad);
      // The run record written after the error is the fresh state's only content.
      const fresh = (await hostState(alpha)).state;
      expect(Object.keys(fresh ?? {}).sort()).toEqual(['runs', 'updatedAt', 'version']);
      expect({ ...(await systemAndRepos(alpha, remotes())), deployments: system['deployments'] }).toEqual(system);

      const next = await alpha.gitopsd(['upgrade']);
      expect(next.exitCode, next.stdout + next.stderr).toBe(0);
      const after = await hostState(alpha);
      const dep = (after.state?.['deployments'] as Json | undefined)?.['current'] as Json | undefined;
      expect(dep?.['storePath']).toBe(system['profile']);
      // Starting fresh re-records the running system; it does not re-activate or add a generation.
      expect(await alpha.sim.generations()).toHaveLength((system['generations'] as string[]).length);
      await rm(aside ?? '');
    },
  );
});

describe('a state file that parses but holds a malformed section', () => {
  it('status, upgrade and boot validate exit 1 with one line instead of an internal error; nothing changes', async () => {
    const file = join(alpha.sim.paths.stateDir, 'state.json');
    const valid = await readFile(file, 'utf8');
    await writeFile(file, JSON.stringify({ ...(JSON.parse(valid) as Json), deployments: 'oops' }));
    const before = await systemAndRepos(alpha, remotes());
    try {
      for (const cmd of [['status'], ['upgrade'], ['boot', 'validate']]) {
        const r = await alpha.gitopsd(cmd);
        expect(r.exitCode, `${cmd.join(' ')}: ${r.stderr}`).toBe(1);
        const lines = stderrLines(r.stderr);
        expect(lines, cmd.join(' ')).toHaveLength(1);
        expect(lines[0]).toMatch(
          /^gitopsd: a section of the state under stateDir .* is not what this gitopsd expects \(.*expected object, received string\); fix it by hand, or move the file aside/,
        );
      }
      expect(await systemAndRepos(alpha, remotes())).toEqual(before);
    } finally {
      await writeFile(file, valid);
    }
  });
});

describe('concurrent runs', () => {
  it('boot validate waits on an activating unit holding the host lock: upgrade and cycle exit 75 naming its PID', async () => {
    await alpha.sim.setUnitState('sshd.service', 'activating');
    const lockFile = join(alpha.sim.paths.stateDir, 'gitopsd.lock');
    const validate = execa('node', [join(repoRoot, 'bin', 'gitopsd'), 'boot', 'validate', '--config', alpha.config], {
      reject: false,
      env: { ...alpha.sim.env, GITOPSD_CONFIG: undefined },
      stdin: 'ignore',
      timeout: 120_000,
    });
    // Wait for the condition (the lock names the validator), not for a time.
    while (readLockInfo(lockFile)?.pid !== validate.pid) {
      if (validate.exitCode !== null) throw new Error(`boot validate ended early: ${String((await validate).stderr)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const before = await systemAndRepos(alpha, remotes());
    for (const cmd of [['upgrade'], ['cycle']]) {
      const r = await alpha.gitopsd(cmd);
      expect(r.exitCode, `${cmd.join(' ')}: ${r.stderr}`).toBe(75);
      const line = stderrLines(r.stderr).join('\n') + r.stdout;
      expect(line).toContain(
        `another gitopsd (pid ${validate.pid}, running "boot validate") holds the lock ${lockFile}`,
      );
    }
    expect(await systemAndRepos(alpha, remotes())).toEqual(before);
    await alpha.sim.setUnitState('sshd.service', 'active');
    const v = await validate;
    expect(v.exitCode, String(v.stderr)).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });
});

describe('a truncated or dangling GC root link for the golden', () => {
  beforeAll(async () => {
    // The golden is pinned by the first ok boot validation (the concurrency test's, when it ran).
    if ((await alpha.json<{ storePath: string | null }>(['golden', 'show'])).storePath === null) {
      await alpha.sim.boot();
      expect((await alpha.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    }
  });

  it.each([
    ['a link to a truncated store path', 'validate'],
    ['a dangling link to nothing', 'pin'],
    ['an empty regular file instead of the link', 'validate'],
  ] as const)('%s: golden show says NOT intact; %s repairs it', async (damage, repair) => {
    const golden = (await alpha.json<{ storePath: string; gcRootIntact: boolean }>(['golden', 'show'])).storePath;
    expect(golden).toMatch(/^\/nix\/store\//);
    const root = join(alpha.sim.paths.gcRootsDir, 'gitopsd-golden');
    await rm(root, { force: true });
    if (damage === 'a link to a truncated store path') await symlink(golden.slice(0, 30), root);
    else if (damage === 'a dangling link to nothing') await symlink(join(scratch, 'nothing-here'), root);
    else await writeFile(root, '');

    const show = await alpha.json<{ storePath: string; gcRootIntact: boolean }>(['golden', 'show']);
    expect(show).toMatchObject({ storePath: golden, gcRootIntact: false });
    const text = await alpha.gitopsd(['golden', 'show']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain(`NOT intact`);
    expect(text.stdout).toContain(`gitopsd golden pin --store-path ${golden}`);

    if (repair === 'validate') {
      await alpha.sim.boot();
      const v = await alpha.gitopsd(['boot', 'validate']);
      expect(v.exitCode, v.stderr).toBe(0);
    } else {
      const p = await alpha.gitopsd(['golden', 'pin', '--store-path', golden]);
      expect(p.exitCode, p.stderr).toBe(0);
      expect(p.stdout).toContain('GC root was repaired');
    }
    expect(await alpha.json<{ storePath: string; gcRootIntact: boolean }>(['golden', 'show'])).toMatchObject({
      storePath: golden,
      gcRootIntact: true,
    });
    // And nix counts it as a root again. The store is shared with the tests
    // running beside this one: look at this host's roots only.
    const roots = await printRoots();
    expect(roots.split('\n').filter((l) => l.startsWith(`"${alpha.sim.paths.gcRootsDir}/`))).toContainEqual(
      `"${root}" -> ${golden}`,
    );
    expect(roots.split('\n').filter((l) => l.startsWith(`"${root}"`))).toEqual([`"${root}" -> ${golden}`]);
  });
});

/**
 * `nix-store --gc --print-roots`, asked again when it fails on another
 * process's temporary roots: it reads every live process's
 * /nix/var/nix/temproots/<pid> while that process may be appending to it, and
 * a torn entry ends the listing with `error: not an absolute path: "dnix/store/…"`
 * (seen once in CI, 2026-12-01, with other test files building in the same
 * store). This host's own roots are links, which that race cannot tear.
 */
async function printRoots(): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const r = await tryRun('nix-store', ['--gc', '--print-roots']);
    if (r.exitCode === 0) return r.stdout;
    if (attempt >= 5 || !/error: not an absolute path: /.test(r.stderr)) throw new HarnessCommandError(r);
  }
}

describe('names with shell metacharacters, newlines and non-UTF-8 bytes', () => {
  it('a nix-config commit with such file names and message is deployed by the cycle; nothing is executed', async () => {
    version += 1;
    const work = fleet.nixConfig.workDir;
    await fleet.nixConfig.commitGeneration(
      { alpha: { version: `v${version}`, kernelVersion: '6.6.1' } },
      `v${version}`,
      { push: false },
    );
    await mkdir(join(work, 'extra'), { recursive: true });
    for (const name of ['$(touch PWNED)', '; touch PWNED2 #', 'new\nline', '-rf', "it's `id`", '--help'])
      await writeFile(join(work, 'extra', name), `${JSON.stringify(name)}\n`);
    await writeFile(Buffer.from(`${work}/extra/\xff\xfe-latin1-\xe9`, 'latin1'), 'not utf-8\n');
    await run('git', ['-C', work, 'add', '--all'], { env: GIT_ENV });
    const msg = Buffer.concat([
      Buffer.from('meta: $(touch PWNED); `touch PWNED3` && rm -rf / | cat > x\n\nsecond "line" \'q\' \\\n'),
      Buffer.from([0xff, 0xfe, 0x0a]),
    ]);
    await writeFile(join(scratch, 'msg'), msg);
    await run('git', ['-C', work, 'commit', '-q', '-F', join(scratch, 'msg')], { env: GIT_ENV });
    await run('git', ['-C', work, 'push', '-q', 'origin', 'HEAD:refs/heads/main'], { env: GIT_ENV });
    const commit = await fleet.nixConfig.head();

    const r = await alpha.gitopsd(['cycle']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const dep = ((await hostState(alpha)).state?.['deployments'] as Json | undefined)?.['current'] as Json | undefined;
    expect(dep?.['commit']).toBe(commit);
    expect(await alpha.sim.currentSystem()).toMatch(new RegExp(`nixos-system-alpha-v${version}$`));
    expect((await alpha.gitopsd(['status'])).exitCode).toBe(0);
    // A `touch PWNED` would land in the cwd of some command: the fleet's dirs or the repo root.
    const inFleet = await tryRun('find', [fleet.dir, '-name', 'PWNED*', '-not', '-path', '*/extra/*']);
    const inRepo = await tryRun('find', [repoRoot, '-maxdepth', '1', '-name', 'PWNED*']);
    expect(inFleet.stdout + inRepo.stdout).toBe('');
  });

  it('dotfiles with spaces, leading dashes, unicode, quotes and $(...) are captured on one host and reach the other', async () => {
    for (const src of Object.keys(ODD_DOTFILES)) {
      expect(await alpha.readHome(targetOf(src)), src).toBe(ODD_DOTFILES[src]);
      await alpha.editHome(targetOf(src), `${ODD_DOTFILES[src] ?? ''}edited on alpha\n`);
    }
    const a = await alpha.gitopsd(['sync']);
    expect(a.exitCode, a.stdout + a.stderr).toBe(0);
    const b = await beta.gitopsd(['sync']);
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    for (const src of Object.keys(ODD_DOTFILES)) {
      const want = `${ODD_DOTFILES[src] ?? ''}edited on alpha\n`;
      expect(await remoteFile(fleet.dotfilesUrl, src), src).toBe(want);
      expect(await beta.readHome(targetOf(src)), src).toBe(want);
    }
  });

  it('a dotfile whose name is not UTF-8 stops the sync with one line (jj cannot represent it); nothing is lost', async () => {
    const seed = join(scratch, 'dotfiles-seed');
    await run('git', ['clone', '-q', fleet.dotfilesUrl, seed]);
    await writeFile(Buffer.from(`${seed}/dot_\xff\xfe-latin1`, 'latin1'), 'not utf-8\n');
    await run('git', ['-C', seed, 'add', '--all'], { env: GIT_ENV });
    await run('git', ['-C', seed, 'commit', '-q', '-m', 'a non-UTF-8 file name'], { env: GIT_ENV });
    await run('git', ['-C', seed, 'push', '-q', 'origin', 'main'], { env: GIT_ENV });
    await alpha.editHome('.bashrc', '# ~/.bashrc\nexport EDITOR=kept\n');
    const home = await treeDigest(alpha.home).then((d) =>
      Object.fromEntries(Object.entries(d).filter(([p]) => !/\/\.local\/share\/chezmoi|chezmoistate\.boltdb/.test(p))),
    );
    const refs = (await run('git', ['--git-dir', fleet.dotfilesUrl, 'for-each-ref'])).stdout;
    const r = await alpha.gitopsd(['sync']);
    expect(r.exitCode).toBe(1);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    // jj either fails (exit != 0) or, inside a template (self.files()), prints <Error: …> and exits 0.
    expect(lines[0]).toMatch(/^gitopsd: jj (exited \d+|cannot read commit [0-9a-f]{12}): .*invalid utf-8/i);
    // $HOME (the person's edit included) and the remote are as they were.
    const after = await treeDigest(alpha.home);
    expect(
      Object.fromEntries(
        Object.entries(after).filter(([p]) => !/\/\.local\/share\/chezmoi|chezmoistate\.boltdb/.test(p)),
      ),
    ).toEqual(home);
    expect((await run('git', ['--git-dir', fleet.dotfilesUrl, 'for-each-ref'])).stdout).toBe(refs);
    // A person removes the commit from the remote; the next sync works again.
    await run('git', ['--git-dir', fleet.dotfilesUrl, 'config', 'receive.denyNonFastForwards', 'false']);
    await run('git', ['-C', seed, 'reset', '-q', '--hard', 'HEAD~1']);
    await run('git', ['-C', seed, 'push', '-q', '--force', 'origin', 'main'], { env: GIT_ENV });
    const again = await alpha.gitopsd(['sync']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(await remoteFile(fleet.dotfilesUrl, 'dot_bashrc')).toContain('EDITOR=kept');
  });
});

describe('remotes that are unreachable or hang', () => {
  const TAG = `bad-input-${process.pid}`;

  it('unreachable: the cycle exits 75 for both steps and changes nothing', async () => {
    await newCommit(['alpha']);
    await run('git', ['-C', alpha.sim.paths.nixConfigDir, 'remote', 'add', 'gone', `file://${scratch}/no-such-repo`]);
    await run('git', ['-C', alpha.sourceDir, 'remote', 'add', 'gone', `${scratch}/no-such-repo`]);
    const cfg = await configVariant(alpha, 'gone', (c) => {
      (c['nixConfig'] as Json)['remote'] = 'gone';
      (c['dotfiles'] as Json)['remote'] = 'gone';
    });
    const before = await systemAndRepos(alpha, remotes());
    const r = await runCli(['cycle', '--config', cfg], { env: alpha.sim.env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(75);
    expect(r.stdout).toMatch(/^sync: failed \(exit 75\): cannot fetch from gone/m);
    expect(r.stdout).toMatch(/^upgrade: failed \(exit 75\): cannot fetch gone\/main .*nothing was changed/m);
    expect(await systemAndRepos(alpha, remotes())).toEqual(before);
  });

  it('hanging (a loopback server that accepts and never answers): timeouts.gitSec fires, exit 75, nothing changed, no process left', async () => {
    const server = await hangingServer();
    try {
      await run('git', ['-C', alpha.sim.paths.nixConfigDir, 'remote', 'add', 'hang', server.url('nix-config.git')]);
      await run('git', ['-C', alpha.sourceDir, 'remote', 'add', 'hang', server.url('dotfiles.git')]);
      const cfg = await configVariant(alpha, 'hang', (c) => {
        (c['nixConfig'] as Json)['remote'] = 'hang';
        (c['dotfiles'] as Json)['remote'] = 'hang';
        c['timeouts'] = { gitSec: 2 };
      });
      const before = await systemAndRepos(alpha, remotes());
      const trace = join(scratch, 'hang-trace.jsonl');
      // The bound is only a backstop so that a regression fails instead of hanging CI.
      const r = await runCli(['cycle', '--config', cfg], {
        env: { ...alpha.sim.env, GITOPSD_TRACE: trace, GITOPSD_RELIABILITY_TAG: TAG },
        timeoutMs: 90_000,
      });
      expect(r.exitCode, r.stdout + r.stderr).toBe(75);
      expect(r.stdout).toMatch(/^sync: failed \(exit 75\): cannot fetch from hang \(jj git fetch timed out after 2 s/m);
      expect(r.stdout).toMatch(
        /^upgrade: failed \(exit 75\): cannot fetch hang\/main .*git timed out.*nothing was changed/m,
      );
      // Both fetches reached the server and were cut by the timeout, per the trace.
      expect(server.accepted()).toBeGreaterThanOrEqual(2);
      const ends = (await readTraceFile(trace)).filter((e) => e.event === 'end' && e['timedOut'] === true);
      expect(ends.map((e) => e['cmd'])).toEqual(['jj', 'git']);
      expect(commandsOf(await readTraceFile(trace)).filter((c) => c.includes('fetch'))).toHaveLength(2);
      expect(await systemAndRepos(alpha, remotes())).toEqual(before);
      // jj's own `git fetch` child died with it (it used to hang on, orphaned).
      expect(await taggedProcesses(TAG)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a push that hangs (fetch fine, pushurl to the silent server): 75, the commit kept, pushed by the next sync', async () => {
    const server = await hangingServer();
    try {
      // A remote that fetches from the real bare repo and pushes into the void.
      await run('git', ['-C', alpha.sourceDir, 'remote', 'add', 'halfway', fleet.dotfilesUrl]);
      await run('git', ['-C', alpha.sourceDir, 'config', 'remote.halfway.pushurl', server.url('dotfiles.git')]);
      const cfg = await configVariant(alpha, 'halfway', (c) => {
        (c['dotfiles'] as Json)['remote'] = 'halfway';
        c['timeouts'] = { gitSec: 2 };
      });
      const first = await runCli(['sync', '--config', cfg], { env: alpha.sim.env });
      expect(first.exitCode, first.stdout + first.stderr).toBe(0); // nothing to push yet: no push at all
      await alpha.editHome('.bashrc', '# ~/.bashrc\nexport EDITOR=pushed-later\n');
      const refs = (await run('git', ['--git-dir', fleet.dotfilesUrl, 'for-each-ref'])).stdout;
      const r = await runCli(['sync', '--config', cfg], {
        env: { ...alpha.sim.env, GITOPSD_RELIABILITY_TAG: `${TAG}-push` },
        timeoutMs: 90_000,
      });
      expect(r.exitCode, r.stdout + r.stderr).toBe(75);
      expect(r.stdout).toMatch(/^sync: offline: cannot push main to halfway \(jj git push timed out after 2 s/m);
      expect(server.accepted()).toBeGreaterThanOrEqual(1);
      expect((await run('git', ['--git-dir', fleet.dotfilesUrl, 'for-each-ref'])).stdout).toBe(refs);
      expect(await taggedProcesses(`${TAG}-push`)).toEqual([]);
      // The network is back: the next sync pushes the kept commit.
      await run('git', ['-C', alpha.sourceDir, 'config', '--unset', 'remote.halfway.pushurl']);
      const again = await runCli(['sync', '--config', cfg], { env: alpha.sim.env });
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(await remoteFile(fleet.dotfilesUrl, 'dot_bashrc')).toContain('EDITOR=pushed-later');
      expect(await alpha.readHome('.bashrc')).toContain('EDITOR=pushed-later');
    } finally {
      await server.close();
    }
  });
});

describe('a full disk', () => {
  /** Runs gitopsd in a private mount namespace with a full 1 MiB tmpfs on `mnt` (copying what was there). */
  async function onFullDisk(mnt: string, args: string[], env: Record<string, string>) {
    const script = [
      'set -e',
      'mnt=$1; shift',
      'keep=$(mktemp -d)',
      'cp -a "$mnt/." "$keep/"',
      'mount -t tmpfs -o size=1m tmpfs "$mnt"',
      'cp -a "$keep/." "$mnt/"',
      'dd if=/dev/zero of="$mnt/.fill" bs=4k count=1000 2>/dev/null || true',
      'before=$(find "$mnt" -path "$mnt/.fill" -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)',
      'set +e; "$@"; rc=$?; set -e',
      'after=$(find "$mnt" -path "$mnt/.fill" -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)',
      '[ "$before" = "$after" ] && echo "FILES-UNCHANGED" >&2',
      'df -P "$mnt" | tail -1 >&2',
      'exit $rc',
    ].join('\n');
    return tryRun('unshare', ['--mount', '--propagation', 'unchanged', '--', 'sh', '-c', script, 'sh', mnt, ...args], {
      env,
    });
  }

  it('preflight.diskPaths on a full filesystem: the upgrade is refused (6), nothing deployed; the sync still runs', async () => {
    const mnt = join(scratch, 'full');
    await mkdir(mnt, { recursive: true });
    const cfg = await configVariant(alpha, 'full', (c) => {
      (c['preflight'] as Json)['diskPaths'] = [mnt];
      (c['preflight'] as Json)['minFreeDiskPercent'] = 5;
    });
    const before = await systemAndRepos(alpha, remotes());
    const r = await onFullDisk(
      mnt,
      ['node', join(repoRoot, 'bin', 'gitopsd'), 'cycle', '--config', cfg],
      alpha.sim.env,
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(6);
    expect(r.stderr).toMatch(/tmpfs\s+1024\s+1024\s+0\s+100%/);
    expect(r.stdout).toMatch(/^sync: ok: /m);
    expect(r.stdout).toContain(
      `upgrade: failed (exit 6): preflight refused the upgrade: free space on ${mnt} is 0%, below preflight.minFreeDiskPercent 5% (short by 5 points)`,
    );
    expect(await systemAndRepos(alpha, remotes())).toEqual(before);
  });

  it('stateDir itself on a full filesystem: exit 6 "no space left", no lock or temp file left, state unchanged', async () => {
    const stateDir = alpha.sim.paths.stateDir;
    const before = await systemAndRepos(alpha, remotes());
    for (const cmd of [['upgrade'], ['cycle'], ['sync']]) {
      const r = await onFullDisk(
        stateDir,
        ['node', join(repoRoot, 'bin', 'gitopsd'), ...cmd, '--config', alpha.config],
        alpha.sim.env,
      );
      expect(r.exitCode, `${cmd[0] ?? ''}: ${r.stdout}${r.stderr}`).toBe(6);
      expect(r.stderr).toMatch(
        /^gitopsd: cannot write the lock \S+\.lock: no space left on its filesystem \(ENOSPC\); free some space/m,
      );
      expect(r.stderr).not.toMatch(/internal error|please report/);
      // Every file under stateDir (state, sync state, no new lock or temp) is byte for byte as before.
      expect(r.stderr).toContain('FILES-UNCHANGED');
    }
    expect(await systemAndRepos(alpha, remotes())).toEqual(before);
    expect((await readdir(stateDir)).filter((f) => f.endsWith('.lock') || f.includes('.tmp-'))).toEqual([]);
  });
});
