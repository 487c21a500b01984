/**
 * Simulated dotfile hosts for the sync tests: one bare git remote shared by
 * several hosts, each with its own $HOME, chezmoi source dir (a jj repo),
 * state dir and chezmoi config. Every host runs the built CLI
 * (`gitopsd sync --config <host config>`) against the real jj, chezmoi and
 * git. Hosts run as root with dotfiles.user "root" unless a user is given
 * (the privilege test creates one with useradd).
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, tryRun } from '../../harness/exec.js';
import { tempDir } from '../../harness/temp.js';
import { CHEZMOI_TEST_TOML } from '../../harness/chezmoi-config.js';
import { procStat } from '../../../src/core/proc.js';
import { runCli, startCli, type CliResult } from '../../helpers/cli.js';

export const GIT_ENV = {
  GIT_AUTHOR_NAME: 'seed',
  GIT_AUTHOR_EMAIL: 'seed@example.invalid',
  GIT_COMMITTER_NAME: 'seed',
  GIT_COMMITTER_EMAIL: 'seed@example.invalid',
  GIT_CONFIG_NOSYSTEM: '0',
};

export interface Remote {
  dir: string;
  /** Bare repo path (used as the dotfiles url). */
  url: string;
}

/** A bare remote seeded with `files` (source-dir names → content) on `main`. */
export async function makeRemote(files: Record<string, string>): Promise<Remote> {
  const dir = await tempDir('sync-remote');
  await chmod(dir, 0o755);
  const url = join(dir, 'dotfiles.git');
  await run('git', ['init', '-q', '--bare', '--shared=all', '-b', 'main', url]);
  const seed = join(dir, 'seed');
  await run('git', ['init', '-q', '-b', 'main', seed]);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(seed, name)), { recursive: true });
    await writeFile(join(seed, name), content);
  }
  await run('git', ['-C', seed, 'add', '-A']);
  await run('git', ['-C', seed, 'commit', '-q', '-m', 'seed'], { env: GIT_ENV });
  await run('git', ['-C', seed, 'push', '-q', url, 'main']);
  return { dir, url };
}

export interface Host {
  name: string;
  root: string;
  home: string;
  src: string;
  stateDir: string;
  config: string;
  chezmoiConfig: string;
  user: string;
}

export async function makeHost(
  remote: Remote,
  name: string,
  opts: { user?: string; home?: string; extra?: Record<string, unknown> } = {},
): Promise<Host> {
  const root = await tempDir(`sync-${name}`);
  await chmod(root, 0o755);
  const home = opts.home ?? join(root, 'home');
  const stateDir = join(root, 'state');
  const chezmoiConfig = join(home, '.config', 'chezmoi', 'chezmoi.toml');
  const user = opts.user ?? 'root';
  if (opts.home === undefined) {
    await mkdir(join(home, '.config', 'chezmoi'), { recursive: true });
    await writeFile(chezmoiConfig, CHEZMOI_TEST_TOML);
  }
  const src = join(home, '.local', 'share', 'chezmoi');
  const config = join(root, 'config.json');
  await writeFile(
    config,
    JSON.stringify(
      {
        hostname: name,
        stateDir,
        nixConfig: { path: join(root, 'nix-config') },
        dotfiles: {
          enable: true,
          user,
          sourceDir: src,
          destDir: home,
          url: remote.url,
          chezmoiConfig,
          ...opts.extra,
        },
        log: { level: 'warn', format: 'json' },
      },
      null,
      2,
    ),
  );
  return { name, root, home, src, stateDir, config, chezmoiConfig, user };
}

export interface SyncRun extends CliResult {
  json: Record<string, unknown> | null;
}

export async function sync(
  h: Host,
  opts: { env?: Record<string, string | undefined>; args?: string[]; bin?: string } = {},
): Promise<SyncRun> {
  const r = await runCli(
    opts.bin
      ? [...(opts.args ?? []), '--config', h.config, '--json']
      : ['sync', ...(opts.args ?? []), '--config', h.config, '--json'],
    {
      ...(opts.bin ? { bin: opts.bin } : {}),
      env: { GITOPSD_TEST_NOW: undefined, ...opts.env },
    },
  );
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { ...r, json };
}

/** A sync that must end with `code`; the error shows the output. */
export async function syncExpect(h: Host, code: number, env?: Record<string, string | undefined>): Promise<SyncRun> {
  const r = await sync(h, env ? { env } : {});
  if (r.exitCode !== code) {
    throw new Error(
      `sync on ${h.name} exited ${r.exitCode}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-3000)}`,
    );
  }
  return r;
}

export function chezmoiArgs(h: Host): string[] {
  return ['--no-tty', '-S', h.src, '-D', h.home, '-c', h.chezmoiConfig];
}

/** The file list and content of main (or any ref) on the remote: source names → content. */
export async function remoteTree(remote: Remote, ref = 'main'): Promise<Map<string, string>> {
  const ls = await run('git', ['--git-dir', remote.url, 'ls-tree', '-r', '--name-only', ref]);
  const out = new Map<string, string>();
  for (const name of ls.stdout.split('\n').filter((l) => l !== '')) {
    const r = await run('git', ['--git-dir', remote.url, 'show', `${ref}:${name}`]);
    out.set(name, r.stdout);
  }
  return out;
}

export async function remoteRefs(remote: Remote): Promise<string> {
  return (await run('git', ['--git-dir', remote.url, 'for-each-ref', '--format=%(refname) %(objectname)'])).stdout;
}

/** Every patch reachable from any ref of the remote (main and parked bookmarks). */
export async function remoteHistoryText(remote: Remote): Promise<string> {
  const r = await tryRun('git', ['--git-dir', remote.url, 'log', '-p', '--format=commit %H', '--all']);
  return r.stdout;
}

export async function readHome(h: Host, target: string): Promise<string | null> {
  const p = join(h.home, target);
  return existsSync(p) ? readFile(p, 'utf8') : null;
}

/** Every regular file under dir whose content has jj or git conflict markers. */
export async function filesWithMarkers(dir: string, skip: (p: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (skip(p)) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const t = await readFile(p, 'utf8');
        if (/^(<<<<<<<|>>>>>>>|%%%%%%%|\+\+\+\+\+\+\+) /m.test(t)) found.push(p);
      }
    }
  };
  await walk(dir);
  return found;
}

export async function jjIn(h: Host, args: string[]): Promise<string> {
  return (
    await run('jj', ['--no-pager', '--color=never', '-R', h.src, ...args], {
      cwd: h.src,
      env: { JJ_CONFIG: '', JJ_USER: 'person', JJ_EMAIL: 'person@example.invalid', JJ_EDITOR: 'false' },
    })
  ).stdout;
}

/**
 * Two synced hosts on a fresh remote (dot_alpha, dot_beta, dot_gamma) whose
 * next step is a same-line conflict: the first line-2 edit of `.alpha` is
 * made on both hosts (and `extra` is written on hostb), and hosta has synced
 * its side. The caller runs hostb's sync and asserts what it does.
 */
export async function sameLineConflict(
  extra: Record<string, string> = {},
): Promise<{ remote: Remote; a: Host; b: Host }> {
  const remote = await makeRemote({ dot_alpha: 'a1\na2\na3\n', dot_beta: 'b1\n', dot_gamma: 'g1\n' });
  const a = await makeHost(remote, 'hosta');
  const b = await makeHost(remote, 'hostb');
  await syncExpect(a, 0);
  await syncExpect(b, 0);
  await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-a\na3\n');
  await writeFile(join(b.home, '.alpha'), 'a1\nA2-from-b\na3\n');
  for (const [target, content] of Object.entries(extra)) await writeFile(join(b.home, target), content);
  await syncExpect(a, 0);
  return { remote, a, b };
}

/**
 * Copy dirs aside; the returned function puts the copies back (for
 * kill-and-rerun tests). `cp -a`: symbolic links as they are, modes and
 * timestamps kept, so a restored tree is the one that was saved, as a crash
 * leaves files. One cp process per directory: restoring a host and its
 * remote (215 entries) took 164 ms with node's recursive fs.cp and 90 ms
 * with cp -a (30 of each, interleaved, load average 6), 52 times in the sync
 * crash suite.
 */
export async function snapshotDirs(dirs: string[]): Promise<() => Promise<void>> {
  const saved = dirs.map((d) => `${d}.snapshot`);
  for (const [i, d] of dirs.entries()) await run('cp', ['-a', d, saved[i] ?? '']);
  return async () => {
    for (const [i, d] of dirs.entries()) {
      await rm(d, { recursive: true, force: true });
      await run('cp', ['-a', saved[i] ?? '', d]);
    }
  };
}

/**
 * A `pre-receive` hook that refuses the next `times` pushes to the remote
 * (as a remote with a policy hook or a permission problem does), then lets
 * pushes through. The count lives in a file beside the remote.
 */
export async function refusePushes(remote: Remote, times: number): Promise<string> {
  const counter = join(remote.dir, 'refusals-left');
  await writeFile(counter, `${times}\n`);
  const hook = join(remote.url, 'hooks', 'pre-receive');
  await writeFile(
    hook,
    `#!/bin/sh
left=$(cat '${counter}')
[ "$left" -gt 0 ] || exit 0
echo $((left - 1)) > '${counter}'
echo "pushes to this remote are closed for maintenance" >&2
exit 1
`,
  );
  await chmod(hook, 0o755);
  return counter;
}

/** The checkpoint numbers of a GITOPSD_TRACE file, with the command each one precedes. */
export async function traceCheckpoints(trace: string): Promise<{ n: number; cmd?: string; args?: string[] }[]> {
  return (await readFile(trace, 'utf8'))
    .split('\n')
    .filter((l) => l.includes('"checkpoint"'))
    .map((l) => JSON.parse(l) as { n: number; cmd?: string; args?: string[] });
}

/**
 * A host whose dotfiles.user is a real, unprivileged user (useradd), synced
 * by root: the privilege tests. The user's $HOME is under the remote's temp
 * dir; the remote is chowned to the user (it pushes alone). Users persist in
 * the test bed's cached root, so an existing one is re-pointed (usermod -d):
 * use one user name per test file, since files run in parallel.
 */
export async function makeUserHost(
  remote: Remote,
  name: string,
  user: string,
  opts: { chezmoiToml?: string } = {},
): Promise<Host> {
  const base = await mkdtemp(join(remote.dir, 'users-'));
  const home = join(base, 'home');
  await mkdir(join(home, '.config', 'chezmoi'), { recursive: true });
  await writeFile(join(home, '.config', 'chezmoi', 'chezmoi.toml'), opts.chezmoiToml ?? CHEZMOI_TEST_TOML);
  await chmod(base, 0o755);
  const exists = (await tryRun('getent', ['passwd', user])).exitCode === 0;
  if (exists) await run('usermod', ['-d', home, user]);
  else await run('useradd', ['-M', '-d', home, '-s', '/bin/sh', user]);
  await run('chown', ['-R', `${user}:`, home]);
  // --shared=all makes the remote group-writable only: this user pushes alone.
  await run('chown', ['-R', `${user}:`, remote.url]);
  // The bare remote is root's; git refuses another owner's repo unless it is safe.
  // cwd /: inside the test bed a worktree's .git file points outside the bind mount.
  const safe = await tryRun('git', ['config', '--system', '--get-all', 'safe.directory'], { cwd: '/' });
  if (!safe.stdout.split('\n').includes('*')) {
    await run('git', ['config', '--system', '--add', 'safe.directory', '*'], { cwd: '/' });
  }
  const h = await makeHost(remote, name, { user, home });
  await chmod(h.root, 0o755);
  return h;
}

/** Run a program as `user` (runuser keeps the environment but HOME, SHELL, USER and LOGNAME). */
export function asUser(
  user: string,
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): ReturnType<typeof tryRun> {
  return tryRun('runuser', ['-u', user, '--', cmd, ...args], {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
  });
}

/** Wait until `pid` is stopped (state T in /proc/<pid>/stat), or fail if it exits first. */
export async function untilStopped(pid: number, done: Promise<unknown>): Promise<void> {
  let exited = false;
  void done.then(() => (exited = true));
  for (;;) {
    const state = procStat(pid)?.state ?? 'gone';
    if (state === 'T') return;
    if (exited || state === 'gone' || state === 'Z') throw new Error(`process ${pid} ended before it stopped`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `gitopsd sync --json` on `h`, stopped (SIGSTOP, src/core/faults.ts) at the
 * checkpoint `at` (for example 'cmd:chezmoi managed') while `during` runs (a
 * person's edit or command), then let go. Resolves to the sync's result.
 */
export async function syncStoppedAt(h: Host, at: string, during: () => Promise<unknown>): Promise<CliResult> {
  const cli = startCli(['sync', '--config', h.config, '--json'], { env: { GITOPSD_FAULT_STOP_AT: at } });
  try {
    await untilStopped(cli.pid, cli.done);
    await during();
  } finally {
    process.kill(cli.pid, 'SIGCONT');
  }
  return cli.done;
}
