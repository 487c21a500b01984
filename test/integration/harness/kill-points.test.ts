/**
 * The crash suites skip a kill before a command that writes nothing
 * (test/harness/kill-points.ts). Here each command form the classifier calls
 * read-only runs against the real jj, chezmoi and git on a repository left
 * in the state most likely to provoke a write (a working copy edited behind
 * jj's back, a git branch jj has not imported, a target edited in $HOME),
 * and no file under $HOME may change in content, mode or mtime. Controls show
 * the check can fail: `jj log` without `--ignore-working-copy` and
 * `git status` both write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { isReadOnlyCommand, killPoints } from '../../harness/kill-points.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';

afterAll(removeTempDirs);

async function digest(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      h.update(`${p}\0${st.mode}\0${st.mtimeMs}\0${st.size}\0`);
      if (st.isDirectory()) await walk(p);
      else if (st.isSymbolicLink()) h.update(await readlink(p));
      else h.update(await readFile(p));
    }
  };
  await walk(dir);
  return h.digest('hex');
}

const ENV = {
  GIT_AUTHOR_NAME: 'a',
  GIT_AUTHOR_EMAIL: 'a@example.invalid',
  GIT_COMMITTER_NAME: 'a',
  GIT_COMMITTER_EMAIL: 'a@example.invalid',
  JJ_USER: 'a',
  JJ_EMAIL: 'a@example.invalid',
};

describe('the commands a crash suite does not kill before write nothing (real jj, chezmoi, git)', () => {
  let home: string;
  let src: string;
  let env: Record<string, string>;
  const jjArgs = (...a: string[]): string[] => ['--no-pager', '--color=never', '-R', src, ...a];
  const cz = (...a: string[]): string[] => ['--no-tty', '--no-pager', '-S', src, '-D', home, ...a];

  beforeAll(async () => {
    home = await tempDir('kill-points');
    src = join(home, '.local', 'share', 'chezmoi');
    env = { ...ENV, HOME: home };
    await mkdir(join(home, '.config', 'chezmoi'), { recursive: true });
    await writeFile(join(home, '.config', 'chezmoi', 'chezmoi.toml'), '');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'dot_a'), 'one\n');
    await run('git', ['init', '-q', '-b', 'main', src], { env });
    await run('git', ['-C', src, 'add', '-A'], { env });
    await run('git', ['-C', src, 'commit', '-q', '-m', 'seed'], { env });
    await run('jj', ['git', 'init', '--colocate', src], { env });
    await run('chezmoi', cz('apply'), { env });
    // What a read could be tempted to record: an unsnapshotted edit, an
    // unimported git branch, a target edited in $HOME.
    await appendFile(join(src, 'dot_a'), 'two\n');
    await run('git', ['-C', src, 'branch', 'side', 'HEAD'], { env });
    await appendFile(join(home, '.a'), 'home\n');
  });

  const readOnly: [string, (s: string) => string[]][] = [
    [
      'jj',
      (s) => ['--no-pager', '-R', s, '--ignore-working-copy', 'log', '--no-graph', '-r', '::@', '-T', 'commit_id'],
    ],
    ['jj', (s) => ['--no-pager', '-R', s, '--ignore-working-copy', 'op', 'log', '--no-graph', '-n', '1', '-T', 'id']],
    ['jj', (s) => ['--no-pager', '-R', s, '--ignore-working-copy', 'bookmark', 'list', '--all-remotes']],
    [
      'jj',
      (s) => ['--no-pager', '-R', s, '--ignore-working-copy', 'diff', '--from', 'root()', '--to', '@', '--name-only'],
    ],
    ['jj', (s) => ['--no-pager', '-R', s, 'show', '--ignore-working-copy', '-r', '@-']],
    // The split's forms (src/sync/jj.ts, NO_SNAPSHOT): the option after `log --no-graph` (commits), and `diff -r` (changedPaths).
    ['jj', (s) => ['--no-pager', '-R', s, 'log', '--no-graph', '--ignore-working-copy', '-r', '@-', '-T', 'commit_id']],
    ['jj', (s) => ['--no-pager', '-R', s, '--ignore-working-copy', 'diff', '-r', '@-', '--name-only']],
    ['jj', (s) => ['--no-pager', '-R', s, '--ignore-working-copy', 'file', 'show', '-r', '@-', 'root:"dot_a"']],
    ['git', (s) => ['-C', s, 'rev-parse', 'HEAD']],
    ['git', (s) => ['-C', s, 'cat-file', '-p', 'HEAD']],
    ['git', (s) => ['-C', s, 'log', '--oneline', '-1']],
    ['git', (s) => ['-C', s, 'show', '--stat', 'HEAD']],
    ['git', (s) => ['-C', s, 'for-each-ref']],
    ['git', (s) => ['-C', s, 'ls-tree', 'HEAD']],
    ['git', (s) => ['-C', s, 'rev-list', '--all']],
    ['git', (s) => ['-C', s, 'merge-base', 'HEAD', 'side']],
  ];

  it('each read-only form leaves every file under $HOME as it was', async () => {
    const forms: [string, string[]][] = [
      ...readOnly.map(([c, f]): [string, string[]] => [c, f(src)]),
      ...['status', 'managed', 'ignored', 'dump-config', 'data', 'source-path'].map((sub): [string, string[]] => [
        'chezmoi',
        cz(sub),
      ]),
      ['chezmoi', cz('cat', join(home, '.a'))],
      ['getent', ['passwd', 'root']],
    ];
    const changed: string[] = [];
    for (const [cmd, args] of forms) {
      expect({ cmd, args, readOnly: isReadOnlyCommand(cmd, args) }).toEqual({ cmd, args, readOnly: true });
      const before = await digest(home);
      await run(cmd, args, { env });
      if ((await digest(home)) !== before) changed.push(`${cmd} ${args.join(' ')}`);
    }
    expect(changed).toEqual([]);
  });

  it('the controls write, and are kill points', async () => {
    const controls: [string, string[]][] = [
      ['jj', jjArgs('log', '--no-graph', '-r', '@', '-T', 'commit_id')],
      ['git', ['-C', src, 'status', '--porcelain']],
    ];
    for (const [cmd, args] of controls) {
      expect(isReadOnlyCommand(cmd, args)).toBe(false);
      // Something to notice: git status rewrites the index only when stat data is stale.
      await appendFile(join(src, 'dot_a'), 'more\n');
      const before = await digest(home);
      await run(cmd, args, { env });
      expect({ cmd, changed: (await digest(home)) !== before }).toEqual({ cmd, changed: true });
    }
  });
});

describe('killPoints', () => {
  const cp = (n: number, cmd?: string, args?: string[]): { n: number; label: string; cmd?: string; args?: string[] } =>
    cmd === undefined ? { n, label: 'atomic-write:before-rename' } : { n, label: `cmd:${cmd}`, cmd, args: args ?? [] };
  it.each([
    ['an atomic write', [cp(1)], [1]],
    ['jj log that may snapshot', [cp(1, 'jj', ['-R', '/r', 'log'])], [1]],
    ['jj log that may not', [cp(1, 'jj', ['-R', '/r', '--ignore-working-copy', 'log'])], []],
    ['jj --ignore-working-copy that writes', [cp(1, 'jj', ['--ignore-working-copy', 'bookmark', 'set', 'x'])], [1]],
    ['a repository named log', [cp(1, 'jj', ['-R', 'log', '--ignore-working-copy', 'new'])], [1]],
    ['chezmoi re-add', [cp(1, 'chezmoi', ['-S', 'status', 're-add'])], [1]],
    ['chezmoi status', [cp(1, 'chezmoi', ['--no-tty', '-S', '/s', '-c', '/c', 'status', '-x', 'externals'])], []],
    ['git status', [cp(1, 'git', ['-c', 'a=b', 'status'])], [1]],
    ['git rev-parse after -c', [cp(1, 'git', ['-c', 'safe.directory=*', 'rev-parse', 'HEAD'])], []],
    ['git fetch', [cp(1, 'git', ['fetch', 'origin'])], [1]],
    ['git log --output', [cp(1, 'git', ['log', '-1', '--output=/tmp/x'])], [1]],
    ['nix, unknown', [cp(1, 'nix', ['path-info', '/nix/store/x'])], [1]],
    ['in order', [cp(1), cp(2, 'getent', ['passwd', 'x']), cp(3, 'jj', ['new']), cp(4)], [1, 3, 4]],
  ])('%s', (_name, points, want) => {
    expect(killPoints(points)).toEqual(want);
  });
});
