/**
 * CLI handlers of the golden generation: `golden pin` (pin-golden), `golden
 * show` (show-golden), `golden rollback` (rollback-to-golden).
 */
import { createInterface } from 'node:readline/promises';
import type { Handler } from '../core/outcome.js';
import { withHostLock } from '../core/deps.js';
import { CommandFailed, GitopsdError } from '../core/errors.js';
import { goldenInfo, pinGoldenManually, planManualRollback, rollbackToGolden, type GoldenInfo } from './index.js';
import { readGolden } from './state.js';

function infoText(g: GoldenInfo): string {
  if (g.storePath === null) {
    return 'no golden generation pinned yet: the first boot that passes gitopsd boot validate pins it (autoPinGolden), or pin one with gitopsd golden pin';
  }
  return [
    `golden:     ${g.storePath}`,
    `generation: ${g.generation !== null ? g.generation : 'none (no profile link points at it any more; it is kept by the GC root)'}`,
    `pinned:     ${g.pinnedAt} (${g.source}${g.forced ? ', forced' : ''}${g.reason ? `: ${g.reason}` : ''})`,
    `GC root:    ${g.gcRoot} ${g.gcRootIntact ? 'intact' : `NOT intact (points at ${g.gcRootTarget ?? 'nothing'}); run gitopsd golden pin --store-path ${g.storePath} to repair it`}`,
  ].join('\n');
}

function showJson(g: GoldenInfo): Record<string, unknown> {
  return { ...g };
}

export const goldenPinCommand: Handler = async (deps, args) => {
  const storePath = typeof args['store-path'] === 'string' ? args['store-path'] : undefined;
  const generation = typeof args['generation'] === 'number' ? args['generation'] : undefined;
  if (generation !== undefined && (!Number.isInteger(generation) || generation < 1)) {
    // yargs reads a word (`--generation abc`) as NaN: name the fix, not "got NaN".
    const got = Number.isNaN(generation) ? 'not a number' : `got ${generation}`;
    throw new GitopsdError(
      'usage',
      `--generation must be a generation number, 1 or more (${got}); nix-env -p <profile> --list-generations lists them`,
    );
  }
  const r = await withHostLock(deps, 'golden pin', () =>
    pinGoldenManually(deps, { storePath, generation, force: args['force'] === true }),
  );
  const head =
    r.decision.kind === 'already'
      ? `${r.decision.storePath} (${r.how}) is already the golden; nothing changed${r.root === 'repaired' ? ' (its GC root was repaired)' : ''}`
      : `pinned ${r.info.storePath ?? ''} (${r.how}) as golden`;
  return {
    exitCode: 0,
    text: `${head}\n${infoText(r.info)}`,
    json: { ok: true, changed: r.decision.kind === 'pin', ...showJson(r.info) },
    run: { result: r.decision.kind === 'pin' ? 'pinned' : 'unchanged', generation: r.info.generation },
  };
};

export const goldenShowCommand: Handler = (deps) => {
  const g = goldenInfo(deps, readGolden(deps.state).current);
  return Promise.resolve({ exitCode: 0, text: infoText(g), json: { ok: true, ...showJson(g) } });
};

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const goldenRollbackCommand: Handler = async (deps, args) => {
  const mode: 'now' | 'reboot' = args['reboot'] === true ? 'reboot' : 'now';
  const plan = planManualRollback(deps);
  const what =
    mode === 'now'
      ? `switch the running system to the golden ${plan.target} now and make it the boot default`
      : `make the golden ${plan.target} the boot default and reboot`;
  if (mode === 'now' && plan.liveRefusal !== null) {
    // Before anything is changed: a live switch would only set the boot
    // default and exit 100, leaving a rollback recorded as failed.
    throw new GitopsdError(
      'refused',
      `golden rollback --now cannot switch to the golden ${plan.target} live: its init-interface-version ("${plan.liveRefusal.golden}") differs from the running system's ("${plan.liveRefusal.running}"), and switch-to-configuration starts such a system only with a reboot (it exits 100); nothing was changed; run gitopsd golden rollback --reboot`,
      { detail: { notARun: true } },
    );
  }
  if (args['yes'] !== true) {
    if (!deps.interactive) {
      throw new GitopsdError(
        'refused',
        `golden rollback would ${what}; there is no terminal to ask for confirmation, so pass --yes to confirm`,
        { detail: { notARun: true } },
      );
    }
    const from = plan.from !== null ? ` (running: ${plan.from})` : '';
    if (!(await confirm(`This will ${what}${from}. Continue? [y/N] `))) {
      throw new GitopsdError('refused', 'golden rollback cancelled; nothing was changed', {
        detail: { notARun: true },
      });
    }
  }
  let r;
  try {
    r = await withHostLock(deps, 'golden rollback', () => rollbackToGolden(deps, plan, mode));
  } catch (err) {
    if (err instanceof CommandFailed && err.cmd.endsWith('/bin/switch-to-configuration')) {
      throw new GitopsdError(
        'failed',
        `rolled the profile back to the golden ${plan.target}, but its activation reported a problem (${err.message}); the golden is the boot default: check systemctl --failed, or reboot`,
        { cause: err },
      );
    }
    throw err;
  }
  const lines = [
    r.alreadyThere
      ? `already running the golden ${plan.target}; made sure it is the profile and boot default${mode === 'reboot' ? ', reboot requested' : ''}`
      : mode === 'now'
        ? `rolled back: ${plan.target} is running now and is the boot default`
        : `rolled back: ${plan.target} is the boot default; reboot requested`,
  ];
  if (r.from !== null && r.from !== r.target) lines.push(`left: ${r.from}`);
  if (r.markedBad !== null) {
    lines.push(
      `commit ${r.markedBad.slice(0, 12)} is marked bad: upgrade will not redeploy it and waits for a newer commit`,
    );
  }
  if (!r.profileSet) lines.push('(the system profile already pointed at the golden; no new generation was made)');
  return {
    exitCode: 0,
    text: lines.join('\n'),
    json: { ok: true, mode, target: r.target, from: r.from, profileSet: r.profileSet, markedBadCommit: r.markedBad },
    run: { result: mode === 'now' ? 'rolled-back' : 'rolled-back-reboot' },
  };
};
