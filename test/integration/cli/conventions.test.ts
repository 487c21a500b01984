/**
 * The conventions of a CLI a NixOS admin lives with (issue 18): --version,
 * `version --json`, shell completion, the man page, "did you mean", and one
 * line per usage error. Runs the built CLI (npm run build) as a process.
 */
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli } from '../../helpers/cli.js';

/** stderr is exactly one line, prefixed once, with one help pointer. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line.match(/see gitopsd/g) ?? []).toHaveLength(1);
  return line;
}

describe('version', () => {
  it.each([['--version'], ['-V'], ['version']])('gitopsd %s prints the version and the commit', async (flag) => {
    const r = await runCli([flag]);
    expect(r.exitCode).toBe(0);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toMatch(
      new RegExp(`^gitopsd ${pkg.version.replace(/\./g, '\\.')} \\(commit ([0-9a-f]{12}|unknown)`),
    );
    expect(r.stderr).toBe('');
  });

  it('version --json names the full commit the bundle was built from, and it exists in this repository', async () => {
    const r = await runCli(['version', '--json']);
    expect(r.exitCode).toBe(0);
    const v = JSON.parse(r.stdout) as {
      ok: boolean;
      version: string;
      commit: string;
      dirty: boolean | null;
      node: string;
    };
    expect(v.ok).toBe(true);
    expect(v.node).toBe(process.version);
    expect(v.commit).toMatch(/^[0-9a-f]{40}$/);
    const cat = await execa('git', ['-C', repoRoot, 'cat-file', '-t', v.commit], { reject: false });
    expect(cat.stdout.trim()).toBe('commit');
  });

  it('-v is not --version: one line pointing at -V', async () => {
    const r = await runCli(['-v']);
    expect(r.exitCode).toBe(64);
    expect(oneLine(r.stderr)).toBe('gitopsd: unknown option -v (did you mean -V?); see gitopsd --help');
  });
});

describe('completion', () => {
  it('bash: the script, sourced in a real bash, completes "gitopsd gol" to golden', async () => {
    const script = await runCli(['completion', 'bash']);
    expect(script.exitCode).toBe(0);
    expect(script.stdout).toContain('complete -o bashdefault -o default -F _gitopsd_yargs_completions gitopsd');
    expect(script.stdout).toContain('gitopsd completion bash >>');
    // Sourced from a file, as /etc/bash_completion.d does (a pipe on stdin is a socket under execa).
    const file = join(mkdtempSync(join(tmpdir(), 'gitopsd-completion-')), 'gitopsd.bash');
    writeFileSync(file, script.stdout);
    const r = await execa(
      'bash',
      [
        '-c',
        'source "$1"; COMP_WORDS=(gitopsd gol); COMP_CWORD=1; _gitopsd_yargs_completions; printf "%s\\n" "${COMPREPLY[@]}"',
        'bash',
        file,
      ],
      { env: { PATH: `${join(repoRoot, 'bin')}:${process.env['PATH'] ?? ''}` }, reject: false },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('golden');
  });

  it('bash: subcommands and options complete too', async () => {
    const sub = await runCli(['--get-yargs-completions', 'gitopsd', 'golden', '']);
    expect(sub.stdout.split('\n')).toEqual(expect.arrayContaining(['pin', 'show', 'rollback']));
    const opt = await runCli(['--get-yargs-completions', 'gitopsd', 'upgrade', '--']);
    expect(opt.stdout.split('\n')).toEqual(expect.arrayContaining(['--dry-run', '--operation']));
  });

  it.each([
    ['zsh', '#compdef gitopsd'],
    ['fish', 'complete -f -c gitopsd'],
  ])('%s: the script asks gitopsd for candidates', async (shell, marker) => {
    const r = await runCli(['completion', shell]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(marker);
    expect(r.stdout).toContain('gitopsd --get-yargs-completions');
    expect(r.stdout).toContain(`gitopsd completion ${shell} >`);
  });

  it('an unknown shell is one line naming the shells', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.exitCode).toBe(64);
    expect(oneLine(r.stderr)).toBe(
      'gitopsd: <shell> "tcsh" is not allowed; use one of "bash", "zsh", "fish"; see gitopsd completion --help',
    );
  });
});

describe('man page', () => {
  it('dist/man/gitopsd.1 has a section for every command --help lists', async () => {
    const page = join(repoRoot, 'dist', 'man', 'gitopsd.1');
    expect(existsSync(page)).toBe(true);
    const roff = readFileSync(page, 'utf8');
    expect(roff).toMatch(/^\.TH "GITOPSD" "1"/);
    const top = await runCli(['--help']);
    const commands = [...top.stdout.matchAll(/^ {2}gitopsd (\w+)/gm)].map((m) => m[1]);
    expect(commands.length).toBeGreaterThanOrEqual(10);
    for (const c of commands) expect(roff).toContain(`.SS gitopsd ${c ?? ''}`);
    const golden = await runCli(['golden', '--help']);
    for (const m of golden.stdout.matchAll(/^ {2}gitopsd golden (\w+)/gm))
      expect(roff).toContain(`.SS gitopsd golden ${m[1] ?? ''}`);
    expect(roff).toContain('\\-\\-store\\-path');
    expect(roff).toMatch(/^\.SH "?EXIT STATUS"?$/m);
  });
});

describe('usage errors: one line, a "did you mean", one help pointer', () => {
  it.each([
    [['stauts'], 'gitopsd: unknown command "stauts" (did you mean "gitopsd status"?); see gitopsd --help'],
    [['rollback'], 'gitopsd: unknown command "rollback" (did you mean "gitopsd golden rollback"?); see gitopsd --help'],
    [
      ['golden', 'rollbak'],
      'gitopsd: unknown command "rollbak" (did you mean "gitopsd golden rollback"?); see gitopsd golden --help',
    ],
    [
      ['upgrade', '--operation', 'test'],
      'gitopsd: --operation "test" is not allowed; use one of "switch", "boot"; see gitopsd upgrade --help',
    ],
    [
      ['upgrade', '--operation=bot'],
      'gitopsd: --operation "bot" is not allowed; use one of "switch", "boot" (did you mean "boot"?); see gitopsd upgrade --help',
    ],
    [
      ['status', '--check-drfit'],
      'gitopsd: unknown option --check-drfit (did you mean --check-drift?); see gitopsd status --help',
    ],
    [
      ['golden', 'pin', '--store-path', '/nix/store/x', '--generation', '3'],
      'gitopsd: --store-path and --generation cannot be used together; pass only one; see gitopsd golden pin --help',
    ],
    [[], 'gitopsd: name a command; see gitopsd --help'],
    [['--version-x'], 'gitopsd: unknown option --version-x (did you mean --version?); see gitopsd --help'],
    [['boot'], 'gitopsd: name a boot subcommand: validate, status or reset; see gitopsd boot --help'],
  ])('gitopsd %j', async (args, line) => {
    const r = await runCli(args);
    expect(r.exitCode).toBe(64);
    expect(oneLine(r.stderr)).toBe(line);
    expect(r.stdout).toBe('');
  });

  it('the messages stay English and one line under another locale', async () => {
    const r = await runCli(['upgrade', '--operation', 'test'], { env: { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' } });
    expect(oneLine(r.stderr)).toContain('--operation "test" is not allowed');
  });

  it('show-golden --help is headed by its own name, not "show-golden golden show"', async () => {
    const r = await runCli(['--help'], { bin: 'show-golden' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('show-golden');
  });
});

describe('root and $TMPDIR (docs/security.md: root never touches a path another user can write)', () => {
  it("root's gitopsd writes nothing through a symlink another user planted in $TMPDIR (Node's compile cache)", async () => {
    // gitopsd-upgrade.service runs as root without PrivateTmp, so $TMPDIR is
    // the shared /tmp; bin/gitopsd calls module.enableCompileCache(), whose
    // default directory is $TMPDIR/node-compile-cache (Node's module docs).
    const tmp = mkdtempSync(join(tmpdir(), 'gitopsd-shared-tmp-'));
    chmodSync(tmp, 0o1777);
    const target = mkdtempSync(join(tmpdir(), 'gitopsd-planted-'));
    const nobody = Number((await execa('id', ['-u', 'nobody'])).stdout.trim());
    chownSync(target, nobody, nobody);
    await execa('runuser', ['-u', 'nobody', '--', 'ln', '-s', target, join(tmp, 'node-compile-cache')]);
    const r = await runCli(['--version'], { env: { TMPDIR: tmp, NODE_COMPILE_CACHE: undefined } });
    expect(r.exitCode, r.stderr).toBe(0);
    // What root wrote into the directory the other user owns (and can replace files in).
    const written = readdirSync(target, { recursive: true });
    expect(written).toEqual([]);
  });
  it("the lean bundles' code cache goes into root's own 0700 directory, 0600, and the next run accepts it with the same result", async () => {
    // src/cli/code-cache.ts: `status` runs from dist/bundle/lean-status.cjs;
    // its V8 code cache is written after the first run, in the directory of
    // src/cli/compile-cache.ts, never in the shared $TMPDIR itself.
    const tmp = mkdtempSync(join(tmpdir(), 'gitopsd-shared-tmp-'));
    chmodSync(tmp, 0o1777);
    const missing = join(tmp, 'no-such-config.json');
    const env = { TMPDIR: tmp, NODE_COMPILE_CACHE: undefined };
    const first = await runCli(['status', '--config', missing], { env });
    expect({ exitCode: first.exitCode, stdout: first.stdout }).toEqual({ exitCode: 78, stdout: '' });
    const uid = process.getuid?.() ?? 0;
    const dir = join(tmp, `gitopsd-compile-cache-${uid}`);
    expect(readdirSync(tmp).sort()).toEqual([`gitopsd-compile-cache-${uid}`]);
    const caches = readdirSync(dir).filter((f) => f.startsWith('lean-status.cjs-'));
    expect(caches).toHaveLength(1);
    expect(statSync(join(dir, caches[0] ?? '')).mode & 0o777).toBe(0o600);
    const written = statSync(join(dir, caches[0] ?? '')).mtimeMs;
    const second = await runCli(['status', '--config', missing], { env });
    expect(second).toMatchObject({ exitCode: 78, stdout: '', stderr: first.stderr });
    // Accepted: not written again.
    expect(readdirSync(dir).filter((f) => f.startsWith('lean-status.cjs-'))).toEqual(caches);
    expect(statSync(join(dir, caches[0] ?? '')).mtimeMs).toBe(written);
    // A file damaged inside, at its full length (a block of zeros, as a power
    // cut before the data reached the disk leaves it): V8 checks a code
    // cache's length and header only, and node dies on it (SIGSEGV or
    // SIGTRAP) on every run. NODE_DISABLE_COMPILE_CACHE runs without it.
    const file = join(dir, caches[0] ?? '');
    const damaged = readFileSync(file);
    damaged.fill(0, 40960, 45056);
    writeFileSync(file, damaged);
    const off = await runCli(['status', '--config', missing], { env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(off).toMatchObject({ exitCode: 78, stdout: '', stderr: first.stderr });
  });
});
