/**
 * A person resolving a parked dotfile conflict by following, line by line,
 * the steps `gitopsd sync conflicts --json` prints (`steps`, made by
 * src/sync/cli.ts resolveSteps). The demo's last chapter and the sync
 * conflict test both use it, so what they show is what a person reads.
 *
 * Contract:
 * - `printedSteps` (pure) takes the steps from the text a person reads.
 * - `classifyStep` (pure) sorts one printed line: `cd DIR`, the comment that
 *   asks for the edit ("# edit the conflicting files ..."), another comment,
 *   or a command line. A comment asking for anything else (the encrypted
 *   files' "# merge /tmp/remote.txt ...") is `unsupported`: `followSteps`
 *   throws on it rather than skip a step.
 * - `followSteps` runs each command line as typed into a shell (`bash -c
 *   LINE`, in the directory of the last `cd`): a person pastes these lines
 *   into a terminal, so the quoting is the shell's, as theirs would be (this
 *   is a person, not gitopsd; gitopsd's own runner never uses a shell). At the
 *   edit comment it runs `jj resolve --list` (the conflicted files), calls
 *   `merge(dir)` (the person's edit), and runs `jj resolve --list` again,
 *   which must now find nothing, as the comment says. A command that exits
 *   non-zero throws, naming it and its stderr.
 */
import { tryRun } from '../test/harness/exec.js';

export type Step =
  | { kind: 'cd'; dir: string }
  | { kind: 'edit' }
  | { kind: 'note'; text: string }
  | { kind: 'unsupported'; text: string }
  | { kind: 'run'; line: string };

export function classifyStep(line: string): Step {
  const s = line.trim();
  const cd = /^cd (\S+)$/.exec(s);
  if (cd?.[1] !== undefined) return { kind: 'cd', dir: cd[1] };
  if (s.startsWith('# edit the conflicting files')) return { kind: 'edit' };
  if (s.startsWith('# merge ') || s.includes('is encrypted')) return { kind: 'unsupported', text: s };
  if (s.startsWith('#')) return { kind: 'note', text: s.replace(/^#\s*/, '') };
  return { kind: 'run', line: s };
}

/**
 * The steps in the text of `gitopsd sync conflicts`: the indented lines after
 * "to resolve, as the dotfiles user:" (src/sync/cli.ts conflictsReport).
 * Throws when the text has no such line.
 */
export function printedSteps(text: string): string[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === 'to resolve, as the dotfiles user:');
  if (at < 0) throw new Error(`demo: no "to resolve, as the dotfiles user:" in the output of sync conflicts:\n${text}`);
  return lines
    .slice(at + 1)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export interface FollowOptions {
  steps: readonly string[];
  /** The person's edit: write the merged content of the conflicting files in `dir` (the source dir). */
  merge(dir: string): Promise<void>;
  /** Environment of the person's shell (JJ_USER, JJ_EMAIL, …), added to the inherited one. */
  env?: Readonly<Record<string, string>>;
  /** Where each typed line and its output go. */
  say(line: string): void;
}

export async function followSteps(o: FollowOptions): Promise<void> {
  let cwd: string | null = null;
  /** Runs one typed line; `want` is the exit code it must give, and text its output must hold. */
  const sh = async (line: string, want: { exit: number; text?: string } = { exit: 0 }): Promise<void> => {
    if (cwd === null) throw new Error(`demo: "${line}" comes before any "cd" in the printed steps`);
    const r = await tryRun('bash', ['-c', line], { cwd, ...(o.env === undefined ? {} : { env: o.env }) });
    o.say(`  $ ${line}   -> exit ${r.exitCode}`);
    const out = `${r.stdout}${r.stderr}`;
    for (const l of out.split('\n').filter((x) => x.trim() !== '')) o.say(`      ${l}`);
    if (r.exitCode !== want.exit || (want.text !== undefined && !out.includes(want.text)))
      throw new Error(
        `demo: "${line}" exited ${r.exitCode}, expected ${want.exit}${want.text === undefined ? '' : ` with "${want.text}"`}: ${r.stderr}`,
      );
  };
  for (const line of o.steps) {
    const st = classifyStep(line);
    switch (st.kind) {
      case 'cd':
        cwd = st.dir;
        o.say(`  $ ${line}`);
        break;
      case 'note':
        o.say(`  ${line}`);
        break;
      case 'unsupported':
        throw new Error(`demo: cannot follow the printed step "${st.text}"`);
      case 'edit': {
        o.say(`  ${line}`);
        // jj resolve --list exits 0 listing the conflicted files, and 2 with
        // "No conflicts found at this revision" once there are none.
        await sh('jj resolve --list');
        if (cwd === null) throw new Error('demo: the edit step comes before any "cd" in the printed steps');
        await o.merge(cwd);
        await sh('jj resolve --list', { exit: 2, text: 'No conflicts found' });
        break;
      }
      case 'run':
        await sh(st.line);
        break;
    }
  }
}
