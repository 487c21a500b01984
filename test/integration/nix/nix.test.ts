/**
 * What of nix/ can be checked offline, with the test bed's nix and no
 * nixpkgs (docs/nixos.md "What is tested where"):
 * - every .nix file parses;
 * - nix/module.nix, evaluated with a stub lib (eval-module.nix), defines the
 *   units, timer and files the issue asks for, for several host configs;
 * - the config file the module generates is accepted by the real
 *   `gitopsd config check`, and a typo in freeform settings is caught by it
 *   (what the build-time check does inside the derivation);
 * - nix/cron.nix: for each cron form, systemd's own calendar arithmetic
 *   (systemd-analyze) gives the same next runs as the daemon's schedule;
 * - nix/npm-lock.nix gives importNpmLock a registry URL for every package.
 * Not checked here: anything that needs nixpkgs (the package build, the real
 * module system, the VM test nix/tests/vm-rollback.nix).
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, tryRun } from '../../harness/exec.js';
import { repoRoot, runCli } from '../../helpers/cli.js';

/** The repository's .nix files (tracked by git; generated demo trees are not ours to check). */
async function nixFiles(): Promise<string[]> {
  const r = await run('git', ['-C', repoRoot, 'ls-files', '-z', '--', '*.nix']);
  return r.stdout
    .split('\0')
    .filter((f) => f !== '')
    .map((f) => join(repoRoot, f));
}

describe('every .nix file parses', async () => {
  const files = await nixFiles();
  it('finds the flake, the module and the VM test', () => {
    const rel = files.map((f) => relative(repoRoot, f));
    expect(rel).toEqual(
      expect.arrayContaining([
        'flake.nix',
        'nix/module.nix',
        'nix/package.nix',
        'nix/cron.nix',
        'nix/tests/vm-rollback.nix',
      ]),
    );
  });
  it.each(files.map((f) => [relative(repoRoot, f), f]))('%s', async (_rel, file) => {
    const r = await tryRun('nix-instantiate', ['--parse', file]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });
});

// ---------------------------------------------------------------------------

interface Unit {
  description?: string;
  after?: string[];
  before?: string[];
  wants?: string[];
  requiredBy?: string[];
  wantedBy?: string[];
  path?: string[];
  environment?: Record<string, string>;
  restartIfChanged?: boolean;
  reloadTriggers?: string[];
  unitConfig?: Record<string, unknown>;
  serviceConfig: Record<string, unknown>;
}
interface Evaluated {
  settings: Record<string, unknown>;
  config: {
    assertions: Array<{ assertion: boolean; message: string }>;
    warnings: string[];
    environment: { etc: Record<string, { source: string }>; systemPackages: string[] };
    systemd: {
      services: Record<string, Unit>;
      timers?: Record<string, { wantedBy: string[]; timerConfig: Record<string, unknown> }>;
      targets?: Record<string, { wantedBy?: string[] }>;
      tmpfiles: { rules: string[] };
    };
  };
  configCheck: { name: string; script: string; nativeBuildInputs: string[] } | null;
}

const STUB_GITOPSD = '/nix/store/00000000000000000000000000000000-gitopsd';

async function evalModule(gitopsd: Record<string, unknown>, users: Record<string, unknown> = {}): Promise<Evaluated> {
  const r = await run('nix-instantiate', [
    '--eval',
    '--strict',
    '--json',
    '--read-write-mode',
    join(repoRoot, 'test/integration/nix/eval-module.nix'),
    '--argstr',
    'host',
    JSON.stringify({ gitopsd, users }),
  ]);
  return JSON.parse(r.stdout) as Evaluated;
}

async function evalError(gitopsd: Record<string, unknown>): Promise<string> {
  const r = await tryRun('nix-instantiate', [
    '--eval',
    '--strict',
    '--json',
    '--read-write-mode',
    join(repoRoot, 'test/integration/nix/eval-module.nix'),
    '--argstr',
    'host',
    JSON.stringify({ gitopsd, users: {} }),
  ]);
  expect(r.exitCode).not.toBe(0);
  return r.stderr;
}

const failedAssertions = (e: Evaluated): string[] =>
  e.config.assertions.filter((a) => !a.assertion).map((a) => a.message);

/** The README's example host: a dotfiles user and two validated services. */
const README_HOST = {
  enable: true,
  settings: {
    nixConfig: { url: 'git@github.com:me/nix-config.git' },
    dotfiles: { user: 'alice' },
    validation: { services: ['sshd.service', 'nginx.service'] },
  },
};

describe('nix/module.nix (stub module system)', () => {
  it('timer mode with a dotfiles user: sync as the user, then upgrade as root, on the timer', async () => {
    const e = await evalModule(README_HOST, { alice: { group: 'staff' } });
    expect(failedAssertions(e)).toEqual([]);
    const { services, timers, targets, tmpfiles } = e.config.systemd;
    expect(Object.keys(services).sort()).toEqual(['gitopsd-boot-validate', 'gitopsd-sync', 'gitopsd-upgrade']);

    const sync = services['gitopsd-sync'];
    expect(sync?.serviceConfig).toMatchObject({
      Type: 'oneshot',
      User: 'alice',
      Group: 'staff',
      ExecStart: `${STUB_GITOPSD}/bin/gitopsd sync --config /etc/gitopsd/config.json`,
      StateDirectory: 'gitopsd/sync',
      ProtectSystem: 'full',
      NoNewPrivileges: true,
    });
    expect(sync?.path?.map((p) => p.replace(/^.*-/, ''))).toEqual(
      expect.arrayContaining(['git', 'jujutsu', 'chezmoi', 'openssh']),
    );

    const up = services['gitopsd-upgrade'];
    expect(up?.restartIfChanged).toBe(false);
    expect(up?.unitConfig).toMatchObject({ 'X-StopOnRemoval': false });
    expect(up?.after).toEqual(expect.arrayContaining(['network-online.target', 'gitopsd-sync.service']));
    expect(up?.wants).toEqual(expect.arrayContaining(['network-online.target', 'gitopsd-sync.service']));
    expect(up?.serviceConfig).toMatchObject({
      Type: 'oneshot',
      ExecStart: `${STUB_GITOPSD}/bin/gitopsd upgrade --config /etc/gitopsd/config.json`,
      StateDirectory: 'gitopsd',
      KillMode: 'mixed',
    });
    expect(up?.serviceConfig).not.toHaveProperty('User');
    // The activation runs inside this unit: no namespace hardening.
    for (const k of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges', 'RestrictSUIDSGID']) {
      expect(up?.serviceConfig).not.toHaveProperty(k);
    }
    expect(up?.path?.map((p) => p.replace(/^.*-/, ''))).toEqual(
      expect.arrayContaining(['git', 'nh', 'nix', 'systemd', 'openssh']),
    );
    expect(up?.environment).toMatchObject({ HOME: '/root', GITOPSD_CONFIG: '/etc/gitopsd/config.json' });

    expect(timers?.['gitopsd']).toEqual({
      description: 'gitopsd schedule (settings.schedule.cron)',
      wantedBy: ['timers.target'],
      timerConfig: {
        OnCalendar: '*-*-* 04:00:00',
        Persistent: true,
        RandomizedDelaySec: '1800',
        FixedRandomDelay: false,
        Unit: 'gitopsd-upgrade.service',
      },
    });

    const bv = services['gitopsd-boot-validate'];
    expect(bv?.serviceConfig).toMatchObject({
      Type: 'oneshot',
      RemainAfterExit: true,
      ExecStart: `${STUB_GITOPSD}/bin/gitopsd boot validate --config /etc/gitopsd/config.json`,
    });
    expect(bv?.requiredBy).toEqual(['boot-complete.target']);
    expect(bv?.before).toEqual(['boot-complete.target']);
    expect(bv?.after).toEqual(expect.arrayContaining(['sshd.service', 'nginx.service']));
    expect(bv?.restartIfChanged).toBe(false);
    expect(targets?.['boot-complete']?.wantedBy).toEqual(['multi-user.target']);

    expect(tmpfiles.rules).toEqual([
      'd /var/lib/gitopsd 0755 root root -',
      'd /var/lib/gitopsd/sync 0700 alice staff -',
    ]);
    expect(e.config.environment.systemPackages).toEqual([STUB_GITOPSD]);
  });

  it('the config file in /etc is the output of `gitopsd config check` run on the generated JSON', async () => {
    const e = await evalModule(README_HOST, { alice: { group: 'users' } });
    expect(e.config.environment.etc['gitopsd/config.json']?.source).toMatch(/-gitopsd-config-checked\.json$/);
    const check = e.configCheck;
    expect(check?.nativeBuildInputs).toEqual([STUB_GITOPSD]);
    const m = /gitopsd config check --config (\/nix\/store\/\S+-gitopsd-config\.json) .*\n\s*cp \1 \$out/.exec(
      check?.script ?? '',
    );
    expect(m, check?.script).not.toBeNull();
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
    const file = /--config (\/nix\/store\/\S+-gitopsd-config\.json)/.exec(e.configCheck?.script ?? '')?.[1] ?? '';
    const r = await runCli(['config', 'check', '--config', file]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/unknown key "shedule"/);
  });

  it('without a dotfiles user: no sync unit, the upgrade does not want one, no sync dir', async () => {
    const e = await evalModule({ enable: true, settings: { validation: { services: ['sshd.service'] } } });
    expect(failedAssertions(e)).toEqual([]);
    const { services, tmpfiles } = e.config.systemd;
    expect(Object.keys(services).sort()).toEqual(['gitopsd-boot-validate', 'gitopsd-upgrade']);
    expect(services['gitopsd-upgrade']?.wants).toEqual(['network-online.target']);
    expect(tmpfiles.rules).toEqual(['d /var/lib/gitopsd 0755 root root -']);
    expect(e.settings).toMatchObject({ dotfiles: { enable: false, user: null } });
  });

  it('daemon mode: one long-running service instead of the timer, reloaded on config change, never restarted by a switch', async () => {
    const e = await evalModule({ ...README_HOST, mode: 'daemon' }, { alice: { group: 'users' } });
    expect(failedAssertions(e)).toEqual([]);
    const { services, timers } = e.config.systemd;
    expect(Object.keys(services).sort()).toEqual(['gitopsd', 'gitopsd-boot-validate']);
    expect(timers ?? {}).toEqual({});
    const d = services['gitopsd'];
    expect(d?.restartIfChanged).toBe(false);
    expect(d?.reloadTriggers).toEqual([e.config.environment.etc['gitopsd/config.json']?.source]);
    expect(d?.wantedBy).toEqual(['multi-user.target']);
    expect(d?.serviceConfig).toMatchObject({
      Type: 'simple',
      ExecStart: `${STUB_GITOPSD}/bin/gitopsd daemon --config /etc/gitopsd/config.json`,
      Restart: 'on-failure',
      RestartPreventExitStatus: [78],
      KillMode: 'mixed',
      TimeoutStopSec: 600,
      StateDirectory: 'gitopsd',
    });
    expect(String(d?.serviceConfig['ExecReload'])).toMatch(/kill -HUP \$MAINPID$/);
    // The daemon runs the sync itself (as the user): jj and chezmoi on its PATH.
    expect(d?.path?.map((p) => p.replace(/^.*-/, ''))).toEqual(expect.arrayContaining(['jujutsu', 'chezmoi', 'nh']));
    // The sync dir still belongs to the user, though no unit has User=.
    expect(e.config.systemd.tmpfiles.rules).toContain('d /var/lib/gitopsd/sync 0700 alice users -');
  });

  it('schedule: OnCalendar from settings.schedule.cron, or the explicit option; fixedRandomDelay', async () => {
    const a = await evalModule({
      enable: true,
      fixedRandomDelay: true,
      settings: { schedule: { cron: '30 2 * * 1-5', randomizedDelaySec: 600, persistent: false } },
    });
    expect(a.config.systemd.timers?.['gitopsd']?.timerConfig).toMatchObject({
      OnCalendar: 'Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00',
      RandomizedDelaySec: '600',
      Persistent: false,
      FixedRandomDelay: true,
    });
    const b = await evalModule({
      enable: true,
      onCalendar: 'Sat 05:00',
      settings: { schedule: { cron: '0 4 L * *' } },
    });
    expect(failedAssertions(b)).toEqual([]);
    expect(b.config.systemd.timers?.['gitopsd']?.timerConfig['OnCalendar']).toBe('Sat 05:00');
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
    expect(failedAssertions(e)).toEqual([expect.stringMatching(message)]);
  });

  it('warns that fixedRandomDelay does nothing in daemon mode', async () => {
    const e = await evalModule({ enable: true, mode: 'daemon', fixedRandomDelay: true });
    expect(e.config.warnings).toEqual([expect.stringMatching(/only applies to mode = "timer"/)]);
  });

  it('disabled: defines nothing', async () => {
    const e = await evalModule({ enable: false, settings: { dotfiles: { user: 'alice' } } });
    expect(e.config).toEqual({});
  });

  it('bootValidation.enable = false drops the validation unit and the boot-complete pull', async () => {
    const e = await evalModule({ enable: true, bootValidation: { enable: false } });
    expect(Object.keys(e.config.systemd.services)).toEqual(['gitopsd-upgrade']);
    expect(e.config.systemd.targets).toBeUndefined();
  });

  it.each([
    [{ enable: true, mode: 'cron' }, /mode does not have type one of timer, daemon/],
    [
      { enable: true, settings: { validation: { services: 'sshd.service' } } },
      /validation\.services does not have type list of str/,
    ],
    [
      { enable: true, settings: { schedule: { randomizedDelaySec: -1 } } },
      /randomizedDelaySec does not have type unsigned int/,
    ],
    [{ enable: true, onCalender: 'daily' }, /option services\.gitopsd\.onCalender does not exist/],
  ])('type-checks the typed options: %j', async (host, message) => {
    expect(await evalError(host)).toMatch(message);
  });
});

// ---------------------------------------------------------------------------

async function nixCalendar(cron: string): Promise<{ calendar?: string; error?: string }> {
  const r = await run('nix-instantiate', [
    '--eval',
    '--strict',
    '--json',
    '-E',
    `import ${join(repoRoot, 'nix/cron.nix')} (builtins.fromJSON ${JSON.stringify(JSON.stringify(cron))})`,
  ]);
  return JSON.parse(r.stdout) as { calendar?: string; error?: string };
}

const BASE = '2026-03-10T12:34:56Z'; // a Tuesday
const N = 8;

/** systemd's next N elapses of an OnCalendar value, in UTC. */
async function systemdRuns(calendar: string): Promise<string[]> {
  const r = await run(
    'systemd-analyze',
    ['calendar', `--base-time=@${Date.parse(BASE) / 1000}`, `--iterations=${N}`, calendar],
    { env: { TZ: 'UTC' } },
  );
  const runs = [...r.stdout.matchAll(/(?:Next elapse|Iteration #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map(
    (m) => `${(m[1] ?? '').replace(' ', 'T')}.000Z`,
  );
  expect(runs, r.stdout).toHaveLength(N);
  return runs;
}

/** The daemon's next N runs (src/cycle/schedule.ts, built), in UTC. */
async function daemonRuns(cron: string): Promise<string[]> {
  const script = `
    import { createSchedule } from ${JSON.stringify(join(repoRoot, 'dist/cycle/schedule.js'))};
    const s = createSchedule(process.argv[1]);
    let t = new Date(process.argv[2]);
    const out = [];
    for (let i = 0; i < ${N}; i++) { t = s.nextSlotAfter(t); out.push(t.toISOString()); }
    s.dispose();
    console.log(JSON.stringify(out));`;
  const r = await run('node', ['--input-type=module', '-e', script, cron, BASE], { env: { TZ: 'UTC' } });
  return JSON.parse(r.stdout) as string[];
}

describe('nix/cron.nix: schedule.cron to OnCalendar', () => {
  it.each([
    ['0 4 * * *', '*-*-* 04:00:00'],
    ['*/15 * * * *', '*-*-* *:00,15,30,45:00'],
    ['30 2 * * 1-5', 'Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00'],
    ['30 2 * * MON-fri', 'Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00'],
    ['0 0 * * */2', 'Sun,Tue,Thu,Sat *-*-* 00:00:00'],
    ['0 4 * * 5-7', 'Sun,Fri,Sat *-*-* 04:00:00'],
    ['0 3 1,15 * *', '*-*-01,15 03:00:00'],
    ['0 0 */10 * *', '*-*-01,11,21,31 00:00:00'],
    ['0 0 1 jan-mar *', '*-01,02,03-01 00:00:00'],
    ['2-10/4 9-17 * * *', '*-*-* 09,10,11,12,13,14,15,16,17:02,06,10:00'],
    ['15 10 * * * *', '*-*-* *:10:15'],
    ['0 4 13 * fri', 'Fri *-*-13 04:00:00'],
    ['@weekly', 'Sun *-*-* 00:00:00'],
    ['@hourly', '*-*-* *:00:00'],
    ['  0   4 * *   *  ', '*-*-* 04:00:00'],
  ])('%j becomes %j, and systemd computes the same next runs as the daemon', async (cron, calendar) => {
    expect(await nixCalendar(cron)).toEqual({ calendar });
    expect(await systemdRuns(calendar)).toEqual(await daemonRuns(cron));
  });

  it.each([
    ['0 4 L * *'],
    ['0 4 * * 5L'],
    ['0 4 * * 1#2'],
    ['5/15 * * * *'],
    ['0 4 * * 5-1'],
    ['0 4 * *'],
    ['61 * * * *'],
  ])('%j is refused with a pointer to onCalendar', async (cron) => {
    const r = await nixCalendar(cron);
    expect(r.calendar).toBeUndefined();
    expect(r.error).toMatch(/onCalendar/);
  });
});

describe('nix/npm-lock.nix', () => {
  it('gives every fetched package of package-lock.json a registry URL, and leaves the rest alone', async () => {
    const r = await run('nix-instantiate', [
      '--eval',
      '--strict',
      '--json',
      '-E',
      `(import ${join(repoRoot, 'nix/npm-lock.nix')} { lock = builtins.fromJSON (builtins.readFile ${join(repoRoot, 'package-lock.json')}); }).packages`,
    ]);
    const out = JSON.parse(r.stdout) as Record<string, { version?: string; resolved?: string; integrity?: string }>;
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; resolved?: string; integrity?: string; link?: boolean }>;
    };
    expect(Object.keys(out).sort()).toEqual(Object.keys(lock.packages).sort());
    expect(out['']?.resolved).toBeUndefined();
    for (const [key, mod] of Object.entries(lock.packages)) {
      if (key === '' || mod.link === true) continue;
      const got = out[key];
      expect(got?.integrity).toBe(mod.integrity);
      expect(got?.resolved, key).toMatch(/^https:\/\/registry\.npmjs\.org\/(@[^/]+\/)?[^/@]+\/-\/[^/]+-\d[^/]*\.tgz$/);
    }
    expect(out['node_modules/zod']?.resolved).toBe(
      `https://registry.npmjs.org/zod/-/zod-${lock.packages['node_modules/zod']?.version}.tgz`,
    );
    expect(out['node_modules/@colors/colors']?.resolved).toBe(
      `https://registry.npmjs.org/@colors/colors/-/colors-${lock.packages['node_modules/@colors/colors']?.version}.tgz`,
    );
  });
});
