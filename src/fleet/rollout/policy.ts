/**
 * The rollout policy: `gitopsd-rollout.json` at the top of the nix-config
 * repository, read from the commit being deployed (docs/rollout.md
 * "Policy file"). Pure: parsing and validation only; reading the file from
 * git is src/fleet/rollout/read-policy.ts.
 *
 * Shape (version 1):
 *
 *     { "v": 1,
 *       "waves": [
 *         { "name": "canary", "hosts": ["a", "b", "c"], "maxFailures": 0 },
 *         { "hosts": ["d", "e"], "requireHealthy": 2, "soakMinutes": 60, "maxFailures": 1 },
 *         { "name": "rest", "hosts": [], "requireHealthy": "50%", "soakMinutes": 120 } ] }
 *
 * - `waves[0]` is wave 0; hosts of wave 0 deploy a commit at once.
 * - `requireHealthy` (wave N > 0): how many hosts of wave N-1 must report
 *   the commit deployed, healthy and booted well for `soakMinutes`; a count,
 *   or a percentage of wave N-1's hosts (rounded up). Hosts whose status is
 *   stale, missing or unverified never count, so they can only hold a wave
 *   back, never make its threshold easier.
 * - `maxFailures`: more failures of the commit than this, anywhere in the
 *   fleet, halt the rollout of that commit on every host of this wave.
 * - A host in no wave is in the last wave.
 *
 * Errors: `parsePolicy` returns one line naming the field and the fix; it
 * never throws.
 */
import * as z from '../../core/zod.js';

/** The file name, at the top of the nix-config repository. */
export const POLICY_FILE = 'gitopsd-rollout.json';
/** A policy larger than this is refused (bytes): it is read on every upgrade. */
export const MAX_POLICY_BYTES = 256 * 1024;

/** The same rule as the config's `hostname` (src/core/config-schema.ts). */
const hostName = z.string().check(
  z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message: 'must be a host name (letters, digits, ".", "_", "-"; at most 63 characters)',
  }),
);

const threshold = z.union([
  z.number().check(z.int(), z.gte(0, { message: 'must be a count >= 0' })),
  z.string().check(z.regex(/^(100|[1-9]?[0-9])%$/, { message: 'must be a percentage from "0%" to "100%"' })),
]);

const Wave = z.strictObject({
  /** A label for messages; defaults to "wave N". */
  name: z.optional(
    z
      .string()
      .check(
        z.regex(/^[A-Za-z0-9][A-Za-z0-9._ -]{0,39}$/, { message: 'must be a short label (letters, digits, " ._-")' }),
      ),
  ),
  hosts: z._default(z.array(hostName).check(z.maxLength(10000)), []),
  /** Hosts of the previous wave that must be healthy on the commit: a count or "N%" of that wave. */
  requireHealthy: z.optional(threshold),
  /** How long (minutes) those hosts must have been healthy on the commit. */
  soakMinutes: z.optional(z.number().check(z.int(), z.gte(0), z.lte(525600))),
  /** More failures of the commit than this, anywhere in the fleet, halt it for this wave. */
  maxFailures: z._default(z.number().check(z.int(), z.gte(0), z.lte(100000)), 0),
});

export const PolicyV1 = z
  .strictObject({
    v: z.literal(1, { message: 'must be 1 (the policy format version)' }),
    waves: z.array(Wave).check(z.minLength(1, { message: 'must list at least one wave' }), z.maxLength(64)),
  })
  .check(
    z.superRefine((p, ctx) => {
      const seen = new Map<string, number>();
      p.waves.forEach((w, i) => {
        if (i === 0 && (w.requireHealthy !== undefined || w.soakMinutes !== undefined)) {
          ctx.addIssue({
            code: 'custom',
            path: ['waves', 0],
            message:
              'wave 0 deploys at once: remove requireHealthy and soakMinutes from it (they belong to the waves after it)',
          });
        }
        if (i < p.waves.length - 1 && w.hosts.length === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['waves', i, 'hosts'],
            message: 'is empty; only the last wave may be empty (it takes every host no wave lists)',
          });
        }
        w.hosts.forEach((h, j) => {
          const prev = seen.get(h);
          if (prev !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['waves', i, 'hosts', j],
              message: `host "${h}" is already in wave ${prev}; a host belongs to one wave`,
            });
          } else seen.set(h, i);
        });
        if (i > 0 && typeof w.requireHealthy === 'number') {
          const prevSize = p.waves[i - 1]?.hosts.length ?? 0;
          if (w.requireHealthy > prevSize) {
            ctx.addIssue({
              code: 'custom',
              path: ['waves', i, 'requireHealthy'],
              message: `is ${w.requireHealthy}, but wave ${i - 1} has only ${prevSize} host(s); lower it or use a percentage`,
            });
          }
        }
      });
    }),
  );
export type PolicyV1 = z.output<typeof PolicyV1>;

/** One wave with its defaults filled in. */
export interface Wave {
  index: number;
  name: string;
  hosts: readonly string[];
  /** Wave 0: 0. Else a count or a percentage of wave N-1's hosts. */
  requireHealthy: { count: number } | { percent: number };
  soakMinutes: number;
  maxFailures: number;
}

export interface Policy {
  v: 1;
  waves: readonly Wave[];
}

/** Defaults of a wave after wave 0 (docs/rollout.md): every host of the previous wave, one hour. */
export const DEFAULT_REQUIRE = '100%';
export const DEFAULT_SOAK_MINUTES = 60;

function normalize(p: PolicyV1): Policy {
  return {
    v: 1,
    waves: p.waves.map((w, i) => {
      const t = i === 0 ? 0 : (w.requireHealthy ?? DEFAULT_REQUIRE);
      return {
        index: i,
        name: w.name ?? `wave ${i}`,
        hosts: w.hosts,
        requireHealthy: typeof t === 'number' ? { count: t } : { percent: Number(t.slice(0, -1)) },
        soakMinutes: i === 0 ? 0 : (w.soakMinutes ?? DEFAULT_SOAK_MINUTES),
        maxFailures: w.maxFailures,
      };
    }),
  };
}

export type PolicyParse = { ok: true; policy: Policy } | { ok: false; error: string };

/**
 * Pure: parse the text of gitopsd-rollout.json. `source` names it in the
 * error (e.g. "gitopsd-rollout.json at 1a2b3c4d").
 */
export function parsePolicy(text: string, source: string): PolicyParse {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    return { ok: false, error: `${source} is larger than ${MAX_POLICY_BYTES} bytes; a rollout policy is a short list` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      error: `${source} is not valid JSON (${(err as Error).message}); fix the file in nix-config (docs/rollout.md)`,
    };
  }
  const parsed = PolicyV1.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = (issue?.path ?? []).map(String).join('.');
    return {
      ok: false,
      error: `${source} is malformed: ${where === '' ? '' : `${where} `}${issue?.message ?? 'invalid'}; fix the file in nix-config (docs/rollout.md)`,
    };
  }
  return { ok: true, policy: normalize(parsed.data) };
}

/** Pure: the wave of `host`: the one that lists it, else the last wave. */
export function waveOf(policy: Policy, host: string): Wave {
  for (const w of policy.waves) if (w.hosts.includes(host)) return w;
  const last = policy.waves[policy.waves.length - 1];
  if (last === undefined) throw new Error('a policy has at least one wave');
  return last;
}

/**
 * Pure: the members of wave `index`, given every known host: the hosts it
 * lists, plus (for the last wave) every known host no wave lists. Sorted.
 */
export function membersOf(policy: Policy, index: number, knownHosts: readonly string[]): string[] {
  const w = policy.waves[index];
  if (w === undefined) return [];
  const out = new Set(w.hosts);
  if (index === policy.waves.length - 1) {
    const listed = new Set(policy.waves.flatMap((x) => x.hosts));
    for (const h of knownHosts) if (!listed.has(h)) out.add(h);
  }
  return [...out].sort();
}

/** Pure: how many hosts of a wave of `size` hosts a threshold asks for (percentages round up). */
export function requiredCount(t: Wave['requireHealthy'], size: number): number {
  if ('count' in t) return Math.min(t.count, size);
  return Math.ceil((t.percent * size) / 100);
}

/**
 * Pure: the hosts a policy names that the fleet does not know. "Known" means
 * the host has a status ref at the status remote (any state: healthy,
 * stale, even invalid), or is the host asking. A new host therefore
 * publishes its status first (gitopsd publishes after its first run), then
 * joins the policy (docs/rollout.md "Unknown hosts").
 */
export function unknownHosts(policy: Policy, knownHosts: readonly string[]): { host: string; wave: number }[] {
  const known = new Set(knownHosts);
  return policy.waves.flatMap((w) => w.hosts.filter((h) => !known.has(h)).map((h) => ({ host: h, wave: w.index })));
}

/** Pure: the one-line error for unknown hosts, or null when there are none. */
export function unknownHostsError(policy: Policy, knownHosts: readonly string[], source: string): string | null {
  const u = unknownHosts(policy, knownHosts);
  if (u.length === 0) return null;
  const list = u
    .slice(0, 5)
    .map((x) => `"${x.host}" (wave ${x.wave})`)
    .join(', ');
  return `${source} names ${u.length === 1 ? 'a host' : `${u.length} hosts`} with no published status: ${list}${u.length > 5 ? ', ...' : ''}; fix the spelling, or let the new host publish its status first (gitopsd fleet publish) and then add it`;
}
