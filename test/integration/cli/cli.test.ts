/** The CLI as a new user meets it: help, usage errors, bad configs, aliases. */
import { describe, it, expect, beforeAll } from 'vitest';
import {
  chmodSync,
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  mkdtempSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { MALFORMED } from '../../helpers/malformed-configs.js';

let dir: string;
let good: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gitopsd-cli-'));
  good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ hostname: 'hosta', nixConfig: { path: '/etc/nixos' } }));
});

const COMMANDS: [string[], RegExp][] = [
  [[], /Commands:[\s\S]*cycle[\s\S]*daemon[\s\S]*sync[\s\S]*upgrade[\s\S]*boot[\s\S]*golden[\s\S]*status[\s\S]*config/],
  [['cycle'], /sync dotfiles \(when enabled\), then upgrade/],
  [['daemon'], /schedule\.cron/],
  [['sync'], /status[\s\S]*conflicts/],
  [['sync', 'status'], /unpushed/],
  [['sync', 'conflicts'], /resolve/],
  [['upgrade'], /--dry-run[\s\S]*--operation/],
  [['boot'], /validate[\s\S]*status[\s\S]*reset/],
  [['boot', 'validate'], /once per boot/],
  [['boot', 'status'], /show-boot-status/],
  [['boot', 'reset'], /--store-path/],
  [['golden'], /pin[\s\S]*show[\s\S]*rollback/],
  [['golden', 'pin'], /--store-path[\s\S]*--generation[\s\S]*--force/],
  [['golden', 'show'], /show-golden/],
  [['golden', 'rollback'], /--now[\s\S]*--reboot[\s\S]*--yes/],
  [['status'], /--check-drift/],
  [['config', 'check'], /effective config/],
];

describe('help', () => {
  it.each(COMMANDS)('gitopsd %j --help', async (cmd, pattern) => {
    const r = await runCli([...cmd, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(pattern);
    expect(r.stdout).toContain('--config');
    expect(r.stderr).toBe('');
  });
});

describe('usage errors exit 64 with one line', () => {
  it.each([
    [['bogus'], /^gitopsd: unknown command "bogus" \(commands: cycle, daemon, .*\); see gitopsd --help$/],
    [['golden', 'pin', '--store-path', '/nix/store/x', '--generation', '3'], /cannot be used together/],
    [['upgrade', '--operation', 'reboot'], /--operation "reboot" is not allowed; use one of "switch", "boot"/],
    [[], /name a command/],
    [['boot'], /name a boot subcommand/],
    [['status', '--config', '/a.json', '--config', '/b.json'], /--config is given 2 times; give it once/],
    [
      ['fleet', 'status', '--config', 'GOOD', '--host'],
      /^gitopsd: --host needs a value; see gitopsd fleet status --help$/,
    ],
    // An option written without its value was read as not given (review 12).
    [
      ['boot', 'reset', '--config', 'GOOD', '--store-path'],
      /^gitopsd: --store-path needs a value; see gitopsd boot reset/,
    ],
    [
      ['golden', 'pin', '--generation', '--config', 'GOOD'],
      /^gitopsd: --generation needs a value; see gitopsd golden pin/,
    ],
    [['fleet', 'status', '--config', 'GOOD', '--allowed-signers'], /^gitopsd: --allowed-signers needs a value/],
    [['status', '--config'], /^gitopsd: --config needs a value; see gitopsd status --help$/],
    [['golden', 'show', '--config='], /^gitopsd: --config needs a value; see gitopsd golden show --help$/],
    // Found by the handler, not by yargs: the same one help pointer.
    [
      ['trigger', '--fleet', '--config', 'GOOD', '--signing-key', 'GOOD', '--host', 'web 1'],
      /^gitopsd: --host "web 1" is not a host name \(letters, digits, [^)]*\), as gitopsd fleet status lists them; see gitopsd trigger --help$/,
    ],
    [
      ['trigger', '--fleet', '--config', 'GOOD', '--signing-key', 'GOOD', '--expires', '25h'],
      /^gitopsd: --expires must be between 60 s and 24 h \(e\.g\. 30m, 1h, 12h\); got 25h; see gitopsd trigger --help$/,
    ],
    [['golden', 'pin', '--generation', '0', '--config', 'GOOD'], /\(got 0\); .*; see gitopsd golden pin --help$/],
    [
      ['fleet', 'serve', '--refresh', '1', '--config', 'GOOD'],
      /^gitopsd: --refresh must be .*; see gitopsd fleet serve --help$/,
    ],
  ])('%j', async (args, pattern) => {
    const r = await runCli(args.map((a) => (a === 'GOOD' ? good : a)));
    expect(r.exitCode).toBe(64);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(pattern);
  });
});

describe('a usage error is no run', () => {
  it('golden pin --generation 0 exits 64 without recording a failed run or running hooks.onFailure (review 12)', async () => {
    const hookFile = join(dir, 'on-failure-ran');
    const config = join(dir, 'hooks.json');
    writeFileSync(
      config,
      JSON.stringify({
        hostname: 'hosta',
        stateDir: join(dir, 'state'),
        nixConfig: { path: join(dir, 'nixos') },
        paths: { gcRootsDir: join(dir, 'gcroots'), systemProfile: join(dir, 'profile') },
        hooks: { onFailure: ['touch', hookFile] },
      }),
    );
    const usage = await runCli(['golden', 'pin', '--generation', '0', '--config', config]);
    expect(usage.exitCode).toBe(64);
    expect(existsSync(hookFile)).toBe(false);
    // The same command failing for real is a run: the hook runs.
    const failed = await runCli(['golden', 'pin', '--store-path', dir, '--config', config]); // not a system: exit 6
    expect(failed.exitCode).not.toBe(0);
    expect(failed.exitCode).not.toBe(64);
    expect(existsSync(hookFile)).toBe(true);
  });
});

describe('a command that bounced off the host is no run', () => {
  it('lock held (75) or stateDir not writable by the user (6): one line, no run recorded, no hook; the same command run for real is a run; boot validate that waited out the lock is a run', async () => {
    const base = mkdtempSync(join(tmpdir(), 'gitopsd-norun-'));
    chmodSync(base, 0o755);
    const stateDir = join(base, 'state');
    mkdirSync(stateDir, { mode: 0o755 });
    mkdirSync(join(base, 'hook'), { mode: 0o777 });
    chmodSync(join(base, 'hook'), 0o777);
    const hookLog = join(base, 'hook', 'ran');
    const config = join(base, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        hostname: 'hosta',
        stateDir,
        nixConfig: { path: join(base, 'nixos') },
        paths: { gcRootsDir: join(base, 'gcroots'), systemProfile: join(base, 'profile') },
        hooks: { onFailure: ['sh', '-c', `echo "$GITOPSD_EXIT_CODE" >> ${hookLog}`] },
      }),
      { mode: 0o644 },
    );
    const pin = ['golden', 'pin', '--store-path', base, '--config', config]; // not a system: a real run fails (6)
    const holder = execa('node', [join(repoRoot, 'test/fixtures/lock-holder.mjs'), join(stateDir, 'gitopsd.lock')], {
      stdin: 'pipe',
      reject: false,
    });
    await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
    const locked = await runCli(pin);
    holder.stdin?.end();
    await holder;
    const [uid, gid] = ['-u', '-g'].map((f) => execa('id', [f, 'nobody']));
    const notRoot = await execa(
      'setpriv',
      [
        '--reuid',
        (await uid!).stdout,
        '--regid',
        (await gid!).stdout,
        '--clear-groups',
        process.execPath,
        join(repoRoot, 'bin', 'gitopsd'),
        ...pin,
      ],
      { reject: false, env: { GITOPSD_CONFIG: undefined } },
    );
    expect([locked.exitCode, notRoot.exitCode]).toEqual([75, 6]);
    expect([locked.stderr, notRoot.stderr].map((e) => e.trimEnd().split('\n').length)).toEqual([1, 1]);
    expect(existsSync(hookLog)).toBe(false);
    expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
    // boot validate waits for the lock; having waited validation.timeoutSec
    // it did not validate the boot: a run that failed (75), not no run.
    const bootConfig = join(base, 'boot.json');
    const cfg = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
    writeFileSync(bootConfig, JSON.stringify({ ...cfg, validation: { timeoutSec: 2, settleSeconds: 1 } }));
    const holder2 = execa('node', [join(repoRoot, 'test/fixtures/lock-holder.mjs'), join(stateDir, 'gitopsd.lock')], {
      stdin: 'pipe',
      reject: false,
    });
    await new Promise<void>((resolve) => holder2.stdout?.once('data', () => resolve()));
    const waited = await runCli(['boot', 'validate', '--config', bootConfig]);
    holder2.stdin?.end();
    await holder2;
    expect(waited.exitCode).toBe(75);
    expect(waited.stderr).toMatch(/waited 2 s for the host lock; boot validate did not run/);
    expect(readFileSync(hookLog, 'utf8')).toBe('75\n');
    const real = await runCli(pin);
    expect(real.exitCode).toBe(6);
    expect(readFileSync(hookLog, 'utf8')).toBe('75\n6\n');
  });
});

describe('config check', () => {
  it('prints the effective config with defaults', async () => {
    const r = await runCli(['config', 'check', '--config', good, '--json']);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; config: { nixConfig: { flakeHost: string; branch: string } } };
    expect(out.ok).toBe(true);
    expect(out.config.nixConfig).toMatchObject({ flakeHost: 'hosta', branch: 'main' });
  });

  it('finds the config through $GITOPSD_CONFIG', async () => {
    const r = await runCli(['config', 'check'], { env: { GITOPSD_CONFIG: good } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`config ${good} is valid`);
  });

  it('a missing file exits 78 and says how to fix it', async () => {
    const r = await runCli(['config', 'check', '--config', join(dir, 'nope.json')]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/nope\.json: file not found; create it/);
  });

  it('a directory exits 78', async () => {
    mkdirSync(join(dir, 'adir'), { recursive: true });
    const r = await runCli(['config', 'check', '--config', join(dir, 'adir')]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/is a directory/);
  });

  it('a device, a FIFO nobody writes, or a file over 1 MiB exits 78 in one line, without reading or waiting for ever', async () => {
    // /dev/zero kept `status` reading until it was killed (review 9).
    const fifo = join(dir, 'config.fifo');
    await execa('mkfifo', [fifo]);
    const big = join(dir, 'big.json');
    writeFileSync(big, `{"x": "${'a'.repeat(1024 * 1024)}"}`);
    for (const [args, pattern] of [
      [['status', '--config', '/dev/zero'], /\/dev\/zero: is not a regular file \(a device, FIFO or socket\)/],
      [['config', 'check', '--config', fifo], /config\.fifo: is not a regular file/],
      [['status', '--json', '--config', big], /big\.json: is 1048585 bytes, more than a config can be \(1048576\)/],
    ] as const) {
      const r = await runCli([...args]);
      expect({ args, exitCode: r.exitCode, lines: r.stderr.trim().split('\n').length }).toEqual({
        args,
        exitCode: 78,
        lines: 1,
      });
      expect(r.stderr).toMatch(pattern);
    }
  });

  it.each(MALFORMED)('%s exits 78 naming %s', async (text, _key, pattern) => {
    const f = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, text);
    const r = await runCli(['config', 'check', '--config', f]);
    expect(r.exitCode).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(lines[0]).toContain(f);
  });
});

/**
 * gitopsd with its stdout on the descriptor `fd` (closed after): a stream
 * with a descriptor makes execa hand the descriptor itself to the child.
 */
async function runWithStdoutFd(argv: string[], fd: number): Promise<{ exitCode: number | undefined; stderr: string }> {
  const res = await execa('node', [join(repoRoot, 'bin', 'gitopsd'), ...argv], {
    reject: false,
    env: { GITOPSD_CONFIG: undefined },
    stdin: 'ignore',
    stdout: createWriteStream('', { fd, autoClose: false }),
    timeout: 120_000,
  }).finally(() => closeSync(fd));
  return { exitCode: res.exitCode, stderr: String(res.stderr) };
}

describe('a reader that closes the pipe early (`gitopsd … | head`)', () => {
  // node reported the failed write (EPIPE) as an uncaught 'error' event: a
  // stack trace and exit 1 after the command had done its work.
  it.each([
    ['the full CLI', ['--help']],
    ['a lean bundle', ['status', '--json', '--config', 'GOOD']],
  ])('%s: output dropped, no stack trace, the command’s own exit code', async (_what, args) => {
    const argv = args.map((a) => (a === 'GOOD' ? good : a));
    const normal = await runCli(argv);
    expect(normal.stdout.length).toBeGreaterThan(0);
    // A real pipe (a FIFO) whose reader is gone before gitopsd starts, as
    // after `| true`: every write gitopsd makes to it fails with EPIPE. (A
    // stdout of execa's own is a socket pair, where node reports nothing.)
    const fifo = join(dir, `out-${Math.random().toString(36).slice(2)}.fifo`);
    await execa('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    closeSync(reader);
    const r = await runWithStdoutFd(argv, writer);
    expect(r).toEqual({ exitCode: normal.exitCode, stderr: normal.stderr });
  });
});

describe('stdout on a full disk (`gitopsd … > /dev/full`)', () => {
  // It was a stack trace and exit 1, which `fleet status` uses for an unhealthy host.
  it.each([
    ['the full CLI', ['--help']],
    ['a lean bundle', ['status', '--json', '--config', 'GOOD']],
  ])('%s: one line naming stdout and ENOSPC, exit 75', async (_what, args) => {
    const argv = args.map((a) => (a === 'GOOD' ? good : a));
    const r = await runWithStdoutFd(argv, openSync('/dev/full', constants.O_WRONLY));
    expect(r.exitCode).toBe(75);
    expect(r.stderr).toMatch(
      /^gitopsd: cannot write the output to stdout \(ENOSPC\); free space where stdout goes, or fix the redirection, then run the command again$/,
    );
  });
});

describe('config check: validation.services as systemctl reads them', () => {
  it('"sshd" is sshd.service; names with a suffix stay', async () => {
    const f = join(dir, 'units.json');
    writeFileSync(
      f,
      JSON.stringify({
        nixConfig: { path: '/etc/nixos' },
        validation: { services: ['sshd', 'getty@tty1', 'dbus.socket'] },
      }),
    );
    const r = await runCli(['config', 'check', '--config', f, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { config: { validation: { services: string[] } } };
    expect(out.config.validation.services).toEqual(['sshd.service', 'getty@tty1.service', 'dbus.socket']);
  });

  it('a misspelt unit type ("sshd.servce") is one error line naming the fix, exit 78', async () => {
    const f = join(dir, 'typo.json');
    writeFileSync(
      f,
      JSON.stringify({
        nixConfig: { path: '/etc/nixos' },
        validation: { services: ['nginx', 'sshd.servce', 'acme-example.com'] },
      }),
    );
    const r = await runCli(['config', 'check', '--config', f]);
    expect(r.exitCode).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /validation\.services\[1\]: "sshd\.servce" ends in "\.servce", which is no unit type.*write "sshd\.service"/,
    );
  });
});

describe('config check: every problem at once (issue 18)', () => {
  it('three mistakes are three lines, each with its JSON path and fix, and one exit 78', async () => {
    const f = join(dir, 'three.json');
    writeFileSync(
      f,
      JSON.stringify({
        nixConfig: { path: '/etc/nixos' },
        validation: { servcies: ['sshd.service'], checks: [{ ping: 'x' }] },
        reboot: { allow: 'yes' },
      }),
    );
    const r = await runCli(['config', 'check', '--config', f]);
    expect(r.exitCode).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `gitopsd: config ${f}: validation.checks[0]: check of unknown kind "ping"; use one of {"tcp": "HOST:PORT"}, {"http": "URL"} or {"command": [argv...]}`,
      `gitopsd: config ${f}: validation: unknown key "servcies"; did you mean "services"? (rename it)`,
      `gitopsd: config ${f}: reboot.allow: expected boolean, got "yes"; write true or false (no quotes)`,
    ]);
  });
});

describe('aliases run the same program', () => {
  it.each([
    ['chezmoi-sync', /Run one sync now|chezmoi-sync/],
    ['chezmoi-status', /chezmoi-status/],
    ['chezmoi-show-conflicts', /chezmoi-show-conflicts/],
    ['show-boot-status', /show-boot-status/],
    ['pin-golden', /--store-path/],
    ['show-golden', /show-golden/],
    ['rollback-to-golden', /--yes/],
  ])('%s --help', async (bin, pattern) => {
    const r = await runCli(['--help'], { bin });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(pattern);
  });
});
