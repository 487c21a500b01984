/**
 * One poll: `gitopsd poll`, and what `gitopsd daemon` does every
 * `daemon.pollIntervalSec` (docs/nixos.md "Poll mode"), so that pushing to
 * nix-config is deploying, as comin's 60 s poll.
 *
 * Contract
 * - Inputs: Deps. Observe: whether nixConfig.path exists, then ONE
 *   `git fetch --porcelain` of the branch and of the fleet trigger ref
 *   `refs/gitopsd/trigger` (src/upgrade/git.ts fetchPorcelain,
 *   src/fleet/trigger/decide.ts TRIGGER_REFSPEC) and the state section
 *   "poll". Decide: decidePoll (./poll-decide.ts). Act: the upgrade, with
 *   the rollout gate, exactly as `gitopsd upgrade` runs it. Record: the
 *   section "poll" (only when the upgrade ran; an idle poll writes nothing).
 * - Fleet trigger (docs/rollout.md): when the fetch moved the trigger ref,
 *   or the local ref (read from git's ref files, no process) holds a
 *   trigger never judged for good (triggerToJudge), its signature
 *   (upgrade/git.ts verifySignature, against daemon.triggerSignersFile or
 *   nixConfig.allowedSignersFile) and its trigger.json are read (3 to 6 git
 *   processes), and decideTrigger judges it. A judging that fails is logged
 *   and tried again at the next poll. Ignored: one log line with the
 *   reason; the section "trigger" remembers it as judged, except when it was
 *   issued "in the future" by this host's clock (judged again later).
 *   Accepted: its nonce, "judged" and "pending" are written to the section
 *   (atomic, before the upgrade, so a crash cannot make it count twice),
 *   then the upgrade runs now; "pending" is cleared when the upgrade's
 *   result is recorded, and a poll that finds it set (a crash came first)
 *   runs the upgrade now while the trigger has not expired. A poll with
 *   nothing of this reads none of it.
 * - Cost of a poll that finds nothing: one git process, no state write.
 * - Lock: the per-host lock for the fetch and the upgrade, so a poll never
 *   fetches beside a running upgrade. A held lock: the poll does nothing
 *   (LockHeldError, exit 75); the next poll tries again.
 * - Failures: a fetch that fails (offline) throws the fetch's temporary
 *   error (exit 75) and changes nothing but the tracking ref git may have
 *   moved. An upgrade that throws is recorded as "error" with a retry time,
 *   then rethrown.
 * - A poll never bypasses anything: the upgrade it runs checks signatures,
 *   known-bad marks, the rollout gate and preflight as any other run does.
 * - Crash (kill -9): during the fetch, git's own ref locking leaves the
 *   tracking ref old or new; a new tip that was fetched but not yet
 *   upgraded is picked up by the next cycle (not by the next poll, which
 *   sees no change). During the upgrade: the upgrade's own crash story
 *   (src/upgrade/index.ts); the section "poll" keeps its old value.
 */
import { existsSync } from 'node:fs';
import { withHostLock, type Deps } from '../core/deps.js';
import { exitCodeFor, messageFor } from '../core/exit.js';
import type { ExitCode } from '../core/errors.js';
import { fetchPorcelain, readFileAt, revParse, trackingRef, verifySignature, type FetchedRef } from '../upgrade/git.js';
import { fileRefsGitDir, readRefFromFiles } from '../core/git-refs.js';
import {
  afterTriggerJudged,
  decideTrigger,
  EMPTY_TRIGGER,
  pendingTrigger,
  TRIGGER_FILE,
  TRIGGER_KEY,
  TRIGGER_MAX_BYTES,
  TRIGGER_REF,
  TRIGGER_REFSPEC,
  TriggerSection,
  triggerToJudge,
  type TriggerDecision,
} from '../fleet/trigger/decide.js';
import type { UpgradeRunResult } from '../upgrade/index.js';
import { afterPollRun, decidePoll, EMPTY_POLL, POLL_KEY, PollSection, type PollDecision } from './poll-decide.js';

export interface PollResult {
  decision: PollDecision;
  /** The fleet trigger this poll judged; null: none to judge (or judging it failed). */
  trigger: TriggerDecision | null;
  /** The upgrade's result when the poll ran it; null when idle. */
  upgrade: UpgradeRunResult | null;
  exitCode: ExitCode;
  message: string;
}

/** The section "poll"; a malformed one reads as empty (it only schedules retries). */
export function readPollSection(deps: Pick<Deps, 'state' | 'log'>): PollSection {
  const raw = deps.state.section(POLL_KEY);
  if (raw === undefined) return EMPTY_POLL;
  const parsed = PollSection.safeParse(raw);
  if (!parsed.success) {
    deps.log.warn('state section "poll" is malformed; treating it as empty', { issues: parsed.error.issues });
    return EMPTY_POLL;
  }
  return parsed.data;
}

/**
 * One poll. When it ran the upgrade, the run is recorded, published and
 * hooked as `gitopsd upgrade`'s (src/report/after-run.ts), after the host
 * lock is released; an idle poll records nothing.
 */
export async function runPoll(deps: Deps): Promise<PollResult> {
  const started = deps.clock.monotonicMs();
  const inner = await withHostLock(deps, 'poll', () => pollLocked(deps));
  if (inner.ran === null) return inner.result;
  const { afterRun } = await import('../report/after-run.js');
  const durationMs = Math.round(deps.clock.monotonicMs() - started);
  if (inner.ran.kind === 'threw') {
    const err = inner.ran.err;
    await afterRun(deps, 'upgrade', {
      exitCode: exitCodeFor(err),
      result: 'error',
      error: messageFor(err),
      durationMs,
    });
    throw err;
  }
  const r = inner.ran.upgrade;
  await afterRun(deps, 'upgrade', {
    exitCode: r.exitCode,
    result: r.kind === 'deployed' && r.reboot === 'pending' ? 'reboot-pending' : r.kind,
    commit: r.commit,
    generation: r.kind === 'deployed' ? r.generation : null,
    error: r.exitCode === 0 ? null : r.message,
    durationMs,
  });
  return inner.result;
}

type Ran = { kind: 'ok'; upgrade: UpgradeRunResult } | { kind: 'threw'; err: unknown };

async function pollLocked(deps: Deps): Promise<{ result: PollResult; ran: Ran | null }> {
  const log = deps.log.child({ module: 'poll' });
  const dir = deps.config.nixConfig.path;
  const checkoutMissing = !existsSync(dir);
  const fetched: FetchedRef[] = checkoutMissing ? [] : await fetchPorcelain(deps, dir, [TRIGGER_REFSPEC]);
  const now = deps.clock.now();
  const tstate = parseTriggerSection(deps, deps.state.section(TRIGGER_KEY));
  const moved =
    fetched.find((f) => f.ref === TRIGGER_REF && (f.flag === ' ' || f.flag === '+' || f.flag === '*'))?.new ?? null;
  // Not moved: the local ref, from git's ref files (no process), in case the
  // trigger it holds was never judged for good (triggerToJudge).
  const gitDir = moved === null && !checkoutMissing ? fileRefsGitDir(dir) : null;
  const toJudge = triggerToJudge({
    moved,
    local: gitDir === null ? null : readRefFromFiles(gitDir, TRIGGER_REF),
    state: tstate,
  });
  let trigger: TriggerDecision | null = null;
  if (toJudge !== null) {
    try {
      trigger = await judgeTrigger(deps, dir, toJudge, tstate);
    } catch (err) {
      // Not remembered as judged: the next poll judges it again.
      log.warn('fleet trigger could not be judged; the next poll tries again', {
        commit: toJudge,
        message: messageFor(err),
      });
    }
    const next = trigger === null ? null : afterTriggerJudged(tstate, toJudge, trigger, now);
    // Before the upgrade: a crash from here on cannot make this trigger count
    // twice, and its "pending" mark makes the next poll run it (pendingTrigger).
    if (next !== null) deps.state.updateSection(TRIGGER_KEY, () => next);
  }
  const pending = trigger?.kind === 'accept' ? null : pendingTrigger(tstate, now);
  const runNow =
    trigger?.kind === 'accept'
      ? trigger.line
      : pending !== null
        ? `${pending.line} (accepted earlier; its upgrade did not finish)`
        : null;
  const decision = decidePoll({
    fetched,
    trackingRef: trackingRef(deps),
    checkoutMissing,
    state: readPollSection(deps),
    now,
    trigger: runNow === null ? null : { line: runNow, tip: await revParse(deps, dir, trackingRef(deps)) },
  });
  // An idle poll logs at debug: the daemon's "poll finished" line already
  // says it, and at one poll a minute the journal would get two lines each.
  const pollMeta = { decision: decision.kind, line: decision.line, fetched: fetched.length };
  if (decision.kind === 'idle') log.debug('poll', pollMeta);
  else log.info('poll', pollMeta);
  if (decision.kind === 'idle') {
    const message = trigger === null ? decision.line : `${decision.line}; ${trigger.line}`;
    return { result: { decision, trigger, upgrade: null, exitCode: 0, message }, ran: null };
  }

  const [{ runUpgrade }, { fleetGate }, { fleetRebootTurn }] = await Promise.all([
    import('../upgrade/index.js'),
    import('../fleet/rollout/fleet-gate.js'),
    import('./reboot-turn.js'),
  ]);
  const record = (result: string, exitCode: number): void => {
    // The upgrade ran (or failed and is recorded for a retry): an accepted trigger is done.
    if (parseTriggerSection(deps, deps.state.section(TRIGGER_KEY)).pending !== null) {
      deps.state.updateSection(TRIGGER_KEY, (cur) => ({ ...parseTriggerSection(deps, cur), pending: null }));
    }
    deps.state.updateSection(POLL_KEY, () =>
      afterPollRun({
        tip: decision.tip,
        result,
        exitCode,
        now: deps.clock.now(),
        pollIntervalSec: deps.config.daemon.pollIntervalSec,
      }),
    );
  };
  let r: UpgradeRunResult;
  try {
    r = await runUpgrade(deps, { dryRun: false, gate: fleetGate(deps), rebootTurn: fleetRebootTurn(deps) });
  } catch (err) {
    log.error('the upgrade of this poll failed; a later poll retries it', { message: messageFor(err) });
    record('error', exitCodeFor(err));
    const message = `${decision.line}: ${messageFor(err)}`;
    return {
      result: { decision, trigger, upgrade: null, exitCode: exitCodeFor(err), message },
      ran: { kind: 'threw', err },
    };
  }
  // A reboot waiting for its turn (docs/rollout.md) did not settle the tip either: a later poll asks again.
  record(
    (r.kind === 'deployed' || r.kind === 'no-op') && r.reboot === 'waiting-turn' ? 'waiting-turn' : r.kind,
    r.exitCode,
  );
  return {
    result: { decision, trigger, upgrade: r, exitCode: r.exitCode, message: `${decision.line}: ${r.message}` },
    ran: { kind: 'ok', upgrade: r },
  };
}

function parseTriggerSection(deps: Pick<Deps, 'log'>, raw: unknown): TriggerSection {
  if (raw === undefined) return EMPTY_TRIGGER;
  const parsed = TriggerSection.safeParse(raw);
  if (parsed.success) return parsed.data;
  // Kept aside in the log; starting empty only forgets nonces, and an old
  // trigger still has to be unexpired to count.
  deps.log.warn('state section "trigger" is malformed; treating it as empty', { issues: parsed.error.issues });
  return EMPTY_TRIGGER;
}

/**
 * Observe and judge the trigger commit the poll's fetch brought: its
 * signature against the trigger signers file and its trigger.json. The
 * verdict is logged in one line (warn when ignored, info when accepted).
 */
async function judgeTrigger(deps: Deps, dir: string, commit: string, state: TriggerSection): Promise<TriggerDecision> {
  const log = deps.log.child({ module: 'poll' });
  const signersFile = deps.config.daemon.triggerSignersFile ?? deps.config.nixConfig.allowedSignersFile;
  const signature = signersFile === null ? null : await verifySignature(deps, dir, commit, signersFile);
  const doc = signersFile === null ? null : await readFileAt(deps, dir, commit, TRIGGER_FILE, TRIGGER_MAX_BYTES);
  const d = decideTrigger({
    commit,
    signersFile,
    signature,
    doc,
    host: deps.config.hostname,
    now: deps.clock.now(),
    state,
  });
  if (d.kind === 'accept') log.info('fleet trigger accepted', { line: d.line, commit, nonce: d.trigger.nonce });
  else log.warn('fleet trigger ignored', { line: d.line, reason: d.reason, commit });
  return d;
}
