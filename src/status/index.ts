/**
 * `gitopsd status`: one screen for the host.
 *
 * Inputs: the state documents (host state and the sync state), the nix-config
 * checkout (two git calls: the ahead/behind count and the deployed commit's
 * subject), flake.lock, and the system symlinks (current, booted, profile).
 * Side effects: none. It writes nothing and takes no lock, so it can run at
 * any time, also while a cycle holds the lock.
 * Failure modes: a missing checkout or state file is reported as such, not
 * raised; only a corrupt state file fails (it is moved aside, exit 1).
 *
 * The JSON (`status --json`) is a public contract, documented in
 * docs/status.md: fields may be added, never renamed or removed.
 */
import { existsSync, statSync } from 'node:fs';
import { readFileOrNull, readlinkOrNull, realpathOrNull } from '../core/fs-read.js';
import { initInterfaceChanged, initInterfaceOf } from '../host/system.js';
import { fileRefsGitDir, readHeadFromFiles, readRefFromFiles } from '../core/git-refs.js';
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { DeploymentsSection } from '../core/deployments.js';
import { StateStore } from '../core/state.js';
import { RunsSection, journalCommandOf } from '../report/runs.js';
import { UpgradeSection } from '../upgrade/state.js';
import { SyncSection } from '../sync/state.js';
import { bootStatus } from '../boot-validate/index.js';
import { readPublishRecord } from '../shared/publish-record.js';
import { readAnnouncement, type RebootAnnouncement } from '../shared/reboot-turn.js';
import { VERSION } from '../core/build-info.js';

export type { GitRelation, LockAge, StatusReport } from '../shared/status-report.js';
import type { GitRelation, LockAge, LockedInput, PublishReport, StatusReport } from '../shared/status-report.js';
import { PARSE_ONCE } from '../core/parse-once.js';

const DAY_MS = 86_400_000;

/** Pure: classify the newest flake input's age (ok up to 7 days, stale 8 to 30, old after). */
export function classifyLockAge(days: number | null): LockAge {
  if (days === null) return 'unknown';
  if (days <= 7) return 'ok';
  if (days <= 30) return 'stale';
  return 'old';
}

/** Pure: the relation of the checkout to the remote tip. */
export function classifyRelation(ahead: number, behind: number): GitRelation {
  if (ahead === 0 && behind === 0) return 'up-to-date';
  if (ahead === 0) return 'behind';
  if (behind === 0) return 'ahead';
  return 'diverged';
}

/** Pure: the newest `lastModified` of any locked input in a flake.lock text. */
export function newestInput(lockText: string): Date | null {
  let doc: unknown;
  try {
    doc = JSON.parse(lockText);
  } catch {
    return null;
  }
  const nodes = (doc as { nodes?: Record<string, { locked?: { lastModified?: number } }> }).nodes ?? {};
  let newest: number | null = null;
  for (const node of Object.values(nodes)) {
    const lm = node.locked?.lastModified;
    if (typeof lm === 'number' && (newest === null || lm > newest)) newest = lm;
  }
  return newest === null ? null : new Date(newest * 1000);
}

/** Pure: every locked input of a flake.lock text by node name (the root node excluded); {} when it does not parse. */
export function lockedInputs(lockText: string): Record<string, LockedInput> {
  let doc: unknown;
  try {
    doc = JSON.parse(lockText);
  } catch {
    return {};
  }
  const d = doc as { root?: unknown; nodes?: Record<string, { locked?: { rev?: unknown; lastModified?: unknown } }> };
  const root = typeof d.root === 'string' ? d.root : 'root';
  const out: Record<string, LockedInput> = {};
  for (const [name, node] of Object.entries(d.nodes ?? {})) {
    if (name === root || node.locked === undefined) continue;
    const { rev, lastModified } = node.locked;
    out[name] = {
      rev: typeof rev === 'string' ? rev : null,
      lastModified: typeof lastModified === 'number' ? new Date(lastModified * 1000).toISOString() : null,
    };
  }
  return out;
}

/** The fleet publish record as the report shows it (state key "fleet", docs/fleet.md). */
export function publishReport(deps: Pick<Deps, 'state' | 'config'>): PublishReport {
  const rec = readPublishRecord(deps.state);
  return {
    enabled: deps.config.fleet.enable,
    lastAttemptAt: rec.lastAttemptAt,
    lastOkAt: rec.lastOk?.at ?? null,
    lastError: rec.lastError,
    failures: rec.failures,
    ref: rec.lastOk?.ref ?? null,
  };
}

const REBOOT_PARTS = ['kernel', 'initrd', 'kernel-modules'] as const;

/**
 * Why `next` (the profile's system) needs a reboot: which of kernel, initrd
 * and kernel-modules differ from the booted system's (`readlink`, as
 * autoUpgrade compares them), and "init-interface-version" when `running`
 * is given and its `init-interface-version` (empty when missing) differs
 * from next's, byte for byte: switch-to-configuration cannot activate such
 * a system live (main.rs do_system_switch; docs/upgrade.md "Reboots").
 * Paths are store paths or links to them; read-only, no process.
 */
export function rebootReasons(next: string | null, booted: string | null, running: string | null = null): string[] {
  if (next === null || booted === null) return [];
  const parts: string[] =
    next === booted
      ? []
      : REBOOT_PARTS.filter((part) => readlinkOrNull(join(next, part)) !== readlinkOrNull(join(booted, part)));
  if (running !== null && running !== next && initInterfaceChanged(initInterfaceOf(running), initInterfaceOf(next)))
    parts.push('init-interface-version');
  return parts;
}

/**
 * Pure: why the checkout's HEAD is not the commit of the running system, in
 * one line, or null when it is (or nothing is known). After a rollback to
 * the golden, boot validation and `golden rollback` do not touch the git
 * checkout (they run below upgrade, as root, at boot); the next `gitopsd
 * upgrade` moves it to the deployed commit when that commit is known and the
 * checkout carries no local commits or edits (src/upgrade/index.ts
 * followDeployed).
 */
export function explainCheckout(i: {
  head: string | null;
  deployed: string | null;
  lastRollback: { commit?: string | null; to: string; source?: string; at: string; status?: string } | null;
  running: string | null;
  deployedStorePath: string | null;
}): string | null {
  const { head, deployed, lastRollback: rb } = i;
  if (head === null) return null;
  const s = (c: string): string => c.slice(0, 12);
  const rolledBackFromHead = rb !== null && rb.commit === head && rb.status !== 'failed';
  if (deployed !== null && head !== deployed) {
    const why = rolledBackFromHead
      ? `the system was rolled back from it (${rb.source ?? 'auto'} rollback at ${rb.at})`
      : 'it moved after the last deploy';
    return `checkout at ${s(head)}, not the deployed ${s(deployed)}: ${why}; the next gitopsd upgrade moves it to ${s(deployed)} (unless it carries local commits or edits)`;
  }
  if (rolledBackFromHead && i.running !== null && i.running !== i.deployedStorePath && i.running === rb.to) {
    return `checkout at ${s(head)}, which the system was rolled back from; the running system ${rb.to} was not deployed by gitopsd, so no commit is known for it: the checkout stays until a newer commit is deployed`;
  }
  return null;
}

async function observeGit(
  deps: Deps,
  deployedCommit: string | null,
  deployedSubject: string | null,
): Promise<StatusReport['git']> {
  const { path, remote, branch } = deps.config.nixConfig;
  const base = {
    path,
    remote,
    branch,
    head: null,
    remoteTip: null,
    ahead: 0,
    behind: 0,
    lastFetch: null,
    deployed: null,
    checkoutNote: null,
  };
  if (!existsSync(join(path, '.git'))) return { ...base, relation: 'no-checkout' };
  let lastFetch: string | null = null;
  try {
    lastFetch = statSync(join(path, '.git', 'FETCH_HEAD')).mtime.toISOString();
  } catch {
    // never fetched
  }
  const tipRef = `refs/remotes/${remote}/${branch}`;
  // Both tips from git's ref files when they say them (src/core/git-refs.ts);
  // else one `git rev-parse` for both.
  const gitDir = fileRefsGitDir(path);
  let head = gitDir === null ? null : readHeadFromFiles(gitDir);
  let tip = gitDir === null || head === null ? null : readRefFromFiles(gitDir, tipRef);
  if (head === null || tip === null) {
    const r = await deps.runner.run('git', ['-C', path, 'rev-parse', 'HEAD', tipRef], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    [head = null, tip = null] = r.stdout.split('\n');
  }
  const headOk = head !== null && /^[0-9a-f]{40}$/.test(head);
  const tipOk = tip !== null && /^[0-9a-f]{40}$/.test(tip);
  let deployed: StatusReport['git']['deployed'] = null;
  if (deployedCommit !== null && deployedSubject !== null) {
    deployed = { commit: deployedCommit, subject: deployedSubject, at: '' };
  } else if (deployedCommit !== null) {
    // A deployment recorded before the subject was (issue 19): ask git.
    const s = await deps.runner.run('git', ['-C', path, 'log', '-1', '--format=%s', deployedCommit, '--'], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    deployed = { commit: deployedCommit, subject: s.exitCode === 0 ? s.stdout.trim() : null, at: '' };
  }
  if (!headOk || !tipOk) {
    return { ...base, head: headOk ? head : null, lastFetch, deployed, relation: 'no-remote-ref' };
  }
  let ahead = 0;
  let behind = 0;
  if (head !== tip) {
    const c = await deps.runner.run('git', ['-C', path, 'rev-list', '--left-right', '--count', `${head}...${tip}`], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    const [a, b] = c.stdout.trim().split(/\s+/).map(Number);
    ahead = a ?? 0;
    behind = b ?? 0;
  }
  return {
    ...base,
    head,
    remoteTip: tip,
    ahead,
    behind,
    lastFetch,
    deployed,
    relation: classifyRelation(ahead, behind),
  };
}

/** The report's copy of the announcement: the documented fields only. */
function announcementOf(a: RebootAnnouncement | null): StatusReport['rebootTurn'] {
  return a === null
    ? null
    : { group: a.group, state: a.state, announcedAt: a.announcedAt, system: a.system, since: a.since };
}

export async function collectStatus(deps: Deps): Promise<StatusReport> {
  const now = deps.clock.now();
  const doc = deps.state.read();
  const deployments = DeploymentsSection.parse(doc['deployments'] ?? {}, PARSE_ONCE);
  const upgrade = UpgradeSection.parse(doc['upgrade'] ?? {}, PARSE_ONCE);
  const runsParsed = RunsSection.safeParse(doc['runs'] ?? {}, PARSE_ONCE);
  const runs = runsParsed.success ? runsParsed.data : {};
  const cur = deployments.current;

  const git = await observeGit(deps, cur?.commit ?? null, cur?.subject ?? null);
  if (git.deployed !== null && cur !== null) git.deployed.at = cur.at;

  const lockText = readFileOrNull(join(deps.config.nixConfig.path, 'flake.lock'));
  const newest = lockText === null ? null : newestInput(lockText);
  const ageDays = newest === null ? null : Math.floor((now.getTime() - newest.getTime()) / DAY_MS);
  const deployedVersion =
    cur === null ? null : (readFileOrNull(join(cur.storePath, 'etc', 'gitopsd', 'version'))?.trim() ?? null);

  const current = realpathOrNull(deps.paths.currentSystem);
  const booted = realpathOrNull(deps.paths.bootedSystem);
  const profile = realpathOrNull(deps.paths.systemProfile);
  const reasons = rebootReasons(profile, booted, current);

  const boot = bootStatus(deps);
  const golden = boot.golden;
  git.checkoutNote = explainCheckout({
    head: git.head,
    deployed: cur?.commit ?? null,
    lastRollback: boot.lastRollback,
    running: current,
    deployedStorePath: cur?.storePath ?? null,
  });

  const sync = readSyncSection(deps);
  return {
    hostname: deps.config.hostname,
    version: VERSION,
    generatedAt: now.toISOString(),
    git,
    lock: {
      newestInputAt: newest?.toISOString() ?? null,
      newestInputAgeDays: ageDays,
      age: classifyLockAge(ageDays),
      inputs: lockText === null ? {} : lockedInputs(lockText),
      gitopsd: {
        running: VERSION,
        deployed: deployedVersion,
        differs: deployedVersion === null ? null : deployedVersion !== VERSION,
      },
    },
    system: {
      current,
      booted,
      profile,
      deployed: cur?.storePath ?? null,
      deployedGeneration: cur?.generation ?? null,
      runningIsDeployed: cur === null || current === null ? null : current === cur.storePath,
      rebootNeeded: reasons.length > 0,
      rebootReasons: reasons,
      activationPending: upgrade.pending !== null || (profile !== null && current !== null && profile !== current),
    },
    boot: {
      bootedSystem: boot.bootedSystem,
      verdict: boot.verdict,
      attempts: boot.attempts,
      failures: boot.failures,
      degraded: boot.degraded !== null,
      lastRollback: boot.lastRollback,
    },
    golden: {
      ...golden,
      ageSec:
        golden.pinnedAt === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(golden.pinnedAt)) / 1000)),
    },
    dotfiles: {
      enabled: deps.config.dotfiles.enable,
      lastSync: sync?.lastRun ?? null,
      lastOkAt: sync?.lastOkAt ?? null,
      parked: sync?.parked
        ? { bookmark: sync.parked.bookmark, paths: sync.parked.paths, since: sync.parked.since }
        : null,
      uncapturable: (sync?.uncapturable ?? []).map((u) => ({ target: u.target, why: u.why })),
      // A sync that ended offline (75) left local commits unpushed.
      unpushed: sync?.lastRun ? sync.lastRun.exitCode === 75 : null,
    },
    lastUpgrade:
      upgrade.lastRun === null
        ? null
        : {
            commit: upgrade.lastRun.commit,
            result: upgrade.lastRun.result,
            at: upgrade.lastRun.at,
            generation: upgrade.lastRun.generation,
            durationMs: upgrade.lastRun.durationMs,
            gate:
              upgrade.lastRun.result === 'gated' || upgrade.lastRun.result === 'halted'
                ? upgrade.lastRun.message
                : null,
          },
    knownBadCommits: Object.values(deployments.badCommits).map((b) => ({
      commit: b.commit,
      reason: b.reason,
      cause: b.cause,
      flakeHost: b.build?.flakeHost ?? null,
      at: b.at,
      message: b.message,
    })),
    retrying: upgrade.retries.map((r) => ({
      commit: r.commit,
      stage: r.stage,
      cause: r.cause,
      failures: r.failures,
      notBefore: r.notBefore,
      summary: r.summary,
    })),
    runs: Object.fromEntries(
      Object.entries(runs).map(([k, v]) => [
        k,
        {
          at: v.at,
          ok: v.ok,
          exitCode: v.exitCode,
          result: v.result,
          durationMs: v.durationMs,
          log: journalCommandOf(v),
        },
      ]),
    ),
    schedule: { cron: deps.config.schedule.cron, nextRun: await nextRunAfter(deps.config.schedule.cron, now) },
    publish: publishReport(deps),
    rebootTurn: announcementOf(readAnnouncement(deps.state)),
  };
}

export function readSyncSection(deps: Pick<Deps, 'paths' | 'log' | 'clock'>): SyncSection | null {
  if (!existsSync(deps.paths.syncStateFile)) return null;
  const store = new StateStore({ file: deps.paths.syncStateFile, log: deps.log, now: () => deps.clock.now() });
  try {
    return SyncSection.parse(store.read()['sync'] ?? {}, PARSE_ONCE);
  } catch (err) {
    deps.log.warn('sync state unreadable', { file: deps.paths.syncStateFile, error: (err as Error).message });
    return null;
  }
}

async function nextRunAfter(cron: string, now: Date): Promise<string | null> {
  try {
    const { createSchedule } = await import('../shared/cron-schedule.js');
    const schedule = createSchedule(cron);
    try {
      return schedule.nextSlotAfter(now).toISOString();
    } finally {
      schedule.dispose();
    }
  } catch {
    return null;
  }
}
