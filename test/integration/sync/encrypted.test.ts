/**
 * Issue 14, "encrypted files get advice that works": a same-line conflict in
 * an age-encrypted source file, with real age encryption (chezmoi's builtin
 * age: the test bed has no `age` binary, and chezmoi uses its own
 * implementation then; the identity comes from `chezmoi age-keygen`). The
 * sync parks it; then the steps `sync conflicts` prints are run as a person
 * runs them, in one shell, and the result must reach both hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import {
  chezmoiArgs,
  makeHost,
  makeRemote,
  readHome,
  remoteRefs,
  remoteTree,
  syncExpect,
  syncStoppedAt,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

const TOKEN = 'encrypted_private_dot_token.age';
const BASE = 'user=me\ntoken=t0\nscope=read\n';
const FROM_A = 'user=me\ntoken=tA\nscope=read\n';
const FROM_B = 'user=me\ntoken=tB\nscope=read\n';
const MERGED = 'user=me\ntoken=tA-and-tB\nscope=read\n';

/** chezmoi's age settings (docs user-guide/encryption/age): one identity, its recipient. */
function ageToml(identity: string, recipient: string): string {
  return `encryption = "age"\n[age]\n    identity = "${identity}"\n    recipient = "${recipient}"\n`;
}

async function decrypt(config: string, ciphertext: string): Promise<string> {
  return (await run('chezmoi', ['--no-tty', '-c', config, 'decrypt'], { input: ciphertext })).stdout;
}

describe('a parked conflict in an age-encrypted file, resolved by following `sync conflicts`', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;
  let shared: string;

  beforeAll(async () => {
    const keys = await tempDir('sync-age');
    const identity = join(keys, 'key.txt');
    await run('chezmoi', ['age-keygen', `--output=${identity}`]);
    const recipient = /^# public key: (age1\S+)$/m.exec(await readFile(identity, 'utf8'))?.[1];
    if (recipient === undefined) throw new Error(`no public key line in ${identity}`);
    shared = join(keys, 'chezmoi.toml');
    await writeFile(shared, ageToml(identity, recipient));
    await writeFile(join(keys, 'base'), BASE);
    const ciphertext = (await run('chezmoi', ['--no-tty', '-c', shared, 'encrypt', join(keys, 'base')])).stdout;
    remote = await makeRemote({ [TOKEN]: ciphertext, dot_plain: 'p1\n' });
    a = await makeHost(remote, 'hosta');
    b = await makeHost(remote, 'hostb');
    // One person, one key: both hosts' chezmoi config names it.
    for (const h of [a, b]) await writeFile(h.chezmoiConfig, ageToml(identity, recipient));
    await syncExpect(a, 0);
    await syncExpect(b, 0);
  });

  it('parks the conflict with no marker and no ciphertext in $HOME', async () => {
    expect(await readHome(a, '.token')).toBe(BASE);
    expect(await readHome(b, '.token')).toBe(BASE);
    await writeFile(join(a.home, '.token'), FROM_A);
    await writeFile(join(b.home, '.token'), FROM_B);
    await syncExpect(a, 0);
    expect(await decrypt(shared, (await remoteTree(remote)).get(TOKEN) ?? '')).toBe(FROM_A);
    const r = await syncExpect(b, 1);
    expect(r.json?.['kind']).toBe('conflict-parked');
    expect(r.stdout).toContain(TOKEN);
    // $HOME keeps the local plaintext, byte for byte: no marker, no armor.
    expect(await readHome(b, '.token')).toBe(FROM_B);
    expect(await decrypt(shared, (await remoteTree(remote, 'sync/hostb')).get(TOKEN) ?? '')).toBe(FROM_B);
  });

  it('the printed steps, run literally, push an encrypted merge that both hosts apply', async () => {
    const c = await runCli(['sync', 'conflicts', '--config', b.config, '--json']);
    expect(c.exitCode).toBe(0);
    const { paths, steps } = JSON.parse(c.stdout) as { paths: string[]; steps: string[] };
    expect(paths).toEqual([TOKEN]);
    // The person: at "merge X and Y into Z" they look at both sides and write
    // the merge; every other line is typed as printed (comments included).
    const seen = await tempDir('sync-age-seen');
    const script = steps.map((s) => {
      const m = /^# merge (".+") and (".+") into (".+"), then:$/.exec(s);
      if (m === null) return s;
      return `cp ${m[1]} '${seen}/remote' && cp ${m[2]} '${seen}/local' && printf '%s' '${MERGED}' > ${m[3]}`;
    });
    script.push(`jj resolve --list > '${seen}/resolve' 2>&1 || true`);
    const person = await tryRun('sh', ['-e', '-c', script.join('\n')], {
      env: { HOME: b.home, JJ_CONFIG: '', JJ_USER: 'person', JJ_EMAIL: 'person@example.invalid', JJ_EDITOR: 'false' },
    });
    expect(person.stderr).not.toMatch(/^Error:/m);
    expect(person.exitCode).toBe(0);
    expect(await readFile(join(seen, 'remote'), 'utf8')).toBe(FROM_A);
    expect(await readFile(join(seen, 'local'), 'utf8')).toBe(FROM_B);
    expect(await readFile(join(seen, 'resolve'), 'utf8')).toContain('No conflicts');
    const main = (await remoteTree(remote)).get(TOKEN) ?? '';
    expect(main).toContain('-----BEGIN AGE ENCRYPTED FILE-----');
    expect(main).not.toContain('tA-and-tB');
    expect(await decrypt(shared, main)).toBe(MERGED);

    const rb = await syncExpect(b, 0);
    expect(rb.json?.['kind']).toBe('ok');
    expect(await readHome(b, '.token')).toBe(MERGED);
    await syncExpect(a, 0);
    expect(await readHome(a, '.token')).toBe(MERGED);
    expect(await remoteRefs(remote)).not.toContain('refs/heads/sync/hostb');
    const after = await runCli(['sync', 'conflicts', '--config', b.config, '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ parked: null, paths: [] });
    expect(await decrypt(shared, (await remoteTree(remote)).get(TOKEN) ?? '')).toBe(MERGED);
  });

  it('an edit here while a change from another host waits unapplied is not line-merged against ciphertext: the reason says encrypted, and its advice works (review 13b, W2)', async () => {
    const fromA = MERGED.replace('user=me', 'user=A');
    const fromB = MERGED.replace('scope=read', 'scope=B');
    await writeFile(join(a.home, '.token'), fromA);
    await syncExpect(a, 0);
    // b's edit lands after its capture: apply defers it, the source is ahead.
    const stopped = await syncStoppedAt(b, 'cmd:chezmoi managed', () => writeFile(join(b.home, '.token'), fromB));
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const r = await syncExpect(b, 1);
    expect(r.json?.['uncapturable']).toEqual([
      { target: '.token', code: 'M', why: expect.stringContaining(`encrypted (${TOKEN})`) as unknown },
    ]);
    expect(await readHome(b, '.token')).toBe(fromB);
    // As the reason says: merge the other side in by hand, then re-add.
    const both = 'user=A\ntoken=tA-and-tB\nscope=B\n';
    await writeFile(join(b.home, '.token'), both);
    await run('chezmoi', [...chezmoiArgs(b), 're-add', join(b.home, '.token')]);
    await syncExpect(b, 0);
    expect(await decrypt(shared, (await remoteTree(remote)).get(TOKEN) ?? '')).toBe(both);
  });
});
