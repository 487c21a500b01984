/**
 * The demo's story, told from facts (issue 18, finding 8): which version each
 * generation of the system profile holds, and which pushed versions never got
 * one. The facts come from the real profile (`nix-env --list-generations`, read
 * by test/harness/sim-host.ts) and from the commits the demo pushed, never
 * from a sentence written in advance, so the story cannot drift from what ran.
 */

/** One generation of the system profile: its number and the version in its toplevel's name. */
export interface GenerationFact {
  number: number;
  version: string;
}

/**
 * The version in a simulated toplevel's store path: the last `-`-separated
 * part of `nixos-system-<host>-<version>` (test/harness/fleet.ts names them
 * so). Returns null for a path of another shape.
 */
export function versionOfToplevel(storePath: string): string | null {
  const m = /-nixos-system-[a-z0-9]+-([A-Za-z0-9.]+)$/.exec(storePath);
  return m?.[1] ?? null;
}

/**
 * One sentence per fact, in generation order:
 *   "Generation 1 is v1, 2 is v2, 3 is v4, and 4 is v2 again."
 * then, when some pushed version has no generation, why the numbers jump:
 *   "v3-broken has no generation: it never built."
 * `gens` must be sorted by number and non-empty; `pushed` lists the versions
 * the demo committed, in order. Pure.
 */
export function generationStory(gens: GenerationFact[], pushed: string[]): string[] {
  if (gens.length === 0) return ['The system profile has no generation yet.'];
  const seen = new Set<string>();
  const parts = gens.map((g, i) => {
    const again = seen.has(g.version) ? ' again' : '';
    seen.add(g.version);
    return `${i === 0 ? 'Generation ' : ''}${g.number} is ${g.version}${again}`;
  });
  const list =
    parts.length === 1
      ? parts[0]
      : `${parts.slice(0, -1).join(', ')}${parts.length > 2 ? ',' : ''} and ${parts.at(-1)}`;
  const out = [`${list}.`];
  const unbuilt = pushed.filter((v) => !seen.has(v));
  if (unbuilt.length > 0) {
    out.push(`${unbuilt.join(', ')} ${unbuilt.length === 1 ? 'has' : 'have'} no generation: never built.`);
  }
  return out;
}

/**
 * The versions of `pushed` that `narration` never names: the demo checks this
 * is empty at its end, so every version it deploys is part of the story.
 * A version counts as named when it appears as a word of its own.
 */
export function unnamedVersions(narration: string, pushed: string[]): string[] {
  return pushed.filter(
    (v) => !new RegExp(`(^|[^A-Za-z0-9-])${v.replace(/[.]/g, '\\.')}($|[^A-Za-z0-9-])`).test(narration),
  );
}
