/**
 * What B8 (fleet read) and B9 (fleet publish) share: 1,000 minimal host
 * configs publishing to one bare status remote, the plain-git publisher
 * that is B9's baseline, a seeding of status refs with one `git
 * fast-import` (B8's remote), the check that every ref holds its own host's
 * parentless status commit, and the CPU time of this process's children.
 *
 * Transport: both sides use the same `file://` URL of a bare repository on
 * the test bed's tmpfs (git's local transport spawns upload-pack /
 * receive-pack, as ssh would on the far side). The issue asked for
 * loopback; gitopsd refuses git:// (src/core/git-hardening.ts), and no sshd
 * runs in the test bed, so no network transport is measured.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { gitopsdBin } from './common.js';

/** Host names of the simulated fleet: h0001 … hNNNN. */
export const hostName = (i: number): string => `h${String(i + 1).padStart(4, '0')}`;

export const STATUS_PREFIX = 'refs/gitopsd/status/';

export interface ScaleHost {
  name: string;
  /** The host's gitopsd config file. */
  config: string;
  stateDir: string;
}

/** One publish: ok, the commit it reports (full or a 12-hex prefix), its wall time, the error. */
export interface PublishResult {
  host: string;
  ok: boolean;
  commit: string | null;
  ms: number;
  error: string | null;
}

export interface RoundResult {
  wallMs: number;
  /** CPU time (user + sys) of the processes the round spawned, their children included. */
  cpuMs: number;
  /**
   * CPU time (user + sys) of this process during the round (process.cpuUsage):
   * what driving the round cost here (execa for the plain publisher, the whole
   * publish step for the in-process gitopsd round).
   */
  selfCpuMs: number;
  results: PublishResult[];
  errors: PublishResult[];
}

/** git(1) as a plain tool: argv, no shell, a timeout; throws with the stderr tail on failure. */
export async function git(
  args: readonly string[],
  o: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<string> {
  const r = await execa('git', args, {
    reject: false,
    timeout: 300_000,
    cwd: o.cwd ?? '/',
    ...(o.input === undefined ? { stdin: 'ignore' as const } : { input: o.input }),
    ...(o.env === undefined ? {} : { env: o.env }),
  });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')} exited ${String(r.exitCode)}: ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** A bare repository (the status remote); returns its file:// URL. */
export async function createBareRemote(path: string): Promise<string> {
  await git(['init', '-q', '--bare', path]);
  return `file://${path}`;
}

/** The path of a file:// URL. */
export const urlPath = (url: string): string => url.replace(/^file:\/\//, '');

/**
 * CPU time (ms, user + sys) of this process's terminated, waited-for
 * children and their own waited-for children: proc(5) /proc/self/stat
 * fields 16 and 17 (cutime, cstime), in clock ticks (USER_HZ = 100 on Linux).
 */
export async function childCpuMs(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); cutime is field 16, cstime field 17.
  const cutime = Number(rest[13]);
  const cstime = Number(rest[14]);
  return ((cutime + cstime) * 1000) / 100;
}

/** Run `fn` on every item, at most `concurrency` at a time; results in item order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const item = items[i];
      if (i >= items.length || item === undefined) return;
      out[i] = await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/**
 * `n` minimal host configs: hostname, stateDir, a nixConfig path (no
 * checkout there: status says "no-checkout"), host paths inside the host's
 * own directory (no system profile: the simulated hosts run nothing), and
 * fleet publishing to `remote`. publishTimeoutSec is raised from 30 to 300:
 * 50 publishes at once on 2 shared cores take longer than 30 s each under
 * load; the per-publish wall times are reported, so a host that would have
 * passed the default deadline shows there.
 */
export async function writeHostConfigs(dir: string, n: number, remote: string): Promise<ScaleHost[]> {
  const hosts: ScaleHost[] = [];
  for (let i = 0; i < n; i++) {
    const name = hostName(i);
    const root = join(dir, name);
    await mkdir(root, { recursive: true });
    const config = join(root, 'config.json');
    const stateDir = join(root, 'state');
    const cfg = {
      hostname: name,
      stateDir,
      nixConfig: { path: join(root, 'nix-config') },
      paths: {
        systemProfile: join(root, 'profiles', 'system'),
        currentSystem: join(root, 'run', 'current-system'),
        bootedSystem: join(root, 'run', 'booted-system'),
        gcRootsDir: join(root, 'gcroots'),
        uptimeFile: '/proc/uptime',
      },
      fleet: { enable: true, statusRemote: remote, publishTimeoutSec: 300 },
    };
    await writeFile(config, `${JSON.stringify(cfg, null, 2)}\n`);
    hosts.push({ name, config, stateDir });
  }
  return hosts;
}

/** One `gitopsd fleet publish --force` of a host, as a result (never throws). */
export async function gitopsdPublish(h: ScaleHost, env: Record<string, string> = {}): Promise<PublishResult> {
  const t0 = performance.now();
  const r = await execa('node', [gitopsdBin(), 'fleet', 'publish', '--force', '--config', h.config], {
    reject: false,
    env: { GITOPSD_CONFIG: undefined, ...env },
    stdin: 'ignore',
    timeout: 600_000,
  });
  const ms = performance.now() - t0;
  const m = /^published ([0-9a-f]{12}) to /m.exec(String(r.stdout));
  if (r.exitCode === 0 && m?.[1] !== undefined) return { host: h.name, ok: true, commit: m[1], ms, error: null };
  const error = `exit ${String(r.exitCode)}: ${`${String(r.stdout)} ${String(r.stderr)}`.trim().split('\n').at(-1) ?? ''}`;
  return { host: h.name, ok: false, commit: null, ms, error: error.slice(0, 300) };
}

/**
 * `node -e 0` in place of a publish: what any publisher written for node
 * costs before it does any work (B9's floor). Never fails a round unless
 * node cannot start.
 */
export async function nodeOnly(h: ScaleHost): Promise<PublishResult> {
  const t0 = performance.now();
  const r = await execa('node', ['-e', '0'], { reject: false, stdin: 'ignore', timeout: 600_000 });
  const ms = performance.now() - t0;
  return r.exitCode === 0
    ? { host: h.name, ok: true, commit: null, ms, error: null }
    : { host: h.name, ok: false, commit: null, ms, error: `node -e 0 exited ${String(r.exitCode)}` };
}

/** A round: every host publishes once, `concurrency` at a time. */
export async function round(
  hosts: readonly ScaleHost[],
  concurrency: number,
  publish: (h: ScaleHost) => Promise<PublishResult>,
): Promise<RoundResult> {
  const cpu0 = await childCpuMs();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const results = await pool(hosts, concurrency, publish);
  const wallMs = performance.now() - t0;
  const self = process.cpuUsage(self0);
  const cpuMs = (await childCpuMs()) - cpu0;
  return { wallMs, cpuMs, selfCpuMs: (self.user + self.system) / 1000, results, errors: results.filter((r) => !r.ok) };
}

/**
 * gitopsd's publish step as a run calls it: the after-run's `publishNow`
 * (src/report/after-run.ts: the status report, then publishStatus from
 * src/fleet/publish.ts, the same code as `gitopsd fleet publish` and as every
 * run's after-run), called in this process, from the build being measured
 * (its tsc output, dist/, next to the bin the benchmark runs). Each host's
 * deps (its config file read and checked, its logger, runner and state
 * store) are built before the round starts, as a run has them before its
 * after-run; the logger writes warnings only (one "published" info line per
 * host would fill the benchmark's output). What a publish costs here: the
 * status report, the document, the git processes, the state writes, all in
 * this process's CPU and its children's, as the plain publisher's execa
 * calls are.
 */
export async function stepPublisher(hosts: readonly ScaleHost[]): Promise<(h: ScaleHost) => Promise<PublishResult>> {
  const dist = join(dirname(dirname(gitopsdBin())), 'dist');
  const [{ createDeps }, { publishNow }] = (await Promise.all([
    import(pathToFileURL(join(dist, 'core', 'deps.js')).href),
    import(pathToFileURL(join(dist, 'report', 'after-run.js')).href),
  ])) as [
    { createDeps: (o: { configPath: string; logLevel: string; env: NodeJS.ProcessEnv }) => unknown },
    {
      publishNow: (
        deps: unknown,
        o: { force: boolean },
      ) => Promise<{ kind: 'published'; commit: string } | { kind: 'failed'; error: string } | { kind: string }>;
    },
  ];
  const env = { ...process.env };
  delete env['GITOPSD_CONFIG'];
  const deps = new Map(hosts.map((h) => [h.name, createDeps({ configPath: h.config, logLevel: 'warn', env })]));
  return async (h) => {
    const t0 = performance.now();
    try {
      const o = await publishNow(deps.get(h.name), { force: true });
      const ms = performance.now() - t0;
      if (o.kind === 'published' && 'commit' in o) return { host: h.name, ok: true, commit: o.commit, ms, error: null };
      const error = 'error' in o ? o.error : `outcome ${o.kind}`;
      return { host: h.name, ok: false, commit: null, ms, error: error.slice(0, 300) };
    } catch (err) {
      return { host: h.name, ok: false, commit: null, ms: performance.now() - t0, error: (err as Error).message };
    }
  };
}

/** status.json of `host` made from a real gitopsd document: same fields and size, its own host name. */
export function statusFor(template: Record<string, unknown>, host: string, at: Date): string {
  return `${JSON.stringify({ ...template, host, publishedAt: at.toISOString() }, null, 1)}\n`;
}

const IDENT = (host: string, at: Date): Record<string, string> => {
  const date = `@${Math.floor(at.getTime() / 1000)} +0000`;
  return {
    GIT_AUTHOR_NAME: `plain (${host})`,
    GIT_AUTHOR_EMAIL: `plain@${host}`,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: `plain (${host})`,
    GIT_COMMITTER_EMAIL: `plain@${host}`,
    GIT_COMMITTER_DATE: date,
  };
};

/**
 * B9's baseline: what a host must do at least to publish with plain git.
 * The first time, `git init --bare` of the host's own repository (gitopsd
 * makes its publish.git on the first publish too); then hash-object,
 * mktree, a parentless commit-tree, and a push with a lease on this host's
 * ref only (expected value: the host's last pushed commit, '' the first
 * time, which gitopsd reads with ls-remote instead).
 */
export function plainPublisher(o: {
  dir: string;
  remote: string;
  template: Record<string, unknown>;
  /** host -> the commit this host last pushed; updated on success. */
  leases: Map<string, string>;
}): (h: ScaleHost) => Promise<PublishResult> {
  return async (h) => {
    const t0 = performance.now();
    const gd = join(o.dir, `${h.name}.git`);
    const ref = `${STATUS_PREFIX}${h.name}`;
    try {
      const lease = o.leases.get(h.name);
      if (lease === undefined) await git(['init', '-q', '--bare', gd]);
      const at = new Date();
      const blob = (
        await git(['--git-dir', gd, 'hash-object', '-w', '--stdin'], { input: statusFor(o.template, h.name, at) })
      ).trim();
      const tree = (await git(['--git-dir', gd, 'mktree'], { input: `100644 blob ${blob}\tstatus.json\n` })).trim();
      const commit = (
        await git(['--git-dir', gd, 'commit-tree', '-m', `plain status of ${h.name}`, tree], {
          env: IDENT(h.name, at),
        })
      ).trim();
      await git([
        '--git-dir',
        gd,
        'push',
        '--quiet',
        '--porcelain',
        '--no-verify',
        `--force-with-lease=${ref}:${lease ?? ''}`,
        '--',
        o.remote,
        `${commit}:${ref}`,
      ]);
      o.leases.set(h.name, commit);
      return { host: h.name, ok: true, commit, ms: performance.now() - t0, error: null };
    } catch (err) {
      return {
        host: h.name,
        ok: false,
        commit: null,
        ms: performance.now() - t0,
        error: (err as Error).message.slice(0, 300),
      };
    }
  };
}

/** What the check of a remote's status refs found. */
export interface RefCheck {
  refs: number;
  /** Refs whose status.json parses as JSON and names the ref's own host. */
  good: number;
  /** One line per problem (a missing ref, another commit than reported, a parent, a bad tree or document). */
  problems: string[];
}

/** The entries of a git tree object (git's tree format: "<mode> <name>\0<binary id>"). */
function treeNames(raw: Buffer, idBytes: number): string[] {
  const names: string[] = [];
  let pos = 0;
  while (pos < raw.length) {
    const nul = raw.indexOf(0, pos);
    if (nul < 0) break;
    const entry = raw.subarray(pos, nul).toString('utf8');
    names.push(entry.slice(entry.indexOf(' ') + 1));
    pos = nul + 1 + idBytes;
  }
  return names;
}

/**
 * Check every host's ref at the remote (read directly in the bare repository
 * with one `git for-each-ref` and one `git cat-file --batch`): it exists, it
 * is the commit the publisher reported, the commit has no parent, its tree
 * holds only status.json, and status.json parses and names the host.
 */
export async function checkStatusRefs(remote: string, expected: ReadonlyMap<string, string | null>): Promise<RefCheck> {
  const gd = urlPath(remote);
  const listed = await git(['--git-dir', gd, 'for-each-ref', '--format=%(objectname) %(refname)', STATUS_PREFIX]);
  const refs = new Map<string, string>();
  for (const line of listed.split('\n')) {
    const [sha, ref] = line.split(' ');
    if (sha !== undefined && ref !== undefined) refs.set(ref.slice(STATUS_PREFIX.length), sha);
  }
  const problems: string[] = [];
  const hosts = [...expected.keys()].filter((h) => refs.has(h));
  for (const [h, reported] of expected) {
    const sha = refs.get(h);
    if (sha === undefined) problems.push(`${h}: no ref at the remote (publish lost)`);
    else if (reported !== null && !sha.startsWith(reported))
      problems.push(`${h}: the ref is ${sha}, the publisher reported ${reported}`);
  }
  for (const h of refs.keys()) if (!expected.has(h)) problems.push(`${h}: a ref nobody published`);
  const names = hosts.flatMap((h) => [
    `${STATUS_PREFIX}${h}`,
    `${STATUS_PREFIX}${h}^{tree}`,
    `${STATUS_PREFIX}${h}:status.json`,
  ]);
  const r = await execa('git', ['--git-dir', gd, 'cat-file', '--batch'], {
    input: `${names.join('\n')}\n`,
    encoding: 'buffer',
    reject: false,
    timeout: 300_000,
    cwd: '/',
  });
  if (r.exitCode !== 0) throw new Error(`git cat-file --batch in ${gd} exited ${String(r.exitCode)}`);
  const buf = Buffer.from(r.stdout);
  const objects = new Map<string, { type: string; body: Buffer } | null>();
  let pos = 0;
  for (const name of names) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const header = buf.subarray(pos, nl).toString('utf8').split(' ');
    if (header[1] === 'missing' || header.length < 3) {
      objects.set(name, null);
      pos = nl + 1;
      continue;
    }
    const size = Number(header[2]);
    objects.set(name, { type: header[1] ?? '', body: buf.subarray(nl + 1, nl + 1 + size) });
    pos = nl + 1 + size + 1;
  }
  let good = 0;
  for (const h of hosts) {
    const commit = objects.get(`${STATUS_PREFIX}${h}`);
    const tree = objects.get(`${STATUS_PREFIX}${h}^{tree}`);
    const blob = objects.get(`${STATUS_PREFIX}${h}:status.json`);
    if (commit?.type !== 'commit') {
      problems.push(`${h}: the ref is not a commit`);
      continue;
    }
    const header = commit.body.toString('utf8').split('\n\n')[0] ?? '';
    if (/^parent /m.test(header)) problems.push(`${h}: the status commit has a parent`);
    const files = tree === null || tree === undefined ? [] : treeNames(tree.body, 20);
    if (files.join(',') !== 'status.json') problems.push(`${h}: the tree holds ${files.join(', ') || 'nothing'}`);
    if (blob === null || blob === undefined) {
      problems.push(`${h}: no status.json`);
      continue;
    }
    try {
      const doc = JSON.parse(blob.body.toString('utf8')) as { host?: unknown; v?: unknown };
      if (doc.host !== h) problems.push(`${h}: status.json names host ${JSON.stringify(doc.host)}`);
      else if (doc.v !== 1) problems.push(`${h}: status.json has v ${JSON.stringify(doc.v)}`);
      else good++;
    } catch (err) {
      problems.push(`${h}: status.json does not parse (${(err as Error).message})`);
    }
  }
  return { refs: refs.size, good, problems };
}

/**
 * A real status document: one host publishes once with gitopsd to a scratch
 * remote, and its status.json is read back. The baseline and B8's seeded
 * refs use it (with their own host name), so their documents have the
 * same fields and size as gitopsd's.
 */
export async function templateStatus(dir: string): Promise<Record<string, unknown>> {
  const remote = await createBareRemote(join(dir, 'template-status.git'));
  const [h] = await writeHostConfigs(join(dir, 'template-hosts'), 1, remote);
  if (h === undefined) throw new Error('no template host');
  const r = await gitopsdPublish(h);
  if (!r.ok) throw new Error(`the template publish failed: ${r.error ?? ''}`);
  const text = await git(['--git-dir', urlPath(remote), 'cat-file', 'blob', `${STATUS_PREFIX}${h.name}:status.json`]);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Write status refs for `hosts` (and, when `main`, a one-file commit on
 * refs/heads/main) into a bare repository with one `git fast-import`:
 * each status ref a parentless commit of a status.json made from
 * `template`. A commit without a `from` line on a new ref has no parent
 * (git-fast-import(1)). Dates are fixed, so `main` is the same commit in
 * every remote seeded with it.
 */
export async function seedRemote(
  remote: string,
  o: { hosts: readonly string[]; template: Record<string, unknown> | null; main: boolean; at: Date },
): Promise<void> {
  const parts: string[] = [];
  const data = (s: string): string => `data ${Buffer.byteLength(s)}\n${s}\n`;
  if (o.main) {
    const who = 'seed <seed@bench.invalid> 1764000000 +0000';
    parts.push(
      'commit refs/heads/main\n',
      `author ${who}\ncommitter ${who}\n`,
      data('nix-config: the fleet'),
      'M 100644 inline flake.nix\n',
      data('{ outputs = _: { }; }\n'),
      '\n',
    );
  }
  if (o.template !== null) {
    const t = Math.floor(o.at.getTime() / 1000);
    for (const h of o.hosts) {
      const who = `gitopsd (${h}) <gitopsd@${h}> ${t} +0000`;
      parts.push(
        `commit ${STATUS_PREFIX}${h}\n`,
        `author ${who}\ncommitter ${who}\n`,
        data(`gitopsd status of ${h} (seeded)`),
        'M 100644 inline status.json\n',
        data(statusFor(o.template, h, o.at)),
        '\n',
      );
    }
  }
  await git(['--git-dir', urlPath(remote), 'fast-import', '--quiet'], { input: parts.join('') });
}
