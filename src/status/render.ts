/** Pure: the status report as one screen of text, coloured on a TTY. */
import type { StatusReport } from './index.js';
import { counted } from '../core/text.js';
import { printable } from '../core/printable.js';
import { UNIT_OF_STEP, type Step } from '../report/runs.js';

type Tone = 'ok' | 'warn' | 'bad' | 'dim';
const CODES: Record<Tone, string> = { ok: '32', warn: '33', bad: '31', dim: '2' };

function span(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/**
 * Pure: the age of an ISO time at `now`, e.g. "5m ago". A time after `now`
 * (written while the clock was ahead: a real-time clock corrected by NTP
 * afterwards, or an injected test clock) says so, never a negative age.
 */
export function ago(iso: string | null, now: Date): string {
  if (iso === null || iso === '') return 'never';
  const s = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  if (s < 0) return `${span(-s)} in the future, written while the clock was ahead`;
  return `${span(s)} ago`;
}

const short = (s: string | null): string => (s === null ? '-' : s.length === 40 ? s.slice(0, 12) : s);
const storeName = (p: string | null): string => (p === null ? '-' : p.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ''));

export function renderStatus(r: StatusReport, opts: { color: boolean }): string {
  const now = new Date(r.generatedAt);
  const c = (tone: Tone, s: string): string => (opts.color ? `\u001b[${CODES[tone]}m${s}\u001b[0m` : s);
  // Rows are laid out at the end, once every label is known: a fixed
  // column let a longer label (a step's name, `golden-rollback`) push its
  // value one column right of the others (review 12).
  const lines: Array<string | { label: string; value: string }> = [];
  const section = (name: string): void => {
    lines.push(opts.color ? `\u001b[1m${name}\u001b[0m` : name);
  };
  const row = (label: string, value: string): void => {
    lines.push({ label, value });
  };

  lines.push(`gitopsd ${r.version} on ${r.hostname}`);

  section('git');
  const rel = r.git.relation;
  const relText =
    rel === 'up-to-date'
      ? c('ok', 'up to date')
      : rel === 'behind'
        ? c('warn', `behind ${r.git.behind}`)
        : rel === 'ahead'
          ? c('warn', `ahead ${r.git.ahead}`)
          : rel === 'diverged'
            ? c('bad', `diverged (ahead ${r.git.ahead}, behind ${r.git.behind})`)
            : c('warn', rel === 'no-checkout' ? 'no checkout yet' : 'never fetched');
  row('checkout', `${r.git.path} (${r.git.remote}/${r.git.branch}): ${relText}`);
  if (r.git.checkoutNote !== null) row('', c('warn', r.git.checkoutNote));
  row('last fetch', ago(r.git.lastFetch, now));
  row(
    'deployed',
    r.git.deployed === null
      ? c('dim', 'nothing deployed by gitopsd yet')
      : `${short(r.git.deployed.commit)} ${r.git.deployed.subject ?? ''} (${ago(r.git.deployed.at, now)})`,
  );

  section('lock');
  const ageTone: Tone =
    r.lock.age === 'ok' ? 'ok' : r.lock.age === 'stale' ? 'warn' : r.lock.age === 'old' ? 'bad' : 'dim';
  row(
    'flake.lock',
    r.lock.newestInputAgeDays === null
      ? c('dim', 'no locked inputs')
      : `newest input ${r.lock.newestInputAgeDays}d old: ${c(ageTone, r.lock.age)}`,
  );
  row(
    'gitopsd',
    r.lock.gitopsd.differs === null
      ? `${r.lock.gitopsd.running} (deployed version unknown)`
      : r.lock.gitopsd.differs
        ? c('warn', `${r.lock.gitopsd.running} running, ${r.lock.gitopsd.deployed ?? '?'} deployed`)
        : c('ok', `${r.lock.gitopsd.running} (matches the deployed config)`),
  );

  section('system');
  // A missing link is a fact to show, not a blank: on a path that is not a
  // NixOS system (a copy of a config elsewhere) "-" would read as "nothing".
  const link = (p: string | null): string => (p === null ? c('bad', 'not found (no such system link)') : storeName(p));
  row('current', link(r.system.current));
  row('booted', link(r.system.booted));
  row(
    'deployed',
    r.system.deployed === null
      ? '-'
      : `${storeName(r.system.deployed)}${r.system.deployedGeneration === null ? '' : ` (generation ${r.system.deployedGeneration})`}`,
  );
  row(
    'running',
    r.system.runningIsDeployed === null
      ? c('dim', 'unknown')
      : r.system.runningIsDeployed
        ? c('ok', 'the deployed generation')
        : c('warn', 'not the deployed generation'),
  );
  row(
    'reboot',
    r.system.rebootNeeded ? c('warn', `needed (${r.system.rebootReasons.join(', ')} changed)`) : 'not needed',
  );
  if (r.system.activationPending) row('activation', c('warn', 'pending'));
  // The reboot turn (docs/rollout.md "Reboots take turns").
  const turn = r.rebootTurn;
  if (turn !== null)
    row(
      'reboot turn',
      c(
        turn.state === 'failed' ? 'bad' : 'warn',
        `${turn.state} in group ${turn.group} (${ago(turn.since, now)}; announced ${ago(turn.announcedAt, now)}), into ${storeName(turn.system)}`,
      ),
    );

  section('boot');
  const vTone: Tone = r.boot.verdict === 'ok' ? 'ok' : r.boot.verdict === 'failed' ? 'bad' : 'warn';
  row(
    'verdict',
    `${c(vTone, r.boot.verdict)}, ${counted(r.boot.attempts, 'attempt')}, ${counted(r.boot.failures, 'failure')} of this system`,
  );
  if (r.boot.degraded)
    row('state', c('bad', 'DEGRADED: automatic rollback is not possible; see `gitopsd boot status`'));
  if (r.boot.lastRollback !== null) {
    const rb = r.boot.lastRollback;
    row('last rollback', c('warn', `${ago(rb.at, now)} to ${storeName(rb.to)}: ${rb.reason}`));
  }

  section('golden');
  if (r.golden.storePath === null) row('golden', c('warn', 'none pinned yet'));
  else {
    row('path', storeName(r.golden.storePath));
    row('pinned', `${ago(r.golden.pinnedAt, now)} (${r.golden.source ?? '?'})`);
    row('gc root', r.golden.gcRootIntact ? c('ok', 'intact') : c('bad', `NOT intact: ${r.golden.gcRoot}`));
  }

  section('dotfiles');
  if (!r.dotfiles.enabled) row('sync', c('dim', 'disabled'));
  else {
    // The sync state is in a directory the dotfiles user writes, and its
    // names are that user's files: printable, so none of it reaches root's
    // terminal as control characters (review 16).
    const ls = r.dotfiles.lastSync;
    const result = ls === null ? '' : printable(ls.result);
    row(
      'last sync',
      ls === null ? 'never' : `${ago(ls.at, now)}: ${ls.exitCode === 0 ? c('ok', result) : c('warn', result)}`,
    );
    if (r.dotfiles.unpushed === true) row('unpushed', c('warn', 'local commits wait for the remote'));
    if (r.dotfiles.parked !== null) {
      const { paths, bookmark } = r.dotfiles.parked;
      row('conflict', c('bad', printable(`${paths.join(', ')} parked on ${bookmark}`)));
    }
    for (const u of r.dotfiles.uncapturable) row('not captured', c('warn', printable(`${u.target}: ${u.why}`)));
  }

  section('runs');
  const lu = r.lastUpgrade;
  row(
    'last upgrade',
    lu === null
      ? 'never'
      : `${ago(lu.at, now)}: ${lu.result === 'deployed' || lu.result === 'no-op' ? c('ok', lu.result) : lu.result === 'gated' || lu.result === 'halted' ? c('warn', lu.result) : c('bad', lu.result)} ${short(lu.commit)} in ${(lu.durationMs / 1000).toFixed(1)}s`,
  );
  // The rollout gate's reasoning, one line (docs/rollout.md).
  // It may quote another host's status document (a known-bad reason), as fleet status does.
  if (lu !== null && lu.gate !== null) row('rollout', c(lu.result === 'halted' ? 'bad' : 'warn', printable(lu.gate)));
  for (const [step, run] of Object.entries(r.runs)) {
    if (step === 'upgrade') continue;
    row(step, `${ago(run.at, now)}: ${run.ok ? c('ok', run.result) : c('bad', run.result)}`);
  }
  // Where the newest run's log is: by its systemd invocation, else the terminal that ran it.
  const newest = Object.entries(r.runs).sort(([, a], [, b]) => Date.parse(b.at) - Date.parse(a.at))[0];
  if (newest !== undefined) {
    const [step, run] = newest;
    const unit = UNIT_OF_STEP[step as Step];
    row(
      'log',
      run.log !== null
        ? `${run.log} (the ${step} run ${ago(run.at, now)})`
        : `the ${step} run ${ago(run.at, now)} ran outside systemd: its log went to the terminal that started it${unit === undefined ? '' : `; unattended runs: journalctl -u ${unit}`}`,
    );
  }
  if (r.knownBadCommits.length > 0) {
    row(
      'known bad',
      c(
        'warn',
        `${r.knownBadCommits.map((b) => `${short(b.commit)} (${b.reason}${b.cause !== null ? `: ${b.cause}` : ''})`).join(', ')}; gitopsd bad list`,
      ),
    );
  }
  if (r.retrying.length > 0) {
    row(
      'retrying',
      c(
        'warn',
        r.retrying
          .map((x) => `${short(x.commit)} (${x.stage} ${x.cause}, ${x.failures}x, not before ${x.notBefore})`)
          .join(', '),
      ),
    );
  }
  if (r.publish.enabled) {
    row(
      'fleet publish',
      r.publish.lastError !== null
        ? c('warn', `failing (${r.publish.failures}x): ${r.publish.lastError}`)
        : r.publish.lastOkAt === null
          ? c('dim', 'not published yet')
          : c('ok', `published ${ago(r.publish.lastOkAt, now)} to ${r.publish.ref ?? '?'}`),
    );
  }
  row('next run', r.schedule.nextRun === null ? '-' : `${r.schedule.nextRun} (${r.schedule.cron})`);
  // At least 14 wide, the column of the fixed labels, so the usual screen keeps its layout.
  const width = Math.max(14, ...lines.map((l) => (typeof l === 'string' ? 0 : l.label.length)));
  return lines.map((l) => (typeof l === 'string' ? l : `  ${l.label.padEnd(width)} ${l.value}`)).join('\n');
}
