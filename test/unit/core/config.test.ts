import { describe, it, expect } from 'vitest';
import { parseConfig, resolveConfigPath } from '../../../src/core/config.js';
import { normaliseUnitName, unitNameProblem, unitSuffixTypo } from '../../../src/core/config-schema.js';
import { ConfigError } from '../../../src/core/errors.js';
import { MALFORMED } from '../../helpers/malformed-configs.js';

const min = { nixConfig: { path: '/etc/nixos' } };
const parse = (v: unknown) => parseConfig(JSON.stringify(v), '/cfg.json', 'machine');

describe('config defaults', () => {
  it('fills every default from one minimal config', () => {
    const c = parse(min);
    expect(c.hostname).toBe('machine');
    expect(c.nixConfig.flakeHost).toBe('machine');
    expect(c.nixConfig).toMatchObject({ remote: 'origin', branch: 'main', operation: 'switch', url: null });
    expect(c.stateDir).toBe('/var/lib/gitopsd');
    expect(c.validation).toMatchObject({
      maxBootFailures: 2,
      timeoutSec: 180,
      settleSeconds: 10,
      onFirstFailure: 'reboot',
    });
    expect(c.paths.systemProfile).toBe('/nix/var/nix/profiles/system');
    expect(c.schedule.cron).toBe('0 4 * * *');
    expect(c.log).toEqual({ level: 'info', format: 'auto' });
  });

  it('validation.settleSeconds must be below timeoutSec when units are checked', () => {
    expect(() => parse({ ...min, validation: { services: ['sshd'], timeoutSec: 10 } })).toThrow(
      /validation\.settleSeconds.*is 10, not below validation\.timeoutSec 10.*lower settleSeconds or raise timeoutSec/,
    );
    expect(
      parse({ ...min, validation: { services: ['sshd'], timeoutSec: 10, settleSeconds: 0 } }).validation,
    ).toMatchObject({
      settleSeconds: 0,
    });
    expect(
      parse({ ...min, validation: { checks: [{ command: ['true'] }], timeoutSec: 5 } }).validation.settleSeconds,
    ).toBe(10);
  });

  it('flakeHost follows hostname when only hostname is set', () => {
    const c = parse({ hostname: 'hosta', ...min });
    expect(c.nixConfig.flakeHost).toBe('hosta');
  });

  it('derives dotfiles dirs from the user', () => {
    const c = parse({ ...min, dotfiles: { enable: true, user: 'alice' } });
    expect(c.dotfiles.destDir).toBe('/home/alice');
    expect(c.dotfiles.sourceDir).toBe('/home/alice/.local/share/chezmoi');
  });

  it('accepts the full example from the issue', () => {
    const full = {
      hostname: 'hosta',
      stateDir: '/var/lib/gitopsd',
      nixConfig: {
        path: '/etc/nixos',
        url: null,
        remote: 'origin',
        branch: 'main',
        flakeHost: 'hosta',
        operation: 'switch',
        allowedSignersFile: null,
        commitLocalChanges: false,
        updateInputs: false,
        allowForcePush: false,
      },
      dotfiles: {
        enable: false,
        user: 'alice',
        sourceDir: '/home/alice/.local/share/chezmoi',
        destDir: '/home/alice',
        url: null,
        remote: 'origin',
        bookmark: 'main',
      },
      schedule: { cron: '0 4 * * *', randomizedDelaySec: 1800, persistent: true },
      preflight: { minFreeDiskPercent: 10, allowDegraded: false, minUptimeSec: 0 },
      validation: {
        services: ['sshd.service'],
        checks: [
          { tcp: '127.0.0.1:22' },
          { http: 'http://127.0.0.1:9100/metrics' },
          { command: ['tailscale', 'status'] },
        ],
        timeoutSec: 180,
        maxBootFailures: 2,
        autoPinGolden: true,
        onFirstFailure: 'reboot',
      },
      reboot: { allow: false, window: { lower: '01:00', upper: '05:00' }, maxConcurrent: null, group: 'fleet' },
      paths: {
        systemProfile: '/nix/var/nix/profiles/system',
        currentSystem: '/run/current-system',
        bootedSystem: '/run/booted-system',
        gcRootsDir: '/nix/var/nix/gcroots',
      },
      metrics: { textfileDir: null },
      hooks: { onSuccess: null, onFailure: null },
      log: { level: 'info', format: 'auto' },
    };
    const c = parse(full);
    expect(c.validation.checks).toHaveLength(3);
    expect(c.preflight.diskPaths).toEqual(['/', '/nix']);
  });
});

describe('malformed configs', () => {
  it.each(MALFORMED)('%s -> names %s', (text, _key, pattern) => {
    let err: unknown;
    try {
      parseConfig(text, '/cfg.json', 'machine');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^config \/cfg\.json: /);
    expect(msg).toMatch(pattern);
    expect(msg).not.toContain('\n');
  });
});

describe('a key of another check kind', () => {
  it('names the kind and its keys, not "did you mean" the same key', () => {
    const c = { ...min, validation: { checks: [{ tcp: 'h:1', expectStatus: 200 }] } };
    expect(() => parse(c)).toThrow(
      /^config \/cfg\.json: validation\.checks\[0\]: "expectStatus" does not belong here; remove it \(a tcp check takes: tcp, name\)$/,
    );
  });
});

describe('a remote, branch or bookmark that is not a name', () => {
  it.each([
    [
      { nixConfig: { path: '/etc/nixos', remote: 'git@h:x.git' } },
      /nixConfig\.remote: must be the name of a git remote such as "origin" .*the URL goes in url\), got "git@h:x\.git"$/,
    ],
    [{ ...min, dotfiles: { bookmark: 'a b' } }, /dotfiles\.bookmark: must be a bookmark name such as "main" /],
  ])('%j', (c, pattern) => {
    expect(() => parse(c)).toThrow(pattern);
  });
});

describe('config path resolution', () => {
  it.each([
    ['/a.json', { GITOPSD_CONFIG: '/b.json' }, '/a.json'],
    [undefined, { GITOPSD_CONFIG: '/b.json' }, '/b.json'],
    [undefined, {}, '/etc/gitopsd/config.json'],
    ['', { GITOPSD_CONFIG: '' }, '/etc/gitopsd/config.json'],
  ])('flag %s env %j -> %s', (flag, env, want) => {
    expect(resolveConfigPath(flag, env)).toBe(want);
  });
});

describe('validation.services: unit names as systemctl reads them', () => {
  it.each([
    ['sshd', 'sshd.service'],
    ['sshd.service', 'sshd.service'],
    ['sshd.socket', 'sshd.socket'],
    ['getty@tty1', 'getty@tty1.service'],
    ['getty@tty1.service', 'getty@tty1.service'],
    ['multi-user.target', 'multi-user.target'],
    ['foo.bar', 'foo.bar.service'],
    ['.service', '.service.service'],
    ['dev-sda1.device', 'dev-sda1.device'],
  ])('%j -> %j', (name, expected) => {
    expect(normaliseUnitName(name)).toBe(expected);
    expect(parse({ ...min, validation: { services: [name] } }).validation.services).toEqual([expected]);
  });

  it.each<[string, string | null]>([
    ['sshd.servce', 'sshd.service'],
    ['sshd.serivce', 'sshd.service'],
    ['nginx.Service', 'nginx.service'],
    ['dbus.sockt', 'dbus.socket'],
    ['backup.timr', 'backup.timer'],
    ['sshd', null],
    ['sshd.service', null],
    ['acme-example.com', null],
    ['php8.1-fpm', null],
    ['foo.bar', null],
    ['acme-example.pa', null],
  ])('misspelt unit type: %j -> %j', (name, fixed) => {
    expect(unitSuffixTypo(name)?.fixed ?? null).toBe(fixed);
    if (fixed !== null) expect(unitNameProblem(name)).toMatch(new RegExp(`which is no unit type.*write "${fixed}"`));
  });

  it('accepts exactly 255 characters with the implied suffix, not 256', () => {
    expect(unitNameProblem('a'.repeat(255 - '.service'.length))).toBeNull();
    expect(unitNameProblem('a'.repeat(256 - '.service'.length))).toMatch(/longer than a unit name may be/);
  });
});

describe('every problem at once (issue 18)', () => {
  const problems = (v: unknown): string[] => {
    try {
      parse(v);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message.split('\n');
    }
    throw new Error('expected a ConfigError');
  };

  it('names each problem on its own line with its JSON path and fix', () => {
    const lines = problems({
      nixConfig: { pth: '/etc/nixos', operation: 'swtich' },
      validation: { servcies: ['sshd.service'], checks: [{ ping: 'x' }, { tcp: 'localhost' }] },
      reboot: { allow: 'yes' },
      dotfiles: { enable: true },
    });
    expect(lines).toEqual([
      'config /cfg.json: nixConfig.operation: invalid value "swtich"; allowed: "switch" | "boot"',
      'config /cfg.json: nixConfig: unknown key "pth"; did you mean "path"? (rename it)',
      'config /cfg.json: validation.checks[0]: check of unknown kind "ping"; use one of {"tcp": "HOST:PORT"}, {"http": "URL"} or {"command": [argv...]}',
      'config /cfg.json: validation.checks[1].tcp: must be HOST:PORT, e.g. "127.0.0.1:22", got "localhost"',
      'config /cfg.json: validation: unknown key "servcies"; did you mean "services"? (rename it)',
      'config /cfg.json: reboot.allow: expected boolean, got "yes"; write true or false (no quotes)',
      'config /cfg.json: dotfiles.user: is required when dotfiles.enable is true',
    ]);
  });

  it.each([
    [{ tpc: '127.0.0.1:22' }, 'validation.checks[0]: check of unknown kind "tpc"; did you mean "tcp"?'],
    [{ http: 'http://x', nmae: 'web' }, 'validation.checks[0]: unknown key "nmae"; did you mean "name"? (rename it)'],
    [
      { tcp: '127.0.0.1:22', http: 'http://x' },
      'validation.checks[0]: has "tcp" and "http"; a check has exactly one kind',
    ],
    ['127.0.0.1:22', 'validation.checks[0]: expected a check object like {"tcp": "HOST:PORT"}'],
  ])('check %j', (check, line) => {
    const lines = problems({ nixConfig: { path: '/etc/nixos' }, validation: { checks: [check] } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(line);
  });

  it('a number out of range names the value, the bound and the fix; an empty list or string says so (review 12)', () => {
    expect(
      problems({
        nixConfig: { path: '/etc/nixos', url: '' },
        timeouts: { gitSec: 0 },
        validation: { timeoutSec: 7200 },
        updates: { branchPatterns: [] },
        hooks: { onSuccess: [] },
      }),
    ).toEqual([
      'config /cfg.json: nixConfig.url: is empty; write a value',
      'config /cfg.json: updates.branchPatterns: needs at least 1 entry',
      'config /cfg.json: validation.timeoutSec: is 7200, above the maximum 3600; write 3600 or less',
      'config /cfg.json: timeouts.gitSec: is 0, below the minimum 1; write 1 or more',
      'config /cfg.json: hooks.onSuccess: must be a non-empty argv array, e.g. ["curl", "-fsS", "..."]',
    ]);
  });

  it('reboot turns need the published statuses: reboot.maxConcurrent without fleet.enable is refused', () => {
    expect(problems({ nixConfig: { path: '/etc/nixos' }, reboot: { maxConcurrent: 1 } })).toEqual([
      'config /cfg.json: reboot.maxConcurrent: is 1, but fleet.enable is false: reboot turns are taken from the published statuses; set fleet.enable (and fleet.statusRemote), or maxConcurrent to null',
    ]);
    expect(problems({ nixConfig: { path: '/etc/nixos' }, reboot: { maxConcurrent: 0, group: 'a b' } })).toEqual([
      'config /cfg.json: reboot.maxConcurrent: is 0, below the minimum 1; write 1 or more',
      'config /cfg.json: reboot.group: must be a group name (letters, digits, ".", "_", "-"; at most 63 characters), got "a b"',
    ]);
  });

  it.each<[string, Record<string, unknown>, string | null]>([
    ['a producer proposing on an update branch', { updateInputs: true, proposeBranch: 'update/flake-lock' }, null],
    [
      'without updateInputs',
      { proposeBranch: 'update/flake-lock' },
      'is set, but nixConfig.updateInputs is false: only a producer proposes; set updateInputs or remove proposeBranch',
    ],
    [
      'the deployed branch itself',
      { updateInputs: true, proposeBranch: 'main' },
      'is the deployed branch "main" itself; name an update branch such as "update/flake-lock", or remove proposeBranch to push directly',
    ],
    [
      'a branch gitopsd updates would never list',
      { updateInputs: true, proposeBranch: 'lock-updates' },
      '"lock-updates" matches none of updates.branchPatterns (update/*, update_flake_lock_action, renovate/lock-file-maintenance), so gitopsd updates would never list it; use e.g. "update/flake-lock" or add a pattern',
    ],
  ])('nixConfig.proposeBranch: %s', (_name, nixConfig, problem) => {
    const v = { nixConfig: { path: '/etc/nixos', ...nixConfig } };
    if (problem === null) expect(parse(v).nixConfig.proposeBranch).toBe('update/flake-lock');
    else expect(problems(v)).toEqual([`config /cfg.json: nixConfig.proposeBranch: ${problem}`]);
  });

  it('a proposeBranch with a branch pattern that is no string: the pattern is named, nothing throws', () => {
    // The cross-key check runs on partly parsed input (`when`); it used to
    // call String methods on the non-string pattern and end in "internal error".
    expect(
      problems({
        nixConfig: { path: '/etc/nixos', updateInputs: true, proposeBranch: 'update/x' },
        updates: { branchPatterns: [7] },
      }),
    ).toEqual(['config /cfg.json: updates.branchPatterns[0]: expected string, got 7; write a string']);
  });

  it('an unknown key with no near match lists the keys allowed there', () => {
    expect(problems({ nixConfig: { path: '/etc/nixos' }, reboot: { zzz: 1 } })).toEqual([
      'config /cfg.json: reboot: unknown key "zzz"; remove it or fix the spelling (known keys here: allow, window, maxConcurrent, group)',
    ]);
  });
});
