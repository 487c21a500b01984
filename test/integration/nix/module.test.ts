/**
 * nix/module.nix on nixpkgs' real module system (issue 12):
 * - eval-module.nix evaluates it with the real `lib.evalModules` and the real
 *   systemd unit types and rendering of `nixos/lib`, from a nixpkgs checkout
 *   (GITOPSD_NIXPKGS; shared/nixpkgs-eval by default, test/harness/nixpkgs.ts);
 * - the unit files are `config.systemd.units.<name>.text`, installed into a
 *   temp root the way nixpkgs' generateUnits lays out /etc/systemd/system
 *   (drop-in `overrides.conf` for a unit systemd ships, `.wants`/`.requires`
 *   links), beside the test bed's own systemd units;
 * - real `systemd-analyze verify` checks them, and must print nothing;
 * - the config file the module generates goes through the real
 *   `gitopsd config check` (what the build-time check derivation runs).
 * Packages are stand-ins (standin-pkgs.nix): their store paths do not exist,
 * so the programs the units run are created in the temp root as scripts
 * that are never run (systemd-analyze only checks they exist and are
 * executable).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run, tryRun } from '../../harness/exec.js';
import { nixpkgsDir } from '../../harness/nixpkgs.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { directive, programs, verifyUnits, type RenderedUnit } from './systemd-units.js';

interface PackageJson {
  gitopsd: { daemonNodeFlags: string[] };
}

afterAll(removeTempDirs);

interface Evaluated {
  settings: Record<string, unknown>;
  polkit: { enable: boolean; extraConfig: string };
  groups: string[];
  failedAssertions: string[];
  warnings: string[];
  units: Record<string, RenderedUnit>;
  tmpfiles: string[];
  systemPackages: string[];
  etc: Record<string, string>;
  fleetAllowedSigners: string | null;
  configCheck: { name: string; buildCommand: string; nativeBuildInputs: string[] } | null;
}

function evalArgs(gitopsd: Record<string, unknown>, users: Record<string, unknown>): string[] {
  return [
    '--eval',
    '--strict',
    '--json',
    '--read-write-mode',
    join(repoRoot, 'test/integration/nix/eval-module.nix'),
    '--argstr',
    'nixpkgs',
    nixpkgsDir(),
    '--argstr',
    'host',
    JSON.stringify({ gitopsd, users }),
  ];
}

async function evalModule(gitopsd: Record<string, unknown>, users: Record<string, unknown> = {}): Promise<Evaluated> {
  const r = await run('nix-instantiate', evalArgs(gitopsd, users));
  return JSON.parse(r.stdout) as Evaluated;
}

/** The evaluation fails: returns its stderr. */
async function evalError(gitopsd: Record<string, unknown>): Promise<string> {
  const r = await tryRun('nix-instantiate', evalArgs(gitopsd, {}));
  expect(r.exitCode, r.stdout).not.toBe(0);
  return r.stderr;
}

/** One value of `key` in `[section]`: exactly one must be there. */
function one(unit: RenderedUnit | undefined, section: string, key: string): string {
  const v = directive(unit?.text ?? '', section, key);
  expect(v, `${section}.${key} in\n${unit?.text ?? '(no unit)'}`).toHaveLength(1);
  return v[0] ?? '';
}

/** Space-separated list values (After=, Wants=), all lines joined. */
const list = (unit: RenderedUnit | undefined, section: string, key: string): string[] =>
  directive(unit?.text ?? '', section, key).flatMap((v) => v.split(' ').filter((x) => x !== ''));

async function expectVerified(e: Evaluated): Promise<void> {
  expect(Object.keys(e.units).length).toBeGreaterThan(0);
  expect(await verifyUnits(e.units)).toEqual({ exitCode: 0, output: '' });
}

/** The README's example host: a dotfiles user and two validated services. */
const README_HOST = {
  enable: true,
  settings: {
    nixConfig: { url: 'git@github.com:me/nix-config.git' },
    dotfiles: { user: 'alice' },
    validation: { services: ['sshd.service', 'nginx.service'] },
  },
};
const ALICE = { alice: { isNormalUser: true, group: 'staff' } };

const storeName = (p: string): string => p.replace(/^\/nix\/store\/[a-z0-9]{32}-/, '');
const pathOf = (unit: RenderedUnit | undefined): string[] =>
  (
    /^"PATH=(.*)"$/.exec(
      directive(unit?.text ?? '', 'Service', 'Environment').find((v) => v.startsWith('"PATH=')) ?? '',
    )?.[1] ?? ''
  )
    .split(':')
    .filter((d) => d.endsWith('/bin'))
    .map((d) => storeName(d.replace(/\/bin$/, '')));

describe('the units systemd-analyze verify accepts', () => {
  it('the verifier fails on a missing program and warns on a bad directive (so a clean run means something)', async () => {
    const e = await evalModule(README_HOST, ALICE);
    const upgrade = e.units['gitopsd-upgrade.service'];
    expect(upgrade).toBeDefined();
    if (upgrade === undefined) return;
    const bad = {
      'gitopsd-upgrade.service': {
        ...upgrade,
        text: upgrade.text.replace(
          '[Service]\n',
          '[Service]\nRestrictRealtime=maybe\nExecStartPre=/nix/store/none/bin/x\n',
        ),
      },
    };
    const r = await verifyUnits(bad);
    expect(r.output).toMatch(/Failed to parse RestrictRealtime=maybe/);
    // A program the unit runs that does not exist is an error (exit 1).
    const missing = await verifyUnits({ 'gitopsd-upgrade.service': upgrade }, { omit: programs(upgrade.text)[0] });
    expect(missing.exitCode).toBe(1);
    expect(missing.output).toMatch(/bin\/gitopsd is not executable: No such file or directory/);
  });

  it('timer mode with a dotfiles user: sync as the user, then upgrade as root, on the timer', async () => {
    const e = await evalModule(README_HOST, ALICE);
    expect(e.failedAssertions).toEqual([]);
    expect(e.warnings).toEqual([]);
    expect(Object.keys(e.units).sort()).toEqual([
      'boot-complete.target',
      'gitopsd-boot-validate.service',
      'gitopsd-sync.service',
      'gitopsd-upgrade.service',
      'gitopsd.timer',
    ]);
    const gitopsd = e.systemPackages[0] ?? '';
    expect(storeName(gitopsd)).toBe('gitopsd-0.1.0');

    const sync = e.units['gitopsd-sync.service'];
    expect(one(sync, 'Service', 'Type')).toBe('oneshot');
    expect(one(sync, 'Service', 'User')).toBe('alice');
    expect(one(sync, 'Service', 'Group')).toBe('staff');
    expect(one(sync, 'Service', 'ExecStart')).toBe(`${gitopsd}/bin/gitopsd sync --config /etc/gitopsd/config.json`);
    expect(one(sync, 'Service', 'StateDirectory')).toBe('gitopsd/sync');
    // Its caches outlive the run's private /tmp (src/cli/compile-cache.ts cacheBase).
    expect(one(sync, 'Service', 'PrivateTmp')).toBe('true');
    expect(one(sync, 'Service', 'CacheDirectory')).toBe('gitopsd/sync');
    expect(one(sync, 'Service', 'CacheDirectoryMode')).toBe('0700');
    expect(one(sync, 'Service', 'ProtectSystem')).toBe('full');
    expect(one(sync, 'Service', 'NoNewPrivileges')).toBe('true');
    // The upgrade is ordered after it: a sync the user stopped must not hold it back for ever (review 16).
    expect(one(sync, 'Service', 'TimeoutStartSec')).toBe('3600');
    expect(pathOf(sync)).toEqual(expect.arrayContaining(['git', 'jujutsu', 'chezmoi', 'openssh']));

    const up = e.units['gitopsd-upgrade.service'];
    expect(one(up, 'Service', 'X-RestartIfChanged')).toBe('false');
    expect(one(up, 'Unit', 'X-StopOnRemoval')).toBe('false');
    expect(list(up, 'Unit', 'After')).toEqual(
      expect.arrayContaining([
        'network-online.target',
        'time-sync.target',
        'gitopsd-boot-validate.service',
        'gitopsd-sync.service',
      ]),
    );
    // Ordered after time-sync.target, never pulling it in (systemd.special(7)).
    expect(list(up, 'Unit', 'Wants')).toEqual(['network-online.target', 'gitopsd-sync.service']);
    expect(one(up, 'Service', 'Type')).toBe('oneshot');
    expect(one(up, 'Service', 'ExecStart')).toBe(`${gitopsd}/bin/gitopsd upgrade --config /etc/gitopsd/config.json`);
    expect(one(up, 'Service', 'StateDirectory')).toBe('gitopsd');
    expect(one(up, 'Service', 'KillMode')).toBe('mixed');
    expect(directive(up?.text ?? '', 'Service', 'User')).toEqual([]);
    // The activation runs inside this unit: no namespace hardening, and
    // nothing that stops a 32-bit build (docs/nixos.md "Hardening").
    for (const k of [
      'ProtectSystem',
      'ProtectHome',
      'PrivateTmp',
      'NoNewPrivileges',
      'RestrictSUIDSGID',
      'LockPersonality',
      'RestrictRealtime',
      'SystemCallArchitectures',
    ]) {
      expect(directive(up?.text ?? '', 'Service', k), k).toEqual([]);
    }
    expect(pathOf(up)).toEqual(expect.arrayContaining(['git', 'nh', 'nix', 'systemd', 'openssh']));
    expect(directive(up?.text ?? '', 'Service', 'Environment')).toEqual(
      expect.arrayContaining(['"HOME=/root"', '"GITOPSD_CONFIG=/etc/gitopsd/config.json"']),
    );

    const timer = e.units['gitopsd.timer'];
    expect(timer?.wantedBy).toEqual(['timers.target']);
    expect(one(timer, 'Timer', 'OnCalendar')).toBe('*-*-* 04:00:00');
    expect(one(timer, 'Timer', 'Persistent')).toBe('true');
    expect(one(timer, 'Timer', 'RandomizedDelaySec')).toBe('1800');
    expect(one(timer, 'Timer', 'FixedRandomDelay')).toBe('false');
    expect(one(timer, 'Timer', 'Unit')).toBe('gitopsd-upgrade.service');

    const bv = e.units['gitopsd-boot-validate.service'];
    expect(one(bv, 'Service', 'Type')).toBe('oneshot');
    expect(one(bv, 'Service', 'RemainAfterExit')).toBe('true');
    expect(one(bv, 'Service', 'ExecStart')).toBe(
      `${gitopsd}/bin/gitopsd boot validate --config /etc/gitopsd/config.json`,
    );
    expect(bv?.requiredBy).toEqual(['boot-complete.target']);
    expect(bv?.wantedBy).toEqual(['multi-user.target']);
    expect(list(bv, 'Unit', 'Before')).toEqual(['boot-complete.target']);
    expect(list(bv, 'Unit', 'After')).toEqual(['sshd.service', 'nginx.service', 'network-online.target']);
    expect(one(bv, 'Service', 'X-RestartIfChanged')).toBe('false');
    expect(e.units['boot-complete.target']?.wantedBy).toEqual(['multi-user.target']);

    expect(e.tmpfiles).toEqual(['d /var/lib/gitopsd 0755 root root -', 'd /var/lib/gitopsd/sync 0700 alice staff -']);
    await expectVerified(e);
  });

  it("dotfiles.destDir is the user's home as NixOS declares it, not /home/<user>", async () => {
    const e = await evalModule(README_HOST, { alice: { isNormalUser: true, home: '/srv/alice' } });
    expect(e.settings).toMatchObject({ dotfiles: { user: 'alice', destDir: '/srv/alice' } });
  });

  it('timer mode without a dotfiles user: no sync unit, the upgrade does not want one, no sync dir', async () => {
    const e = await evalModule({ enable: true, settings: { validation: { services: ['sshd.service'] } } });
    expect(e.failedAssertions).toEqual([]);
    expect(Object.keys(e.units).sort()).toEqual([
      'boot-complete.target',
      'gitopsd-boot-validate.service',
      'gitopsd-upgrade.service',
      'gitopsd.timer',
    ]);
    expect(list(e.units['gitopsd-upgrade.service'], 'Unit', 'Wants')).toEqual(['network-online.target']);
    expect(e.tmpfiles).toEqual(['d /var/lib/gitopsd 0755 root root -']);
    expect(e.settings).toMatchObject({ dotfiles: { enable: false, user: null } });
    await expectVerified(e);
  });

  it('daemon mode with a dotfiles user: one long-running service instead of the timer, reloaded on config change', async () => {
    const e = await evalModule({ ...README_HOST, mode: 'daemon' }, ALICE);
    expect(e.failedAssertions).toEqual([]);
    // gitopsd-upgrade.service: unscheduled, for `gitopsd trigger` (trigger.group).
    expect(Object.keys(e.units).sort()).toEqual([
      'boot-complete.target',
      'gitopsd-boot-validate.service',
      'gitopsd-upgrade.service',
      'gitopsd.service',
    ]);
    // The daemon syncs itself: the on-demand upgrade unit wants no sync unit.
    expect(list(e.units['gitopsd-upgrade.service'], 'Unit', 'Wants')).toEqual(['network-online.target']);
    const d = e.units['gitopsd.service'];
    const gitopsd = e.systemPackages[0] ?? '';
    expect(one(d, 'Service', 'X-RestartIfChanged')).toBe('false');
    expect(list(d, 'Unit', 'After')).toEqual(
      expect.arrayContaining(['network-online.target', 'time-sync.target', 'gitopsd-boot-validate.service']),
    );
    expect(list(d, 'Unit', 'Wants')).toEqual(['network-online.target']);
    // reloadTriggers: the checked config, through nixpkgs' X-Reload-Triggers file.
    expect(storeName(one(d, 'Unit', 'X-Reload-Triggers'))).toBe('X-Reload-Triggers-gitopsd');
    expect(d?.wantedBy).toEqual(['multi-user.target']);
    expect(one(d, 'Service', 'Type')).toBe('simple');
    // node with package.json's daemonNodeFlags, on the script the package's bin wrapper runs.
    const flags = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageJson).gitopsd
      .daemonNodeFlags;
    expect(flags).toEqual(['--no-turbofan']);
    const [node, ...rest] = one(d, 'Service', 'ExecStart').split(' ');
    expect(storeName(node ?? '')).toBe('nodejs-of-gitopsd/bin/node'); // the package's own (passthru.nodejs)
    expect(rest).toEqual([
      ...flags,
      `${gitopsd}/lib/node_modules/gitopsd/bin/gitopsd`,
      'daemon',
      '--config',
      '/etc/gitopsd/config.json',
    ]);
    expect(one(d, 'Service', 'ExecReload')).toMatch(/-coreutils\/bin\/kill -HUP \$MAINPID$/);
    expect(one(d, 'Service', 'Restart')).toBe('on-failure');
    expect(one(d, 'Service', 'RestartPreventExitStatus')).toBe('78');
    expect(one(d, 'Service', 'KillMode')).toBe('mixed');
    expect(one(d, 'Service', 'TimeoutStopSec')).toBe('600');
    expect(pathOf(d)).toEqual(expect.arrayContaining(['jujutsu', 'chezmoi', 'nh']));
    // The sync dir still belongs to the user, though no unit has User=.
    expect(e.tmpfiles).toContain('d /var/lib/gitopsd/sync 0700 alice staff -');
    await expectVerified(e);
  });

  it("daemon mode with a package that has no node flags of its own: `gitopsd daemon` through the package's wrapper", async () => {
    const e = await evalModule({ enable: true, mode: 'daemon', package: 'gitopsd-plain' });
    expect(e.failedAssertions).toEqual([]);
    const gitopsd = e.systemPackages[0] ?? '';
    expect(storeName(gitopsd)).toBe('gitopsd-0.0.9');
    expect(one(e.units['gitopsd.service'], 'Service', 'ExecStart')).toBe(
      `${gitopsd}/bin/gitopsd daemon --config /etc/gitopsd/config.json`,
    );
    await expectVerified(e);
  });

  it('daemon mode without a dotfiles user', async () => {
    const e = await evalModule({ enable: true, mode: 'daemon' });
    expect(e.failedAssertions).toEqual([]);
    // gitopsd-upgrade.service: unscheduled, for `gitopsd trigger` (trigger.group).
    expect(Object.keys(e.units).sort()).toEqual([
      'boot-complete.target',
      'gitopsd-boot-validate.service',
      'gitopsd-upgrade.service',
      'gitopsd.service',
    ]);
    expect(e.tmpfiles).toEqual(['d /var/lib/gitopsd 0755 root root -']);
    await expectVerified(e);
  });

  it('bootValidation.enable = false drops the validation unit and the boot-complete pull', async () => {
    const e = await evalModule({ enable: true, bootValidation: { enable: false } });
    expect(Object.keys(e.units).sort()).toEqual(['gitopsd-upgrade.service', 'gitopsd.timer']);
    await expectVerified(e);
  });

  it('disabled: defines nothing', async () => {
    const e = await evalModule({ enable: false, settings: { dotfiles: { user: 'alice' } } });
    expect(e.units).toEqual({});
    expect(e.etc).toEqual({});
    expect(e.tmpfiles).toEqual([]);
    expect(e.systemPackages).toEqual([]);
  });
});

describe('the config file', () => {
  it('/etc/gitopsd/config.json is the output of `gitopsd config check` run on the generated JSON', async () => {
    const e = await evalModule(README_HOST, ALICE);
    expect(storeName(e.etc['gitopsd/config.json'] ?? '')).toBe('gitopsd-config-checked.json');
    const check = e.configCheck;
    expect(check?.nativeBuildInputs).toEqual(e.systemPackages);
    const m = /gitopsd config check --config (\/nix\/store\/\S+-gitopsd-config\.json) .*\n\s*cp \1 \$out/.exec(
      check?.buildCommand ?? '',
    );
    expect(m, check?.buildCommand).not.toBeNull();
    const file = m?.[1] ?? '';
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(json).toEqual(e.settings);
    expect(json).toMatchObject({
      stateDir: '/var/lib/gitopsd',
      nixConfig: { path: '/etc/nixos', branch: 'main', url: 'git@github.com:me/nix-config.git' },
      dotfiles: { user: 'alice', enable: true },
      validation: { services: ['sshd.service', 'nginx.service'], timeoutSec: 180 },
      schedule: { cron: '0 4 * * *', randomizedDelaySec: 1800, persistent: true },
    });
    // What the derivation runs, with the real CLI: the generated file is valid.
    const r = await runCli(['config', 'check', '--config', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('a typo in freeform settings passes Nix but fails the build-time check (exit 78)', async () => {
    const e = await evalModule({
      ...README_HOST,
      settings: { ...README_HOST.settings, shedule: { cron: '0 3 * * *' } },
    });
    const file = /--config (\/nix\/store\/\S+-gitopsd-config\.json)/.exec(e.configCheck?.buildCommand ?? '')?.[1] ?? '';
    const r = await runCli(['config', 'check', '--config', file]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/unknown key "shedule"/);
  });
});

describe('validation.services: a name without a suffix means .service (as systemctl)', () => {
  it('"sshd" goes into After= as sshd.service; the units verify; the CLI reads the same names', async () => {
    const e = await evalModule({
      enable: true,
      settings: { validation: { services: ['sshd', 'getty@tty1', 'nginx.service', 'dbus.socket'] } },
    });
    expect(e.failedAssertions).toEqual([]);
    expect(list(e.units['gitopsd-boot-validate.service'], 'Unit', 'After')).toEqual([
      'sshd.service',
      'getty@tty1.service',
      'nginx.service',
      'dbus.socket',
      'network-online.target',
    ]);
    await expectVerified(e);
    // The file keeps what was written; `gitopsd config check` (at build time
    // and at run time) normalises it the same way.
    const file = /--config (\/nix\/store\/\S+-gitopsd-config\.json)/.exec(e.configCheck?.buildCommand ?? '')?.[1] ?? '';
    const r = await runCli(['config', 'check', '--config', file, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { config: { validation: { services: string[] } } };
    expect(out.config.validation.services).toEqual([
      'sshd.service',
      'getty@tty1.service',
      'nginx.service',
      'dbus.socket',
    ]);
  });

  it('a name that is invalid even with .service is an assertion naming validation.services[i], not a type error inside systemd.services', async () => {
    const e = await evalModule({ enable: true, settings: { validation: { services: ['sshd', 'my app', 'a/b'] } } });
    expect(e.failedAssertions).toEqual([
      expect.stringMatching(
        /^services\.gitopsd\.settings\.validation\.services\[1\] = "my app" is not a systemd unit name \(.*\); write it as systemctl takes it, e\.g\. "sshd" or "sshd\.service"$/,
      ),
      expect.stringMatching(
        /^services\.gitopsd\.settings\.validation\.services\[2\] = "a\/b" is not a systemd unit name/,
      ),
    ]);
    // The units still evaluate (the assertion is what nixos-rebuild shows first).
    expect(list(e.units['gitopsd-boot-validate.service'], 'Unit', 'After')).toEqual([
      'sshd.service',
      'network-online.target',
    ]);
  });
});

describe('settings the module refuses', () => {
  it('schedule: OnCalendar from settings.schedule.cron, or the explicit option; fixedRandomDelay', async () => {
    const a = await evalModule({
      enable: true,
      fixedRandomDelay: true,
      settings: { schedule: { cron: '30 2 * * 1-5', randomizedDelaySec: 600, persistent: false } },
    });
    const t = a.units['gitopsd.timer'];
    expect(one(t, 'Timer', 'OnCalendar')).toBe('Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00');
    expect(one(t, 'Timer', 'RandomizedDelaySec')).toBe('600');
    expect(one(t, 'Timer', 'Persistent')).toBe('false');
    expect(one(t, 'Timer', 'FixedRandomDelay')).toBe('true');
    await expectVerified(a);
    const b = await evalModule({
      enable: true,
      onCalendar: 'Sat 05:00',
      settings: { schedule: { cron: '0 4 L * *' } },
    });
    expect(b.failedAssertions).toEqual([]);
    expect(one(b.units['gitopsd.timer'], 'Timer', 'OnCalendar')).toBe('Sat 05:00');
  });

  it.each([
    [
      { enable: true, settings: { schedule: { cron: '0 4 L * *' } } },
      /cannot be converted to a systemd calendar .*set services\.gitopsd\.onCalendar/,
    ],
    [{ enable: true, settings: { stateDir: '/srv/gitopsd' } }, /must be a directory under \/var\/lib/],
    [{ enable: true, settings: { dotfiles: { enable: true } } }, /dotfiles\.enable needs settings\.dotfiles\.user/],
  ])('refuses %j with an assertion', async (host, message) => {
    const e = await evalModule(host);
    expect(e.failedAssertions).toEqual([expect.stringMatching(message)]);
  });

  it('settings.daemon.pollIntervalSec: 0 by default, written to the config; warns in timer mode, where nothing polls', async () => {
    const off = await evalModule({ enable: true, mode: 'daemon' });
    expect(off.settings).toMatchObject({ daemon: { pollIntervalSec: 0 } });
    const on = await evalModule({
      enable: true,
      mode: 'daemon',
      settings: { daemon: { pollIntervalSec: 60, triggerSignersFile: '/etc/gitopsd/trigger-signers' } },
    });
    expect(on.settings).toMatchObject({
      daemon: { pollIntervalSec: 60, triggerSignersFile: '/etc/gitopsd/trigger-signers' },
    });
    expect(on.warnings).toEqual([]);
    const timer = await evalModule({ enable: true, mode: 'timer', settings: { daemon: { pollIntervalSec: 60 } } });
    expect(timer.warnings).toEqual([expect.stringMatching(/pollIntervalSec only applies to mode = "daemon"/)]);
  });

  it('trigger.group: a polkit rule lets the group start gitopsd-upgrade.service and nothing else; the group exists', async () => {
    const timer = await evalModule({ enable: true });
    expect(timer.polkit.enable).toBe(true);
    expect(timer.groups).toEqual(['gitopsd']);
    const rule = timer.polkit.extraConfig;
    expect(rule).toContain('action.id == "org.freedesktop.systemd1.manage-units"');
    expect(rule).toContain('action.lookup("unit") == "gitopsd-upgrade.service"');
    expect(rule).toContain('action.lookup("verb") == "start"');
    expect(rule).toContain('subject.isInGroup("gitopsd")');
    expect(rule.match(/return polkit\.Result\.YES/g)).toHaveLength(1);
    // Daemon mode: the same unit exists (unscheduled) for the trigger to start.
    const daemon = await evalModule({ enable: true, mode: 'daemon', trigger: { group: 'ops' } });
    expect(daemon.polkit.extraConfig).toContain('subject.isInGroup("ops")');
    expect(daemon.groups).toEqual(['ops']);
    expect(Object.keys(daemon.units)).toContain('gitopsd-upgrade.service');
    expect(Object.keys(daemon.units)).not.toContain('gitopsd.timer');
    // null: no rule, no group, and no on-demand upgrade unit in daemon mode.
    const off = await evalModule({ enable: true, mode: 'daemon', trigger: { group: null } });
    expect(off.polkit).toEqual({ enable: false, extraConfig: '' });
    expect(off.groups).toEqual([]);
    expect(Object.keys(off.units)).not.toContain('gitopsd-upgrade.service');
  });

  it('warns that fixedRandomDelay does nothing in daemon mode', async () => {
    const e = await evalModule({ enable: true, mode: 'daemon', fixedRandomDelay: true });
    expect(e.warnings).toEqual([expect.stringMatching(/only applies to mode = "timer"/)]);
  });

  // The real module system's messages: each names the option path.
  it.each([
    [{ enable: true, mode: 'cron' }, /services\.gitopsd\.mode' is not of type `one of "timer", "daemon"'/],
    [
      { enable: true, settings: { validation: { services: 'sshd.service' } } },
      /services\.gitopsd\.settings\.validation\.services' is not of type `list of string'/,
    ],
    [
      { enable: true, settings: { schedule: { randomizedDelaySec: -1 } } },
      /services\.gitopsd\.settings\.schedule\.randomizedDelaySec' is not of type `unsigned integer/,
    ],
    [{ enable: true, onCalender: 'daily' }, /option `services\.gitopsd\.onCalender' does not exist/],
  ])('a bad setting fails with the option path: %j', async (host, message) => {
    expect(await evalError(host)).toMatch(message);
  });
});

describe('fleet: signing and the heartbeat', () => {
  it('fleet: the hourly heartbeat timer, and allowedSigners written as a file that ssh-keygen verifies a host signature with', async () => {
    const dir = await tempDir('gitopsd-module-fleet');
    const key = join(dir, 'alpha_host_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'root@alpha', '-f', key]);
    const pub = readFileSync(`${key}.pub`, 'utf8').trim();
    const e = await evalModule({
      enable: true,
      settings: { fleet: { enable: true, statusRemote: 'git@git.example.org:infra/fleet-status.git' } },
      fleet: { allowedSigners: { alpha: pub } },
    });
    expect(e.failedAssertions).toEqual([]);
    expect(e.settings['fleet']).toMatchObject({
      enable: true,
      allowedSignersFile: '/etc/gitopsd/fleet-allowed-signers',
      // The signers' names are the hosts the fleet view expects.
      expectedHosts: ['alpha'],
      // No sshd module in this evaluation, so no host key to default to.
      signingKey: null,
    });
    expect(e.fleetAllowedSigners).toBe(`alpha namespaces="git" ${pub}\n`);
    const publish = e.units['gitopsd-fleet-publish.service'];
    expect(one(publish, 'Service', 'ExecStart')).toMatch(
      /\/bin\/gitopsd fleet publish --config \/etc\/gitopsd\/config\.json$/,
    );
    expect(one(publish, 'Service', 'SuccessExitStatus')).toBe('75');
    expect(list(publish, 'Unit', 'After')).toEqual(['network-online.target', 'time-sync.target']);
    expect(one(e.units['gitopsd-fleet-publish.timer'], 'Timer', 'OnCalendar')).toBe('hourly');
    await expectVerified(e);
    // The real ssh-keygen reads the generated file: alpha's signature
    // verifies as alpha, and not as another host.
    const signers = join(dir, 'allowed_signers');
    writeFileSync(signers, e.fleetAllowedSigners ?? '');
    const msg = join(dir, 'status.json');
    writeFileSync(msg, '{"v":1,"host":"alpha"}\n');
    await run('ssh-keygen', ['-Y', 'sign', '-q', '-n', 'git', '-f', key, msg]);
    const verify = (principal: string) =>
      tryRun('ssh-keygen', ['-Y', 'verify', '-f', signers, '-I', principal, '-n', 'git', '-s', `${msg}.sig`], {
        input: readFileSync(msg, 'utf8'),
      });
    expect((await verify('alpha')).exitCode).toBe(0);
    expect((await verify('beta')).exitCode).toBe(255);
  });

  it('settings.reboot.maxConcurrent: written to the config with fleet.enable; an assertion without it', async () => {
    const on = await evalModule({
      enable: true,
      settings: { reboot: { allow: true, maxConcurrent: 1, group: 'rack-a' }, fleet: { enable: true } },
    });
    expect(on.failedAssertions).toEqual([]);
    expect(on.settings).toMatchObject({ reboot: { allow: true, maxConcurrent: 1, group: 'rack-a' } });
    const off = await evalModule({ enable: true, settings: { reboot: { maxConcurrent: 1 } } });
    expect(off.failedAssertions).toEqual([
      'services.gitopsd.settings.reboot.maxConcurrent needs settings.fleet.enable: the reboot turns are taken from the fleet\'s published statuses (docs/rollout.md "Reboots take turns")',
    ]);
  });

  it('fleet disabled: no heartbeat units and no signers file', async () => {
    const e = await evalModule({ enable: true });
    expect(Object.keys(e.units).filter((u) => u.includes('fleet'))).toEqual([]);
    expect(e.etc['gitopsd/fleet-allowed-signers']).toBeUndefined();
    expect(e.fleetAllowedSigners).toBeNull();
  });
});
