/**
 * Helpers of the reliability suite (docs/reliability.md). They only compose
 * the harness (test/harness: fleet, simulated host, nix-config) with what
 * the reliability checks need on top:
 * - snapshots of a whole fleet directory, restored in place (every path in a
 *   fleet is absolute, so a copy elsewhere would not work);
 * - "nothing changed" probes: a digest of a directory tree, and the host's
 *   system/state/repositories as one comparable value;
 * - the JSON-lines trace of a run (GITOPSD_TRACE);
 * - a loopback TCP server that accepts connections and never answers (a
 *   remote that hangs);
 * - processes that carry a tag in their environment (leak checks that other
 *   test files running at the same time cannot disturb);
 * - a seeded PRNG.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { run, tryRun } from '../harness/exec.js';
import type { FleetHost } from '../harness/fleet.js';

/** Copy `dir` aside now; the returned function puts that copy back in place. */
export async function snapshot(dir: string): Promise<() => Promise<void>> {
  const saved = `${dir}.snapshot`;
  await run('rm', ['-rf', saved]);
  await run('cp', ['-a', dir, saved]);
  return async () => {
    await run('rm', ['-rf', dir]);
    await run('cp', ['-a', saved, dir]);
  };
}

/** Every file, directory and symlink under `dir`: path → content hash, link target or "dir". */
export async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isSymbolicLink()) out[p] = `-> ${await readlink(p)}`;
      else if (st.isDirectory()) {
        out[p] = 'dir';
        await walk(p);
      } else
        out[p] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
    }
  };
  await walk(dir);
  return out;
}

export type Json = Record<string, unknown>;

/** A JSON file that must parse (throws naming the file otherwise); null when it does not exist. */
export async function readJsonFile(file: string): Promise<Json | null> {
  if (!existsSync(file)) return null;
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new Error(`${file} does not parse: ${(err as Error).message}\n${text.slice(0, 400)}`);
  }
}

export interface HostState {
  state: Json | null;
  sync: Json | null;
}

export async function hostState(h: FleetHost): Promise<HostState> {
  const dir = h.sim.paths.stateDir;
  return {
    state: await readJsonFile(join(dir, 'state.json')),
    sync: await readJsonFile(join(dir, 'sync', 'state.json')),
  };
}

const git = async (args: string[]): Promise<string> => (await run('git', args)).stdout.trim();

/**
 * What must not change when a run is refused: the system (profile and its
 * generations, running system, boot default), the deployment record, the
 * nix-config checkout (HEAD, tracking ref, dirty files) and both remotes.
 */
export async function systemAndRepos(h: FleetHost, remotes: { nixConfig: string; dotfiles: string }): Promise<Json> {
  const s = await hostState(h);
  const checkout = h.sim.paths.nixConfigDir;
  return {
    profile: await h.sim.profileSystem(),
    generations: (await h.sim.generations()).map((g) => `${g.number} ${g.storePath}`),
    current: await h.sim.currentSystem(),
    boot: await h.sim.bootDefault(),
    deployments: s.state?.['deployments'] ?? null,
    pending: (s.state?.['upgrade'] as Json | undefined)?.['pending'] ?? null,
    checkoutHead: await git(['-C', checkout, 'rev-parse', 'HEAD']),
    checkoutRefs: await git(['-C', checkout, 'for-each-ref', '--format=%(refname) %(objectname)']),
    checkoutStatus: await git(['-C', checkout, 'status', '--porcelain']),
    nixConfigRemote: await git(['--git-dir', remotes.nixConfig, 'for-each-ref', '--format=%(refname) %(objectname)']),
    dotfilesRemote: await git(['--git-dir', remotes.dotfiles, 'for-each-ref', '--format=%(refname) %(objectname)']),
  };
}

export type TraceEvent = Json & { event: string };

export async function readTraceFile(file: string): Promise<TraceEvent[]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TraceEvent);
}

/** The argv of every command a traced run started. */
export function commandsOf(trace: readonly TraceEvent[]): string[][] {
  return trace
    .filter((e) => e.event === 'start')
    .map((e) => [String(e['cmd']), ...((e['args'] as string[] | undefined) ?? [])]);
}

/** A file of the remote's main (null when it is not there). */
export async function remoteFile(bare: string, name: string): Promise<string | null> {
  const r = await tryRun('git', ['--git-dir', bare, 'show', `main:${name}`]);
  return r.exitCode === 0 ? r.stdout : null;
}

export interface HangingServer {
  /**
   * `https://127.0.0.1:PORT/<path>`: https, because gitopsd refuses git:// (src/core/git-hardening.ts);
   * the server never answers the TLS handshake, so no certificate is ever checked.
   */
  url(path: string): string;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** A loopback TCP server that accepts every connection and never sends a byte. */
export async function hangingServer(): Promise<HangingServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('hanging server: no TCP address');
  return {
    url: (path) => `https://127.0.0.1:${addr.port}/${path}`,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TaggedProcess {
  pid: number;
  state: string;
  cmdline: string;
}

/**
 * Live processes whose environment holds `GITOPSD_RELIABILITY_TAG=<tag>`:
 * everything a tagged gitopsd run started inherits it, so after the runs are
 * over any such process is a leak. Zombies (state Z) are dead already, only
 * not yet reaped by init; they are left out.
 */
export async function taggedProcesses(tag: string): Promise<TaggedProcess[]> {
  const needle = Buffer.from(`GITOPSD_RELIABILITY_TAG=${tag}\0`);
  const out: TaggedProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = await readFile(`/proc/${name}/environ`);
      if (!env.includes(needle)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
      if (state === 'Z') continue;
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      out.push({ pid: Number(name), state, cmdline });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** `ps` lines (pid, ppid, state, args) that mention `needle`, without zombies and without ps itself. */
export async function psLinesWith(needle: string): Promise<string[]> {
  const r = await run('ps', ['-eo', 'pid=,ppid=,stat=,args=']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(needle) && !/^\d+\s+\d+\s+Z/.test(l) && !/\sps -eo /.test(l));
}

/** The harness's one seeded PRNG, so a failing load run can be replayed exactly. */
export { prng } from '../harness/prng.js';
