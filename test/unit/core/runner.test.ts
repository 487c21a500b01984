/** The runner against real programs (sh, true, sleep): argv, env, timeout, typed errors, dry-run, trace. */
import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRunner,
  createSignalForwarder,
  runAsEnv,
  signalExitListeners,
  stdoutOverflowed,
  type ChildRef,
  type SignalProcess,
} from '../../../src/core/runner.js';
import { createTracer, noopTracer } from '../../../src/core/faults.js';
import { silentLogger } from '../../../src/core/log.js';
import { CommandFailed } from '../../../src/core/errors.js';
import { GIT_HARDENING, gitHardeningArgs } from '../../../src/core/git-hardening.js';

const runner = createRunner({ log: silentLogger, tracer: noopTracer, defaultTimeoutMs: 10_000 });

describe('runner', () => {
  it('passes argv verbatim, never through a shell', async () => {
    const weird = ['$(touch /tmp/pwned)', '; rm -rf /', 'a b', '-n', '*'];
    const r = await runner.run('printf', ['%s\\n', ...weird]);
    expect(r.stdout.split('\n').slice(0, 5)).toEqual(weird);
  });

  it('inherits the environment and adds explicit variables', async () => {
    const r = await runner.run('sh', ['-c', 'echo "$PATH|$GITOPSD_X"'], { env: { GITOPSD_X: 'y' } });
    expect(r.stdout.trim()).toBe(`${process.env['PATH']}|y`);
  });

  it('raises CommandFailed with the exit code and the stderr tail', async () => {
    const err = await runner
      .run('sh', ['-c', 'echo first >&2; echo "last words" >&2; exit 7'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    const cf = err as CommandFailed;
    expect(cf.exitCode).toBe(7);
    expect(cf.stderrTail).toContain('last words');
    expect(cf.message).toBe('sh exited 7: last words');
  });

  it("names git's first fatal: line, not its closing advice (review 12)", async () => {
    // Real git: a fetch from a path that is no repository ends with "and the repository exists."
    const err = await runner.run('git', ['ls-remote', '/nonexistent/no-repo.git']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    const cf = err as CommandFailed;
    expect(cf.stderrTail).toMatch(/and the repository exists\.\s*$/);
    expect(cf.message).toBe("git exited 128: fatal: '/nonexistent/no-repo.git' does not appear to be a git repository");
  });

  it('returns the result instead with allowFailure', async () => {
    const r = await runner.run('sh', ['-c', 'exit 3'], { allowFailure: true });
    expect(r.exitCode).toBe(3);
  });

  it('kills a command at its timeout, even with allowFailure', async () => {
    const err = await runner.run('sleep', ['30'], { timeoutMs: 200, allowFailure: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).timedOut).toBe(true);
    expect((err as CommandFailed).message).toMatch(/^sleep timed out/);
  });

  it("kills the command's own children at the timeout too, and returns at once", async () => {
    // sh dies on SIGTERM; without a tree kill its background sleep would live
    // on, holding the output pipe open, and the run would hang for 300 s.
    const err = await runner
      .run('sh', ['-c', 'sleep 300 & echo $!; wait'], { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).timedOut).toBe(true);
    const sleepPid = Number((err as CommandFailed).stdout.trim());
    expect(sleepPid).toBeGreaterThan(0);
    // Gone, or dead and waiting to be reaped by init (a zombie).
    const stat = existsSync(`/proc/${sleepPid}`) ? readFileSync(`/proc/${sleepPid}/stat`, 'utf8') : null;
    expect(stat === null || /\) Z /.test(stat), String(stat)).toBe(true);
  });

  it('times out a command that exited while a background child of its own still holds its stdout', async () => {
    // The command (sh) is gone before the timeout, so the tree kill finds
    // nothing; the pipe stays open until the background sleep ends. The
    // timeout must still bound the run (a daemonised helper of a tool).
    const err = await runner
      .run('sh', ['-c', 'sleep 4 & echo $!'], { timeoutMs: 300 })
      .then((r) => ({ ok: r.stdout }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).timedOut).toBe(true);
  });

  it('reports a missing program as a CommandFailed that could not start', async () => {
    const err = await runner.run('gitopsd-no-such-program', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).exitCode).toBeUndefined();
  });

  it('skips mutating commands under dry-run, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-runner-'));
    const dry = createRunner({ log: silentLogger, tracer: noopTracer, defaultTimeoutMs: 5000, dryRun: true });
    const skipped = await dry.run('touch', [join(dir, 'x')], { mutates: true });
    expect(skipped.skipped).toBe(true);
    const read = await dry.run('ls', [dir]);
    expect(read.stdout).toBe('');
  });

  it('writes a trace of checkpoints and commands', async () => {
    const trace = join(mkdtempSync(join(tmpdir(), 'gitopsd-trace-')), 'trace.jsonl');
    const traced = createRunner({
      log: silentLogger,
      tracer: createTracer({ traceFile: trace, killAt: undefined }),
      defaultTimeoutMs: 5000,
    });
    await traced.run('true', []);
    await traced.run('sh', ['-c', 'exit 2'], { allowFailure: true });
    const events = readFileSync(trace, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => `${String(e['event'])}:${String(e['cmd'] ?? e['label'])}`)).toEqual([
      'checkpoint:true',
      'start:true',
      'end:true',
      'checkpoint:sh',
      'start:sh',
      'end:sh',
    ]);
    expect(events[5]?.['exitCode']).toBe(2);
  });

  it('binaryStdout: the bytes as the command wrote them, over many chunks, invalid UTF-8 included', async () => {
    // 1,000,000 bytes of 0xff (never valid UTF-8), then "end": many pipe reads.
    const r = await runner.run('sh', ['-c', "head -c 1000000 /dev/zero | tr '\\000' '\\377'; printf end"], {
      binaryStdout: true,
    });
    const bytes = r.stdoutBytes ?? new Uint8Array();
    expect(bytes.byteLength).toBe(1_000_003);
    expect(bytes.subarray(0, 1_000_000).every((b) => b === 0xff)).toBe(true);
    expect(Buffer.from(bytes.subarray(1_000_000)).toString()).toBe('end');
    // The text, decoded when asked for: each invalid byte is U+FFFD.
    expect(r.stdout.slice(-4)).toBe('\ufffdend');
  });

  it('binaryStdout: a command whose stdout is over the 64 MiB limit is stopped and fails, even with allowFailure', async () => {
    const err = await runner
      .run('sh', ['-c', 'head -c 70000000 /dev/zero'], { binaryStdout: true, allowFailure: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).stderrTail).toBe('stdout was over 67108864 bytes; the command was stopped');
  });

  it('binaryStdout: a command that outputs over 64 MiB and exits 0 before the stop reaches it still counts as an overflow', async () => {
    // The race CI met under load (git cat-file had written its last bytes and
    // exited 0 when the runner's SIGTERM came): made certain here by a shell
    // that ignores SIGTERM, as does the head it runs (an ignored signal is
    // inherited across exec, signal(7)).
    const err = await runner
      .run('sh', ['-c', 'trap "" TERM; head -c 70000000 /dev/zero'], { binaryStdout: true, allowFailure: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err).toMatchObject({ exitCode: 0, signal: undefined, stdoutOverflow: true });
    expect(stdoutOverflowed(err)).toBe(true);
  });

  it('stdoutTail: keeps the last bytes of a stdout over the 64 MiB limit, counts all of it, and does not fail', async () => {
    const r = await runner.run('sh', ['-c', "head -c 70000000 /dev/zero; printf 'a\\nb\\nend'"], { stdoutTail: 4096 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(4096);
    expect(r.stdout.endsWith('\0a\nb\nend')).toBe(true);
    expect(r.stdoutTotal).toEqual({ bytes: 70_000_007, newlines: 2 });
  });

  it('streams output lines as they arrive', async () => {
    const lines: string[] = [];
    await runner.run('sh', ['-c', 'echo one; echo two >&2; printf three'], { onLine: (l) => lines.push(l) });
    expect(lines.sort()).toEqual(['one', 'three', 'two']);
  });

  describe('git gets the hardening settings (src/core/git-hardening.ts)', () => {
    /** A repository whose own config names a hooks path, an fsmonitor program and an ext policy. */
    const hostileRepo = async (): Promise<string> => {
      const dir = mkdtempSync(join(tmpdir(), 'gitopsd-runner-git-'));
      const env = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
      await runner.run('git', ['init', '--quiet', dir], { env });
      for (const [k, v] of [
        ['core.hooksPath', join(dir, 'hooks')],
        ['core.fsmonitor', join(dir, 'fsmonitor')],
        ['protocol.ext.allow', 'always'],
        ['gpg.ssh.program', join(dir, 'evil')],
      ] as const) {
        await runner.run('git', ['-C', dir, 'config', '--local', k, v], { env });
      }
      return dir;
    };

    it("run() puts them before the caller's arguments, and they beat the repository's own config", async () => {
      const dir = await hostileRepo();
      const get = async (key: string): Promise<string> =>
        (await runner.run('git', ['-C', dir, 'config', '--get', key])).stdout.trim();
      expect(await get('core.hooksPath')).toBe('/dev/null');
      expect(await get('core.fsmonitor')).toBe('false');
      expect(await get('protocol.ext.allow')).toBe('never');
      expect(await get('gpg.ssh.program')).toBe('ssh-keygen');
      expect(gitHardeningArgs().slice(0, 2)).toEqual(['-c', 'core.fsmonitor=false']);
      // An ext:: remote (it would run `touch`) is refused by policy.
      const marker = join(dir, 'ext-ran');
      const r = await runner.run('git', ['-C', dir, 'ls-remote', `ext::touch ${marker}`], { allowFailure: true });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/transport 'ext' not allowed/);
      expect(existsSync(marker)).toBe(false);
    });

    it('the simple-git client gets the same settings, and simple-git lets exactly them through', async () => {
      const dir = await hostileRepo();
      // Variables simple-git refuses to spawn with, as root's environment may
      // hold them: the editor and pager are dropped, root's ssh command and
      // config paths allowed.
      const saved = { ...process.env };
      Object.assign(process.env, {
        EDITOR: 'vi',
        PAGER: 'less',
        GIT_SSH_COMMAND: 'ssh',
        GIT_CONFIG_GLOBAL: '/dev/null',
      });
      let git: ReturnType<typeof runner.git>;
      try {
        git = runner.git(dir);
      } finally {
        for (const k of ['EDITOR', 'PAGER', 'GIT_SSH_COMMAND', 'GIT_CONFIG_GLOBAL']) {
          if (saved[k] === undefined) delete process.env[k];
          else process.env[k] = saved[k];
        }
      }
      for (const [key, value] of GIT_HARDENING) {
        if (value === '') continue; // `git config --get` of an empty value prints an empty line
        expect((await git.raw(['config', '--get', key])).trim(), key).toBe(value);
      }
      // simple-git's own guard still refuses a caller's unsafe option.
      await expect(git.raw(['-c', 'core.pager=evil', 'status'])).rejects.toThrow(/allowUnsafePager/);
    });
  });
});

describe('runAsEnv: the environment of a process started as another user', () => {
  const user = { name: 'alice', uid: 1000, gid: 100, home: '/home/alice' };
  const rootEnv = {
    PATH: '/run/current-system/sw/bin',
    LANG: 'C.UTF-8',
    LC_TIME: 'de_DE.UTF-8',
    TZ: 'UTC',
    HOME: '/root',
    USER: 'root',
    LOGNAME: 'root',
    SSH_AUTH_SOCK: '/run/user/0/ssh-agent',
    GITHUB_TOKEN: 'ghp_secret',
    XDG_CONFIG_HOME: '/root/.config',
    GIT_DIR: '/root/repo/.git',
    JJ_CONFIG: '/root/.jjconfig.toml',
    NODE_OPTIONS: '--require /root/hook.js',
    TMPDIR: '/run/user/0',
  };

  it('keeps only the allowlisted names of the parent, with the user identity', () => {
    expect(runAsEnv(rootEnv, user)).toEqual({
      PATH: '/run/current-system/sw/bin',
      LANG: 'C.UTF-8',
      LC_TIME: 'de_DE.UTF-8',
      TZ: 'UTC',
      HOME: '/home/alice',
      USER: 'alice',
      LOGNAME: 'alice',
    });
  });

  it('adds explicit variables (and removes one given as undefined), but never lets them replace the identity', () => {
    const env = runAsEnv(rootEnv, user, { JJ_CONFIG: '', LANG: undefined, HOME: '/tmp/elsewhere' });
    expect(env['JJ_CONFIG']).toBe('');
    expect(env['LANG']).toBeUndefined();
    expect(env['HOME']).toBe('/home/alice');
  });
});

/** A process whose listeners and kill(2) calls are recorded; `emit` delivers a signal as node does. */
function fakeProcess(): SignalProcess & { kills: [number, string][]; emit(signal: NodeJS.Signals): void } {
  const on = new Map<string, (() => void)[]>();
  const kills: [number, string][] = [];
  return {
    pid: 1000,
    kills,
    on: (s, l) => on.set(s, [...(on.get(s) ?? []), l]),
    off: (s, l) =>
      on.set(
        s,
        (on.get(s) ?? []).filter((x) => x !== l),
      ),
    listenerCount: (s) => (on.get(s) ?? []).length,
    kill: (pid, s) => kills.push([pid, s]),
    emit: (s) => {
      for (const l of [...(on.get(s) ?? [])]) l();
    },
  };
}

describe('createSignalForwarder: the terminal signals of a child in a session of its own', () => {
  const child = (pid: number): { pid: number; exitCode: number | null; signalCode: string | null } => ({
    pid,
    exitCode: null,
    signalCode: null,
  });

  it('listens only while a child is registered', () => {
    const p = fakeProcess();
    const f = createSignalForwarder(p, () => 0);
    const [a, b] = [child(20), child(30)];
    expect([f.installed, p.listenerCount('SIGINT'), p.listenerCount('SIGHUP')]).toEqual([false, 0, 0]);
    f.add(a);
    f.add(b);
    expect([f.installed, p.listenerCount('SIGINT'), p.listenerCount('SIGHUP'), p.listenerCount('SIGTERM')]).toEqual([
      true,
      1,
      1,
      0,
    ]);
    f.delete(a);
    expect(p.listenerCount('SIGINT')).toBe(1);
    f.delete(b);
    f.delete(b);
    expect([f.installed, p.listenerCount('SIGINT'), p.listenerCount('SIGHUP')]).toEqual([false, 0, 0]);
  });

  it.each(['SIGINT', 'SIGHUP'] as const)(
    '%s: sent to the group of each child not yet reaped, then raised again on itself with no listener left',
    (signal) => {
      const p = fakeProcess();
      const f = createSignalForwarder(p, () => 0);
      const reaped: ChildRef = { pid: 40, exitCode: 0, signalCode: null };
      const killed: ChildRef = { pid: 50, exitCode: null, signalCode: 'SIGKILL' };
      [child(20), reaped, killed, child(30)].forEach((c) => f.add(c));
      p.emit(signal);
      expect(p.kills).toEqual([
        [-20, signal],
        [-30, signal],
        [1000, signal],
      ]);
      expect([f.installed, p.listenerCount('SIGINT'), p.listenerCount('SIGHUP')]).toEqual([false, 0, 0]);
    },
  );

  it("leaves a signal that a handler of gitopsd's own takes to that handler (the daemon's stop, its reload)", () => {
    const p = fakeProcess();
    p.on('SIGHUP', () => undefined);
    const f = createSignalForwarder(p, () => 0);
    f.add(child(20));
    p.emit('SIGHUP');
    expect(p.kills).toEqual([]);
    expect(f.installed).toBe(true);
  });

  it("finds signal-exit's count where the real library keeps it, while a child of root's own session runs", async () => {
    // The forwarder's count of signal-exit's listeners reads a global of that
    // library (signalExitListeners): if a new execa or signal-exit moved it,
    // a Ctrl-C while a root child and a run-as child both run would be
    // swallowed. This pins it to the installed libraries, not to a fake.
    let during: [number, number] = [-1, -1];
    await runner.run('sleep', ['0.2'], {
      onSpawn: () => {
        during = [signalExitListeners(), process.listenerCount('SIGINT')];
      },
    });
    const [hooks, listeners] = during;
    expect(hooks).toBeGreaterThanOrEqual(1);
    expect(listeners).toBeGreaterThanOrEqual(hooks);
  });

  it("does not count signal-exit's listeners (execa's cleanup) as a handler: gitopsd still dies of the signal", () => {
    const p = fakeProcess();
    p.on('SIGINT', () => undefined);
    const f = createSignalForwarder(p, () => 1);
    f.add(child(20));
    p.emit('SIGINT');
    expect(p.kills).toEqual([
      [-20, 'SIGINT'],
      [1000, 'SIGINT'],
    ]);
  });
});
