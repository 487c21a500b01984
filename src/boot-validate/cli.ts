/**
 * CLI handlers of boot validation: `boot validate`, `boot status`
 * (show-boot-status), `boot reset`. Thin: parse args, call ./index.ts, format.
 */
import type { Handler } from '../core/outcome.js';
import type { Outcome } from '../core/outcome.js';
import { GitopsdError, storePathMissing } from '../core/errors.js';
import {
  bootStatus,
  resetBootCounters,
  validateBoot,
  withHostLockWaiting,
  type BootStatus,
  type ValidateResult,
} from './index.js';
import { withHostLock } from '../core/deps.js';
import { realpathOrNull } from '../core/fs-read.js';
import { counted } from '../core/text.js';
import { resultName } from './decide.js';

function checkLines(checks: ReadonlyArray<{ name: string; ok: boolean; detail: string }>): string[] {
  return checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
}

function validateText(r: ValidateResult): string {
  const lines = [r.message];
  if (r.abandoned !== null) {
    lines.push(
      `previous attempt ${r.abandoned.id} (${r.abandoned.storePath}) never reached a verdict: counted as failed`,
    );
  }
  lines.push(
    `attempt ${r.attempt.id}: verdict ${r.attempt.verdict}; this system: ${counted(r.attempts, 'attempt')}, ${counted(r.failures, 'failure')} since its last ok verdict`,
  );
  if (r.checks.length > 0) lines.push('checks:', ...checkLines(r.checks));
  return lines.join('\n');
}

export const bootValidateCommand: Handler = async (deps) => {
  // Wait for the lock as long as validation itself may take: at boot, a
  // persistent upgrade timer may still be finishing.
  const r = await withHostLockWaiting(deps, 'boot validate', deps.config.validation.timeoutSec * 1000, () =>
    validateBoot(deps),
  );
  const out: Outcome = {
    exitCode: r.exitCode,
    text: validateText(r),
    json: {
      ok: r.exitCode === 0,
      bootedSystem: r.booted,
      verdict: r.attempt.verdict,
      attempt: r.attempt.id,
      attempts: r.attempts,
      failures: r.failures,
      decision: r.decision,
      plan: r.plan,
      abandonedAttempt: r.abandoned?.id ?? null,
      checks: r.checks,
      message: r.message,
    },
    run: {
      result: resultName(r.decision),
      generation: r.generation,
      error: r.exitCode === 0 ? null : r.message,
    },
  };
  return out;
};

function statusText(s: BootStatus): string {
  const lines: string[] = [];
  lines.push(
    `booted system: ${s.bootedSystem ?? '(unknown)'}${s.generation !== null ? ` (generation ${s.generation})` : ''}`,
  );
  lines.push(`this boot:     verdict ${s.verdict}`);
  lines.push(
    `this system:   ${counted(s.attempts, 'attempt')}, ${counted(s.failures, 'failure')} since its last ok verdict (rollback at ${s.maxBootFailures}), ${s.reboots}/${s.rebootLimit} automatic reboots`,
  );
  if (s.checks.length > 0) lines.push('checks:', ...checkLines(s.checks));
  const g = s.golden;
  lines.push(
    g.storePath === null
      ? 'golden:        none pinned'
      : `golden:        ${g.storePath}${g.generation !== null ? ` (generation ${g.generation})` : ''}, pinned ${g.pinnedAt} (${g.source}), GC root ${g.gcRootIntact ? 'intact' : 'NOT intact'}`,
  );
  const r = s.lastRollback;
  lines.push(
    r === null ? 'last rollback: none' : `last rollback: ${r.at} ${r.from} -> ${r.to} (${r.reason}; ${r.status ?? ''})`,
  );
  if (s.degraded !== null) lines.push(`DEGRADED:      ${s.degraded.message} (since ${s.degraded.at})`);
  for (const b of s.badCommits) {
    lines.push(
      `never redeployed: commit ${b.commit.slice(0, 12)} (${b.storePath ?? '?'}): ${b.message}; upgrade waits for a newer commit`,
    );
  }
  if (s.history.length > 0) {
    lines.push('recent attempts (oldest first):');
    for (const a of s.history) {
      lines.push(
        `  #${a.id} ${a.startedAt} ${a.storePath} ${a.verdict}${a.action ? ` -> ${a.action}` : ''}${a.reason ? ` (${a.reason})` : ''}`,
      );
    }
  }
  return lines.join('\n');
}

export const bootStatusCommand: Handler = (deps) => {
  const s = bootStatus(deps);
  return Promise.resolve({ exitCode: 0, text: statusText(s), json: { ok: true, ...s } });
};

export const bootResetCommand: Handler = async (deps, args) => {
  const given = args['store-path'];
  const path =
    typeof given === 'string' && given !== '' ? realpathOrNull(given) : realpathOrNull(deps.paths.bootedSystem);
  if (path === null) {
    if (typeof given === 'string')
      throw storePathMissing(given, { cwd: process.cwd(), bootedSystem: realpathOrNull(deps.paths.bootedSystem) });
    throw new GitopsdError('usage', `cannot read the booted system ${deps.paths.bootedSystem}; pass --store-path`);
  }
  const r = await withHostLock(deps, 'boot reset', () => Promise.resolve(resetBootCounters(deps, path)));
  const text = `reset boot counters of ${path}: failures ${r.before.failures} -> 0, automatic reboots ${r.before.reboots} -> 0${r.turnCleared ? '; cleared the failed reboot turn (the reboot turns of its group resume)' : ''}`;
  return {
    exitCode: 0,
    text,
    json: {
      ok: true,
      storePath: path,
      before: r.before,
      after: { failures: 0, reboots: 0 },
      turnCleared: r.turnCleared,
    },
  };
};
