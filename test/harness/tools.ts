/**
 * The real tools the integration tests drive, and their minimum versions.
 *
 * Contract:
 * - `toolVersions()` runs `<tool> --version` for git, jj, chezmoi and nix and
 *   returns each parsed version, or null when the tool is missing or its output
 *   cannot be parsed. It never throws for a missing tool.
 * - `requireTools()` throws one error listing every missing or too-old tool,
 *   with what to do (run through scripts/testbed). Integration tests call it
 *   instead of skipping: a missing tool is always a failure, under CI=true or
 *   not, so a green run always means the real tools ran.
 * - Both are memoized for the process (the versions do not change mid-run).
 */
import { tryRun } from './exec.js';

export type ToolName = 'git' | 'jj' | 'chezmoi' | 'nix';

/** jj 0.38 needs git >= 2.41; chezmoi 2.71 has --error-on-conflict; nix 2.19 has `nix flake update --flake`. */
export const MIN_VERSIONS: Readonly<Record<ToolName, string>> = {
  git: '2.41.0',
  jj: '0.38.0',
  chezmoi: '2.71.0',
  nix: '2.19.0',
};

const TOOLS: readonly ToolName[] = ['git', 'jj', 'chezmoi', 'nix'];

/** Pulls the first dotted version out of a `--version` line. */
export function parseVersion(tool: ToolName, output: string): string | null {
  const patterns: Record<ToolName, RegExp> = {
    git: /^git version (\d+\.\d+(?:\.\d+)?)/m,
    jj: /^jj (\d+\.\d+(?:\.\d+)?)/m,
    chezmoi: /^chezmoi version v?(\d+\.\d+(?:\.\d+)?)/m,
    nix: /^nix \(Nix\) (\d+\.\d+(?:\.\d+)?)/m,
  };
  return patterns[tool].exec(output)?.[1] ?? null;
}

/** True when dotted version `a` >= `b`. */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

let versionsPromise: Promise<Record<ToolName, string | null>> | null = null;

async function probe(tool: ToolName): Promise<string | null> {
  try {
    const r = await tryRun(tool, ['--version'], { timeoutMs: 30_000 });
    return r.exitCode === 0 ? parseVersion(tool, r.stdout) : null;
  } catch {
    return null; // not on PATH
  }
}

export function toolVersions(): Promise<Record<ToolName, string | null>> {
  versionsPromise ??= (async () => {
    const found = await Promise.all(TOOLS.map(probe));
    return Object.fromEntries(TOOLS.map((t, i) => [t, found[i] ?? null])) as Record<ToolName, string | null>;
  })();
  return versionsPromise;
}

/** Throws unless every tool is present and new enough; returns their versions. */
export async function requireTools(): Promise<Record<ToolName, string>> {
  const v = await toolVersions();
  const problems: string[] = [];
  for (const t of TOOLS) {
    const have = v[t];
    if (have === null) problems.push(`${t} is not on PATH (need >= ${MIN_VERSIONS[t]})`);
    else if (!versionAtLeast(have, MIN_VERSIONS[t]))
      problems.push(`${t} ${have} is too old (need >= ${MIN_VERSIONS[t]})`);
  }
  if (problems.length > 0) {
    throw new Error(
      `integration tests need the real tools: ${problems.join('; ')}. ` +
        'Run them through scripts/testbed (for example `scripts/testbed npx vitest run`), which provides them.',
    );
  }
  return v as Record<ToolName, string>;
}

/** One line per tool, for the start of an integration run. */
export async function describeTools(): Promise<string> {
  const v = await requireTools();
  return TOOLS.map((t) => `${t} ${v[t]}`).join(', ');
}
