/**
 * The seam between the upgrade and the rollout gate (docs/rollout.md). The
 * gate reads the fleet's published statuses, which sit above the upgrade
 * (src/fleet); the upgrade only knows this shape, and the composition root
 * (src/cli, src/cycle) hands it the real gate (src/fleet/rollout/check.ts).
 *
 * Verdicts:
 * - pass: deploy C now;
 * - wait: not yet (a wave is soaking, or statuses are stale or missing);
 *   the upgrade records "gated" and exits 0, nothing built or changed;
 * - halt: C is halted fleet-wide (a halt marker, a known-bad mark, too many
 *   failures); the upgrade records "halted" and exits 3, as for a known-bad
 *   tip;
 * - refuse: the policy itself is bad (malformed, an unknown host); the
 *   upgrade records "refused" and exits 6, nothing built.
 */
export type GateVerdict =
  | { kind: 'pass'; line: string }
  | { kind: 'wait'; line: string }
  | { kind: 'halt'; line: string }
  | { kind: 'refuse'; line: string };

/** `commit`: the full id the upgrade would deploy; `checkout`: the nix-config checkout that holds it. */
export type RolloutGate = (i: { commit: string; checkout: string }) => Promise<GateVerdict>;
