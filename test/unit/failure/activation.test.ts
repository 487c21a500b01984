/**
 * How switch-to-configuration ends, and who is blamed (docs/upgrade.md "How
 * switch-to-configuration ends"). The outputs are the real program's texts:
 * nixpkgs pkgs/by-name/sw/switch-to-configuration-ng/src/src/main.rs (read at
 * 00401fd7e581), whose format strings are quoted here as it prints them
 * (`eprintln!` lines; an error returned from main() as Rust prints it,
 * "Error: {err:?}", anyhow's "Caused by:" under it, exit 1). The activate
 * script's and the pre-switch checks' lines are nixpkgs'
 * nixos/modules/system/activation/activation-script.nix ("Activation script
 * snippet '%s' failed (%s)") and pre-switch-check.nix ("Pre-switch check
 * '${name}' failed"). The boot loader installer's error is Python's own,
 * captured in the test bed from the same copy systemd-boot-builder.py does
 * (copy_if_not_exists: mkstemp in the target dir, shutil.copyfile) onto a
 * full 1 MiB tmpfs (test/fixtures/switch-to-configuration/esp-full.sh), with
 * the paths a host has (the frames above shutil's are the builder's own
 * functions; their line numbers are illustrative). The test bed has no systemd as PID 1, so
 * switch-to-configuration itself cannot run here.
 */
import { describe, expect, it } from 'vitest';
import {
  failedStepLines,
  switchChangedNothing,
  switchOutcome,
  switchOutput,
  BOOT_FULL_FIX,
} from '../../../src/failure/activation.js';
import {
  classifyFailure,
  exitCodeForFailure,
  type FailureCause,
  type FailureClass,
  type RetryPolicy,
} from '../../../src/failure/classify.js';

/** die() after a non-blocking flock of /run/nixos/switch-to-configuration.lock: errno EWOULDBLOCK. */
const LOCKED = 'Could not acquire lock\n';
const OPEN_LOCK = 'Could not open lock\n';
const NOT_ROOT = 'Error: switch-to-configuration must be run as the root user\n';
/** main.rs `LocalConnection::new_system().context("Failed to open dbus connection")`; the cause is libdbus's message. */
const NO_DBUS = `Error: Failed to open dbus connection

Caused by:
    Failed to connect to socket /run/dbus/system_bus_socket: No such file or directory
`;
const NO_LOGIND = `activating the configuration...
setting up /etc...
Unable to list users with logind: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.login1 was not provided by any .service files
`;
const INIT_INCOMPATIBLE = `Warning: the new NixOS configuration has an ‘init’ that is
incompatible with the current configuration.  The new configuration
won't take effect until you reboot the system.

`;
const PRE_SWITCH = `Pre-switch check 'noVmRunning' failed
Pre-switch checks failed
`;
/** exit 2: the activate script failed, main.rs carries on with the units. */
const ACTIVATE_FAILED = `activating the configuration...
setting up /etc...
Activation script snippet 'users' failed (1)
Failed to run activate script
reloading user units for alice...
restarting sysinit-reactivation.target
`;
/** The same, and a unit failed after it: main.rs's exit_code 2 becomes 4. */
const ACTIVATE_FAILED_AND_UNITS = `${ACTIVATE_FAILED}warning: the following units failed: nginx.service
`;
const UNITS_FAILED = `activating the configuration...
setting up /etc...
restarting sysinit-reactivation.target
starting the following units: nginx.service
Failed to start nginx.service
warning: the following units failed: nginx.service
`;
const ESP_FULL = `Traceback (most recent call last):
  File "/nix/store/4kqmqd0iwxxa4wqxz9hgy8f9ifw0zf4w-systemd-boot/bin/systemd-boot", line 472, in <module>
    main()
  File "/nix/store/4kqmqd0iwxxa4wqxz9hgy8f9ifw0zf4w-systemd-boot/bin/systemd-boot", line 455, in main
    install_bootloader(args)
  File "/nix/store/4kqmqd0iwxxa4wqxz9hgy8f9ifw0zf4w-systemd-boot/bin/systemd-boot", line 388, in install_bootloader
    write_entry(*gen, machine_id, bootspec, current=is_default)
  File "/nix/store/4kqmqd0iwxxa4wqxz9hgy8f9ifw0zf4w-systemd-boot/bin/systemd-boot", line 200, in write_entry
    initrd = copy_from_file(bootspec.initrd)
  File "/nix/store/4kqmqd0iwxxa4wqxz9hgy8f9ifw0zf4w-systemd-boot/bin/systemd-boot", line 176, in copy_from_file
    copy_if_not_exists(store_file_path, BOOT_MOUNT_POINT / efi_file_path)
  File "/nix/store/4kqmqd0iwxxa4wqxz9hgy8f9ifw0zf4w-systemd-boot/bin/systemd-boot", line 66, in copy_if_not_exists
    shutil.copyfile(source, tmppath)
  File "/usr/lib/python3.14/shutil.py", line 334, in copyfile
    _fastcopy_sendfile(fsrc, fdst)
  File "/usr/lib/python3.14/shutil.py", line 217, in _fastcopy_sendfile
    raise err from None
  File "/usr/lib/python3.14/shutil.py", line 203, in _fastcopy_sendfile
    sent = os.sendfile(outfd, infd, offset, blocksize)
OSError: [Errno 28] No space left on device: '/nix/store/b1x9v6hk3d0n6xk0q4m0a2wz1h5y8r3c-initrd-linux-6.12.6/initrd' -> '/boot/EFI/nixos/b1x9v6hk3d0n6xk0q4m0a2wz1h5y8r3c-initrd-linux-6.12.6-initrd.efie6br8hir.tmp.'
Failed to install bootloader
`;
/** An installer that fails by itself (a wrong boot.loader setting of the new system). */
const BOOTLOADER_OWN = `Exception: could not determine systemd-boot version
Failed to install bootloader
`;
const NOT_NIXOS = 'This is not a NixOS installation!\n';
const SYNC_FAILED = `Error: Failed to sync /nix/store

Caused by:
    EIO: I/O error
`;
const NEW_UNIT_BAD = `Error: Failed to parse systemd unit file /nix/store/1ffvajygpsw5mgaa7c5b9c1rjz8w8wyc-nixos-system-h-26.05/etc/systemd/system/app.service

Caused by:
    0: Failed parse unit file as INI
    1: 3:1 expecting "[Some('='), Some(':')]" but found EOF.
`;

const rows: Array<[string, number | null, string, FailureClass, FailureCause, RetryPolicy, string]> = [
  ['another switch holds the lock', 11, LOCKED, 'environmental', 'switch-locked', 'next-run', 'Could not acquire lock'],
  ['the lock cannot be opened (/run full)', 28, OPEN_LOCK, 'environmental', 'disk-full', 'next-run', 'errno 28'],
  ['the lock cannot be opened (read-only)', 30, OPEN_LOCK, 'environmental', 'permission', 'next-run', 'errno 30'],
  ['not run as root', 1, NOT_ROOT, 'environmental', 'permission', 'next-run', 'must be run as the root user'],
  [
    'no D-Bus',
    1,
    NO_DBUS,
    'environmental',
    'systemd-unreachable',
    'next-run',
    'Error: Failed to open dbus connection Caused by: Failed to connect to socket',
  ],
  ['logind is gone', 2, NO_LOGIND, 'environmental', 'systemd-unreachable', 'next-run', 'Unable to list users'],
  ['a new init (exit 100)', 100, INIT_INCOMPATIBLE, 'environmental', 'needs-reboot', 'backoff', 'after a reboot'],
  [
    'the pre-switch checks refuse',
    1,
    PRE_SWITCH,
    'unknown',
    'pre-switch-refused',
    'backoff',
    "Pre-switch check 'noVmRunning' failed; Pre-switch checks failed",
  ],
  [
    'the pre-switch checks refuse (stderr only, as gitopsd keeps it)',
    1,
    'Pre-switch checks failed\n',
    'unknown',
    'pre-switch-refused',
    'backoff',
    'refused the switch: Pre-switch checks failed',
  ],
  [
    'the ESP is full',
    1,
    ESP_FULL,
    'environmental',
    'boot-full',
    'backoff',
    'writing /boot/EFI/nixos/b1x9v6hk3d0n6xk0q4m0a2wz1h5y8r3c-initrd-linux-6.12.6-initrd.efie6br8hir.tmp.; free it',
  ],
  [
    'the boot loader installer fails by itself',
    1,
    BOOTLOADER_OWN,
    'caused-by-commit',
    'activation-error',
    'never',
    'Exception: could not determine systemd-boot version; Failed to install bootloader',
  ],
  [
    'the activate script fails (exit 2)',
    2,
    ACTIVATE_FAILED,
    'caused-by-commit',
    'activation-error',
    'never',
    "Activation script snippet 'users' failed (1); Failed to run activate script",
  ],
  [
    'the activate script fails and a unit too (exit 4)',
    4,
    ACTIVATE_FAILED_AND_UNITS,
    'caused-by-commit',
    'activation-error',
    'never',
    'Failed to run activate script',
  ],
  [
    'a unit file of the new system does not parse',
    1,
    NEW_UNIT_BAD,
    'caused-by-commit',
    'activation-error',
    'never',
    'Failed to parse systemd unit file /nix/store/',
  ],
  ['not a NixOS host', 2, NOT_NIXOS, 'unknown', 'unrecognised', 'backoff', 'This is not a NixOS installation!'],
  ['syncing the store fails', 1, SYNC_FAILED, 'unknown', 'unrecognised', 'backoff', 'Error: Failed to sync /nix/store'],
];

describe('classifyFailure: how switch-to-configuration-ng ends (main.rs)', () => {
  it.each(rows)('%s', (_label, exitCode, output, cls, cause, retry, key) => {
    const v = classifyFailure({
      stage: 'activation',
      tool: 'switch-to-configuration test',
      exitCode,
      signal: null,
      timedOut: false,
      output,
    });
    expect({ class: v.class, cause: v.cause, retry: v.retry }).toEqual({ class: cls, cause, retry });
    expect(v.summary).toContain(key);
    expect(v.summary).not.toMatch(/\n/);
    expect(exitCodeForFailure('activation', v)).toBe(cls === 'caused-by-commit' ? 4 : 75);
  });

  it('names /boot and the fix when the ESP is full', () => {
    const v = classifyFailure({
      stage: 'activation',
      tool: 'switch-to-configuration boot',
      exitCode: 1,
      signal: null,
      timedOut: false,
      output: ESP_FULL,
    });
    expect(v.summary).toContain('the boot partition (/boot, the ESP) is full');
    expect(v.summary).toContain(BOOT_FULL_FIX);
    expect(BOOT_FULL_FIX).toContain('/run/current-system/bin/switch-to-configuration boot');
    expect(v.evidence).toContain('[Errno 28] No space left on device');
  });
});

describe('switchOutcome: what an exit of `test` means', () => {
  it.each([
    [0, '', 'ok'],
    [4, UNITS_FAILED, 'units-failed'],
    [4, ACTIVATE_FAILED_AND_UNITS, 'failed'],
    [2, ACTIVATE_FAILED, 'failed'],
    [11, LOCKED, 'failed'],
    [100, INIT_INCOMPATIBLE, 'failed'],
    [null, '', 'failed'],
  ] as const)('exit %s %#', (code, output, outcome) => {
    expect(switchOutcome(code, output)).toBe(outcome);
  });
});

describe('switchChangedNothing: the lock or the pre-switch checks stopped it first', () => {
  it.each([
    [11, LOCKED, true],
    [1, PRE_SWITCH, true],
    // The same words from an activate script, with another exit or not last: a real activation.
    [2, `activating the configuration...\nCould not acquire lock\nFailed to run activate script\n`, false],
    [4, `${LOCKED}warning: the following units failed: a.service\n`, false],
    [1, ESP_FULL, false],
    [2, ACTIVATE_FAILED, false],
  ] as const)('exit %s %#', (code, output, nothing) => {
    expect(switchChangedNothing(code, output)).toBe(nothing);
  });
});

describe("failedStepLines: what failed by name, from switch-to-configuration's stdout", () => {
  it('keeps the failed snippets and pre-switch checks only; the verdict names them above the program’s own line', () => {
    const stdout =
      "setting up /etc...\nActivation script snippet 'users' failed (1)\nreloading user units for alice...\n" +
      "Pre-switch check 'boot-mounted' failed\n";
    expect(failedStepLines(stdout)).toEqual([
      "Activation script snippet 'users' failed (1)",
      "Pre-switch check 'boot-mounted' failed",
    ]);
    expect(failedStepLines(`${"Activation script snippet 'a' failed (1)\n".repeat(9)}`)).toHaveLength(5);
    const v = classifyFailure({
      stage: 'activation',
      tool: 'switch-to-configuration test',
      exitCode: 2,
      signal: null,
      timedOut: false,
      output: [...failedStepLines(stdout), 'Failed to run activate script\n'].join('\n'),
    });
    expect({ class: v.class, cause: v.cause }).toEqual({ class: 'caused-by-commit', cause: 'activation-error' });
    expect(v.summary).toContain("Activation script snippet 'users' failed (1); Failed to run activate script");
  });
  it('"Could not acquire lock" as the last line counts as the lock only with exit 11', () => {
    const v = classifyFailure({
      stage: 'activation',
      tool: 'switch-to-configuration test',
      exitCode: 2,
      signal: null,
      timedOut: false,
      output: LOCKED,
    });
    expect(v.cause).not.toBe('switch-locked');
  });
});

describe('switchOutput: what a failed activate script leaves, when many units follow it', () => {
  // main.rs after a failed activate script: it carries on, and lists the units
  // it restarts and starts on stderr (a nixpkgs update restarts most of them),
  // then `systemctl status` of the failed ones on stdout. 120 units of about
  // 30 characters: over 3,600 characters after "Failed to run activate script".
  const units = Array.from({ length: 120 }, (_, i) => `service-number-${String(i).padStart(3, '0')}.service`).join(
    ', ',
  );
  const stderr =
    'stopping the following units: nginx.service\nactivating the configuration...\n' +
    'Failed to run activate script\nrestarting sysinit-reactivation.target\n' +
    `restarting the following units: ${units}\nstarting the following units: nginx.service\n` +
    'Failed to start nginx.service\nwarning: the following units failed: nginx.service\n';
  const status = `× nginx.service - Nginx Web Server\n${'     Loaded: loaded (/etc/systemd/system/nginx.service; enabled)\n'.repeat(40)}`;
  const stdout = `setting up /etc...\nActivation script snippet 'users' failed (1)\n${status}`;

  it('exit 4: the activate script failed, though its line is more than 2,000 characters up', () => {
    const out = switchOutput('test', { exitCode: 4, stdout, stderr });
    expect(switchOutcome(4, out)).toBe('failed');
    expect(out.trimEnd().split('\n').at(-1)).toBe('warning: the following units failed: nginx.service');
    expect(switchChangedNothing(4, out)).toBe(false);
    const v = classifyFailure({
      stage: 'activation',
      tool: 'switch-to-configuration test',
      exitCode: 4,
      signal: null,
      timedOut: false,
      output: out,
    });
    expect({ class: v.class, cause: v.cause }).toEqual({ class: 'caused-by-commit', cause: 'activation-error' });
    expect(v.summary).toContain("Activation script snippet 'users' failed (1); Failed to run activate script");
  });

  it("exit 4 from the Perl switch-to-configuration, which prints no line of its own: the snippet's line says it", () => {
    const perl = `activating the configuration...\nrestarting the following units: ${units}\nwarning: the following units failed: nginx.service\n`;
    const out = switchOutput('test', { exitCode: 4, stdout, stderr: perl });
    expect(switchOutcome(4, out)).toBe('failed');
    expect(
      classifyFailure({ stage: 'activation', tool: 't', exitCode: 4, signal: null, timedOut: false, output: out })
        .cause,
    ).toBe('activation-error');
  });

  it('exit 4 with only units failed stays for the post-switch check (a journal line quoting a snippet does not count)', () => {
    const quoted = `${status}Dec 02 04:00:01 web1 gitopsd[812]: Activation script snippet 'users' failed (1)\n`;
    const plain = stderr.replace('Failed to run activate script\n', '');
    expect(switchOutcome(4, switchOutput('test', { exitCode: 4, stdout: quoted, stderr: plain }))).toBe('units-failed');
  });

  it('an empty stderr is named by the exit, so the last line is never a line of stdout', () => {
    expect(switchOutput('boot', { exitCode: 1, stdout: "Pre-switch check 'x' failed\n", stderr: '' })).toBe(
      "Pre-switch check 'x' failed\nswitch-to-configuration boot exited 1",
    );
  });
});
