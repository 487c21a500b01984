/**
 * `gitopsd trigger --fleet`: write the fleet-wide trigger (./decide.ts) and
 * push it to `refs/gitopsd/trigger` of the nix-config remote.
 *
 * Contract
 * - Inputs: the remote (URL or path), the trigger document (planTrigger),
 *   the signing key, and optionally the trigger signers file the hosts use.
 * - Effects, all through the runner, in a temporary bare repository that is
 *   removed afterwards: the signed commit (src/fleet/git.ts writeDocCommit,
 *   the code that signs the status commits), git's own check of the
 *   signature against the signers file when one is given (a trigger the
 *   hosts would ignore is refused and never pushed), then ONE forced push of
 *   that one ref: a new trigger replaces the previous one, nothing else at
 *   the remote is touched.
 * - Failures: a key that cannot sign: 'failed' (1); a signature the hosts
 *   would ignore: 'refused' (6); a remote that cannot be written:
 *   'temporary' (75). Crash: the temporary repository is left in $TMPDIR;
 *   the remote has the old trigger or the new one (git's ref update is
 *   atomic).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deps } from '../../core/deps.js';
import { GitopsdError } from '../../core/errors.js';
import { ensureBareRepo, pushStatus, verifyCommits, writeDocCommit } from '../git.js';
import { TRIGGER_FILE, TRIGGER_REF, type TriggerDoc } from './decide.js';

export interface WriteTriggerInput {
  remote: string;
  doc: TriggerDoc;
  signingKey: string;
  /** When given, the signed commit is checked against it before the push (as the hosts will check it). */
  allowedSignersFile: string | null;
  timeoutMs: number;
}

export async function writeTrigger(
  deps: Pick<Deps, 'runner'>,
  i: WriteTriggerInput,
): Promise<{ ref: string; commit: string; signer: string | null }> {
  const base = mkdtempSync(join(tmpdir(), 'gitopsd-trigger-'));
  const dir = join(base, 'repo.git');
  try {
    await ensureBareRepo(deps, dir, i.timeoutMs);
    const commit = await writeDocCommit(deps, {
      dir,
      file: TRIGGER_FILE,
      content: `${JSON.stringify(i.doc)}\n`,
      who: { name: i.doc.issuer, email: 'gitopsd-trigger@invalid' },
      message: `gitopsd: trigger ${i.doc.hosts.length === 0 ? 'every host' : i.doc.hosts.join(' ')} until ${i.doc.expiresAt}`,
      at: new Date(i.doc.issuedAt),
      signingKey: i.signingKey,
      timeoutMs: i.timeoutMs,
      what: 'the fleet trigger',
      signFix: "pass a private SSH key whose public key is in the hosts' trigger signers file (--signing-key)",
    });
    let signer: string | null = null;
    if (i.allowedSignersFile !== null) {
      const v = (
        await verifyCommits(deps, {
          dir,
          commits: [commit],
          allowedSignersFile: i.allowedSignersFile,
          timeoutMs: i.timeoutMs,
        })
      ).get(commit);
      if (v?.code !== 'G') {
        throw new GitopsdError(
          'refused',
          `not pushing the trigger: the hosts would ignore it (git %G? = ${v?.code ?? '?'}: the key is not in ${i.allowedSignersFile}); sign with a key listed there (--signing-key)`,
        );
      }
      signer = v.signer;
    }
    const p = await pushStatus(deps, {
      dir,
      remote: i.remote,
      ref: TRIGGER_REF,
      commit,
      expect: null,
      timeoutMs: i.timeoutMs,
    });
    if (!p.ok) {
      throw new GitopsdError(
        'temporary',
        `cannot push ${TRIGGER_REF} to ${i.remote} (${p.message}); check the URL, the network and write access`,
      );
    }
    return { ref: TRIGGER_REF, commit, signer };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
