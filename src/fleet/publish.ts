/**
 * Publishing this host's status: observe (the status report, handed in by
 * the caller, and the publish record) → decide (`decidePublish`) → act
 * (plumbing commit in a private bare repository, push with a lease on this
 * host's ref only) → record (state key "fleet").
 *
 * Contract
 * - Never throws for a failed publish and never blocks for long: every git
 *   call shares one deadline (fleet.publishTimeoutSec). The outcome is
 *   returned, recorded (lastError, failures) and retried at the next run.
 * - Touches no work tree: objects go to `<stateDir>/fleet/publish.git`
 *   (0700), created on first use.
 * - Crash at any point: before the push, nothing changed at the remote and
 *   the record still says the last publish; after the push and before the
 *   record, the next run publishes again (the lease then reads the remote
 *   first, see below), which costs one push and loses nothing.
 * - The lease: the expected value is this host's last pushed commit from the
 *   record. When the record has none (first publish, new remote, a state
 *   that was lost) the push first expects no ref at all (the common case:
 *   one process); if the remote has one, its value is read with ls-remote
 *   and the push is made once more with that lease (what the host last
 *   published before it lost its record is overwritten, as before). A
 *   rejected lease on a value from the record means someone else wrote this
 *   host's ref: it is reported, and the next run reads the ref again and
 *   overwrites it.
 */
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { GitopsdError } from '../core/errors.js';
import { commitForStorePath, readDeployments } from '../core/deployments.js';
import type { StatusReport } from '../shared/status-report.js';
import { readPublishRecord, writePublishRecord, type PublishRecord } from '../shared/publish-record.js';
import { decidePublish, nextHealthySince, nextHeartbeat, nextPublishedAt, resultKey, toStatusV1 } from './decide.js';
import { ensureBareRepo, lsRemoteRef, pushStatus, writeStatusCommit } from './git.js';
import { BRANCH_REF_PREFIX, MAX_STATUS_BYTES, STATUS_REF_PREFIX } from './schema.js';
import { resolveStatusRemote } from './remote.js';

export type PublishOutcome =
  | { kind: 'disabled' }
  | { kind: 'skipped'; nextHeartbeatAt: string }
  | { kind: 'published'; why: string; ref: string; remote: string; commit: string; signed: boolean }
  | { kind: 'failed'; error: string };

export function statusRef(config: Deps['config']): string {
  return `${config.fleet.useBranches ? BRANCH_REF_PREFIX : STATUS_REF_PREFIX}${config.hostname}`;
}

export function publishRepoDir(deps: Pick<Deps, 'paths'>): string {
  return join(deps.paths.stateDir, 'fleet', 'publish.git');
}

/** Publish the host's status if it changed or the heartbeat is due (or `force`). */
export async function publishStatus(
  deps: Deps,
  report: StatusReport,
  opts: { force?: boolean; random?: () => number } = {},
): Promise<PublishOutcome> {
  const cfg = deps.config.fleet;
  if (!cfg.enable) return { kind: 'disabled' };
  const log = deps.log.child({ module: 'fleet-publish' });
  const now = deps.clock.now();
  const record = readPublishRecord(deps.state);
  const deadline = deps.clock.monotonicMs() + cfg.publishTimeoutSec * 1000;
  const left = (): number => {
    const ms = Math.round(deadline - deps.clock.monotonicMs());
    if (ms < 500)
      throw new GitopsdError(
        'temporary',
        `publish took longer than fleet.publishTimeoutSec (${cfg.publishTimeoutSec} s)`,
      );
    return ms;
  };
  const ref = statusRef(deps.config);
  let remote = '';
  const save = (rec: PublishRecord): void => {
    try {
      writePublishRecord(deps.state, rec);
    } catch (err) {
      log.warn('fleet publish record not written', { error: (err as Error).message });
    }
  };
  try {
    remote = await resolveStatusRemote(deps, Math.min(left(), 10_000));
    let goldenCommit: string | null = null;
    if (report.golden.storePath !== null) {
      try {
        goldenCommit = commitForStorePath(readDeployments(deps.state), report.golden.storePath);
      } catch {
        goldenCommit = null;
      }
    }
    // Never older than this host's previous status (nextPublishedAt): a clock set back would read as a replay.
    const publishedAt = nextPublishedAt(record.lastOk?.at, now);
    const status = toStatusV1(report, {
      publishedAt,
      heartbeatSec: cfg.heartbeatSec,
      goldenCommit,
      // At least 1: the record holds an error, so an attempt failed.
      previousPublishFailure:
        record.lastError === null
          ? null
          : { error: record.lastError, at: record.lastAttemptAt, failures: Math.max(1, record.failures) },
    });
    const health = nextHealthySince(record, status, now);
    status.healthySince = health.healthySince;
    const key = resultKey(status);
    const decision = decidePublish({ record, key, remote, ref, now, force: opts.force === true });
    if (!decision.publish) {
      if (health.healthySince !== record.healthySince || health.healthyCommit !== record.healthyCommit)
        save({ ...record, ...health });
      log.debug('fleet status unchanged; not published', { nextHeartbeatAt: decision.nextHeartbeatAt });
      return { kind: 'skipped', nextHeartbeatAt: decision.nextHeartbeatAt };
    }
    const json = `${JSON.stringify(status, null, 1)}\n`;
    if (Buffer.byteLength(json) > MAX_STATUS_BYTES) {
      throw new GitopsdError(
        'failed',
        `the status document is ${Buffer.byteLength(json)} bytes, over the ${MAX_STATUS_BYTES}-byte limit readers accept (this is a bug: please report it)`,
      );
    }
    const dir = publishRepoDir(deps);
    await ensureBareRepo(deps, dir, left());
    const commit = await writeStatusCommit(deps, {
      dir,
      json,
      host: deps.config.hostname,
      message: `gitopsd status of ${deps.config.hostname} (${decision.why})`,
      at: now,
      signingKey: cfg.signingKey,
      timeoutMs: left(),
    });
    const known = record.lease !== null && record.lease.remote === remote && record.lease.ref === ref;
    let pushed = await pushStatus(deps, {
      dir,
      remote,
      ref,
      commit,
      expect: known && record.lease !== null ? record.lease.commit : '',
      timeoutMs: left(),
    });
    if (!known && !pushed.ok && pushed.lease) {
      // No record, and the ref exists: lease on what is there now (the
      // push fails again only if it changes between the two commands).
      const expect = await lsRemoteRef(deps, { dir, remote, ref, timeoutMs: left() });
      pushed = await pushStatus(deps, { dir, remote, ref, commit, expect, timeoutMs: left() });
    }
    if (!pushed.ok) {
      // A rejected lease: forget what we thought was there, so the next
      // run reads the ref again (and overwrites whoever wrote it). Any other
      // refusal (an unreachable remote: a first publish reads nothing before
      // its push) has the words of every other failure to publish.
      const what = pushed.lease ? `cannot push ${ref} to ${remote}` : `cannot publish the fleet status to ${remote}`;
      const error = `${what}: ${pushed.message}; the run is unaffected and the next run retries`;
      save({
        ...record,
        ...health,
        lastAttemptAt: now.toISOString(),
        lastError: error,
        failures: record.failures + 1,
        lease: pushed.lease ? null : record.lease,
      });
      log.warn('fleet status not published', { ref, remote, error: pushed.message });
      return { kind: 'failed', error };
    }
    save({
      ...record,
      ...health,
      lastAttemptAt: now.toISOString(),
      lastOk: { at: publishedAt.toISOString(), commit, ref, remote, key },
      lastError: null,
      failures: 0,
      nextHeartbeatAt: nextHeartbeat(now, cfg.heartbeatSec, (opts.random ?? Math.random)()),
      lease: { remote, ref, commit },
    });
    log.info('fleet status published', { ref, remote, commit, why: decision.why });
    return { kind: 'published', why: decision.why, ref, remote, commit, signed: cfg.signingKey !== null };
  } catch (err) {
    // Whatever went wrong (the remote, the key, a timeout, a bug), the run
    // that called us keeps its own result.
    const msg = err instanceof Error ? err.message : String(err);
    const error = `cannot publish the fleet status${remote === '' ? '' : ` to ${remote}`}: ${msg}; the run is unaffected and the next run retries`;
    save({ ...record, lastAttemptAt: now.toISOString(), lastError: error, failures: record.failures + 1 });
    log.warn('fleet status not published', { ref, error: msg });
    return { kind: 'failed', error };
  }
}
