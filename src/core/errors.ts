/**
 * Typed errors. Every failure a person can act on is one of these;
 * src/core/exit.ts is the only place that turns them into exit codes (the
 * CLI uses it for the process's exit code, the cycle for each step's).
 * Messages are one line: what failed, why, and what to do next.
 */

/** The documented exit codes (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  failed: 1,
  buildFailed: 3,
  reverted: 4,
  bootFailed: 5,
  refused: 6,
  usage: 64,
  internal: 70,
  temporary: 75,
  config: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type ErrorKind =
  'failed' | 'build-failed' | 'reverted' | 'boot-failed' | 'refused' | 'usage' | 'internal' | 'temporary' | 'config';

export class GitopsdError extends Error {
  readonly kind: ErrorKind;
  /** Structured detail for --json output and logs. */
  readonly detail: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GitopsdError';
    this.kind = kind;
    this.detail = options.detail ?? {};
  }
}

export class ConfigError extends GitopsdError {
  constructor(message: string, detail: Record<string, unknown> = {}) {
    super('config', message, { detail });
    this.name = 'ConfigError';
  }
}

export class UsageError extends GitopsdError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

/**
 * The lock is held by a live process. The advice depends on the holder: a run
 * (`cycle`, `upgrade`, `boot validate`…) ends by itself, so waiting works; a
 * `daemon` runs until it is stopped, so waiting never does (its unit is
 * gitopsd.service in nix/module.nix's daemon mode).
 */
export class LockHeldError extends GitopsdError {
  readonly holderPid: number;
  constructor(lockPath: string, holderPid: number, command: string) {
    const advice =
      command === 'daemon'
        ? `a daemon runs until stopped: stop it first (systemctl stop gitopsd.service, or kill ${holderPid}), or let it do the work`
        : 'wait for it to finish and retry';
    super(
      'temporary',
      `another gitopsd (pid ${holderPid}, running "${command}") holds the lock ${lockPath}; ${advice}`,
      // No run: it changed nothing, and the holder records its own
      // (docs/status.md "Hooks": no record, no hook, no publish).
      { detail: { lockPath, holderPid, command, notARun: true } },
    );
    this.name = 'LockHeldError';
    this.holderPid = holderPid;
  }
}

/**
 * `--store-path P` names nothing. A relative P is read from the current
 * directory, which the message says; the fix names a path that does exist
 * (the booted system, when it can be read).
 */
export function storePathMissing(given: string, opts: { cwd: string; bootedSystem: string | null }): GitopsdError {
  const where = given.startsWith('/') ? '' : ` (a relative path, read from ${opts.cwd})`;
  const example = opts.bootedSystem === null ? '' : `, e.g. the booted system ${opts.bootedSystem}`;
  return new GitopsdError(
    'usage',
    `--store-path ${given} does not exist${where}; pass the absolute path of an existing system store path${example}`,
  );
}

/**
 * A command that must write the state directory, run by a user who cannot:
 * gitopsd takes its lock there first (`<stateDir>/gitopsd.lock`), so this is
 * where `gitopsd fleet publish` (or `cycle`, `upgrade`…) run without sudo
 * stops. `dir` is the directory that refused (`code`: EACCES or EPERM), the
 * state directory or, when that does not exist yet, the nearest existing
 * directory above it; `owner` its owner's uid; `uid` this process's (null:
 * unknown). Not root: refused (exit 6, as a sync started by another user),
 * since only another user can fix it. Root: the directory's permissions or
 * attributes, or the filesystem (NFS root_squash), refuse root itself, a
 * failure (exit 1) with where to look.
 */
export function stateDirNotWritable(i: {
  command: string;
  stateDir: string;
  dir: string;
  code: string;
  owner: number | null;
  uid: number | null;
  cause?: unknown;
}): GitopsdError {
  const what =
    i.dir === i.stateDir
      ? `cannot write its state directory ${i.stateDir}`
      : `cannot create its state directory ${i.stateDir} in ${i.dir}`;
  const who = `${i.owner === null ? '' : `owned by uid ${i.owner}, `}this process runs as uid ${i.uid ?? '?'}`;
  const detail = { stateDir: i.stateDir, dir: i.dir, code: i.code, owner: i.owner, uid: i.uid };
  const options = { cause: i.cause, detail };
  if (i.uid === 0) {
    return new GitopsdError(
      'failed',
      `gitopsd ${i.command} ${what} (${i.code}, as root); check the permissions and attributes (lsattr) of ${i.dir}, and whether its filesystem maps root to another user (NFS root_squash)`,
      options,
    );
  }
  // No run either: it changed nothing. Recorded, it ran hooks.onFailure as
  // that user and tried to publish (two warnings before the one line).
  return new GitopsdError(
    'refused',
    `gitopsd ${i.command} ${what} (${i.code}: ${who}); run it as root (e.g. with sudo) or as the user that owns ${i.dir}`,
    { cause: i.cause, detail: { ...detail, notARun: true } },
  );
}

export class StateCorruptError extends GitopsdError {
  constructor(message: string, detail: Record<string, unknown>) {
    super('failed', message, { detail });
    this.name = 'StateCorruptError';
  }
}

/**
 * A write that failed because of the filesystem, as a one-line error a person
 * can act on, or null for any other failure (the caller rethrows it). A full
 * disk is the preflight's "refused" (6), not a bug (70): at 4 a.m. the
 * message must say "the disk is full", not "please report".
 */
export function writeFailure(err: unknown, what: string, path: string): GitopsdError | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new GitopsdError(
        'refused',
        `cannot write ${what} ${path}: no space left on its filesystem (${code}); free some space there (for example nix-collect-garbage) and run again`,
        { cause: err, detail: { path, code } },
      );
    case 'EROFS':
      return new GitopsdError(
        'failed',
        `cannot write ${what} ${path}: its filesystem is read-only (EROFS); remount it read-write or point stateDir elsewhere`,
        { cause: err, detail: { path, code } },
      );
    default:
      return null;
  }
}

/** A failed external command. Carries the exit code and the tail of stderr. */
export class CommandFailed extends GitopsdError {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly stderrTail: string;
  readonly stdout: string;
  /**
   * The runner stopped the command because its stdout went over its limit
   * (src/core/runner.ts MAX_BUFFER). Set from the runner's own count, never
   * from the command's output; true even when the command had exited by
   * itself before the runner's SIGTERM reached it.
   */
  readonly stdoutOverflow: boolean;

  constructor(opts: {
    cmd: string;
    args: readonly string[];
    exitCode: number | undefined;
    signal: string | undefined;
    timedOut: boolean;
    stderrTail: string;
    stdout: string;
    stdoutOverflow?: boolean;
    cause?: unknown;
  }) {
    const why = opts.timedOut
      ? 'timed out'
      : opts.signal
        ? `was killed by ${opts.signal}`
        : opts.exitCode === undefined
          ? 'could not be started'
          : `exited ${opts.exitCode}`;
    // git's own failures only: nix, say, may relay a git fatal: line above its own error.
    const tail = /(^|\/)git$/.test(opts.cmd) ? gitHeadline(opts.stderrTail) : lastLine(opts.stderrTail);
    super('failed', `${opts.cmd} ${why}${tail ? `: ${tail}` : ''}`, {
      cause: opts.cause,
      detail: {
        cmd: opts.cmd,
        args: opts.args,
        exitCode: opts.exitCode,
        timedOut: opts.timedOut,
      },
    });
    this.name = 'CommandFailed';
    this.cmd = opts.cmd;
    this.args = opts.args;
    this.exitCode = opts.exitCode;
    this.signal = opts.signal;
    this.timedOut = opts.timedOut;
    this.stderrTail = opts.stderrTail;
    this.stdout = opts.stdout;
    this.stdoutOverflow = opts.stdoutOverflow === true;
  }
}

/** The last non-empty line of a text, trimmed. */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.at(-1) ?? '';
}

/**
 * The line of a failed git's stderr that says what went wrong: its first
 * `fatal:` line when there is one (git ends a failed fetch with "Please make
 * sure you have the correct access rights / and the repository exists.", so
 * its last line named nothing; review 12), else the last line.
 */
export function gitHeadline(text: string): string {
  const fatal = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('fatal: '));
  return fatal ?? lastLine(text);
}

/** Keep the last `max` characters of a stream, at a line boundary when possible. */
export function tail(text: string, max = 4000): string {
  if (text.length <= max) return text;
  const cut = text.slice(text.length - max);
  const nl = cut.indexOf('\n');
  return nl >= 0 && nl < cut.length - 1 ? cut.slice(nl + 1) : cut;
}
