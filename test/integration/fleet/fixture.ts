/**
 * What the fleet tests share: a bare status remote, SSH host keys made with
 * the real ssh-keygen, an allowed-signers file, turning fleet publishing on
 * in a simulated host's config, and hand-made status commits pushed with
 * plain git (for the bad-input cases and forgeries).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run } from '../../harness/exec.js';
import type { FleetHost } from '../../harness/fleet.js';

/** A bare repository for the status refs (world-writable, like the other test remotes). */
export async function createStatusRemote(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const url = join(dir, 'status.git');
  await run('git', ['init', '-q', '--bare', '--shared=all', url], { cwd: dir });
  return url;
}

/** An ed25519 key pair as sshd's host key would be (`ssh-keygen -t ed25519 -N ''`); returns the private key path. */
export async function makeHostKey(dir: string, comment: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const key = join(dir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', key]);
  await chmod(key, 0o600);
  return key;
}

/** An allowed-signers file (ssh-keygen(1) ALLOWED SIGNERS) naming each host by its public key. */
export async function writeAllowedSigners(file: string, keys: Readonly<Record<string, string>>): Promise<void> {
  const lines: string[] = [];
  for (const [host, key] of Object.entries(keys)) {
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    lines.push(`${host} namespaces="git" ${pub}`);
  }
  await writeFile(file, `${lines.join('\n')}\n`);
}

/** Merge `fleet` settings (and any other top-level keys) into a host's config file. */
export async function configureHost(h: FleetHost, extra: Record<string, unknown>): Promise<void> {
  const cfg = JSON.parse(await readFile(h.config, 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(extra)) {
    const cur = cfg[k];
    cfg[k] =
      typeof cur === 'object' && cur !== null && typeof v === 'object' && v !== null && !Array.isArray(v)
        ? { ...cur, ...v }
        : v;
  }
  await writeFile(h.config, `${JSON.stringify(cfg, null, 2)}\n`);
}

/**
 * Signed publishing for every host of a fleet: an SSH host key each
 * (`makeHostKey` under the host's etc/ssh), one allowed-signers file naming
 * them all (`<dir>/allowed_signers`), and each host's config given `fleet`
 * (publishing on, the status remote, its own key, the signers, a 1 h
 * heartbeat), merged with `extra(h)`: its `fleet` keys are added to these,
 * its other top-level keys merged as `configureHost` does.
 * Returns each host's private key path by name, and the signers file.
 */
export async function signFleet(o: {
  hosts: readonly FleetHost[];
  dir: string;
  remote: string;
  extra?: (h: FleetHost) => Record<string, unknown>;
}): Promise<{ keys: Record<string, string>; signers: string }> {
  const keys: Record<string, string> = {};
  for (const h of o.hosts) keys[h.name] = await makeHostKey(join(h.sim.root, 'etc', 'ssh'), `root@${h.name}`);
  const signers = join(o.dir, 'allowed_signers');
  await writeAllowedSigners(signers, keys);
  for (const h of o.hosts) {
    const { fleet, ...rest } = o.extra?.(h) ?? {};
    await configureHost(h, {
      fleet: {
        enable: true,
        statusRemote: o.remote,
        heartbeatSec: 3600,
        signingKey: keys[h.name],
        allowedSignersFile: signers,
        ...(typeof fleet === 'object' && fleet !== null ? fleet : {}),
      },
      ...rest,
    });
  }
  return { keys, signers };
}

const RAW_ENV = {
  GIT_AUTHOR_NAME: 'raw',
  GIT_AUTHOR_EMAIL: 'raw@test.invalid',
  GIT_COMMITTER_NAME: 'raw',
  GIT_COMMITTER_EMAIL: 'raw@test.invalid',
};

/**
 * Push a hand-made status commit with plain git: a tree of `files`, no
 * parent (or `parent`), signed with `signingKey` when given. Returns the commit.
 */
export async function pushRawStatus(o: {
  scratch: string;
  remote: string;
  ref: string;
  files: Readonly<Record<string, string | Buffer>>;
  signingKey?: string;
  parent?: string;
}): Promise<string> {
  const gd = join(o.scratch, 'raw.git');
  await run('git', ['init', '-q', '--bare', gd], { cwd: o.scratch });
  // A name "dir/file" makes a directory "dir" holding "file" (one level).
  const entries: string[] = [];
  const subdirs = new Map<string, string[]>();
  for (const [name, content] of Object.entries(o.files)) {
    const tmp = join(o.scratch, 'blob');
    await writeFile(tmp, content);
    const blob = (await run('git', ['--git-dir', gd, 'hash-object', '-w', tmp])).stdout.trim();
    const slash = name.indexOf('/');
    if (slash < 0) entries.push(`100644 blob ${blob}\t${name}`);
    else {
      const dir = name.slice(0, slash);
      subdirs.set(dir, [...(subdirs.get(dir) ?? []), `100644 blob ${blob}\t${name.slice(slash + 1)}`]);
    }
  }
  for (const [dir, inner] of subdirs) {
    const sub = (await run('git', ['--git-dir', gd, 'mktree'], { input: `${inner.join('\n')}\n` })).stdout.trim();
    entries.push(`040000 tree ${sub}\t${dir}`);
  }
  const tree = (await run('git', ['--git-dir', gd, 'mktree'], { input: `${entries.join('\n')}\n` })).stdout.trim();
  const sign = o.signingKey === undefined ? [] : ['-c', 'gpg.format=ssh', '-c', `user.signingKey=${o.signingKey}`];
  const args = [...sign, '--git-dir', gd, 'commit-tree', ...(o.signingKey === undefined ? [] : ['-S'])];
  if (o.parent !== undefined) {
    await run('git', ['--git-dir', gd, 'fetch', '-q', o.remote, o.parent]);
    args.push('-p', o.parent);
  }
  const commit = (await run('git', [...args, '-m', 'raw status', tree], { env: RAW_ENV })).stdout.trim();
  await run('git', ['--git-dir', gd, 'push', '-q', '--force', o.remote, `${commit}:${o.ref}`]);
  return commit;
}

/**
 * Point `ref` at a remote at a bare object instead of a commit: a blob of
 * `content`, or a tree holding it as status.json (git accepts any object
 * under refs/gitopsd/; it refuses a non-commit only under refs/heads/).
 * Returns the object id.
 */
export async function pushRawObject(o: {
  scratch: string;
  remote: string;
  ref: string;
  type: 'blob' | 'tree';
  content: string;
}): Promise<string> {
  const gd = join(o.scratch, 'raw.git');
  await run('git', ['init', '-q', '--bare', gd], { cwd: o.scratch });
  const blob = (
    await run('git', ['--git-dir', gd, 'hash-object', '-w', '--stdin'], { input: o.content })
  ).stdout.trim();
  const id =
    o.type === 'blob'
      ? blob
      : (await run('git', ['--git-dir', gd, 'mktree'], { input: `100644 blob ${blob}\tstatus.json\n` })).stdout.trim();
  await run('git', ['--git-dir', gd, 'push', '-q', '--force', o.remote, `${id}:${o.ref}`]);
  return id;
}

/** The refs of a remote, as `ref -> commit`. */
export async function remoteRefs(remote: string): Promise<Record<string, string>> {
  // cwd: outside any repository (a worktree's .git file may point outside the test bed).
  const r = await run('git', ['ls-remote', remote], { cwd: tmpdir() });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const [sha, ref] = line.split('\t');
    if (sha !== undefined && ref !== undefined) out[ref] = sha;
  }
  return out;
}

/** The status.json a ref points at in a remote, parsed. */
export async function readRemoteStatus(scratch: string, remote: string, ref: string): Promise<Record<string, unknown>> {
  const gd = join(scratch, `read-${Date.now()}-${Math.random().toString(36).slice(2)}.git`);
  await run('git', ['init', '-q', '--bare', gd], { cwd: scratch });
  await run('git', ['--git-dir', gd, 'fetch', '-q', remote, `+${ref}:refs/x`]);
  const tree = (await run('git', ['--git-dir', gd, 'ls-tree', '--name-only', 'refs/x'])).stdout.trim().split('\n');
  if (tree.join(',') !== 'status.json') throw new Error(`the status commit's tree holds ${tree.join(', ')}`);
  const parents = (await run('git', ['--git-dir', gd, 'rev-list', '--parents', '-n1', 'refs/x'])).stdout
    .trim()
    .split(' ');
  if (parents.length !== 1) throw new Error(`the status commit has parents: ${parents.slice(1).join(' ')}`);
  return JSON.parse((await run('git', ['--git-dir', gd, 'cat-file', 'blob', 'refs/x:status.json'])).stdout) as Record<
    string,
    unknown
  >;
}
