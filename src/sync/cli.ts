/**
 * CLI handlers of dotfile sync: `gitopsd sync` (chezmoi-sync), `sync status`
 * (chezmoi-status) and `sync conflicts` (chezmoi-show-conflicts). The work is
 * in ./index.ts; these only take the lock, call it and format the report.
 */
import type { Handler } from '../core/outcome.js';
import type { Outcome } from '../core/outcome.js';
import { ConfigError } from '../core/errors.js';
import type { Deps } from '../core/deps.js';
import { makeCtxForReport, prepareSync, runSync, syncStore, withSyncLock, type SyncResult } from './index.js';
import { readSync, type SyncSection } from './state.js';
import { printable } from '../core/printable.js';

function requireEnabled(deps: Deps): void {
  if (!deps.config.dotfiles.enable) {
    throw new ConfigError(
      `dotfiles.enable is false in ${deps.configPath}; set dotfiles.enable, dotfiles.user and dotfiles.url to sync dotfiles`,
    );
  }
}

export const syncCommand: Handler = async (deps) => {
  requireEnabled(deps);
  const { runAs } = await prepareSync(deps);
  const r = await withSyncLock(deps, () => runSync(deps, runAs));
  return {
    exitCode: r.exitCode,
    text: formatResult(r),
    json: { ok: r.exitCode === 0, ...r },
    // The run record, hooks and metrics use the sync's own result name (as dotfiles.lastSync does).
    run: { result: r.kind, error: r.exitCode === 0 ? null : r.message },
  };
};

export function formatResult(r: SyncResult): string {
  const lines = [`sync: ${r.kind}: ${r.message}`];
  for (const u of r.uncapturable) lines.push(`  not captured: ${u.target} (${u.code}): ${u.why}`);
  for (const t of r.deferred) lines.push(`  not applied yet (edited in $HOME during the sync): ${t}`);
  for (const t of r.removed) lines.push(`  removed (deleted on another host): ${t}`);
  for (const x of r.refused) lines.push(`  refused: ${x.target}: ${x.why}`);
  return printLines(lines);
}

/**
 * The lines as they go to a terminal: the targets, messages and state they
 * quote are the dotfiles user's (file names, jj and chezmoi output, the
 * sync state in a directory that user writes), so control characters are
 * shown as escapes, never sent to root's terminal (review 16).
 */
function printLines(lines: readonly string[]): string {
  return lines.map(printable).join('\n');
}

export const syncStatusCommand: Handler = async (deps) => {
  requireEnabled(deps);
  const st = readSync(syncStore(deps));
  const { runAs } = await prepareSync(deps);
  const live = await makeCtxForReport(deps, runAs).unpushed();
  // `ok` as in every command's JSON: the command did what it was asked (exit 0),
  // not "the last sync went well" (that is lastRun) (review 12).
  const json = {
    ok: true,
    lastRun: st.lastRun,
    lastOkAt: st.lastOkAt,
    unpushed: live.commits,
    unpushedError: live.error,
    parked: st.parked,
    uncapturable: st.uncapturable,
    deferred: st.deferred,
    refused: st.refused,
    interrupted: st.journal,
  };
  const lines: string[] = [];
  lines.push(
    st.lastRun === null
      ? 'last sync: never'
      : `last sync: ${st.lastRun.at} ${st.lastRun.result} (exit ${st.lastRun.exitCode}): ${st.lastRun.message}`,
  );
  lines.push(`last successful sync: ${st.lastOkAt ?? 'never'}`);
  if (live.error !== null) lines.push(`local commits not yet pushed: unknown (${live.error})`);
  else lines.push(`local commits not yet pushed: ${live.commits.length}`);
  for (const c of live.commits) lines.push(`  ${c}`);
  lines.push(...parkedLines(st));
  for (const u of st.uncapturable) lines.push(`not captured: ${u.target} (${u.code}): ${u.why}`);
  for (const t of st.deferred) lines.push(`not applied yet: ${t}`);
  for (const x of st.refused) lines.push(`refused: ${x.target}: ${x.why}`);
  if (st.journal !== null)
    lines.push(`interrupted during ${st.journal.phase} at ${st.journal.startedAt}; the next sync finishes it`);
  // A report: it succeeds whatever the last sync did (that is in the text and JSON).
  return { exitCode: 0, text: printLines(lines), json };
};

function parkedLines(st: SyncSection): string[] {
  if (st.parked === null) return ['parked conflicts: none'];
  return [`parked conflict since ${st.parked.since} on ${st.parked.bookmark}: ${st.parked.paths.join(', ')}`];
}

export function resolveSteps(opts: {
  src: string;
  bookmark: string;
  remote: string;
  park: string;
  paths?: readonly string[];
  /** dotfiles.chezmoiConfig: the person's chezmoi needs it to find the age/gpg settings. */
  chezmoiConfig?: string | null;
}): string[] {
  // jj merges encrypted files as opaque text: "edit the conflicting files"
  // cannot work on ciphertext. Decrypt both sides, merge the plaintext,
  // encrypt the result over the conflicted file (`chezmoi decrypt` reads
  // stdin, `chezmoi encrypt FILE` writes stdout: chezmoi docs
  // reference/commands/{decrypt,encrypt}). The plaintext goes to a fresh
  // `mktemp -d` directory (0700), never to a fixed name in the shared /tmp:
  // it is a secret, and another user could read or pre-create such a file.
  const chezmoi = opts.chezmoiConfig ? `chezmoi -c ${opts.chezmoiConfig}` : 'chezmoi';
  const encrypted = (opts.paths ?? []).filter((p) => (p.split('/').at(-1) ?? '').startsWith('encrypted_'));
  const decryptSteps = encrypted.flatMap((p) => [
    `# ${p} is encrypted: merge the plaintext, not the ciphertext, in a private directory:`,
    't=$(mktemp -d)',
    `jj file show -r ${opts.park} ${p} | ${chezmoi} decrypt > "$t/local"`,
    `jj file show -r ${opts.bookmark}@${opts.remote} ${p} | ${chezmoi} decrypt > "$t/remote"`,
    '# merge "$t/remote" and "$t/local" into "$t/merged", then:',
    `${chezmoi} encrypt "$t/merged" > ${p} && rm -r "$t"`,
  ]);
  return [
    `cd ${opts.src}`,
    `jj git fetch --remote ${opts.remote}`,
    `jj new ${opts.bookmark}@${opts.remote} ${opts.park}`,
    ...decryptSteps,
    '# edit the conflicting files until "jj resolve --list" finds nothing, then:',
    `jj commit -m "resolve dotfile conflict"`,
    `jj bookmark set ${opts.bookmark} -r @-`,
    `jj git push --remote ${opts.remote} -b ${opts.bookmark}`,
    '# the next sync on this host notices the merge, deletes the parked bookmark and applies the result',
  ];
}

export const syncConflictsCommand: Handler = (deps) => Promise.resolve(conflictsReport(deps));

function conflictsReport(deps: Deps): Outcome {
  requireEnabled(deps);
  const st = readSync(syncStore(deps));
  const d = deps.config.dotfiles;
  if (st.parked === null) {
    return { exitCode: 0, text: 'no parked conflicts', json: { ok: true, parked: null, paths: [], steps: [] } };
  }
  const steps = resolveSteps({
    src: d.sourceDir ?? '<sourceDir>',
    bookmark: d.bookmark,
    remote: d.remote,
    park: st.parked.bookmark,
    paths: st.parked.paths,
    chezmoiConfig: d.chezmoiConfig,
  });
  const text = printLines([
    `conflicting paths (source dir ${d.sourceDir ?? '?'}), parked on ${st.parked.bookmark} since ${st.parked.since}:`,
    ...st.parked.paths.map((p) => `  ${p}`),
    '',
    'to resolve, as the dotfiles user:',
    ...steps.map((s) => `  ${s}`),
  ]);
  // `ok`: the report was made (exit 0), as sync status's; a conflict is `parked` (review 12).
  return { exitCode: 0, text, json: { ok: true, parked: st.parked, paths: st.parked.paths, steps } };
}
