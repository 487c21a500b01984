/**
 * `git fetch --porcelain` output (git >= 2.41; git-fetch(1), OUTPUT), read
 * by the upgrade's poll (src/upgrade/git.ts, src/cycle/poll.ts), the update
 * branches (src/fleet/updates) and the fleet reader (src/fleet/git.ts):
 * one line per ref, `<flag> <old-object-id> <new-object-id> <local-reference>`,
 * on stdout. Refs that did not change are printed only with `--verbose`
 * (flag '='); `--quiet` prints nothing at all. Pure.
 */

/** One line of `git fetch --porcelain` (git-fetch(1), OUTPUT): a ref the fetch changed (or, with --verbose, left alone). */
export interface FetchedRef {
  /** ' ' fast-forward, '+' forced, '*' new ref, '-' pruned, 't' tag, '!' rejected, '=' up to date. */
  flag: string;
  old: string;
  new: string;
  /** The local ref, e.g. refs/remotes/origin/main. */
  ref: string;
}

/**
 * Parse `git fetch --porcelain` output: `<flag> <old-object-id>
 * <new-object-id> <local-reference>` per line. Lines of another shape are
 * skipped (a ref name has no spaces: git-check-ref-format(1)).
 */
export function parseFetchPorcelain(stdout: string): FetchedRef[] {
  const out: FetchedRef[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(.) ([0-9a-f]{40,64}) ([0-9a-f]{40,64}) (\S+)$/.exec(line);
    if (m) out.push({ flag: m[1] ?? '', old: m[2] ?? '', new: m[3] ?? '', ref: m[4] ?? '' });
  }
  return out;
}
