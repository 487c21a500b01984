/**
 * The three-way merge of a source change into an edited $HOME file (so
 * `chezmoi re-add` captures the person's edit on top of the change instead
 * of reverting it), done as the dotfiles user: `git merge-file` reads both
 * sides and the base, and the result is written in place through
 * fs-boundary.ts, never through a symlink.
 */
import { join } from 'node:path';
import type { RunResult } from '../core/runner.js';
import { privateTemp, type UserTree } from './fs-boundary.js';
import { filesetOf, jj, type JjCtx } from './jj.js';
import { lastLine } from './text.js';
import { isEncrypted, modeAttrsChange, sameTarget } from './decide.js';

/** A $HOME target the sync left alone, and why (one line for people). */
export interface Refusal {
  target: string;
  why: string;
}

/** What the merge needs beyond a jj call: $HOME, and the user's file access. */
export interface MergeCtx extends JjCtx {
  dest: string;
  user: string;
  tree: UserTree;
}

/**
 * Merge the source's change into an edited $HOME file, so re-add captures
 * the edit on top of it. 'capture': merged (or nothing to merge); 'leave':
 * a conflict or a template, left for a later sync; 'encrypted': an
 * `encrypted_` entry, left for a person; a Refusal: the target is
 * not a regular file of the user's (a symlink, say), so nothing is written.
 *
 * Root reads and writes nothing of the user's here: `git merge-file` runs as
 * the user and reads $HOME and the source file itself; the merge base is
 * handed over from a root-owned directory (privateTemp); the result is
 * written in place by the user's own process, which opens the target with
 * O_NOFOLLOW and refuses anything but a regular file the user owns.
 */
export async function mergeIntoHome(
  ctx: MergeCtx,
  m: {
    target: string;
    srcRel: string;
    base: string;
  },
): Promise<'capture' | 'leave' | 'encrypted' | Refusal> {
  if (m.srcRel.endsWith('.tmpl')) return 'leave';
  const home = join(ctx.dest, m.target);
  const [kind] = await ctx.tree.kinds([home]);
  if (kind !== 'file') return refuseWrite(ctx, m.target, kind === 'symlink' ? 'is a symbolic link' : `is a ${kind}`);
  let baseRel = m.srcRel;
  let baseText = await jj(ctx, ['file', 'show', '-r', m.base, '--', filesetOf([m.srcRel])], { allowFailure: true });
  if (baseText.exitCode !== 0) {
    // Not at the base under this name: another host's attribute change
    // (`chmod` → `private_`) may have renamed the target's entry since. Its
    // entry at the base is the merge base; without it, re-add copied the
    // $HOME file over that host's content and mode (review 13b, D1). jj's
    // `diff --name-only` names only the new path of a rename, so the base's
    // own file list is asked (one jj call, on this path only).
    const files = await jj(ctx, ['file', 'list', '-r', m.base], { allowFailure: true });
    const old = files.stdout.split('\n').find((p) => p !== '' && p !== m.srcRel && sameTarget(p, m.srcRel));
    if (files.exitCode === 0 && old !== undefined) {
      baseRel = old;
      baseText = await jj(ctx, ['file', 'show', '-r', m.base, '--', filesetOf([old])], { allowFailure: true });
    }
  }
  // New since the base: nothing to revert.
  if (baseText.exitCode !== 0) return 'capture';
  if (baseRel.endsWith('.tmpl')) return 'leave';
  // Ciphertext on either side: `git merge-file` of the plaintext in $HOME
  // against age armor can only conflict, and did, with a reason that did not
  // fit (review 13b, W2); on one side only, the other host encrypted or
  // decrypted the entry. A person merges (findUncapturable says how).
  // Decrypting for the merge would put the secret's plaintext in files root
  // hands over, which a kill -9 leaves behind.
  if (isEncrypted(baseRel) || isEncrypted(m.srcRel)) return 'encrypted';
  const tmp = privateTemp({ stateDir: ctx.deps.paths.stateDir, syncDir: ctx.deps.paths.syncDir, runAs: ctx.runAs });
  let merged: RunResult;
  try {
    const basePath = tmp.write('base', baseText.stdout);
    merged = await ctx.deps.runner.run('git', ['merge-file', '-p', '--', home, basePath, join(ctx.src, m.srcRel)], {
      allowFailure: true,
      ...(ctx.runAs ? { user: ctx.runAs } : {}),
    });
  } finally {
    tmp.remove();
  }
  if (merged.exitCode !== 0) {
    // 1..127: that many conflicts; 255: an error (git merge-file(1)).
    ctx.log.warn('edit in $HOME conflicts with a change not yet applied; left for the next sync', {
      target: m.target,
      exitCode: merged.exitCode,
      stderr: lastLine(merged.stderr),
    });
    return 'leave';
  }
  // In place: the file keeps its owner and mode.
  // With the mode the source now has, so re-add keeps the entry's name.
  const mode = modeAttrsChange(baseRel, m.srcRel);
  const why = await ctx.tree.writeInPlace(home, merged.stdout, Object.keys(mode).length > 0 ? mode : undefined);
  return why === null ? 'capture' : refuseWrite(ctx, m.target, why);
}

function refuseWrite(ctx: MergeCtx, target: string, what: string): Refusal {
  return refusal(
    ctx,
    target,
    `$HOME/${target} ${what}, so the sync does not write it (the source keeps its version); make it a regular file of ${ctx.user} and sync again`,
  );
}

export function refusal(ctx: { log: JjCtx['log'] }, target: string, why: string): Refusal {
  ctx.log.warn('target in $HOME refused', { target, why });
  return { target, why };
}
