/**
 * The record of this host's fleet publishing, state key "fleet". `src/fleet`
 * owns and writes it after each publish attempt; `status` and the metrics
 * read it (so it sits below all three). docs/fleet.md describes it.
 */
import * as z from '../core/zod.js';
import type { StateStore } from '../core/state.js';
import { PARSE_ONCE } from '../core/parse-once.js';

export const PublishRecord = z.looseObject({
  /** When a publish was last tried, whatever the outcome. */
  lastAttemptAt: z._default(z.nullable(z.string()), null),
  /** The last successful publish. */
  lastOk: z._default(
    z.nullable(
      z.looseObject({
        at: z.string(),
        commit: z.string(),
        ref: z.string(),
        remote: z.string(),
        /** sha256 of the status without its volatile fields: a different key is a change of result. */
        key: z.string(),
      }),
    ),
    null,
  ),
  /** The one-line error of the last attempt; null after a success. */
  lastError: z._default(z.nullable(z.string()), null),
  /** Failed attempts since the last success. */
  failures: z._default(z.number().check(z.int(), z.gte(0)), 0),
  /** When the next heartbeat publish is due (jittered), even without a change. */
  nextHeartbeatAt: z._default(z.nullable(z.string()), null),
  /** Since when the host has been healthy on its deployed commit (null: not healthy now). */
  healthySince: z._default(z.nullable(z.string()), null),
  /** The deployed commit `healthySince` refers to. */
  healthyCommit: z._default(z.nullable(z.string()), null),
  /**
   * What this host last saw on its ref at the remote (its own last push, or
   * the value read after a rejected lease): the expected value of the next
   * --force-with-lease. Null: read it from the remote first.
   */
  lease: z._default(z.nullable(z.looseObject({ remote: z.string(), ref: z.string(), commit: z.string() })), null),
});
export type PublishRecord = z.infer<typeof PublishRecord>;

export const PUBLISH_KEY = 'fleet';

export function readPublishRecord(state: StateStore): PublishRecord {
  const parsed = PublishRecord.safeParse(state.section(PUBLISH_KEY) ?? {}, PARSE_ONCE);
  return parsed.success ? parsed.data : PublishRecord.parse({});
}

export function writePublishRecord(state: StateStore, rec: PublishRecord): void {
  state.updateSection(PUBLISH_KEY, () => rec);
}
