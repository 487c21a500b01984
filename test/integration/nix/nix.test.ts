/**
 * What of nix/ is checked here with the test bed's nix alone:
 * - every .nix file parses;
 * - nix/cron.nix: for each cron form, systemd's own calendar arithmetic
 *   (systemd-analyze) gives the same next runs as the daemon's schedule;
 * - nix/npm-lock.nix gives importNpmLock a registry URL for every package.
 * The module on nixpkgs' real module system: module.test.ts. The package
 * built from its fileset: package-build.test.ts. Not checked here: the VM
 * test nix/tests/vm-rollback.nix (needs KVM and a full nixpkgs).
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, tryRun } from '../../harness/exec.js';
import { repoRoot } from '../../helpers/cli.js';

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

/** The daemon's next N runs (src/shared/cron-schedule.ts, built), in UTC. */
async function daemonRuns(cron: string): Promise<string[]> {
  const script = `
    import { createSchedule } from ${JSON.stringify(join(repoRoot, 'dist/shared/cron-schedule.js'))};
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
