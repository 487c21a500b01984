/**
 * The host's system operations, one function each, as nixos-rebuild-ng's
 * nix.py has them (pkgs/by-name/ni/nixos-rebuild-ng/src/nixos_rebuild/nix.py:
 * `set_profile`, `switch_to_configuration`): set the system profile, run
 * switch-to-configuration, request a reboot. Upgrade (activate, revert),
 * golden (rollback) and boot validation (rollback, retry reboot) all use
 * these, so each operation has one argv, one timeout and one failure
 * behaviour. This module imports only core (docs/design.md "Layers").
 *
 * Every command goes through deps.runner with `mutates` (skipped under
 * dry-run) and an explicit timeout; the profile path comes from
 * deps.paths (a config value), never a literal.
 */
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { CommandFailed, tail } from '../core/errors.js';
import { readFileOrNull } from '../core/fs-read.js';

export type HostDeps = Pick<Deps, 'runner' | 'config' | 'paths'>;

/**
 * `nix-env -p <paths.systemProfile> --set <storePath>`: a new generation
 * `system-N-link` pointing at storePath, and the profile pointing at it
 * (nix-env's `--set`, as nixos-rebuild-ng's set_profile and
 * switch-to-configuration's callers use it). A new generation even when an
 * old link to the same path exists, so a garbage-collected link does not
 * matter.
 *
 * Timeout: timeouts.activateSec (default 1800 s). Golden used
 * timeouts.commandSec (120 s), upgrade activateSec; the longer one is the
 * safer: this call is a step of an activation or a rollback that gitopsd
 * must finish once it has started, nix-env waits for the profile lock that
 * another nix-env or `nix-collect-garbage -d` may hold, and killing it
 * gains nothing (nix-env switches the profile link by an atomic rename, so a
 * kill leaves the old profile or the new one, never a broken one).
 *
 * Failure: throws CommandFailed (non-zero exit, timeout, signal, or not
 * startable). Both old versions did; a profile that could not be set leaves
 * nothing for the caller to judge, only to stop and record.
 */
export async function setSystemProfile(deps: HostDeps, storePath: string): Promise<void> {
  await deps.runner.run('nix-env', ['-p', deps.paths.systemProfile, '--set', storePath], {
    mutates: true,
    timeoutMs: deps.config.timeouts.activateSec * 1000,
  });
}

/**
 * The actions of switch-to-configuration that gitopsd runs (nixpkgs
 * pkgs/by-name/sw/switch-to-configuration-ng/src/src/main.rs): `switch`
 * activates now and sets the boot default, `boot` only sets the boot
 * default, `test` only activates now. (`dry-activate` is never run.)
 */
export type SwitchAction = 'switch' | 'boot' | 'test';

/** What `switch-to-configuration` did: its exit code, or the timeout or signal that ended it. */
export interface SwitchResult {
  /**
   * The exit code; null when our timeout or a signal ended it. 4: "the
   * following units failed", the switch itself happened (main.rs).
   */
  exitCode: number | null;
  /** timeouts.activateSec ended it (the runner killed its process tree). */
  timedOut: boolean;
  signal: string | null;
  /** The end of its stderr: the last 2000 characters after an exit, the runner's tail after a timeout or signal. */
  stderrTail: string;
  /**
   * All of its stdout (empty after a timeout or signal). The activate
   * script's `Activation script snippet '<name>' failed (<status>)` and the
   * pre-switch checks' `Pre-switch check '<name>' failed` go there
   * (nixos/modules/system/activation/activation-script.nix,
   * pre-switch-check.nix), not to stderr; so does main.rs's `systemctl
   * status` of the failed units, after them, which can be many kilobytes.
   */
  stdout: string;
  /**
   * All of its stderr (after a timeout or signal: the runner's tail). main.rs
   * prints `Failed to run activate script` there and then carries on with
   * the units, whose lists (`restarting the following units: …`) can push
   * it out of stderrTail.
   */
  stderr: string;
}

/**
 * `<system>/bin/switch-to-configuration <action>` (nixos-rebuild-ng's
 * switch_to_configuration).
 *
 * Timeout: timeouts.activateSec (default 1800 s), as both old versions had.
 *
 * Failure: a non-zero exit, our timeout (a hang) or a signal comes back as a
 * SwitchResult, never as an exception; only a program that cannot be started
 * at all throws CommandFailed. This is upgrade's old behaviour, chosen over
 * golden's (throw on any non-zero exit) as the safer: the caller must still
 * act in the same run (revert to the previous system after a hang, classify
 * the failure from its evidence, tell exit 4 "some units failed" from a
 * failed switch), and an exception would skip that. A caller that wants to
 * stop on anything but 0 throws `switchFailed(…)` itself, as golden's
 * rollback does.
 */
export async function switchToConfiguration(
  deps: HostDeps,
  system: string,
  action: SwitchAction,
): Promise<SwitchResult> {
  try {
    const r = await deps.runner.run(switchProgram(system), [action], {
      mutates: true,
      allowFailure: true,
      timeoutMs: deps.config.timeouts.activateSec * 1000,
    });
    return {
      exitCode: r.exitCode,
      timedOut: false,
      signal: null,
      stderrTail: tail(r.stderr, 2000),
      stdout: r.stdout,
      stderr: r.stderr,
    };
  } catch (err) {
    if (err instanceof CommandFailed && (err.timedOut || err.signal !== undefined)) {
      return {
        exitCode: null,
        timedOut: err.timedOut,
        signal: err.signal ?? null,
        stderrTail: err.stderrTail,
        stdout: '',
        stderr: err.stderrTail,
      };
    }
    throw err;
  }
}

/**
 * The error for a switch that did not exit 0, worded as the runner words a
 * failed command ("<system>/bin/switch-to-configuration exited 1: <last
 * stderr line>", "… timed out"), for callers that stop on it.
 */
export function switchFailed(system: string, action: SwitchAction, r: SwitchResult): CommandFailed {
  return new CommandFailed({
    cmd: switchProgram(system),
    args: [action],
    exitCode: r.exitCode ?? undefined,
    signal: r.signal ?? undefined,
    timedOut: r.timedOut,
    stderrTail: r.stderrTail,
    stdout: '',
  });
}

function switchProgram(system: string): string {
  return join(system, 'bin', 'switch-to-configuration');
}

/**
 * `systemctl reboot` (systemctl(1): asks systemd, or logind, to reboot; it
 * returns once the reboot is queued, before the machine goes down).
 *
 * Timeout: timeouts.commandSec (default 120 s): both old versions used the
 * runner's default, which is that value; it is now passed explicitly.
 *
 * Failure: throws CommandFailed, as both old versions did: a reboot that was
 * not requested must not be recorded as requested.
 */
export async function requestReboot(deps: HostDeps): Promise<void> {
  await deps.runner.run('systemctl', ['reboot'], {
    mutates: true,
    timeoutMs: deps.config.timeouts.commandSec * 1000,
  });
}

/**
 * The content of `<system>/init-interface-version` ("systemd 2"), or null
 * when it cannot be read. `system` is a toplevel or the link to one
 * (`/run/current-system`), as switch-to-configuration-ng reads it (main.rs,
 * do_system_switch): a live `switch` or `test` of a system whose file
 * differs from the running one's exits 100 (initInterfaceChanged,
 * below). Read-only; a store path and /run are root's.
 */
export function initInterfaceOf(system: string): string | null {
  try {
    return readFileOrNull(join(system, 'init-interface-version'));
  } catch {
    return null;
  }
}

/**
 * Whether switch-to-configuration would refuse to activate `next` live:
 * nixpkgs' switch-to-configuration-ng (main.rs, do_system_switch) reads the
 * running system's `/run/current-system/init-interface-version` (empty when
 * missing) and the new toplevel's, and when they differ byte for byte it
 * prints "the new NixOS configuration has an ‘init’ that is incompatible
 * with the current configuration" and exits 100 for switch, test and
 * dry-activate, having activated nothing (for switch, the boot loader entry
 * is already installed). The file holds "systemd <interfaceVersion>"
 * (nixos/modules/system/activation/top-level.nix). `running` and `next` are
 * the two files' contents; `next` null (unreadable) leaves the question to
 * switch-to-configuration itself.
 */
export function initInterfaceChanged(running: string | null, next: string | null): boolean {
  if (next === null) return false;
  return (running ?? '') !== next;
}
