/**
 * How `<toplevel>/bin/switch-to-configuration test|boot` ends, and who
 * caused it (docs/upgrade.md "How switch-to-configuration ends"). Pure: read
 * by classifyFailure (src/failure/classify.ts) for the stage 'activation',
 * before its generic environmental signs, and by upgrade to tell "units
 * failed" from a failed switch.
 *
 * The reference is the real program, nixpkgs
 * pkgs/by-name/sw/switch-to-configuration-ng/src/src/main.rs (read at
 * 00401fd7e581). Its ways to end, with the texts quoted from there:
 * - `main()` returns an anyhow error: Rust prints "Error: <context>" (and
 *   "Caused by:" lines) and exits 1. Not root: "{argv0} must be run as the
 *   root user"; D-Bus: "Failed to open dbus connection", "Failed to list
 *   systemd units", …; a unit file that does not parse: "Failed to parse
 *   systemd unit file {path}".
 * - `die()` exits with errno (as Perl's die did): "Could not acquire lock"
 *   after a non-blocking flock of /run/nixos/switch-to-configuration.lock
 *   (EWOULDBLOCK: 11), "Could not open lock" (the errno of open),
 *   "This is not a NixOS installation!", "Unable to list users with logind:
 *   {err}".
 * - exit 1: "Pre-switch checks failed" (do_pre_switch_check), "Failed to
 *   install bootloader" (do_install_bootloader; the installer's own error
 *   is printed above it), the usage text.
 * - exit 2: "Failed to run activate script" (the new system's activate
 *   script exited non-zero); it carries on, so a unit failing later turns
 *   the 2 into a 4 with the same line above.
 * - exit 4: a unit failed ("Failed to {job} {unit}", "warning: the
 *   following units failed: …"); the switch itself happened.
 * - exit 100: the new system's init-interface-version differs from the
 *   running one's ("Warning: the new NixOS configuration has an ‘init’ that
 *   is\nincompatible with the current configuration."): nothing activated.
 */
import { tail } from '../core/errors.js';
import type { FailureCause, FailureClass } from './classify.js';

/** A ruling on a switch-to-configuration failure: who caused it, and the line that says so. */
export interface SwitchRuling {
  class: FailureClass;
  cause: FailureCause;
  /** The key line for people (the verdict's summary follows the plain cause with it). */
  key: string;
  /** Retry with backoff even though the class is environmental: the cause does not go away by itself. */
  backoff?: boolean;
}

// eslint-disable-next-line no-control-regex -- ANSI colour codes
const ANSI = /\u001b\[[0-9;]*m/g;

function lines(output: string): string[] {
  return output
    .replace(ANSI, '')
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** main.rs `die()` after `Flock::lock(…, LockExclusiveNonblock)`: EWOULDBLOCK. */
export const LOCK_BUSY_EXIT = 11;
const LOCK_BUSY = 'Could not acquire lock';
const PRE_SWITCH = 'Pre-switch checks failed';
const BOOTLOADER = 'Failed to install bootloader';
const ACTIVATE_SCRIPT = 'Failed to run activate script';
/** activation-script.nix's line for a snippet that failed (stdout): the activate script then exits non-zero. */
const SNIPPET_FAILED = /^Activation script snippet '.*' failed \(\d+\)$/;
/** How much of the end of stderr is judged (and kept in the verdict's evidence). */
export const SWITCH_STDERR_JUDGED = 2000;
const INIT_INCOMPATIBLE = /has an ‘init’ that is\s+incompatible with the current configuration/;
/** The anyhow contexts main.rs puts on its D-Bus calls (systemd, logind, machined). */
const DBUS =
  /^(Error: Failed to (open dbus connection|subscribe to systemd dbus messages|add systemd \w+ match|list machines via D-Bus|list systemd units|process dbus messages|reset failed units|cleanup systemd [\w ]+ match|get (unit|unit info|ExecMainStatus|GID|runtime directory) (for )?\S+)|Unable to list users with logind: )/m;
const NOT_ROOT = /^Error: \S+ must be run as the root user$/m;
const DISK_FULL = /No space left on device|ENOSPC|\[Errno 28\]|Disk quota exceeded/;
/** A path the boot loader installer was writing when the disk filled: Python's "-> '<dest>'", Perl's "to <dest>:". */
const BOOT_PATH = /-> '([^']+)'|\bto (\/\S+): No space left on device/;
/** parse_unit of a unit file of the new system (a store path), not of the running /etc. */
const NEW_UNIT_FILE = /^Error: Failed to (open|parse systemd) unit file \/nix\/store\//m;

/**
 * The fix for a full boot partition, in the message (NixOS manual, "Cleaning
 * the Nix Store"): the installer keeps a kernel and initrd for every
 * generation, and only a run for fewer generations removes them.
 */
export const BOOT_FULL_FIX =
  'free it by removing old generations (nix-collect-garbage --delete-older-than 14d), then rewrite the boot entries with /run/current-system/bin/switch-to-configuration boot';

/**
 * The lines of switch-to-configuration's stdout that name what failed: the
 * activate script's snippets (`Activation script snippet '<name>' failed
 * (<status>)`, activation-script.nix) and the pre-switch checks
 * (`Pre-switch check '<name>' failed`, pre-switch-check.nix); at most 5,
 * each at most 200 characters. The caller puts them above stderr, so the
 * last line, which the rulings read, is always the program's own. Pure.
 */
export function failedStepLines(stdout: string): string[] {
  return lines(stdout)
    .filter((l) => SNIPPET_FAILED.test(l) || /^Pre-switch check '.*' failed$/.test(l))
    .slice(-5)
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l));
}

/**
 * The text a switch-to-configuration run is judged by (switchOutcome,
 * switchChangedNothing, classifyFailure): what failed by name, from anywhere
 * in stdout (failedStepLines); main.rs's `Failed to run activate script`
 * when it is further up stderr than the judged end; then the last
 * SWITCH_STDERR_JUDGED characters of stderr (or "… exited N" when it is
 * empty), so the last line is still the program's own. main.rs carries on
 * after a failed activate script: its lists of the units it reloads,
 * restarts and starts follow on stderr (a nixpkgs update restarts most
 * units: kilobytes), and `systemctl status` of the failed units on stdout,
 * so a tail alone can lose the line that says the activation failed. Pure.
 */
export function switchOutput(action: string, r: { exitCode: number | null; stdout: string; stderr: string }): string {
  const end = tail(r.stderr, SWITCH_STDERR_JUDGED);
  const above = failedStepLines(r.stdout);
  if (!lines(end).includes(ACTIVATE_SCRIPT) && lines(r.stderr).includes(ACTIVATE_SCRIPT)) above.push(ACTIVATE_SCRIPT);
  const last = end.trim() === '' ? `switch-to-configuration ${action} exited ${r.exitCode ?? '(none)'}` : end;
  return [...above, last].join('\n');
}

/**
 * Whether switch-to-configuration stopped before it changed anything (the
 * lock held by another switch, the pre-switch checks): the caller then only
 * puts the profile back, and does not re-activate the previous system,
 * which would meet the same lock. From the exit code and the last line
 * together, so that a line an activation script printed cannot pass for it.
 */
export function switchChangedNothing(exitCode: number | null, output: string): boolean {
  const last = lines(output).at(-1);
  return (exitCode === LOCK_BUSY_EXIT && last === LOCK_BUSY) || (exitCode === 1 && last === PRE_SWITCH);
}

/**
 * What an exit code means for the caller of `test`: 0 activated; 4 some
 * units failed (the post-switch check decides whether they matter); any
 * other code, and a 4 whose output (switchOutput) says the activate script
 * failed, is a failed switch to classify. The activate script's own
 * `Activation script snippet '<name>' failed (<status>)` counts too: the
 * Perl switch-to-configuration prints no line of its own for a failed
 * activate script (`system("$out/activate", "$out") == 0 or $res = 2`).
 */
export function switchOutcome(exitCode: number | null, output: string): 'ok' | 'units-failed' | 'failed' {
  if (exitCode === 0) return 'ok';
  const ls = lines(output);
  if (exitCode === 4 && !ls.includes(ACTIVATE_SCRIPT) && !ls.some((l) => SNIPPET_FAILED.test(l))) return 'units-failed';
  return 'failed';
}

/**
 * The ruling on a switch-to-configuration that exited non-zero, from the
 * real program's own texts; null when none applies (the caller then looks
 * for the generic environmental signs, and blames the commit for a failed
 * activate script or boot loader installer).
 */
export function decideSwitchFailure(exitCode: number | null, output: string): SwitchRuling | null {
  const ls = lines(output);
  const last = ls.at(-1) ?? '';
  const text = ls.join('\n');
  // Another switch (a person's nixos-rebuild, a second agent) holds the lock:
  // nothing was changed, and the next run finds it free.
  if (last === LOCK_BUSY && exitCode === LOCK_BUSY_EXIT)
    return { class: 'environmental', cause: 'switch-locked', key: `${last} (exit ${exitCode ?? '?'})` };
  if (last.startsWith('Could not open lock'))
    return {
      class: 'environmental',
      cause: exitCode === 28 ? 'disk-full' : 'permission',
      key: `${last} (/run/nixos/switch-to-configuration.lock, errno ${exitCode ?? '?'})`,
    };
  if (NOT_ROOT.test(text)) return { class: 'environmental', cause: 'permission', key: NOT_ROOT.exec(text)?.[0] ?? '' };
  const dbus = DBUS.exec(text);
  if (dbus !== null) {
    const i = ls.findIndex((l) => l.startsWith(dbus[0]));
    return { class: 'environmental', cause: 'systemd-unreachable', key: ls.slice(i, i + 4).join(' ') };
  }
  if (exitCode === 100 || INIT_INCOMPATIBLE.test(text))
    return {
      class: 'environmental',
      cause: 'needs-reboot',
      key: 'switch-to-configuration exited 100: the new init is incompatible with the running one, and takes effect only after a reboot',
      backoff: true,
    };
  if (ls.includes(PRE_SWITCH)) {
    const named = ls.filter((l) => /^Pre-switch check '.*' failed$/.test(l));
    return { class: 'unknown', cause: 'pre-switch-refused', key: [...named, PRE_SWITCH].join('; ') };
  }
  if (ls.includes(BOOTLOADER)) {
    const full = ls.find((l) => DISK_FULL.test(l));
    if (full === undefined) return null;
    const where = BOOT_PATH.exec(full);
    const path = where?.[1] ?? where?.[2];
    return {
      class: 'environmental',
      cause: 'boot-full',
      key: `${path === undefined ? full : `writing ${path}`}; ${BOOT_FULL_FIX}`,
      backoff: true,
    };
  }
  if (ls.includes(ACTIVATE_SCRIPT) || ls.some((l) => SNIPPET_FAILED.test(l))) return null;
  if (NEW_UNIT_FILE.test(text)) return null;
  // The program's own error before or around the activation (not NixOS, a
  // missing /run/current-system/sw/bin, a sync that failed, the usage
  // text): nothing the commit's configuration says; retried, never marked.
  const own =
    ls.find((l) => l.startsWith('Error: ')) ??
    ls.find((l) =>
      /^(This is not a NixOS installation!|Unable to escape |Unable to convert systemd-espape|Usage: )/.test(l),
    );
  if (own !== undefined) return { class: 'unknown', cause: 'unrecognised', key: own };
  return null;
}

/**
 * The key line of a failure that stays the commit's: the activate script's
 * failed snippet and main.rs's "Failed to run activate script", a unit file
 * of the new system that does not parse and why, or the boot loader
 * installer's last error and "Failed to install bootloader"; null
 * when neither is in the output. main.rs carries on after a failed activate
 * script, so the last line is usually about units, not the cause.
 */
export function switchKeyLine(output: string): string | null {
  const ls = lines(output);
  const snippets = ls.filter((l) => SNIPPET_FAILED.test(l));
  if (ls.includes(ACTIVATE_SCRIPT)) return [...snippets, ACTIVATE_SCRIPT].join('; ');
  // The Perl switch-to-configuration says nothing of its own: the snippets say it.
  if (snippets.length > 0) return snippets.join('; ');
  const unit = ls.find((l) => NEW_UNIT_FILE.test(l));
  if (unit !== undefined) return ls.at(-1) === unit ? unit : `${unit}: ${ls.at(-1) ?? ''}`;
  const i = ls.indexOf(BOOTLOADER);
  if (i > 0) return `${ls[i - 1] ?? ''}; ${BOOTLOADER}`;
  if (i === 0) return BOOTLOADER;
  return null;
}
