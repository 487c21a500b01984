/**
 * The "golden" section of the state document: which system store path is the
 * known-good one, and how it got there. The GC root (<gcRootsDir>/gitopsd-golden)
 * mirrors `current.storePath`; the state is the source of truth and the root
 * is repaired from it (see ensureGoldenRoot).
 */
import * as z from '../core/zod.js';
import type { StateDoc, StateStore } from '../core/state.js';
import { PARSE_ONCE } from '../core/parse-once.js';

export const GOLDEN_KEY = 'golden';
export const GOLDEN_HISTORY_LIMIT = 20;

export const PinSource = z.enum(['auto', 'manual']);
export type PinSource = z.infer<typeof PinSource>;

export const GoldenRecord = z.looseObject({
  /** Resolved store path (never a system-N-link). */
  storePath: z.string(),
  /** Generation number at pin time; information only (links come and go). */
  generation: z._default(z.nullable(z.number().check(z.int())), null),
  pinnedAt: z.string(),
  source: PinSource,
  /** Pinned with --force although it had no ok boot verdict. */
  forced: z._default(z.boolean(), false),
  /** Why it was pinned, in words (for `golden show`). */
  reason: z._default(z.string(), ''),
});
export type GoldenRecord = z.infer<typeof GoldenRecord>;

export const GoldenSection = z.looseObject({
  current: z._default(z.nullable(GoldenRecord), null),
  /** Earlier pins, newest last, bounded. */
  history: z._default(z.array(GoldenRecord), []),
});
export type GoldenSection = z.infer<typeof GoldenSection>;

export function parseGolden(raw: unknown): GoldenSection {
  return GoldenSection.parse(raw ?? {}, PARSE_ONCE);
}

export function readGolden(state: StateStore): GoldenSection {
  return parseGolden(state.section(GOLDEN_KEY));
}

export function goldenOf(doc: StateDoc): GoldenSection {
  return parseGolden(doc[GOLDEN_KEY]);
}

/**
 * Pure: pin `rec`. Re-pinning the path that is already golden keeps the
 * original record (its pinnedAt and source), so a golden that validates again
 * at every boot is reported as "unchanged", not re-pinned each morning.
 */
export function withPinned(s: GoldenSection, rec: GoldenRecord): { section: GoldenSection; changed: boolean } {
  if (s.current?.storePath === rec.storePath) return { section: s, changed: false };
  const history = s.current === null ? s.history : [...s.history, s.current].slice(-GOLDEN_HISTORY_LIMIT);
  return { section: { ...s, current: rec, history }, changed: true };
}

/**
 * Read the whole document, let `fn` return the sections to replace, and write
 * them in ONE atomic write. Used where several capabilities' records must
 * change together (a verdict, its golden pin and a bad commit), so a crash
 * can never leave one without the other.
 */
export function writeSections(state: StateStore, fn: (doc: StateDoc) => Record<string, unknown>): StateDoc {
  return state.update((doc) => ({ ...doc, ...fn(doc) }));
}
