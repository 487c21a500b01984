/**
 * Root and the dotfiles user's files (issue 11): `gitopsd sync` run as root
 * for a real, unprivileged user (useradd), whose $HOME holds real symlinks
 * to root-owned files. Root-owned stand-ins live in root-owned directories
 * of the test's own temp dir (never the test bed's /etc). Every sync runs
 * the built CLI as root.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRunner } from '../../../src/core/runner.js';
import { procStat } from '../../../src/core/proc.js';
import { noopTracer } from '../../../src/core/faults.js';
import { silentLogger } from '../../../src/core/log.js';
import { run, tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { repoRoot, runCli, startCli } from '../../helpers/cli.js';
import {
  GIT_ENV,
  asUser,
  makeHost,
  makeRemote,
  makeUserHost,
  readHome,
  remoteTree,
  syncExpect,
  untilStopped,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

// Each test makes a host and runs three or four syncs as root for a real
// user; on the shared 2-core machine that can exceed the default 120 s.
const SLOW = 300_000;

// One user for this file: files run in parallel, and features.test.ts has its own.
const USER = 'gitopsd-priv';
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nstandin:x:1:1::/:/bin/sh\n';
const EVIL_LINE = 'evil::0:0::/root:/bin/sh\n';

/** A root-owned file (0644) in a root-owned directory (0755): what the user may read but never write. */
async function rootOwnedFile(remote: Remote, rel: string, content: string): Promise<string> {
  const vault = await mkdtemp(join(remote.dir, 'vault-'));
  await chmod(vault, 0o755);
  const file = join(vault, rel);
  await mkdir(join(file, '..'), { recursive: true, mode: 0o755 });
  await writeFile(file, content, { mode: 0o644 });
  const s = await stat(file);
  expect([s.uid, s.mode & 0o777]).toEqual([0, 0o644]);
  return file;
}

/** As the user, in the source dir: a committed change that appends EVIL_LINE to dot_evil. */
async function commitAppendAsUser(h: Host): Promise<void> {
  // The file is the user's; writing it keeps its owner.
  await writeFile(join(h.src, 'dot_evil'), PASSWD + EVIL_LINE);
  const r = await asUser(h.user, 'jj', ['--no-pager', '--color=never', '-R', h.src, 'commit', '-m', 'append'], {
    cwd: h.src,
    env: { JJ_CONFIG: '', JJ_USER: 'person', JJ_EMAIL: 'person@example.invalid', JJ_EDITOR: 'false' },
  });
  expect(r.exitCode, r.stderr).toBe(0);
}

async function linkAsUser(h: Host, target: string, link: string): Promise<void> {
  const r = await asUser(h.user, 'ln', ['-sfn', '--', target, link]);
  expect(r.exitCode, r.stderr).toBe(0);
}

describe('escalation 1: root wrote the merged result through a symlink in $HOME', () => {
  it(
    'refuses a $HOME target that is a symlink to a root-owned file, reports it, and keeps the edit in the source',
    async () => {
      const remote = await makeRemote({ dot_evil: PASSWD });
      const standin = await rootOwnedFile(remote, 'passwd', PASSWD);
      const h = await makeUserHost(remote, 'hostl', USER);
      await syncExpect(h, 0);
      expect(await readHome(h, '.evil')).toBe(PASSWD);
      await commitAppendAsUser(h);
      await linkAsUser(h, standin, join(h.home, '.evil'));

      // Exit 1, edits-waiting: $HOME/.evil (now a link) is not in sync and a
      // person must act (issue 14: never exit 0 with $HOME out of sync).
      const r = await syncExpect(h, 1);
      expect(r.json?.['kind']).toBe('edits-waiting');

      expect(readFileSync(standin, 'utf8')).toBe(PASSWD);
      expect((await lstat(standin)).isFile()).toBe(true);
      const why = `$HOME/.evil is a symbolic link, so the sync does not write it (the source keeps its version); make it a regular file of ${USER} and sync again`;
      expect(r.json?.['refused']).toEqual([{ target: '.evil', why }]);
      // The next sync, in text: the same refusal, one line, and the stand-in still untouched.
      const again = await runCli(['sync', '--config', h.config]);
      expect(again.exitCode, again.stderr).toBe(1);
      expect(again.stdout.split('\n')).toContain(`  refused: .evil: ${why}`);
      expect(readFileSync(standin, 'utf8')).toBe(PASSWD);
      // The user's edit is not lost: it is on the remote, and $HOME is left as the user made it.
      expect((await remoteTree(remote)).get('dot_evil')).toBe(PASSWD + EVIL_LINE);
      expect((await lstat(join(h.home, '.evil'))).isSymbolicLink()).toBe(true);
    },
    SLOW,
  );

  it(
    'refuses the write when the link appears while root is stopped before the merge, and the merge base stays out of the user reach',
    async () => {
      const remote = await makeRemote({ dot_evil: PASSWD });
      const standin = await rootOwnedFile(remote, 'passwd', PASSWD);
      const h = await makeUserHost(remote, 'hostr', USER);
      await syncExpect(h, 0);
      await commitAppendAsUser(h);
      // An edit in $HOME that merges cleanly with the source's appended line.
      await writeFile(join(h.home, '.evil'), `# user edit\n${PASSWD}`);

      // Stopped right before `git merge-file` (its only git call): the merge
      // base is written, and the user's process is next.
      const cli = startCli(['sync', '--config', h.config, '--json'], { env: { GITOPSD_FAULT_STOP_AT: 'cmd:git' } });
      try {
        await untilStopped(cli.pid, cli.done);
        // The temp dir race: root's temp dir is root's, under <stateDir>/tmp, never in the user's sync dir.
        const tmpParent = join(h.stateDir, 'tmp');
        const merges = (await readdir(tmpParent)).filter((n) => n.startsWith('merge-'));
        expect(merges.length).toBe(1);
        const dir = join(tmpParent, merges[0] ?? '');
        const ds = await stat(dir);
        expect([ds.uid, ds.mode & 0o777]).toEqual([0, 0o711]);
        const ps = await stat(tmpParent);
        expect([ps.uid, ps.mode & 0o022]).toEqual([0, 0]);
        const base = await stat(join(dir, 'base'));
        expect(base.mode & 0o777).toBe(0o600);
        expect((await readdir(join(h.stateDir, 'sync'))).filter((n) => n.startsWith('merge-'))).toEqual([]);
        // The user can read the base root handed over, but can neither replace it nor add to the dir.
        const cat = await asUser(USER, 'cat', [join(dir, 'base')]);
        expect(cat.exitCode, cat.stderr).toBe(0);
        expect((await asUser(USER, 'ln', ['-sfn', standin, join(dir, 'base')])).exitCode).not.toBe(0);
        expect((await asUser(USER, 'ln', ['-s', standin, join(dir, 'theirs')])).exitCode).not.toBe(0);
        expect((await asUser(USER, 'rm', ['-f', join(dir, 'base')])).exitCode).not.toBe(0);
        // The race of escalation 1: the target becomes a link while root waits.
        await linkAsUser(h, standin, join(h.home, '.evil'));
      } finally {
        process.kill(cli.pid, 'SIGCONT');
      }
      const r = await cli.done;
      expect(r.exitCode, r.stderr).toBe(1);
      expect(readFileSync(standin, 'utf8')).toBe(PASSWD);
      const json = JSON.parse(r.stdout) as { refused: { target: string; why: string }[] };
      expect(json.refused).toEqual([
        {
          target: '.evil',
          why: `$HOME/.evil is a symbolic link, so the sync does not write it (the source keeps its version); make it a regular file of ${USER} and sync again`,
        },
      ]);
      expect((await remoteTree(remote)).get('dot_evil')).toBe(PASSWD + EVIL_LINE);
      // Root's temp dir is gone again.
      expect((await readdir(join(h.stateDir, 'tmp'))).filter((n) => n.startsWith('merge-'))).toEqual([]);
    },
    SLOW,
  );
});

describe('escalation 2: root deleted a file outside $HOME through a symlinked parent', () => {
  it(
    'a hook run as the user turns ~/.x into a link to a root-owned dir; the root-owned file survives and the refusal is reported',
    async () => {
      const VICTIM = 'root-owned victim\n';
      const remote = await makeRemote({ dot_keep: 'k\n', 'dot_x/victim': VICTIM });
      const victim = await rootOwnedFile(remote, 'x/victim', VICTIM);
      const trigger = join(remote.dir, 'trigger');
      // hooks.managed.pre runs as the user before every `chezmoi managed`
      // (chezmoi docs, "hooks"); it acts only once the trigger exists.
      const h = await makeUserHost(remote, 'hostd', USER);
      const x = join(h.home, '.x');
      await writeFile(
        h.chezmoiConfig,
        [
          '[hooks.managed.pre]',
          'command = "/bin/sh"',
          `args = ["-c", "if [ -e ${trigger} ]; then rm -rf ${x} && ln -s ${join(victim, '..')} ${x}; fi"]`,
          '',
        ].join('\n'),
      );
      await syncExpect(h, 0);
      expect(await readHome(h, '.x/victim')).toBe(VICTIM);
      // Another host deletes dot_x/victim: a commit on the remote.
      const seed = join(remote.dir, 'seed');
      await run('git', ['-C', seed, 'pull', '-q', remote.url, 'main'], { env: GIT_ENV });
      await run('git', ['-C', seed, 'rm', '-q', 'dot_x/victim']);
      await run('git', ['-C', seed, 'commit', '-q', '-m', 'delete victim'], { env: GIT_ENV });
      await run('git', ['-C', seed, 'push', '-q', remote.url, 'main']);
      await run('chown', ['-R', `${USER}:`, remote.url]);
      await writeFile(trigger, '');
      await chmod(remote.dir, 0o755);

      const r = await syncExpect(h, 0);

      expect(readFileSync(victim, 'utf8')).toBe(VICTIM);
      expect(r.json?.['removed']).toEqual([]);
      const refused = r.json?.['refused'] as { target: string; why: string }[];
      expect(refused).toEqual([
        {
          target: '.x/victim',
          why: `$HOME/.x/victim was deleted on another host but ${USER} cannot remove it here (EACCES); it stays; check where $HOME/.x leads and remove it by hand if it is yours`,
        },
      ]);
    },
    SLOW,
  );
});

describe("root's environment stays root's", () => {
  it(
    'a hook run as the user sees HOME, USER and PATH, but none of root-only variables',
    async () => {
      const remote = await makeRemote({ dot_alpha: 'a1\n' });
      const h = await makeUserHost(remote, 'hoste', USER);
      const envFile = join(h.home, 'hook-env.txt');
      await writeFile(
        h.chezmoiConfig,
        ['[hooks.status.pre]', 'command = "/bin/sh"', `args = ["-c", "env > ${envFile}"]`, ''].join('\n'),
      );
      await syncExpect(h, 0, {
        GITOPSD_TEST_SECRET: 'root-only-secret',
        SSH_AUTH_SOCK: '/run/root-agent.sock',
        XDG_CONFIG_HOME: '/root/.config',
        GIT_CONFIG_GLOBAL: '/root/.gitconfig',
      });
      const text = await readFile(envFile, 'utf8');
      const names = text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => l.slice(0, l.indexOf('=')));
      for (const n of ['GITOPSD_TEST_SECRET', 'SSH_AUTH_SOCK', 'XDG_CONFIG_HOME', 'GIT_CONFIG_GLOBAL']) {
        expect(names).not.toContain(n);
      }
      expect(text).not.toContain('root-only-secret');
      expect(text).toContain(`HOME=${h.home}\n`);
      expect(text).toContain(`USER=${USER}\n`);
      expect(names).toContain('PATH');
    },
    SLOW,
  );
});

/**
 * A person at a terminal: `argv` runs in a new pseudo-terminal, as the
 * session leader and the foreground process group. With `interruptOnFile`,
 * once that file holds a PID, the terminal's interrupt character (Ctrl-C)
 * is typed: the terminal sends SIGINT to its foreground group. Returns what
 * the terminal showed, how the session leader ended (`exit=N` or
 * `signal=N`), and the PID the file named with its start time (field 22
 * of /proc/<pid>/stat, read before the Ctrl-C), or null when none came.
 */
async function atTerminal(
  argv: string[],
  interruptOnFile?: string,
): Promise<{ output: string; ended: string; interrupted: { pid: number; start: number } | null }> {
  const pty = [
    'import os, pty, select, sys, time',
    'watch = sys.argv[1]',
    'pid, fd = pty.fork()',
    'if pid == 0: os.execvp(sys.argv[2], sys.argv[2:])',
    'out, sent, deadline = b"", "", None',
    'while True:',
    '    if watch and not sent and os.path.exists(watch):',
    '        p = open(watch).read().strip()',
    '        st = open("/proc/%s/stat" % p).read()',
    '        sent = "%s %s" % (p, st[st.rindex(")") + 2:].split(" ")[19])',
    '        os.write(fd, b"\\x03")',
    '        deadline = time.monotonic() + 120',
    '    if deadline is not None and time.monotonic() > deadline:',
    '        os.kill(pid, 9)',
    '        deadline = None',
    '    r, _, _ = select.select([fd], [], [], 0.05)',
    '    if not r: continue',
    '    try: d = os.read(fd, 4096)',
    '    except OSError: break',
    '    if not d: break',
    '    out += d',
    '_, st = os.waitpid(pid, 0)',
    'ended = "signal=%d" % os.WTERMSIG(st) if os.WIFSIGNALED(st) else "exit=%d" % os.WEXITSTATUS(st)',
    'sys.stdout.write("%s\\n%s\\n%s" % (ended, sent, out.decode(errors="replace")))',
  ].join('\n');
  const r = await tryRun('python3', ['-c', pty, interruptOnFile ?? '', ...argv]);
  expect(r.exitCode, r.stderr).toBe(0);
  const [ended = '', sent = '', ...rest] = r.stdout.split('\n');
  const [pid, start] = sent.split(' ').map(Number);
  return {
    output: rest.join('\n'),
    ended,
    interrupted: pid !== undefined && start !== undefined && sent !== '' ? { pid, start } : null,
  };
}

/** Until process `p` is gone (reaped, a zombie, or its PID another's), at most `boundMs`; false if it is still there. */
async function gone(p: { pid: number; start: number }, boundMs: number): Promise<boolean> {
  for (let waited = 0; ; waited += 50) {
    const st = procStat(p.pid);
    if (st === null || st.state === 'Z' || st.start !== p.start) return true;
    if (waited >= boundMs) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("root's terminal stays root's (review 16)", () => {
  // A chezmoi script that reports whether it could open /dev/tty, and one
  // that, once armed by the test, writes its PID and sleeps.
  const ttyScript =
    '#!/bin/sh\nif ( : <>/dev/tty ) 2>/dev/null; then r=open; else r=refused; fi\necho "$r" > "$HOME/tty.txt"\n';
  const sleepScript = [
    '#!/bin/sh',
    '[ -e "$HOME/sleep-once" ] || exit 0',
    'rm -f "$HOME/sleep-once"',
    'echo $$ > "$HOME/sleep.pid.tmp" && mv "$HOME/sleep.pid.tmp" "$HOME/sleep.pid"',
    'exec sleep 600',
    '',
  ].join('\n');
  let remote: Remote;
  let h: Host;
  const gitopsd = (): string =>
    `unset GITOPSD_TEST_NOW GITOPSD_CONFIG; exec node ${join(repoRoot, 'bin', 'gitopsd')} sync --config ${h.config}`;

  it(
    'a chezmoi script run as the user during a sync at a root terminal has no controlling terminal',
    async () => {
      // Before: the script opened /dev/tty, root's terminal, and could read
      // what root typed or push a command into it (TIOCSTI) for root's shell
      // to run once gitopsd exited.
      remote = await makeRemote({ dot_alpha: 'a1\n', 'run_tty.sh': ttyScript, 'run_zz_sleep.sh': sleepScript });
      h = await makeUserHost(remote, 'hostt', USER);
      // The shell's own check shows this session has a terminal.
      const r = await atTerminal(['sh', '-c', `( : <>/dev/tty ) && echo control-open; ${gitopsd()}`]);
      expect(r.output).toContain('control-open');
      expect(r.ended, r.output).toBe('exit=0');
      expect(await readFile(join(h.home, 'tty.txt'), 'utf8')).toBe('refused\n');
    },
    SLOW,
  );

  it(
    "a Ctrl-C at that terminal stops the user's script with gitopsd, and the next sync loses nothing",
    async () => {
      // Another host's commit: the sync runs the scripts as it applies it.
      const seed = join(remote.dir, 'seed');
      await run('git', ['-C', seed, 'pull', '-q', remote.url, 'main'], { env: GIT_ENV });
      await writeFile(join(seed, 'dot_beta'), 'b1\n');
      await run('git', ['-C', seed, 'add', 'dot_beta']);
      await run('git', ['-C', seed, 'commit', '-q', '-m', 'beta'], { env: GIT_ENV });
      await run('git', ['-C', seed, 'push', '-q', remote.url, 'main']);
      await run('chown', ['-R', `${USER}:`, remote.url]);
      await writeFile(join(h.home, 'sleep-once'), '');

      const r = await atTerminal(['sh', '-c', gitopsd()], join(h.home, 'sleep.pid'));
      const script = r.interrupted;
      expect(script, r.output).not.toBeNull();
      try {
        // gitopsd dies of the SIGINT, as it did before (130 at a shell).
        expect(r.ended, r.output).toBe('signal=2');
        // Before: the script, out of the terminal's foreground group, slept on.
        expect(await gone(script ?? { pid: 0, start: 0 }, 30_000)).toBe(true);
      } finally {
        if (script !== null && !(await gone(script, 0))) process.kill(script.pid, 'SIGKILL');
      }

      const next = await syncExpect(h, 0);
      const main = await remoteTree(remote);
      expect([main.get('dot_alpha'), main.get('dot_beta')], next.stdout).toEqual(['a1\n', 'b1\n']);
      expect([await readHome(h, '.alpha'), await readHome(h, '.beta')]).toEqual(['a1\n', 'b1\n']);
    },
    SLOW,
  );
});

/** A host whose <stateDir>/sync/state.json holds `sync` as the user wrote it (the user owns that directory). */
async function hostWithSyncState(sync: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const root = await tempDir('sync-state');
  const stateDir = join(root, 'state');
  await mkdir(join(stateDir, 'sync'), { recursive: true });
  await writeFile(join(stateDir, 'sync', 'state.json'), JSON.stringify({ version: 1, sync }));
  const config = join(root, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      hostname: 'hostx',
      stateDir,
      nixConfig: { path: join(root, 'nix-config') },
      dotfiles: { enable: true, user: USER, url: join(root, 'none.git') },
      ...extra,
    }),
  );
  return config;
}

describe("the dotfiles user's sync state, as root reads it (review 16)", () => {
  it('status and sync conflicts show the control characters of a sync state the user wrote as escapes', async () => {
    // The user may rename any state.json into <stateDir>/sync; root's
    // status, sync status and sync conflicts print from it.
    // Set the title, write the clipboard (OSC 52), erase the row and draw another.
    const esc = 'ok\u001b]0;title\u0007\u001b]52;c;Y3VybCBldmls\u0007\r\u001b[2K\u001b[1Afake';
    const at = new Date().toISOString();
    const config = await hostWithSyncState({
      lastRun: { at, result: esc, exitCode: 0, message: esc },
      parked: { bookmark: `sync/h${esc}`, paths: [`dot_a${esc}`], tip: 'x', since: at },
      uncapturable: [{ target: `.x${esc}`, code: 'T', why: esc }],
    });
    for (const args of [['status'], ['sync', 'conflicts']]) {
      const r = await runCli([...args, '--config', config]);
      expect(r.exitCode, r.stderr).toBe(0);
      // No colour either: stdout is no terminal, so any control character would be the user's.
      // eslint-disable-next-line no-control-regex -- the control characters are the point
      expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(r.stdout).toContain('\\u001b]52;c;Y3VybCBldmls\\u0007\\r\\u001b[2K');
    }
  });

  it('a failing command of the user reaches root as one escaped error line', async () => {
    // A chezmoi template in the user's source dir whose `fail` message sets
    // the title and redraws the line; chezmoi's error quotes it raw.
    const remote = await makeRemote({ dot_alpha: 'a1\n' });
    const h = await makeHost(remote, 'hostf');
    await syncExpect(h, 0);
    await writeFile(join(h.src, 'dot_x.tmpl'), '{{ fail "\u001b]0;PWNED\u0007\r\u001b[2Kall good" }}\n');
    const r = await runCli(['sync', '--config', h.config]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('error calling fail: \\u001b]0;PWNED\\u0007\\r\\u001b[2Kall good');
    // eslint-disable-next-line no-control-regex -- the control characters are the point
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });

  it('cannot keep the host from publishing a status every reader takes', async () => {
    // Before: a 70 kB result made every publish fail (over the readers'
    // 64 KiB), and a lastRun.at that is no time made the signed status
    // invalid at every reader: the host left the rollout's count and its
    // reboot turns, by the hand of an unprivileged user.
    const status = join(await tempDir('sync-status-remote'), 'status.git');
    await run('git', ['init', '-q', '--bare', status]);
    const fleet = { fleet: { enable: true, statusRemote: status, signingKey: null } };
    // Control characters: JSON writes each as 6 bytes (\u0001), so a bound
    // in characters alone still let the status pass 64 KiB (review 17).
    const long = '\u0001'.repeat(70_000);
    const config = await hostWithSyncState(
      {
        lastRun: { at: 'not a time', result: long, exitCode: 1, message: long },
        lastOkAt: long,
        parked: { bookmark: 'sync/hostx', paths: Array.from({ length: 60 }, () => long), tip: 'x', since: long },
      },
      fleet,
    );
    // The host's own part of the status at its largest: a flake.lock of 50 inputs (the most it carries).
    const nodes: Record<string, unknown> = { root: { inputs: {} } };
    for (let i = 0; i < 50; i++) nodes[`input${i}`] = { locked: { rev: 'a'.repeat(40), lastModified: 1764547200 } };
    await mkdir(join(config, '..', 'nix-config'), { recursive: true });
    await writeFile(
      join(config, '..', 'nix-config', 'flake.lock'),
      JSON.stringify({ nodes, root: 'root', version: 7 }),
    );
    const pub = await runCli(['fleet', 'publish', '--config', config]);
    expect(pub.exitCode, pub.stderr).toBe(0);
    const read = await runCli(['fleet', 'status', '--json', '--config', config]);
    const row = (JSON.parse(read.stdout) as { hosts: { host: string; state: string }[] }).hosts[0];
    expect(row?.host, read.stdout.slice(0, 2000)).toBe('hostx');
    expect(row?.state).not.toBe('invalid');
  });
});

describe("the runner's RunAs", () => {
  it('enters the working directory with the user rights, not root: a cwd below a root-only dir fails', async () => {
    const nobody = (await run('getent', ['passwd', 'nobody'])).stdout.split(':');
    const as = { name: 'nobody', uid: Number(nobody[2]), gid: Number(nobody[3]), home: '/' };
    const base = await tempDir('runas');
    const inner = join(base, 'inner');
    await mkdir(inner, { mode: 0o755 });
    await chmod(base, 0o700);
    const runner = createRunner({ log: silentLogger, tracer: noopTracer, defaultTimeoutMs: 30_000 });
    // Root itself may enter it (the check is not vacuous)...
    expect((await runner.run('pwd', [], { cwd: inner })).stdout.trim()).toBe(inner);
    // ...the user may not, so the chdir was the user's own.
    const r = await runner.run('pwd', [], { cwd: inner, user: as, allowFailure: true });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('Permission denied');
    // Without a cwd, the user's process starts in /, not in root's cwd.
    expect((await runner.run('pwd', [], { user: as })).stdout.trim()).toBe('/');
  });
});
