/**
 * CLI handlers of `gitopsd fleet status` and `gitopsd fleet serve`
 * (`fleet publish` is composed in src/cli, since it needs the status
 * report). Exit codes of `fleet status`: 0 every host healthy (warnings
 * allowed), 1 some host is not, 75 the status remote could not be read.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Deps } from '../core/deps.js';
import { GitopsdError, UsageError } from '../core/errors.js';
import type { Outcome } from '../core/outcome.js';
import { fleetExitCode, readFleet, type ReadOptions } from './read.js';
import { printable } from '../core/printable.js';
import { renderFleet } from './render.js';
import { HOST_NAME, type FleetView } from './schema.js';
import { readSignersFile } from './signers-file.js';

type Args = Record<string, unknown>;

export function readOptions(args: Args): ReadOptions {
  // `--host` with no value reached the read as "every host" (review 11).
  if (Array.isArray(args['host']) && args['host'].length === 0) {
    throw new UsageError('--host needs a host name: --host web1 (repeat it, or comma-separate names, for more)');
  }
  const hosts = ((args['host'] as string[] | undefined) ?? []).flatMap((h) => String(h).split(','));
  for (const h of hosts) {
    if (!HOST_NAME.test(h)) throw new UsageError(`--host "${h}" is not a host name (letters, digits, ".", "_", "-")`);
  }
  const remote = args['remote'];
  const signers = args['allowed-signers'];
  // A file named on the command line that cannot be used is a usage error
  // (64), found before the remote is read; the config's stays 78 (./read.ts).
  if (typeof signers === 'string' && signers !== '') readSignersFile(signers, { option: '--allowed-signers' });
  return {
    hosts,
    ...(typeof remote === 'string' && remote !== '' ? { remote } : {}),
    ...(typeof signers === 'string' && signers !== '' ? { allowedSignersFile: signers } : {}),
  };
}

export async function fleetStatusCommand(deps: Deps, args: Args): Promise<Outcome> {
  const opts = readOptions(args);
  const html = args['html'];
  if (typeof html === 'string' && html !== '') htmlDirectory(html);
  const view = await readFleet(deps, opts);
  // A host asked for by name (--host) or expected (fleet.expectedHosts) that
  // has no status ref at all (never published, a typo, its ref deleted) is
  // not healthy: exit 1, as a check of that host expects (review 11: it was
  // exit 0 with "0 hosts"). readFleet lists them (view.missingHosts).
  const { missingHosts } = view;
  if (typeof html === 'string' && html !== '') {
    const [{ renderPage }, { writeFileAtomic }] = await Promise.all([import('./html.js'), import('../core/atomic.js')]);
    const fs = await import('node:fs');
    const path = await import('node:path');
    try {
      // Only the file is made: a directory that does not exist is a typo
      // more often than a wish, and writeFileAtomic would make it (as root
      // too) (review 11).
      if (!fs.statSync(path.dirname(html)).isDirectory()) {
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      }
      writeFileAtomic(html, renderPage(view, { refreshSec: null }));
    } catch (err) {
      // The output could not be written: exit 75 and one line (docs/fleet.md "Exit codes"), not a stack trace.
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new GitopsdError(
        'temporary',
        `cannot write the fleet page --html ${html} (${code}); check that its directory exists and can be written, then run again`,
        { cause: err },
      );
    }
  }
  if (deps.config.metrics.textfileDir !== null) {
    try {
      const { writeFleetMetrics } = await import('./metrics.js');
      await writeFleetMetrics(deps.config.metrics.textfileDir, view);
    } catch (err) {
      deps.log.warn('fleet metrics file not written', { error: (err as Error).message });
    }
  }
  const color = deps.interactive && deps.env['NO_COLOR'] === undefined;
  const rollout = await readRollout(deps, view, args);
  const updates = await readPendingUpdates(deps);
  if (updates.pending.length > 0) {
    // The Lock compartment: a flake.lock update waits on the nix-config remote (docs/rollout.md "Update branches").
    const mark = `update pending (${updates.pending.map((u) => u.branch).join(', ')})`;
    for (const h of view.hosts) h.columns.lock = h.columns.lock === '-' ? mark : `${h.columns.lock}, ${mark}`;
  }
  // The text table only when it is printed: with --json the CLI never reads
  // `text`, and laying out 1,000 rows with cli-table3 took about 40 % of a
  // read of 1,000 hosts (docs/benchmarks.md, B8).
  return {
    exitCode: fleetExitCode(view),
    // One line: 1.3 MB instead of 2.2 MB of indented JSON at 1,000 hosts, the
    // largest item of a read with nothing new (docs/fleet.md "--json", B8).
    compactJson: true,
    get text(): string {
      return [
        renderFleet(view, { color }),
        ...(missingHosts.length > 0
          ? [
              `no status at ${view.remote} for ${missingHosts.join(', ')}${(opts.hosts ?? []).length > 0 ? '' : ' (fleet.expectedHosts)'}: never published there, or its ref was deleted`,
            ]
          : []),
        // The gate lines quote status documents (a known-bad reason): printable, as the table.
        ...(rollout.progress !== null
          ? ['', ...rollout.lines.map(printable)]
          : rollout.note !== null
            ? ['', printable(rollout.note)]
            : []),
        ...(updates.note === null ? [] : [printable(updates.note)]),
      ].join('\n');
    },
    json: {
      ...view,
      rollout: { commit: rollout.commit, note: rollout.note, progress: rollout.progress },
      updates,
    },
  };
}

/**
 * `--html FILE` in a directory that does not exist (or a path through a
 * file): a typo on the command line, a usage error (64) found before the
 * remote is read. The directory is not made: a typo would make directories,
 * as root too (review 11). A write that fails later stays 75.
 */
function htmlDirectory(html: string): void {
  const dir = dirname(html);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return; // EACCES and the like: the write says it (75)
    isDir = false;
  }
  if (!isDir) {
    throw new UsageError(
      `--html ${html}: the directory ${dir} does not exist; pass a file in an existing directory (it is not made)`,
    );
  }
}

interface PendingUpdatesRead {
  /** Branches of the nix-config remote that match updates.branchPatterns (by name; `gitopsd updates` judges them). */
  pending: Array<{ branch: string; sha: string }>;
  /** Why they could not be read; null when read. */
  note: string | null;
}

/**
 * The update branches on the nix-config remote, by name: one `git ls-remote
 * --heads` (through the checkout's remote when there is a checkout, else
 * nixConfig.url). Never fails `fleet status`: a problem becomes the note.
 */
async function readPendingUpdates(deps: Deps): Promise<PendingUpdatesRead> {
  const { nixConfig, updates, timeouts } = deps.config;
  const { existsSync } = await import('node:fs');
  const where = existsSync(nixConfig.path) ? nixConfig.remote : nixConfig.url;
  if (where === null) return { pending: [], note: null };
  // Loaded only when there is a remote to ask (a laptop without nixConfig.url never needs it).
  const { matchesUpdatePattern } = await import('./updates/decide.js');
  const args = existsSync(nixConfig.path)
    ? ['-C', nixConfig.path, 'ls-remote', '--heads', '--upload-pack=git-upload-pack', '--', where]
    : ['ls-remote', '--heads', '--upload-pack=git-upload-pack', '--', where];
  const r = await deps.runner.run('git', args, {
    timeoutMs: timeouts.gitSec * 1000,
    allowFailure: true,
    env: { GIT_TERMINAL_PROMPT: '0' },
  });
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`;
    return { pending: [], note: `update branches not read from ${where} (${why})` };
  }
  const pending: Array<{ branch: string; sha: string }> = [];
  for (const line of r.stdout.split('\n')) {
    const [sha = '', ref = ''] = line.split('\t');
    if (!ref.startsWith('refs/heads/')) continue;
    const branch = ref.slice('refs/heads/'.length);
    if (matchesUpdatePattern(branch, updates.branchPatterns)) pending.push({ branch, sha });
  }
  return { pending, note: null };
}

interface RolloutRead {
  commit: string | null;
  /** Why no progress is shown (no policy, the commit not in the checkout, ...), or a caveat; null when none. */
  note: string | null;
  progress: import('./rollout/progress.js').RolloutProgress | null;
  lines: string[];
}

/**
 * The rollout of the newest commit (`--commit`, else the reader's nix-config
 * checkout's remote-tracking branch, else the remote tip most fresh hosts
 * report), under the policy in that commit, with the verified markers.
 * Never fails `fleet status`: a problem becomes the note.
 */
async function readRollout(deps: Deps, view: FleetView, args: Args): Promise<RolloutRead> {
  const none = (commit: string | null, note: string | null): RolloutRead => ({
    commit,
    note,
    progress: null,
    lines: [],
  });
  const timeoutMs = deps.config.timeouts.gitSec * 1000;
  const { nixConfig } = deps.config;
  const env = { GIT_TERMINAL_PROMPT: '0' };
  const asked = typeof args['commit'] === 'string' && args['commit'] !== '' ? args['commit'] : null;
  // A wave's progress and gate count every member's status: from the rows of
  // some hosts only, the others would show as "without a fresh status" and a
  // done wave as paused (review 11).
  if (((args['host'] as string[] | undefined) ?? []).length > 0) {
    return none(
      null,
      'rollout: not shown with --host (a wave counts the status of every member); run without --host to see it',
    );
  }
  const ref = asked ?? `refs/remotes/${nixConfig.remote}/${nixConfig.branch}`;
  // No checkout here (a laptop, a monitoring host): no git process to learn that.
  const { existsSync } = await import('node:fs');
  const r = existsSync(nixConfig.path)
    ? await deps.runner.run(
        'git',
        ['-C', nixConfig.path, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
        { timeoutMs, allowFailure: true, env },
      )
    : null;
  let commit = r !== null && r.exitCode === 0 ? r.stdout.trim() : null;
  if (commit === null && asked !== null) {
    return none(null, `rollout: ${asked} is not a commit of the nix-config checkout ${nixConfig.path}`);
  }
  if (commit === null) {
    // No checkout here: the remote tip most fresh hosts report.
    const tally = new Map<string, number>();
    for (const h of view.hosts) {
      const t = h.stale ? null : (h.status?.git.remoteTip ?? null);
      if (t !== null) tally.set(t, (tally.get(t) ?? 0) + 1);
    }
    commit = [...tally.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
    if (commit === null) return none(null, null);
  }
  // No checkout to read gitopsd-rollout.json from (a laptop, as in docs/fleet.md): say so, not git's error.
  if (!existsSync(nixConfig.path)) {
    return none(
      commit,
      `rollout: not shown: no nix-config checkout at ${nixConfig.path} to read the policy of ${commit.slice(0, 8)} from (nixConfig.path)`,
    );
  }
  const [{ readPolicyAt }, { readMarkers }, { decideRollout, rolloutLines }] = await Promise.all([
    import('./rollout/read-policy.js'),
    import('./rollout/markers.js'),
    import('./rollout/progress.js'),
  ]);
  let policy;
  try {
    policy = await readPolicyAt(deps, nixConfig.path, commit);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0] ?? '';
    return none(commit, `rollout: the policy at ${commit.slice(0, 8)} cannot be read from ${nixConfig.path} (${why})`);
  }
  if (policy.kind === 'none') return none(commit, null);
  if (!policy.ok) return none(commit, `rollout: ${policy.error}`);
  let markers: import('./rollout/gate.js').GateMarker[] = [];
  let note: string | null = null;
  try {
    markers = (
      await readMarkers(deps, {
        remote: view.remote,
        allowedSignersFile: nixConfig.allowedSignersFile,
        timeoutMs,
      })
    ).markers;
  } catch (err) {
    note = `rollout markers not read (${((err as Error).message.split('\n')[0] ?? '').slice(0, 200)}): halts and promotes not shown`;
  }
  const progress = decideRollout({
    commit,
    source: policy.source,
    policy: policy.policy,
    rows: view.hosts,
    markers,
    now: deps.clock.now(),
  });
  return { commit, note, progress, lines: [...rolloutLines(progress), ...(note === null ? [] : [note])] };
}

/**
 * `fleet serve --refresh SEC`: the bounds of the config's
 * fleet.serve.refreshSec (5 to 86400, whole seconds), else a usage error.
 * `--refresh abc` (NaN to yargs) fell back to the config and `--refresh 0`
 * became 1 s, a fetch of the status remote every second (review 12).
 */
export function refreshSecOption(given: unknown, fallback: number): number {
  if (given === undefined) return fallback;
  if (typeof given !== 'number' || !Number.isInteger(given) || given < 5 || given > 86400) {
    const got = typeof given === 'number' && !Number.isNaN(given) ? `got ${given}` : 'not a number';
    throw new UsageError(
      `--refresh must be whole seconds from 5 to 86400, as fleet.serve.refreshSec (${got}); e.g. --refresh 60`,
    );
  }
  return given;
}

export async function fleetServeCommand(deps: Deps, args: Args): Promise<Outcome> {
  const { serveFleet } = await import('./serve.js');
  const listen = typeof args['listen'] === 'string' ? args['listen'] : deps.config.fleet.serve.listen;
  const refreshSec = refreshSecOption(args['refresh'], deps.config.fleet.serve.refreshSec);
  const r = await serveFleet(deps, {
    listen,
    refreshSec,
    read: readOptions(args),
    announce: (url) =>
      process.stderr.write(`gitopsd fleet serve: listening on ${url} (read-only; refresh every ${refreshSec} s)\n`),
  });
  return { exitCode: 0, text: `fleet serve stopped after ${r.refreshes} reads`, json: { ok: true, ...r } };
}

/**
 * `gitopsd fleet promote|halt <commit>` (docs/rollout.md "Halt and promote"):
 * write the signed marker at the status remote. Exit codes: 0 pushed;
 * 64 no --signing-key, the commit is not one of the nix-config checkout, or
 * an --allowed-signers file that cannot be read or holds no key (78 when
 * nixConfig.allowedSignersFile names it);
 * 6 the marker would not count (its signature does not verify against the
 * allowed signers file): nothing pushed; 1 the key cannot sign; 75 the
 * remote cannot be written.
 */
export function fleetMarkerCommand(action: 'promote' | 'halt') {
  return async (deps: Deps, args: Args): Promise<Outcome> => {
    const [{ existsSync }, { writeMarker }, { resolveStatusRemote }] = await Promise.all([
      import('node:fs'),
      import('./rollout/markers.js'),
      import('./remote.js'),
    ]);
    const timeoutMs = deps.config.timeouts.gitSec * 1000;
    const given = typeof args['commit'] === 'string' ? args['commit'] : '';
    if (!/^[0-9a-f]{7,64}$/.test(given)) {
      throw new UsageError(`"${given}" is not a commit id; give the full id or a prefix of 7+ lowercase hex digits`);
    }
    const key = args['signing-key'];
    if (typeof key !== 'string' || key === '') {
      throw new UsageError(
        `no signing key: pass --signing-key PATH, a private SSH key whose public key is in the hosts' nixConfig.allowedSignersFile`,
      );
    }
    if (!existsSync(key)) throw new UsageError(`--signing-key ${key} does not exist; pass the private key's path`);
    const checkout = typeof args['checkout'] === 'string' ? args['checkout'] : deps.config.nixConfig.path;
    // The commit must be one of nix-config's: a typo would halt or promote nothing, silently.
    const rev = await deps.runner.run(
      'git',
      ['-C', checkout, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${given}^{commit}`],
      { timeoutMs, allowFailure: true, env: { GIT_TERMINAL_PROMPT: '0' } },
    );
    const commit = rev.stdout.trim();
    if (rev.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(commit)) {
      throw new UsageError(
        `unknown commit ${given}: it is not a commit of the nix-config checkout ${checkout}; fetch it there first (git -C ${checkout} fetch) or pass --checkout`,
      );
    }
    const signersArg = args['allowed-signers'];
    const signers =
      typeof signersArg === 'string' && signersArg !== '' ? signersArg : deps.config.nixConfig.allowedSignersFile;
    // Unusable: the option's fault (64) or the config's (78), not "a key the hosts do not trust" (6).
    if (signers !== null) {
      readSignersFile(
        signers,
        signers === signersArg ? { option: '--allowed-signers' } : { key: 'nixConfig.allowedSignersFile' },
        '--allowed-signers',
      );
    }
    const remoteArg = args['remote'];
    const remote = await resolveStatusRemote(deps, timeoutMs, typeof remoteArg === 'string' ? remoteArg : undefined);
    const reason = typeof args['reason'] === 'string' ? args['reason'] : '';
    const who = deps.env['SUDO_USER'] ?? deps.env['USER'] ?? 'gitopsd';
    const w = await writeMarker(deps, {
      remote,
      action,
      commit,
      reason,
      at: deps.clock.now(),
      signingKey: key,
      who,
      timeoutMs,
      allowedSignersFile: signers,
    });
    const effect =
      action === 'halt'
        ? 'no host deploys it from its next run on; a newer commit starts again at wave 0'
        : "every host deploys it at its next run, past its wave's gate (a halt, a known-bad mark or too many failures still stop it)";
    const checked =
      w.signer === null
        ? 'signature not checked: no allowed signers file here (nixConfig.allowedSignersFile or --allowed-signers)'
        : `signed by ${w.signer}`;
    // Unchecked, the effect is not known here: a host counts a marker only
    // when its own nixConfig.allowedSignersFile lists the key, and a host
    // with none ignores every marker (src/fleet/rollout/markers.ts).
    const claim =
      w.signer === null
        ? `it counts only on hosts whose nixConfig.allowedSignersFile lists this key (a host without one ignores every marker); there, ${effect}`
        : effect;
    return {
      exitCode: 0,
      text: `${action === 'halt' ? 'halted' : 'promoted'} ${commit.slice(0, 12)}: ${w.ref} at ${remote} (${checked}); ${claim}`,
      json: { ok: true, action, commit, ref: w.ref, marker: w.marker, remote, signer: w.signer, reason },
    };
  };
}
