/**
 * The one seam for external programs. Every command gitopsd runs goes through
 * `Runner.run` (execa) or the git client from `Runner.git` (simple-git,
 * created only here, with the same timeout, logging and checkpoints).
 *
 * - argv arrays only; never a shell.
 * - git, however it is started here, gets the `-c` settings of
 *   src/core/git-hardening.ts first: repo-local config cannot make root run
 *   a program, and only SSH signatures can verify (docs/security.md).
 * - a timeout on every call (SIGTERM, then SIGKILL 5 s later).
 * - the environment is inherited, plus explicit additions; a process started
 *   as another user (RunAs) gets only RUN_AS_ENV of root's environment, plus
 *   the explicit additions and that user's HOME, USER and LOGNAME; it runs
 *   in a session of its own, and the terminal's SIGINT and SIGHUP that end
 *   gitopsd reach its process group through gitopsd (RunOptions.user).
 * - debug log of {cmd, args, exitCode, durationMs}; a trace event per call.
 * - a non-zero exit raises CommandFailed (exit code + stderr tail), unless
 *   the caller asked for the result with `allowFailure`.
 * - dry-run: a call marked `mutates` is logged and skipped.
 */
import type { SimpleGit } from 'simple-git';
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { CommandFailed, tail } from './errors.js';
import type { Logger } from './log.js';
import type { Tracer } from './faults.js';
import { noProgress, type Progress } from './progress.js';
import { gitHardeningArgs, gitHardeningConfig, isGit } from './git-hardening.js';
import { procStat } from './proc.js';
import { monotonicMs } from './clock.js';

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface RunOptions {
  /**
   * Working directory. With `user`, entered by that user (`env --chdir`),
   * never by root: libuv chdirs before it drops privileges
   * (src/unix/process.c, uv__process_child_init), so a cwd inside a
   * directory the user controls would let root follow the user's symlinks.
   */
  cwd?: string;
  /** Added to (and overriding) the inherited environment. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  input?: string;
  /**
   * Run as this user (needs root): uid, gid and no supplementary groups
   * (libuv uv_spawn calls setgroups(0, NULL)). HOME, USER and LOGNAME follow; of root's own
   * environment only RUN_AS_ENV passes (`env` additions still apply).
   * The process starts in a session of its own (setsid(2), execa's
   * `detached`), so it has no controlling terminal: run in root's session,
   * a program of the user's (a chezmoi `run_` script, a hook) could open
   * /dev/tty, which is root's terminal when a person runs gitopsd there,
   * read what root types and push input into it (TIOCSTI), which root's
   * shell then runs as root once gitopsd exits (review 16, as with su(1)
   * without --pty).
   *
   * Out of the terminal's foreground group, the process would miss the
   * terminal's signals; gitopsd passes them on (createSignalForwarder): a
   * SIGINT (Ctrl-C) or SIGHUP (the terminal closed) that ends gitopsd is
   * first sent to the process group of each such process still running (a
   * session leader: its group is its PID, and holds its children, a `run_`
   * script among them), so a Ctrl-C stops the user's programs with gitopsd,
   * as it did in root's session; gitopsd then dies of the signal as before
   * (`gitopsd sync`, `gitopsd cycle`: exit status 130 at the shell after a
   * Ctrl-C; the sync survives that, as it does a kill -9). A signal that a
   * handler of gitopsd's own takes is not passed on: that handler's contract
   * holds (the daemon's SIGINT stop lets the running step finish, its SIGHUP
   * is a reload; the daemon itself starts no process as another user: its
   * cycles run in a `gitopsd cycle` process, where SIGINT and SIGHUP keep
   * their default and are passed on). SIGTERM is not passed on: it is the
   * graceful stop (systemd, or the daemon stopping its cycle process,
   * src/cycle/child.ts), after which `gitopsd cycle` lets the running step,
   * the user's process included, finish; under systemd, KillMode=mixed
   * sends SIGTERM to the main process only (nix/module.nix), and the
   * SIGKILL that follows to every process left in the unit's cgroup, the
   * user's included whatever its session (systemd.kill(5)).
   * A program of the user's that starts a session or group of its own
   * leaves the group and gets nothing, as with any terminal.
   */
  user?: RunAs;
  /** Changes the system or a repository: skipped under dry-run. */
  mutates?: boolean;
  /** Return a non-zero result instead of throwing CommandFailed. */
  allowFailure?: boolean;
  /**
   * Called once the process has started, with its PID: for a caller that must
   * signal it while it runs (the daemon asks a cycle process to stop after
   * its running step, src/cycle/child.ts).
   */
  onSpawn?: (pid: number) => void;
  /** Called for each line of output as it arrives (progress streaming). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** A long command: its output streams to the log, and a TTY shows a status line (src/core/progress.ts). */
  progress?: string;
  /**
   * Keep stdout as bytes (`RunResult.stdoutBytes`; `stdout` is then their
   * UTF-8 decoding): for output framed by byte counts, such as
   * `git cat-file --batch`, where decoding first would shift every frame
   * after an invalid UTF-8 sequence.
   */
  binaryStdout?: boolean;
  /**
   * Keep only the last this many bytes of stdout: for output that may be
   * far bigger than the heap should hold (a derivation's whole build log,
   * `nix-store --read-log`). stdout then never fails the command for its
   * size (MAX_BUFFER does not apply); `RunResult.stdout` is the kept tail
   * (a UTF-8 sequence cut at its start decodes as U+FFFD), and
   * `RunResult.stdoutTotal` says how much came. Not with `binaryStdout`.
   */
  stdoutTail?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  skipped: boolean;
  /** stdout as bytes, only when the call asked for `binaryStdout`. */
  stdoutBytes?: Uint8Array;
  /** With `stdoutTail`: the bytes and newlines stdout had in all (`stdout` holds the end of them). */
  stdoutTotal?: { bytes: number; newlines: number };
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * simple-git bound to a working tree, with the runner's timeout, logging
   * and checkpoints. As this process's user only: simple-git would enter
   * `cwd` before dropping privileges and keep the child in this session
   * (its spawn options take only uid and gid); another user's git goes
   * through `run` with `user`.
   */
  git(cwd: string, opts?: { timeoutMs?: number }): SimpleGit;
  readonly dryRun: boolean;
}

export interface RunnerOptions {
  log: Logger;
  tracer: Tracer;
  defaultTimeoutMs: number;
  dryRun?: boolean;
  /** Clock for durations; injectable. */
  monotonicMs?: () => number;
  progress?: Progress;
}

const KILL_GRACE_MS = 5000;
/** The most a command's stdout may hold (bytes); over it the command fails. */
const MAX_BUFFER = 64 * 1024 * 1024;
const OVERFLOW = `stdout was over ${MAX_BUFFER} bytes; the command was stopped`;

/**
 * Whether a command failed because its stdout went over the runner's limit
 * (MAX_BUFFER, 64 MiB). From the runner's own flag, not the exit status: a
 * command that writes its last bytes and exits before the runner's SIGTERM
 * reaches it ends with exit 0 and no signal, and still overflowed. (Before,
 * such a run, seen under load in CI, counted as another failure: a fleet
 * read over a hostile 64 MiB tree failed instead of giving way to the
 * two-step read.)
 */
export function stdoutOverflowed(err: unknown): boolean {
  return err instanceof CommandFailed && err.stdoutOverflow;
}

/**
 * Variables dropped from the environment of the simple-git client: each
 * names a program gitopsd's git commands never need (an editor or pager:
 * nothing is interactive and stdout is a pipe; an external diff: no patch is
 * printed; a git:// proxy: git:// is refused; a template dir: hooks are off).
 */
const SIMPLE_GIT_DROPPED_ENV: readonly string[] = [
  'EDITOR',
  'GIT_EDITOR',
  'GIT_SEQUENCE_EDITOR',
  'PAGER',
  'GIT_PAGER',
  'GIT_EXTERNAL_DIFF',
  'GIT_PROXY_COMMAND',
  'GIT_TEMPLATE_DIR',
];

/**
 * The names of root's environment that a process started as another user
 * (RunAs) inherits; nothing else of root's passes (no SSH_AUTH_SOCK, no
 * tokens, no XDG_* or TMPDIR pointing into root's directories, no GIT_*,
 * JJ_* or NODE_OPTIONS that would change how the user's tools behave). What
 * the tools need beyond this, the caller passes explicitly in `env` (the
 * sync sets JJ_CONFIG, JJ_USER, JJ_EMAIL, JJ_EDITOR, NO_COLOR, GIT_SSH_COMMAND…).
 *
 * - PATH: where git, jj, chezmoi and ssh are found (the NixOS unit sets it;
 *   tools.md "systemd units also need ssh"); jj runs `git` from PATH unless
 *   `git.executable-path` is set (jj docs/config.md).
 * - LANG, LANGUAGE, LC_* (prefix, below): locale(7), environ(7); they only
 *   change message language and character handling.
 * - LOCALE_ARCHIVE: where glibc finds locales on NixOS (nixpkgs
 *   nixos/modules/config/locale.nix sets it system-wide).
 * - TZ, TZDIR: time zone for commit and operation times; TZDIR is where the
 *   zone files are on NixOS (nixos/modules/config/locale.nix, tzset(3)).
 * - SSL_CERT_FILE, NIX_SSL_CERT_FILE: the public CA bundle git (libcurl)
 *   uses for an https remote on NixOS (nixos/modules/security/ca.nix,
 *   nixpkgs pkgs/by-name/cu/curl: the NIX_SSL_CERT_FILE patch).
 *
 * HOME, USER and LOGNAME are set from the target user, never copied. jj
 * reads its config from $HOME/.config/jj unless JJ_CONFIG is set (jj
 * cli/src/config.rs), chezmoi its config from $HOME/.config/chezmoi (we pass
 * -c) and git ~/.gitconfig: all the user's own.
 */
export const RUN_AS_ENV: readonly string[] = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LOCALE_ARCHIVE',
  'TZ',
  'TZDIR',
  'SSL_CERT_FILE',
  'NIX_SSL_CERT_FILE',
];
const RUN_AS_ENV_PREFIXES: readonly string[] = ['LC_'];

/** The environment of a process started as `user`: RUN_AS_ENV of `parent`, then `extra`, then the user's identity. */
export function runAsEnv(
  parent: NodeJS.ProcessEnv,
  user: RunAs,
  extra: Record<string, string | undefined> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v === undefined) continue;
    if (RUN_AS_ENV.includes(k) || RUN_AS_ENV_PREFIXES.some((p) => k.startsWith(p))) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  env['HOME'] = user.home;
  env['USER'] = user.name;
  env['LOGNAME'] = user.name;
  return env;
}

/** The terminal's signals a process started as another user gets from gitopsd (RunOptions.user). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGHUP'];

/** What the forwarder needs of `process`; a test passes its own. */
export interface SignalProcess {
  readonly pid: number;
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
  listenerCount(signal: NodeJS.Signals): number;
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

/** A started child, as node's ChildProcess shows it. */
export interface ChildRef {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: string | null;
}

export interface SignalForwarder {
  /** A child started in a session of its own: from now on it gets FORWARDED_SIGNALS. */
  add(child: ChildRef): void;
  /** The child has exited (idempotent). */
  delete(child: ChildRef): void;
  /** Whether the process listeners are installed (tests). */
  readonly installed: boolean;
}

/**
 * How many listeners per signal the signal-exit library has installed:
 * execa's `cleanup` loads it while a child of this process's own session
 * runs. Each of them ends the process (it raises the signal again) only when
 * the listeners on the signal are its own alone, so these do not count as a
 * handler of gitopsd's, and ours must not keep it from seeing it is alone.
 * Its count is on a global it shares between copies (signal-exit 4,
 * src/index.ts: `Symbol.for('signal-exit emitter')`).
 */
export function signalExitListeners(): number {
  const emitter = (globalThis as Record<symbol, unknown>)[Symbol.for('signal-exit emitter')];
  const count = (emitter as { count?: unknown } | undefined)?.count;
  return typeof count === 'number' ? count : 0;
}

/**
 * The registry of the children started in a session of their own, and the
 * listeners that pass FORWARDED_SIGNALS on to them (RunOptions.user).
 *
 * - The listeners are on `proc` only while the registry holds a child: with
 *   none, gitopsd's signals are exactly as without this.
 * - A signal that ends gitopsd (no listener of its own on it: only ours and
 *   signal-exit's) is sent to the process group of each child, then our
 *   listeners come off and the signal is raised again, so gitopsd dies of it
 *   as it would have (its default action; or signal-exit's, which kills the
 *   session's children and raises it again). A signal that a handler of
 *   gitopsd's takes (the daemon's stop and reload, `fleet serve`'s stop) is
 *   left to that handler, and not sent on.
 * - PID reuse: a child's PID, and so its group, cannot be another process's
 *   until the child is reaped. Node reaps it (waitpid) and sets `exitCode` or
 *   `signalCode` in one callback, before any other JavaScript runs, so a
 *   child whose both are still null is not reaped yet: its PID and its group
 *   are still its own. Only those get the signal; one that has exited is
 *   skipped even before its `exit` event takes it out of the registry.
 *   What the child left behind in its group after it exited gets nothing
 *   (that group may be gone, and its number another's).
 */
export function createSignalForwarder(
  proc: SignalProcess,
  exitHooks: () => number = signalExitListeners,
): SignalForwarder {
  const children = new Set<ChildRef>();
  const listeners = new Map<NodeJS.Signals, () => void>();
  const uninstall = (): void => {
    for (const [signal, listener] of listeners) proc.off(signal, listener);
    listeners.clear();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // Another listener of gitopsd's own decides what this signal does.
    if (proc.listenerCount(signal) - 1 - exitHooks() > 0) return;
    for (const c of children) {
      if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
      try {
        proc.kill(-c.pid, signal);
      } catch {
        // Nothing left in the group to signal.
      }
    }
    // What the signal would have done without us: node's default (the
    // process ends) once no listener is left, or signal-exit's.
    uninstall();
    proc.kill(proc.pid, signal);
  };
  const install = (): void => {
    for (const signal of FORWARDED_SIGNALS) {
      const listener = (): void => onSignal(signal);
      listeners.set(signal, listener);
      proc.on(signal, listener);
    }
  };
  return {
    add(child) {
      children.add(child);
      if (listeners.size === 0) install();
    },
    delete(child) {
      children.delete(child);
      if (children.size === 0) uninstall();
    },
    get installed() {
      return listeners.size > 0;
    },
  };
}

/**
 * One registry for the process: signals are the process's, and several
 * runners may live in it at once (the daemon builds new Deps on a reload).
 */
const runAsChildren = createSignalForwarder(process);

export function createRunner(opts: RunnerOptions): Runner {
  const log = opts.log.child({ module: 'runner' });
  const mono = opts.monotonicMs ?? monotonicMs;
  const dryRun = opts.dryRun ?? false;

  const run = async (cmd: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> => {
    // The hardening goes before the caller's arguments (git's own options
    // come before the subcommand), and the trace and log show the real argv.
    if (isGit(cmd)) args = [...gitHardeningArgs(), ...args];
    if (o.mutates === true && dryRun) {
      log.info('dry-run: not running', { cmd, args });
      opts.tracer.event({ event: 'skip', cmd, args });
      return {
        exitCode: 0,
        stdout: '',
        stderr: '',
        durationMs: 0,
        skipped: true,
      };
    }
    opts.tracer.checkpoint(`cmd:${cmd}`, { cmd, args });
    opts.tracer.event({ event: 'start', cmd, args });
    const { execa } = await import('execa');
    const timeoutMs = o.timeoutMs ?? opts.defaultTimeoutMs;
    // As another user: only the allowlist of root's environment (RUN_AS_ENV).
    const env: Record<string, string | undefined> = o.user ? runAsEnv(process.env, o.user, o.env) : { ...o.env };
    const start = mono();
    const [file, argv, cwd] = spawnPlan(cmd, args, o);
    const child = execa(file, argv, {
      ...(cwd !== undefined ? { cwd } : {}),
      env,
      extendEnv: o.user === undefined,
      shell: false,
      // The timeout is ours (below), not execa's: execa kills only the child.
      killSignal: 'SIGTERM',
      forceKillAfterDelay: KILL_GRACE_MS,
      reject: false,
      stripFinalNewline: false,
      maxBuffer: MAX_BUFFER,
      // Binary stdout is collected below, not by execa: execa grows a
      // resizable ArrayBuffer chunk by chunk and copies it again, which
      // cost about 35 ms for the 1.4 MB of `git cat-file --batch` of a cold
      // read of 1,000 hosts (docs/benchmarks.md B8).
      ...(o.binaryStdout === true ? { encoding: 'buffer' as const, buffer: { stdout: false } } : {}),
      // A bounded tail is collected below, not by execa (execa would hold all of it, up to maxBuffer).
      ...(o.stdoutTail !== undefined ? { buffer: { stdout: false } } : {}),
      ...(o.input !== undefined ? { input: o.input } : { stdin: 'ignore' as const }),
      // A session of its own: no controlling terminal (RunOptions.user).
      ...(o.user ? { uid: o.user.uid, gid: o.user.gid, detached: true } : {}),
    });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    // Out of root's session: the terminal's SIGINT and SIGHUP reach it through us.
    if (o.user !== undefined && child.pid !== undefined) {
      runAsChildren.add(child);
      child.once('exit', () => runAsChildren.delete(child));
    }
    // Binary stdout: its chunks as they come, joined once at the end (the
    // same limit as execa's maxBuffer: over it the command is stopped and fails).
    // With stdoutTail: only the chunks that hold the last stdoutTail bytes
    // are kept, and the newlines of all of them counted.
    const tailMax = o.binaryStdout === true ? undefined : o.stdoutTail;
    const chunks: Buffer[] | null = o.binaryStdout === true || tailMax !== undefined ? [] : null;
    let stdoutSize = 0;
    let kept = 0;
    let newlines = 0;
    let overflow = false;
    const stdoutEnded =
      chunks === null || child.stdout === null
        ? Promise.resolve()
        : (() => {
            child.stdout.on('data', (chunk: Buffer) => {
              stdoutSize += chunk.length;
              if (tailMax !== undefined) {
                for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) newlines++;
                chunks.push(chunk);
                kept += chunk.length;
                while (chunks.length > 1 && kept - (chunks[0]?.length ?? 0) >= tailMax)
                  kept -= chunks.shift()?.length ?? 0;
              } else if (stdoutSize <= MAX_BUFFER) chunks.push(chunk);
              else if (!overflow) {
                overflow = true;
                child.kill('SIGTERM');
              }
            });
            // Every chunk has come once the stream is closed (after an error
            // too: a killed command delivered what it had; its exit status tells the rest).
            const out = child.stdout;
            return new Promise<void>((resolve) => (out.closed ? resolve() : out.once('close', () => resolve())));
          })();
    // At the timeout, kill the whole process tree, not only the child: a
    // tool's own children (jj's `git fetch`) would outlive it, keep its pipes
    // open (so this await never returns) and hang on the network for ever.
    // A background process the command left behind (re-parented when the
    // command exited, so not in the tree) can hold the pipes open for ever:
    // once the command itself has exited after the timeout, its pipes are
    // closed on our side, so the timeout still bounds the run. What the
    // command wrote before it exited has been read by then (node reads the
    // pipes as data comes; the 100 ms leave the last chunk time to arrive).
    // The output is then incomplete, so the run fails as timed out even if
    // the command's own exit code was 0.
    let pipesAbandoned = false;
    const abandonPipes = (): void => {
      setTimeout(() => {
        for (const stream of [child.stdout, child.stderr]) {
          if (stream === null || stream.closed) continue;
          pipesAbandoned = true;
          stream.destroy();
        }
      }, 100).unref();
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      const tree = child.pid === undefined ? [] : descendantsOf(child.pid);
      child.kill('SIGTERM');
      signalAll(tree, 'SIGTERM');
      setTimeout(() => signalAll(tree, 'SIGKILL'), KILL_GRACE_MS).unref();
      if (child.exitCode !== null || child.signalCode !== null) abandonPipes();
      else child.once('exit', abandonPipes);
    }, timeoutMs);
    const ticket = o.progress === undefined ? undefined : (opts.progress ?? noProgress).start(o.progress);
    if (o.onLine || ticket) {
      const userLine = o.onLine;
      const onLine = (line: string, name: 'stdout' | 'stderr'): void => {
        ticket?.line(line);
        userLine?.(line, name);
      };
      for (const [name, stream] of [
        ['stdout', child.stdout],
        ['stderr', child.stderr],
      ] as const) {
        let buf = '';
        stream?.on('data', (chunk: Buffer) => {
          buf += chunk.toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            onLine(buf.slice(0, nl), name);
            buf = buf.slice(nl + 1);
          }
        });
        stream?.on('end', () => {
          if (buf !== '') onLine(buf, name);
        });
      }
    }
    const r = await child.finally(() => {
      clearTimeout(timer);
      runAsChildren.delete(child);
      ticket?.done();
    });
    await stdoutEnded;
    const durationMs = Math.round(mono() - start);
    const joined =
      chunks !== null
        ? chunks.length === 1 && chunks[0] !== undefined
          ? chunks[0]
          : Buffer.concat(chunks)
        : r.stdout instanceof Uint8Array
          ? r.stdout
          : undefined;
    const bytes =
      tailMax !== undefined && joined !== undefined && joined.length > tailMax
        ? joined.subarray(joined.length - tailMax)
        : joined;
    // Binary stdout is decoded only when the text is asked for (a caller of
    // binaryStdout reads the bytes).
    let decoded: string | undefined = typeof r.stdout === 'string' ? r.stdout : bytes === undefined ? '' : undefined;
    const stdoutText = (): string =>
      (decoded ??=
        bytes === undefined ? '' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    const stderr =
      typeof r.stderr === 'string'
        ? r.stderr
        : r.stderr instanceof Uint8Array
          ? Buffer.from(r.stderr).toString('utf8')
          : '';
    const exitCode = r.exitCode;
    log.debug('command finished', {
      cmd,
      args,
      exitCode: exitCode ?? null,
      durationMs,
      timedOut,
    });
    opts.tracer.event({
      event: 'end',
      cmd,
      exitCode: exitCode ?? null,
      durationMs,
      timedOut,
    });
    const failed = r.failed || exitCode !== 0 || overflow || pipesAbandoned;
    if (failed && (o.allowFailure !== true || exitCode === undefined || timedOut || overflow)) {
      // A command that could not start, or timed out, always throws: a result
      // without an exit code would only invite a wrong decision.
      throw new CommandFailed({
        cmd,
        args,
        exitCode,
        signal: r.signal,
        timedOut,
        stderrTail: overflow ? OVERFLOW : tail(stderr || (r.originalMessage ?? ''), 4000),
        stdout: stdoutText(),
        stdoutOverflow: overflow,
        cause: r.cause,
      });
    }
    return {
      exitCode: exitCode ?? 0,
      get stdout(): string {
        return stdoutText();
      },
      stderr,
      durationMs,
      skipped: false,
      ...(bytes !== undefined && o.binaryStdout === true ? { stdoutBytes: bytes } : {}),
      ...(tailMax !== undefined ? { stdoutTotal: { bytes: stdoutSize, newlines } } : {}),
    };
  };

  const git = (cwd: string, g: { timeoutMs?: number } = {}): SimpleGit => {
    const require = createRequire(import.meta.url);
    const { simpleGit } = require('simple-git') as typeof import('simple-git');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    env['GIT_TERMINAL_PROMPT'] = '0';
    // simple-git refuses to spawn git while a variable that names a program
    // is set (@simple-git/argv-parser's environment check). Those that
    // choose a program gitopsd's git never wants go (SIMPLE_GIT_DROPPED_ENV);
    // root's own transport and config settings stay (GIT_SSH_COMMAND,
    // GIT_ASKPASS, GIT_CONFIG_GLOBAL...), with their categories allowed below.
    for (const k of Object.keys(env)) if (SIMPLE_GIT_DROPPED_ENV.includes(k.toUpperCase())) delete env[k];
    const instance = simpleGit({
      baseDir: cwd,
      binary: 'git',
      maxConcurrentProcesses: 1,
      timeout: { block: g.timeoutMs ?? opts.defaultTimeoutMs },
      // The same `-c` settings as run() gives git. simple-git blocks these
      // keys by default (they can run programs when a caller's value is
      // untrusted); ours are constants that switch those programs off, so
      // exactly their categories are allowed, nothing else.
      config: gitHardeningConfig(),
      unsafe: {
        allowUnsafeFsMonitor: true,
        allowUnsafeHooksPath: true,
        allowUnsafeSshCommand: true,
        allowUnsafeAskPass: true,
        allowUnsafeCredentialHelper: true,
        allowUnsafeProtocolOverride: true,
        allowUnsafeGpgProgram: true,
        // Root's environment, not a caller's value: GIT_CONFIG_GLOBAL,
        // GIT_CONFIG_SYSTEM, GIT_EXEC_PATH, PREFIX; GIT_CONFIG_COUNT.
        allowUnsafeConfigPaths: true,
        allowUnsafeConfigEnvCount: true,
      },
    });
    instance.env(env);
    // simple-git spawns git itself; this handler sees every spawn, so git
    // calls pass the same checkpoints, trace and debug log as run().
    instance.outputHandler((command, stdout, _stderr, args) => {
      opts.tracer.checkpoint(`cmd:${command}`, {
        cmd: command,
        args,
        via: 'simple-git',
      });
      opts.tracer.event({
        event: 'start',
        cmd: command,
        args,
        via: 'simple-git',
      });
      const start = mono();
      stdout.on('close', () => {
        const durationMs = Math.round(mono() - start);
        log.debug('command finished', {
          cmd: command,
          args,
          durationMs,
          via: 'simple-git',
        });
        opts.tracer.event({
          event: 'end',
          cmd: command,
          durationMs,
          via: 'simple-git',
        });
      });
    });
    return instance;
  };

  return { run, git, dryRun };
}

/**
 * What to exec: the command itself, or, for another user with a cwd,
 * `env --chdir=DIR CMD ARGS` started in `/`, so the chdir happens after the
 * uid switch, with that user's rights (coreutils env(1), --chdir since 8.28).
 */
function spawnPlan(cmd: string, args: readonly string[], o: RunOptions): [string, string[], string | undefined] {
  if (o.user === undefined) return [cmd, [...args], o.cwd];
  if (o.cwd === undefined) return [cmd, [...args], '/'];
  // env(1) would take a first word with "=" for an assignment.
  if (cmd.includes('=')) throw new Error(`runner: command name ${cmd} contains "="; cannot run it as another user`);
  return ['env', [`--chdir=${o.cwd}`, cmd, ...args], '/'];
}

interface ProcRef {
  pid: number;
  /** Start time (clock ticks after boot): tells a reused PID apart. */
  start: number;
}

/** Every live descendant of `root` (Linux /proc; none where /proc is missing). */
export function descendantsOf(root: number): ProcRef[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, ProcRef[]>();
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    const st = procStat(pid);
    if (st === null) continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid, start: st.start });
    children.set(st.ppid, list);
  }
  const out: ProcRef[] = [];
  const queue = [root];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

function signalAll(procs: readonly ProcRef[], signal: NodeJS.Signals): void {
  for (const p of procs) {
    // Only the same process: its PID may have been reused since.
    if (procStat(p.pid)?.start !== p.start) continue;
    try {
      process.kill(p.pid, signal);
    } catch {
      // already gone
    }
  }
}
