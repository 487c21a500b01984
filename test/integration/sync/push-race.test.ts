import { afterAll, describe, expect, it } from 'vitest';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import { jjIn, makeHost, makeRemote, readHome, remoteTree, syncExpect, syncStoppedAt, type Remote } from './fixture.js';

afterAll(removeTempDirs);

/**
 * A `pre-receive` hook in the bare remote plays another host pushing in the
 * instant between our fetch and our push: while it has moves left (a count
 * in a file beside the remote) it commits a new file `dot_racer<N>` on main
 * itself and lets the push go on, so receive-pack finds main moved and
 * refuses our lease. Objects and the ref are written outside the push's
 * quarantine, so they survive the refused push.
 */
async function installRacer(remote: Remote, moves: number): Promise<string> {
  const counter = join(remote.dir, 'racer-moves-left');
  await writeFile(counter, `${moves}\n`);
  const hook = join(remote.url, 'hooks', 'pre-receive');
  await writeFile(
    hook,
    `#!/bin/sh
set -e
left=$(cat '${counter}')
[ "$left" -gt 0 ] || exit 0
echo $((left - 1)) > '${counter}'
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
n=$(git rev-list --count main)
blob=$(echo "racer $n" | git hash-object -w --stdin)
idx=$(mktemp)
rm -f "$idx"
GIT_INDEX_FILE=$idx git read-tree main
GIT_INDEX_FILE=$idx git update-index --add --cacheinfo 100644,$blob,dot_racer$n
tree=$(GIT_INDEX_FILE=$idx git write-tree)
rm -f "$idx"
old=$(git rev-parse main)
c=$(GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=r@x GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=r@x git commit-tree "$tree" -p "$old" -m "racer $n")
git update-ref refs/heads/main "$c" "$old"
`,
  );
  await chmod(hook, 0o755);
  return counter;
}

// Issue 5 item 2: the remote moves between fetch and push; the sync fetches
// and retries, at most dotfiles.maxPushRetries times, and never loses an edit.
describe('the remote moves between fetch and push', () => {
  it('retries once and lands both the racing commit and the local edit on main', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\na2\n' });
    const a = await makeHost(remote, 'hosta', { extra: { maxPushRetries: 3 } });
    await syncExpect(a, 0);
    const counter = await installRacer(remote, 1);
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-a\n');
    const r = await syncExpect(a, 0);
    expect(r.json?.['pushed']).toEqual(['main']);
    // The hook fired exactly once: the first push was the one that lost.
    expect((await readFile(counter, 'utf8')).trim()).toBe('0');
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-from-a\n');
    expect([...main.keys()].filter((k) => k.startsWith('dot_racer'))).toHaveLength(1);
    // The racing commit is an ancestor of main, not overwritten.
    const log = (await run('git', ['--git-dir', remote.url, 'log', '--format=%s', 'main'])).stdout;
    expect(log).toMatch(/^racer /m);
    // And the racer's file reached $HOME through the apply after the retry.
    const racer = [...main.keys()].find((k) => k.startsWith('dot_racer')) ?? 'none';
    expect(await readHome(a, racer.replace(/^dot_/, '.'))).toBe(main.get(racer));
  });

  it('gives up after maxPushRetries with push-failed (1), keeps the edit, and pushes it later', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\na2\n' });
    const a = await makeHost(remote, 'hosta', { extra: { maxPushRetries: 2 } });
    await syncExpect(a, 0);
    const counter = await installRacer(remote, 100);
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-kept\n');
    const r = await syncExpect(a, 1);
    expect(r.json?.['kind']).toBe('push-failed');
    expect(String(r.json?.['message'])).toContain('2 push attempts');
    // Exactly maxPushRetries attempts reached the remote.
    expect((await readFile(counter, 'utf8')).trim()).toBe('98');
    expect((await remoteTree(remote)).get('dot_alpha')).toBe('a1\na2\n');
    // Nothing lost: the edit is in a local commit and still in $HOME.
    const local = await jjIn(a, ['file', 'show', '-r', '@-', 'dot_alpha']);
    expect(local).toBe('a1\nA2-kept\n');
    expect(await readHome(a, '.alpha')).toBe('a1\nA2-kept\n');
    // The racer stops; the next sync pushes the kept edit on top of its commits.
    await rm(join(remote.url, 'hooks', 'pre-receive'));
    const back = await syncExpect(a, 0);
    expect(back.json?.['pushed']).toEqual(['main']);
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-kept\n');
    expect([...main.keys()].filter((k) => k.startsWith('dot_racer'))).toHaveLength(2);
  });
});

// Review 6, D0: a person's fetch between the sync's guard and the sync's own
// fetch moves main@origin, and the sync's fetch then says "Nothing changed".
// The guard's view of the remote is stale: reusing it would move main
// sideways and push it over the other host's commit.
describe("a person's fetch between the guard and the sync's fetch", () => {
  it("integrates the other host's commit instead of pushing main over it", async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\n', dot_beta: 'b1\n' });
    const a = await makeHost(remote, 'hosta');
    const b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    await writeFile(join(b.home, '.beta'), 'b1\nfrom-b\n');
    await syncExpect(b, 0);
    await writeFile(join(a.home, '.alpha'), 'a1\nfrom-a\n');
    // The person runs `jj git fetch` in the source dir while the sync is stopped.
    const r = await syncStoppedAt(a, 'cmd:jj git fetch', () => jjIn(a, ['git', 'fetch']));
    expect(r.exitCode, r.stderr).toBe(0);
    const main = await remoteTree(remote);
    expect(main.get('dot_beta')).toBe('b1\nfrom-b\n');
    expect(main.get('dot_alpha')).toBe('a1\nfrom-a\n');
    expect(await readHome(a, '.beta')).toBe('b1\nfrom-b\n');
  }, 300_000);
});
