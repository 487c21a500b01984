/**
 * The failure taxonomy (issue #13): who caused a failure of the build, the
 * activation, the post-switch check or the boot validation. A pure decision
 * from evidence (exit code, signal, timeout, the tool's own error text and a
 * few observations) to one of three classes:
 *
 * - `caused-by-commit`: an evaluation error, a builder that fails on its own
 *   (exit code, no environmental sign in its log), an activation script that
 *   fails, the new system failing a check the old one passed. Only this class
 *   may mark a commit bad.
 * - `environmental`: the disk is full, a fetch or substituter or the network
 *   failed, the nix daemon is unreachable, the OOM killer or a signal ended a
 *   builder (SIGKILL, SIGTERM, SIGBUS, a resource limit), a store path the
 *   evaluation used was deleted under it (a garbage collection), a timeout, a
 *   check that already failed before any change, a golden that fails the
 *   same checks, a checkout git refuses to read.
 * - `unknown`: nothing above matched. Never blamed on the commit; retried
 *   with backoff.
 *
 * The rules look at the error lines nix prints (`error:` and the indented
 * block under it, including the builder's "Last N log lines"); `warning:`
 * lines are ignored (a substituter that cannot be reached is a warning when
 * the build then fails for its own reason). Environmental signs win over
 * commit signs: "builder failed with exit code 1" whose log says "No space
 * left on device" is a full disk, not the commit. nix quotes only the last
 * `log-lines` (25) lines of a builder: when those would blame the commit,
 * the caller reads the whole logs of the builders that failed
 * (planFullLogReads, FailureEvidence.fullBuildLogs) and the same
 * builder-log rules see them (judgeFullLogs).
 *
 * Sources of the texts (checked against nix 2.34 in the test bed and
 * NixOS/nix at 2.34.0):
 * - builder failures: libstore/build/derivation-building-goal.cc
 *   ("Cannot build '%s'.\nReason: builder %s." with statusToString:
 *   "failed with exit code N" / "failed due to signal N (Killed)"), and the
 *   older "builder for '%s' failed with exit code N"; nix's own disk check
 *   after a failed builder (statvfs of the store and the build dir, below
 *   8 MiB free, before the build dir is removed): "note: build failure may
 *   have been caused by lack of free disk space" (the same text since 2.0);
 * - a store path gone under the evaluation: "path '%s' does not exist"
 *   (SourceAccessor), "path '%s' is not valid" (realising a context);
 * - downloads: libstore/filetransfer.cc ("unable to %s '%s': %s (%d) %s",
 *   curl's "Could not resolve host: …");
 * - the daemon: libutil/unix-domain-socket.cc ("cannot connect to socket at '%s'");
 * - timeouts: libstore/build/goal.cc ("timed out after %1% seconds");
 * - git: "fatal: detected dubious ownership in repository at '%s'" (git's
 *   setup.c), "fatal: unable to access '%s': Could not resolve host: …",
 *   "fatal: unable to connect to %s:" with "errno=Connection refused" (git://);
 * - nix's git fetcher (libfetchers/git-utils.cc): "Failed to fetch git
 *   repository '%s'" after git's own fatal: lines ("not our ref <rev>" when
 *   the locked rev is gone), "getting Git object '%s': …" (a git+file input
 *   without the locked rev). Each of these, and a builder's log lines under
 *   "Last N log lines:", captured from the real tools in
 *   test/fixtures/nix-failures (produce.sh there).
 * - switch-to-configuration (stage 'activation'): its own endings are read
 *   first, from nixpkgs' switch-to-configuration-ng main.rs (the lock, D-Bus,
 *   not root, exit 100, the pre-switch checks, a full /boot): see
 *   src/failure/activation.ts.
 */

import { decideSwitchFailure, switchKeyLine } from './activation.js';

export type FailureClass = 'caused-by-commit' | 'environmental' | 'unknown';

/** Where the failure happened. */
export type FailureStage = 'fetch' | 'build' | 'activation' | 'post-switch' | 'boot';

export type FailureCause =
  // caused by the commit
  | 'eval-error'
  | 'build-error'
  | 'activation-error'
  | 'check-regressed'
  // environmental
  | 'disk-full'
  | 'fetch-failed'
  | 'network'
  | 'substitute-failed'
  | 'nix-daemon'
  | 'systemd-unreachable'
  | 'out-of-memory'
  | 'killed'
  | 'bus-error'
  | 'store-path-gone'
  | 'timeout'
  | 'activation-hang'
  | 'switch-locked'
  | 'boot-full'
  | 'needs-reboot'
  | 'check-already-failing'
  | 'check-fails-on-previous'
  | 'golden-fails-too'
  | 'ownership'
  | 'permission'
  // unknown
  | 'pre-switch-refused'
  | 'unrecognised';

export interface FailureEvidence {
  stage: FailureStage;
  /** The program that failed: nh, nix, git, switch-to-configuration, systemctl, a check. */
  tool: string;
  /** Exit code, null when the process was killed by a signal or never exited. */
  exitCode: number | null;
  /** The signal that ended the process (SIGKILL, ...), null when it exited. */
  signal: string | null;
  /** Our own timeout (the runner's) ended it. */
  timedOut: boolean;
  /** What the tool printed on stderr (and stdout, for tools that report there). */
  output: string;
  /**
   * The store's filesystem was below preflight.minFreeDiskPercent right
   * after the failure (statfs): a builder that died writing its output may
   * print nothing about it.
   */
  lowDisk?: boolean;
  /**
   * Store objects that the error names as missing ("path '…' does not
   * exist", "… is not valid"; storeObjectsNamedMissing) and that were absent
   * when looked at right after the failure (lstat). The same text is the
   * commit's own fault when the object is there and a file inside it is not
   * (an import of a file the input does not have).
   */
  goneStorePaths?: readonly string[];
  /**
   * The failed derivations the error names (failedDrvsNamed) that are
   * fixed-output, read from their .drv right after the failure
   * (isFixedOutputDrv): a fetcher, the one kind of builder nix lets reach the
   * network. A network error in the log of any other builder is the build's
   * own doing (the sandbox has no network), not an outage.
   */
  fixedOutputDrvs?: readonly string[];
  /**
   * The whole build log of each derivation whose builder failed by itself
   * (planFullLogReads: only when the lines nix showed would blame the
   * commit), read from nix after the failure (`nix-store --read-log`, the
   * last FULL_LOG_TAIL_BYTES of it), or why it could not be read. nix quotes
   * only the last `log-lines` (25) lines of a failed builder: the OOM kill
   * of a `make -j` job or a full disk may be further up.
   */
  fullBuildLogs?: readonly FullBuildLog[];
  /** post-switch / boot: checks that failed on the system before the change (the pre-check). */
  failingBefore?: readonly string[];
  /** post-switch / boot: checks that failed after the change. */
  failingAfter?: readonly string[];
  /**
   * post-switch: checks that failed on the previous system once it was put
   * back (asked again after the revert): the environment changed since the
   * pre-check, e.g. an upstream went down during the build.
   */
  failingOnPrevious?: readonly string[];
  /** boot: the golden fails the same checks. */
  goldenFailsToo?: boolean;
}

/** A failed derivation's whole build log as read from nix, or why it could not be read. */
export type FullBuildLog =
  | {
      drv: string;
      read: true;
      /** The end of the log, whole lines: all of it, or its last FULL_LOG_TAIL_BYTES. */
      text: string;
      /** The number, in the whole log, of `text`'s first line (1 when `text` is all of it). */
      firstLine: number;
      /** Lines in the whole log. */
      totalLines: number;
      /** Bytes in the whole log. */
      totalBytes: number;
    }
  | {
      drv: string;
      read: false;
      /** nix's own words (`build log of derivation '…' is not available` when none was kept), or the timeout. */
      why: string;
    };

/**
 * How much of the end of a build log is read and scanned (bytes): a
 * derivation's log can be gigabytes (a test suite in a loop); its cause is
 * near its end. 4 MiB is some 50,000 lines of compiler output.
 */
export const FULL_LOG_TAIL_BYTES = 4 * 1024 * 1024;
/**
 * Of that end, only the last this many lines are judged (lines). What ends
 * a builder is near its end: make -j waits for its running jobs after one is
 * killed (one line each, a few hundred at most), cargo for the crates in
 * flight, a test runner prints its report; ninja stops at once. Further up,
 * a configure check or a test that passed may print the same words
 * (`ENOSPC`, "out of memory") for another reason, and a commit that really
 * fails would then be retried instead of marked.
 */
export const FULL_LOG_JUDGED_LINES = 2000;
/** At most this many failed derivations have their full log read after one build. */
export const FULL_LOGS_MAX = 3;

export type RetryPolicy =
  /** The commit is bad for this build; only a newer commit (or a changed build) is tried. */
  | 'never'
  /** Retry at the next run. */
  | 'next-run'
  /** Retrying costs a build (or an activation): wait longer after each identical failure. */
  | 'backoff';

export interface FailureVerdict {
  class: FailureClass;
  cause: FailureCause;
  /** One line for people: the cause in plain words, and the key line of the error. */
  summary: string;
  /** The whole meaningful error (every error block, not its first line), bounded. */
  evidence: string;
  retry: RetryPolicy;
}

/** Evidence is kept up to this many characters (the end of the text: nix puts the cause last). */
export const EVIDENCE_MAX = 8000;

// eslint-disable-next-line no-control-regex -- ANSI colour codes (nix colours Cannot build …)
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * The meaningful part of a tool's output: every `error:` block (the line and
 * the indented lines under it), git's `fatal:` lines with their hint, and
 * nh's report chain; without warnings, progress ("building '…'…", "this
 * derivation will be built:") and colour codes. When nothing matches, the
 * whole trimmed output. Bounded to EVIDENCE_MAX characters, from the end.
 */
export function meaningfulError(output: string): string {
  const lines = output.replace(ANSI, '').replace(/\r/g, '').split('\n');
  const kept: string[] = [];
  let inBlock = false;
  for (const line of lines) {
    const t = line.trim();
    if (/^(error|fatal|Error):/.test(t) || /^\d+:\s/.test(t)) {
      inBlock = true;
      kept.push(line.trimEnd());
      continue;
    }
    if (/^(warning:|building '|copying |this derivation|these \d+ derivations)/.test(t)) {
      inBlock = false;
      continue;
    }
    // The indented continuation of an error block (nix indents by 7 spaces),
    // git's advice lines after fatal:, and blank lines inside a block.
    if (
      inBlock &&
      (line.startsWith(' ') ||
        line.startsWith('\t') ||
        t === '' ||
        /^(To add an exception|Please make sure|and the repository)/.test(t) ||
        /^\S+\[\d+: [^\]]*\]: errno=/.test(t))
    ) {
      kept.push(line.trimEnd());
      continue;
    }
    inBlock = false;
  }
  const text = (kept.length > 0 ? kept.join('\n') : output.replace(ANSI, '')).trim();
  return text.length > EVIDENCE_MAX ? `…${text.slice(text.length - EVIDENCE_MAX)}` : text;
}

/**
 * The key line: for a failed build, the first derivation whose builder failed
 * by itself with its reason; else the innermost `error:` line (nix nests the
 * cause last, after "… while evaluating …" frames), else the last `fatal:`
 * line, else the last non-empty line. A bare "error:" (nix's header of a
 * nested trace) is skipped, or read with the message under it.
 */
export function keyLine(text: string): string {
  const lines = text
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  // A bare "error:" whose message follows on the next lines (a `throw "\n…"`,
  // NixOS's "Failed assertions:"): the header and up to two lines of it.
  const errs = lines.flatMap((l, i) => {
    if (/^(error|fatal):\s*\S/.test(l)) return [l];
    if (!/^error:\s*$/.test(l)) return [];
    const next = lines.slice(i + 1, i + 3).filter((n) => !/^(…|error:|Error:|\d+:\s)/.test(n));
    return next.length > 0 && lines[i + 1] === next[0] ? [`error: ${next.join(' ')}`] : [];
  });
  // A failed build: nix names the derivation whose builder failed first, then
  // each that needed it ("Reason: 1 dependency failed"): the first one with a
  // reason of its own, joined with that reason.
  const reasonAfter = (i: number): string | undefined => {
    const next = lines.slice(i + 1).find((l) => /^(Reason:|error:)/.test(l));
    return next?.startsWith('Reason:') === true ? next : undefined;
  };
  const builds = lines.flatMap((l, i) => (/^error: Cannot build/.test(l) ? [{ l, reason: reasonAfter(i) }] : []));
  const own = builds.find((b) => b.reason !== undefined && !/dependenc(y|ies) failed/.test(b.reason));
  if (own !== undefined) return `${own.l} ${own.reason ?? ''}`;
  const last = errs.at(-1);
  const lastBuild = builds.at(-1);
  if (last !== undefined && lastBuild?.l === last && lastBuild.reason !== undefined)
    return `${last} ${lastBuild.reason}`;
  return last ?? lines.at(-1) ?? '';
}

interface Rule {
  cause: FailureCause;
  pattern: RegExp;
  /**
   * Whether the sign counts when it is only in a builder's log lines (nix's
   * "> …" under "Last N log lines"): a full disk, memory and time run out
   * for any builder; a network error only for a fixed-output one (only
   * fetchers get the network; any other builder that reaches for it fails
   * the same way on every host, every time); the other signs in a builder's
   * log are its own doing (a sandboxed build writing to a read-only store
   * path or to $HOME, `Permission denied` on a script without its x bit).
   */
  inBuilderLog: 'counts' | 'fixed-output' | 'ignored';
}

/** Environmental signs, checked first (in this order). */
const ENVIRONMENTAL: readonly Rule[] = [
  { cause: 'ownership', pattern: /detected dubious ownership in repository/, inBuilderLog: 'ignored' },
  {
    cause: 'disk-full',
    pattern:
      /No space left on device|ENOSPC|database or disk is full|Disk quota exceeded|EDQUOT|build failure may have been caused by lack of free disk space/i,
    inBuilderLog: 'counts',
  },
  {
    cause: 'out-of-memory',
    pattern:
      /out of memory|OutOfMemoryError|Cannot allocate memory|std::bad_alloc|oom-kill|Out of memory: Killed process/i,
    inBuilderLog: 'counts',
  },
  {
    cause: 'systemd-unreachable',
    pattern: /has not been booted with systemd as init system|Failed to connect to (system scope )?bus/,
    inBuilderLog: 'ignored',
  },
  {
    cause: 'nix-daemon',
    pattern: /cannot connect to socket at|Nix daemon disconnected|Nix daemon out of memory/,
    inBuilderLog: 'ignored',
  },
  // In a fetcher's log also a transfer cut off or refused on the way: git
  // over http ("RPC failed; curl 18 …", captured in fod-rpc-drop), curl's
  // own (nixpkgs' fetchurl builder) transport errors by number (5 proxy, 6
  // host, 7 connect, 16 HTTP/2, 18 partial, 28 timeout, 35 TLS, 52 empty
  // reply, 55/56 send/receive, 92 HTTP/2 stream) and a server's 5xx or 429.
  // A 404 stays the commit's: a URL it got wrong fails the same everywhere.
  {
    cause: 'network',
    pattern:
      /unable to download '|Could not resolve host|Couldn't resolve host|Temporary failure in name resolution|Network is unreachable|Connection refused|Connection timed out|Connection reset by peer|Failed to connect to|unable to access '|SSL connect error|Could not read from remote repository|fatal: unable to connect to |RPC failed; |unexpected disconnect while reading sideband packet|the remote end hung up unexpectedly|early EOF|curl: \((5|6|7|16|18|28|35|52|55|56|92)\) |The requested URL returned error: (5\d\d|429)\b/,
    inBuilderLog: 'fixed-output',
  },
  // A substituter answered but did not deliver the path: the NAR was cut
  // off, corrupted (a proxy, a captive portal, a half-synced cache) or no
  // longer decompresses. Without --fallback nix then gives up on the
  // derivation, and its "Cannot build '…'. Reason: 1 dependency failed"
  // below would otherwise read as the commit's build error
  // (libstore/build/derivation-goal.cc; the text is the same since 2.4).
  {
    cause: 'substitute-failed',
    pattern: /some substitutes for the outputs of derivation '.*' failed|hash mismatch importing path '/,
    inBuilderLog: 'ignored',
  },
  {
    cause: 'fetch-failed',
    pattern:
      /Git repository .* does not exist|does not appear to be a git repository|Cannot find Git revision|opening Git repository|while fetching the input|unable to fetch|tarball .* does not exist|Failed to open archive|resolving Git reference|Failed to fetch git repository |not our ref [0-9a-f]{40}|getting Git object '[0-9a-f]{40}': object not found|Authentication failed for '|could not read Username for '/,
    inBuilderLog: 'fixed-output',
  },
  // SIGKILL/SIGTERM (the OOM killer, a stop), SIGXCPU/SIGXFSZ (a resource
  // limit set on nix or its daemon): the builder did not fail by itself.
  { cause: 'killed', pattern: /failed due to signal (9|15|24|25) \(/, inBuilderLog: 'ignored' },
  // The OOM killer takes the biggest process, which is rarely the builder
  // itself but its compiler or linker child: the builder then exits by itself
  // ("builder failed with exit code 1") and only its log says why. The texts
  // the usual parents print for a child that SIGKILL ended: dash ("Killed"
  // alone) and bash ("line 1: 123 Killed   cmd"), both captured in the test
  // bed (child-killed, child-killed-bash); gcc's driver ("Killed signal
  // terminated program cc1plus"), collect2 ("ld terminated with signal 9
  // [Killed]"), make ("*** [all] Killed", "Error 137"), cargo ("signal: 9,
  // SIGKILL: kill"); and a builder whose last command was killed exits 137.
  {
    cause: 'killed',
    pattern:
      /^\s*> Killed\s*$|\b\d+ Killed {2,}\S|Killed signal terminated program|terminated with signal 9 \[Killed\]|\] (Killed|Error 137)$|signal: 9, SIGKILL|failed with exit code 137\b/m,
    inBuilderLog: 'counts',
  },
  // SIGBUS: a page of a memory-mapped file could not be backed, which on
  // x86-64 and aarch64 Linux means a full tmpfs (the build dir, /dev/shm),
  // a file truncated under the mapping, or a memory fault, not a bug a
  // commit brings. A linker writing its output through mmap (lld, mold,
  // gold) dies this way on a full build dir. When nix saw the full disk it
  // adds its note and the rule above names it `disk-full`; but nix only
  // looks at the store and the build dir, with a fixed 8 MiB threshold.
  // SIGSEGV, SIGABRT, SIGILL, SIGFPE stay the builder's own failure: they
  // are what a crashing program of the new closure gives, every time
  // (docs/upgrade.md "Builders that die of a signal").
  { cause: 'bus-error', pattern: /failed due to signal 7 \(/, inBuilderLog: 'ignored' },
  { cause: 'timeout', pattern: /timed out after \d+ seconds/, inBuilderLog: 'counts' },
  {
    cause: 'permission',
    pattern: /Permission denied|Operation not permitted|Read-only file system/,
    inBuilderLog: 'ignored',
  },
];

/** Signs that the commit's own Nix code is at fault. */
const EVAL_ERROR =
  /syntax error|undefined variable|attribute '.*' missing|does not provide attribute|The option `.*' does not exist|The option `.*' is used but not defined|called with unexpected argument|called without required argument|infinite recursion|assertion .* failed|Failed assertions:|is not of type|cannot coerce|value is .* while .* was expected|while evaluating|while calling|evaluation aborted|error: undefined|cannot find flake|does not contain a 'flake.nix'|in the lock file|to be a derivation or path but found|is not a valid|getting status of .*\.nix/;
const BUILD_ERROR =
  /builder failed with exit code|builder for '.*' failed with exit code|failed to produce output path|dependencies of derivation .* failed to build|Cannot build '.*'\.|hash mismatch in fixed-output derivation/;

const PLAIN: Record<FailureCause, string> = {
  'eval-error': 'the configuration does not evaluate',
  'build-error': 'a derivation of the configuration fails to build',
  'activation-error': 'the new system fails to activate',
  'check-regressed': 'the new system fails a check the previous system passed',
  'disk-full': 'the disk is full',
  'fetch-failed': 'an input or source could not be fetched',
  network: 'the network or a substituter is unreachable',
  'substitute-failed': 'a substituter (binary cache) did not deliver a path intact',
  'nix-daemon': 'the nix daemon is unreachable',
  'systemd-unreachable': 'systemd (PID 1 or its bus) is unreachable',
  'out-of-memory': 'the build ran out of memory',
  killed: 'a builder was killed by a signal (often the OOM killer) or a resource limit',
  'bus-error':
    'a builder died of SIGBUS (a memory-mapped file on a full filesystem, such as a tmpfs build dir or /dev/shm, or a memory fault)',
  'store-path-gone': 'a store path the evaluation used was deleted under it (a garbage collection)',
  timeout: 'a timeout ended it',
  'activation-hang': 'the activation did not finish (hang)',
  'switch-locked': 'another switch-to-configuration holds its lock (a switch by hand, nixos-rebuild)',
  'boot-full': 'the boot partition (/boot, the ESP) is full',
  'needs-reboot': 'the new system can only be started by a reboot',
  'pre-switch-refused': "the new system's pre-switch checks refused the switch",
  'check-already-failing': 'the check already failed before the change',
  'check-fails-on-previous': 'the check fails on the previous system too, once it is back',
  'golden-fails-too': 'the golden system fails the same checks',
  ownership: 'git refuses a checkout owned by another user',
  permission: 'a permission or read-only filesystem error',
  unrecognised: 'the cause is not recognised',
};

/** A path's store object: the first `<hash>-<name>` component (nix base32, 32 characters) and the directories above it. */
const STORE_OBJECT = /^(\/(?:[^/]+\/)*?[0-9a-df-np-sv-z]{32}-[^/]+)/;
/** nix 2.34's "path '…' does not exist" / "path '…' is not valid"; older nix's "getting status of '…'". */
const MISSING_PATH = /\bpath '([^']+)' (?:does not exist|is not valid)|getting status of '([^']+)'/g;

/**
 * The store objects an error names as missing or not valid, as absolute
 * paths, for the caller to look at (FailureEvidence.goneStorePaths). nix
 * names an invalid path without its store dir ("path '<hash>-x' is not
 * valid"); the dir is then taken from the same path written out elsewhere in
 * the error ("while realising the context of path '/nix/store/<hash>-x'"),
 * and without one the name is left out. Pure.
 */
export function storeObjectsNamedMissing(output: string): string[] {
  const text = output.replace(ANSI, '');
  const found = new Set<string>();
  for (const m of text.matchAll(MISSING_PATH)) {
    const p = m[1] ?? m[2] ?? '';
    if (p.startsWith('/')) {
      const o = STORE_OBJECT.exec(p)?.[1];
      if (o !== undefined) found.add(o);
      continue;
    }
    const bare = /^[0-9a-df-np-sv-z]{32}-[^/\s]+$/.exec(p)?.[0];
    if (bare === undefined) continue;
    for (const w of text.matchAll(/'(\/[^'\s]+)'/g)) {
      const full = w[1] ?? '';
      if (full.endsWith(`/${bare}`) && STORE_OBJECT.exec(full)?.[1] === full) found.add(full);
    }
  }
  return [...found];
}

/**
 * The text without a builder's own log lines, and those lines: what nix
 * quotes under "Last N log lines:" (nix >= 2.24) or "last N log lines:"
 * (older), each indented and prefixed "> ". Pure.
 */
export function splitBuilderLog(text: string): { own: string; builderLog: string } {
  const own: string[] = [];
  const log: string[] = [];
  for (const line of text.split('\n')) (/^\s+> /.test(line) || /^\s+>$/.test(line) ? log : own).push(line);
  return { own: own.join('\n'), builderLog: log.join('\n') };
}

const FAILED_DRV = /Cannot build '([^']+\.drv)'|builder for '([^']+\.drv)' failed/g;

/**
 * The derivations an error names as failed by their builder ("Cannot build
 * '….drv'", older nix's "builder for '….drv' failed"), for the caller to
 * read as root (FailureEvidence.fixedOutputDrvs). From nix's own lines only:
 * a builder's log lines ("> …", splitBuilderLog) are whatever the build
 * printed, and could name any path, or a fixed-output .drv to make its own
 * network error read as an outage. Pure.
 */
export function failedDrvsNamed(output: string): string[] {
  const found = new Set<string>();
  for (const m of splitBuilderLog(output.replace(ANSI, '')).own.matchAll(FAILED_DRV)) found.add(m[1] ?? m[2] ?? '');
  found.delete('');
  return [...found];
}

/**
 * The derivations whose builder failed by itself, as nix's own lines name
 * them: "Cannot build '….drv'." with a `Reason:` that is not "N
 * dependency failed" (a derivation that needed a failed one never ran, and
 * has no log), or older nix's "builder for '….drv' failed". Never from a
 * builder's log lines (failedDrvsNamed). Pure.
 */
export function drvsFailedByBuilder(output: string): string[] {
  const lines = splitBuilderLog(output.replace(ANSI, '')).own.split('\n');
  const found = new Set<string>();
  lines.forEach((l, i) => {
    const old = /builder for '([^']+\.drv)' failed/.exec(l)?.[1];
    if (old !== undefined) found.add(old);
    const drv = /Cannot build '([^']+\.drv)'/.exec(l)?.[1];
    if (drv === undefined) return;
    const reason = lines.slice(i + 1).find((n) => /^\s*(Reason:|error:)/.test(n)) ?? '';
    if (/^\s*Reason:/.test(reason) && !/dependenc(y|ies) failed/.test(reason)) found.add(drv);
  });
  return [...found];
}

/**
 * Which failed derivations' whole build logs to read (FailureEvidence.fullBuildLogs):
 * only when the lines nix showed would make the failure the commit's
 * `build-error` (an evaluation error has no build log; a failure already
 * environmental needs no more evidence), and at most FULL_LOGS_MAX. Pure.
 */
export function planFullLogReads(e: FailureEvidence): string[] {
  if (e.stage !== 'build') return [];
  const { fullBuildLogs: _, ...visible } = e;
  if (classifyFailure(visible).cause !== 'build-error') return [];
  return drvsFailedByBuilder(e.output).slice(0, FULL_LOGS_MAX);
}

/**
 * A FullBuildLog from what `nix-store --read-log` printed: the kept end of
 * stdout and the bytes and newlines of all of it. When only the end was
 * kept, its first, cut line is dropped. Pure.
 */
export function fullBuildLogFrom(
  drv: string,
  tailText: string,
  total: { bytes: number; newlines: number },
  tailBytes: number,
): FullBuildLog {
  const endsOpen = tailText !== '' && !tailText.endsWith('\n');
  const totalLines = total.newlines + (endsOpen ? 1 : 0);
  let text = tailText;
  if (total.bytes > tailBytes) {
    const nl = text.indexOf('\n');
    text = nl >= 0 ? text.slice(nl + 1) : '';
  }
  const lines = text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  return { drv, read: true, text, firstLine: totalLines - lines + 1, totalLines, totalBytes: total.bytes };
}

const fmt = (n: number): string => n.toLocaleString('en-US');
/** A log line fit for a one-line summary: no control characters, bounded. */
const shown = (line: string): string => {
  // eslint-disable-next-line no-control-regex -- a builder prints what it likes
  const t = line.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return t.length > 160 ? `${t.slice(0, 160)}…` : t;
};

/**
 * The builder-log rules (Rule.inBuilderLog) over the full logs: the first
 * rule, in ENVIRONMENTAL's order, that a line of a log matches, and the
 * last such line (nearest the failure). Each line is tested as nix quotes
 * it ("       > …"), so the rules are the same as for the lines nix showed.
 * With `notes`, a line for each log that says what was read, or why not,
 * for the evidence a mark keeps. Pure.
 */
function judgeFullLogs(
  logs: readonly FullBuildLog[],
  fixed: ReadonlySet<string>,
): { found: { cause: FailureCause; key: string } | null; notes: string[] } {
  const notes: string[] = [];
  for (const log of logs) {
    if (!log.read) {
      notes.push(
        `gitopsd could not read the full build log of ${log.drv}: ${shown(log.why)}; judged on the lines nix showed`,
      );
      continue;
    }
    const lines = log.text.replace(ANSI, '').split('\n');
    if (lines.at(-1) === '') lines.pop();
    const quoted = lines.map((l) => `       > ${l}`);
    // Only the lines nearest the failure are judged (FULL_LOG_JUDGED_LINES).
    const from = Math.max(0, quoted.length - FULL_LOG_JUDGED_LINES);
    const cut = log.firstLine + from > 1;
    const scanned = `only its last ${fmt(quoted.length - from)} lines, ${fmt(Math.round(Buffer.byteLength(lines.slice(from).join('\n')) / 1024))} of ${fmt(Math.round(log.totalBytes / 1024))} KiB, were judged`;
    for (const r of ENVIRONMENTAL) {
      if (!(r.inBuilderLog === 'counts' || (r.inBuilderLog === 'fixed-output' && fixed.has(log.drv)))) continue;
      for (let i = quoted.length - 1; i >= from; i--) {
        if (!r.pattern.test(quoted[i] ?? '')) continue;
        const key = `full build log of ${log.drv}: line ${fmt(log.firstLine + i)} of ${fmt(log.totalLines)}: \`${shown(lines[i] ?? '')}\``;
        notes.push(`gitopsd read the ${key}${cut ? ` (${scanned})` : ''}`);
        return { found: { cause: r.cause, key }, notes };
      }
    }
    notes.push(
      `gitopsd read the full build log of ${log.drv} (${fmt(log.totalLines)} line${log.totalLines === 1 ? '' : 's'}${cut ? `; ${scanned}` : ''}): no sign of the environment in it`,
    );
  }
  return { found: null, notes };
}

/** The evidence with gitopsd's notes after it, bounded to EVIDENCE_MAX from the end. */
function withNotes(evidence: string, notes: readonly string[]): string {
  if (notes.length === 0) return evidence;
  const text = `${evidence}\n\n${notes.join('\n')}`;
  return text.length > EVIDENCE_MAX ? `…${text.slice(text.length - EVIDENCE_MAX)}` : text;
}

/**
 * Whether a .drv's text (nix's ATerm, `Derive([("out","<path>","<hashAlgo>","<hash>")],…`)
 * is a fixed-output derivation: one output with both a hash algorithm and a
 * hash. A floating content-addressed one has the algorithm and no hash; an
 * input-addressed one neither. Pure.
 */
export function isFixedOutputDrv(aterm: string): boolean {
  return /^Derive\(\[\("out","[^"]*","[^"]+","[^"]+"\)\]/.test(aterm);
}

/** Plain words for a cause (status, `bad list`, messages). */
export function describeCause(c: FailureCause): string {
  return PLAIN[c];
}

function verdict(cls: FailureClass, cause: FailureCause, stage: FailureStage, ev: string, key: string): FailureVerdict {
  const retry: RetryPolicy =
    cls === 'caused-by-commit'
      ? 'never'
      : cls === 'unknown' || stage === 'build' || cause === 'activation-hang'
        ? 'backoff'
        : 'next-run';
  return { class: cls, cause, summary: key === '' ? PLAIN[cause] : `${PLAIN[cause]}: ${key}`, evidence: ev, retry };
}

/**
 * Classify one failure. Pure: the same evidence always gives the same verdict
 * (test/unit/failure/classify.test.ts holds the table of real outputs).
 */
export function classifyFailure(e: FailureEvidence): FailureVerdict {
  const evidence = meaningfulError(e.output);
  const key = keyLine(evidence).slice(0, 300);
  const text = evidence;

  // Checks (post-switch, boot): judged by comparison, not by text.
  if (e.stage === 'post-switch' || e.stage === 'boot') {
    const after = e.failingAfter ?? [];
    const before = new Set(e.failingBefore ?? []);
    if (e.goldenFailsToo === true)
      return verdict('environmental', 'golden-fails-too', e.stage, evidence, after.join(', '));
    if (after.length > 0 && after.every((c) => before.has(c)))
      return verdict('environmental', 'check-already-failing', e.stage, evidence, after.join(', '));
    const onPrevious = new Set(e.failingOnPrevious ?? []);
    if (after.length > 0 && after.every((c) => before.has(c) || onPrevious.has(c)))
      return verdict('environmental', 'check-fails-on-previous', e.stage, evidence, after.join(', '));
    if (after.length > 0 && e.failingBefore !== undefined)
      return verdict(
        'caused-by-commit',
        'check-regressed',
        e.stage,
        evidence,
        after.filter((c) => !before.has(c) && !onPrevious.has(c)).join(', '),
      );
    return verdict('unknown', 'unrecognised', e.stage, evidence, after.join(', ') || key);
  }

  if (e.timedOut) {
    return e.stage === 'activation'
      ? verdict('unknown', 'activation-hang', e.stage, evidence, `${e.tool} did not return`)
      : verdict('environmental', 'timeout', e.stage, evidence, `${e.tool} did not finish in time`);
  }
  if (e.signal !== null) {
    const oom = /out of memory|oom/i.test(text);
    return verdict(
      'environmental',
      oom ? 'out-of-memory' : 'killed',
      e.stage,
      evidence,
      `${e.tool} was killed by ${e.signal}`,
    );
  }
  // switch-to-configuration's own texts (src/failure/activation.ts), before
  // the generic signs: its lock or D-Bus failures are not a network outage,
  // and a full /boot needs another fix than a full store.
  if (e.stage === 'activation') {
    const r = decideSwitchFailure(e.exitCode, e.output);
    if (r !== null) {
      const v = verdict(r.class, r.cause, e.stage, evidence, r.key.slice(0, 400));
      return r.backoff === true ? { ...v, retry: 'backoff' } : v;
    }
  }
  // A builder's own log lines ("> …") are judged apart (Rule.inBuilderLog).
  const { own, builderLog } = splitBuilderLog(text);
  const fixed = new Set(e.fixedOutputDrvs ?? []);
  const fetcherFailed = failedDrvsNamed(text).some((d) => fixed.has(d));
  for (const r of ENVIRONMENTAL) {
    const inLog =
      r.inBuilderLog === 'counts' || (r.inBuilderLog === 'fixed-output' && fetcherFailed)
        ? r.pattern.test(builderLog)
        : false;
    if (r.pattern.test(own) || inLog) return verdict('environmental', r.cause, e.stage, evidence, key);
  }
  // A store object the error names as missing, and that is gone: the store
  // changed under the evaluation (a garbage collection or a `nix-store
  // --delete` between nix's own steps, or a path an older process had
  // checked). Texts alone cannot tell this from the commit importing a file
  // its input does not have (the same "path '…/x.nix' does not exist", with
  // the object there), so the caller looks (goneStorePaths).
  const gone = new Set(e.goneStorePaths ?? []);
  if (gone.size > 0 && storeObjectsNamedMissing(text).some((p) => gone.has(p)))
    return verdict('environmental', 'store-path-gone', e.stage, evidence, key);
  if (e.lowDisk === true) return verdict('environmental', 'disk-full', e.stage, evidence, key);

  switch (e.stage) {
    case 'build':
      if (BUILD_ERROR.test(text)) {
        // What nix did not show: the whole logs of the builders that failed
        // (read by the caller when planFullLogReads asked for them).
        const full = judgeFullLogs(e.fullBuildLogs ?? [], fixed);
        const ev = withNotes(evidence, full.notes);
        if (full.found !== null)
          return verdict('environmental', full.found.cause, e.stage, ev, full.found.key.slice(0, 300));
        return verdict('caused-by-commit', 'build-error', e.stage, ev, key);
      }
      if (EVAL_ERROR.test(text)) return verdict('caused-by-commit', 'eval-error', e.stage, evidence, key);
      return verdict('unknown', 'unrecognised', e.stage, evidence, key);
    case 'activation':
      // None of switch-to-configuration's own endings (decideSwitchFailure)
      // nor an environmental sign: the new system's activate script (exit
      // 2, or 4 with "Failed to run activate script"), its boot loader
      // installer, a unit file of it that does not parse, or a program we
      // do not know. A plain exit 4 is the post-switch check's, not here.
      if (e.exitCode !== null && e.exitCode !== 0)
        return verdict('caused-by-commit', 'activation-error', e.stage, evidence, switchKeyLine(e.output) ?? key);
      return verdict('unknown', 'unrecognised', e.stage, evidence, key);
    case 'fetch':
      return verdict('unknown', 'unrecognised', e.stage, evidence, key);
  }
}

/** Exit code of a failure at a stage: the commit's fault 3/4/5, a check that already failed 6, else temporary 75. */
export function exitCodeForFailure(stage: FailureStage, v: FailureVerdict): 3 | 4 | 5 | 6 | 75 {
  if (v.class === 'caused-by-commit') {
    switch (stage) {
      case 'fetch':
      case 'build':
        return 3;
      case 'activation':
      case 'post-switch':
        return 4;
      case 'boot':
        return 5;
    }
  }
  if (v.cause === 'check-already-failing') return 6;
  return 75;
}

/**
 * How long to wait before building the same attempt again after `failures`
 * identical failures that were not the commit's fault. The first retry is
 * immediate (the next run: a full disk is often freed by then); after that
 * the wait doubles from 1 h up to 24 h. A hung activation waits 2 days at
 * first and doubles up to 16 days: it is not retried every night, and not
 * blamed forever either.
 */
export function retryDelayMs(cause: FailureCause, failures: number): number {
  const HOUR = 3_600_000;
  if (cause === 'activation-hang') return Math.min(48 * HOUR * 2 ** Math.max(0, failures - 1), 16 * 24 * HOUR);
  if (failures <= 1) return 0;
  return Math.min(HOUR * 2 ** (failures - 2), 24 * HOUR);
}
