/**
 * Issue 13, input 8: after a real boot rollback to the golden, the
 * nix-config checkout follows the deployed (golden) commit, or status says
 * why not. Real `gitopsd upgrade` and `boot validate` on the simulated host:
 *   1. c1 is deployed by gitopsd (so the golden's commit is known) and
 *      validated: the golden;
 *   2. c2 breaks sshd; upgrade deploys it (operation boot); two failed boots
 *      roll back to the golden; the checkout is still at c2;
 *   3. `status` says the checkout is not at the deployed commit, why, and what
 *      the next upgrade does;
 *   4. the next `gitopsd upgrade` (c2 is still the tip, known bad) moves the
 *      checkout to c1, and status has nothing more to say.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { createFixture, createHost, type Fixture, type Host } from './fixture.js';
import type { StatusReport } from '../../../src/shared/status-report.js';

let fx: Fixture;
let h: Host;
let g1: string;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('checkout');
  g1 = await fx.build('g1');
  h = await createHost('checkout', { nixConfig: { url: fx.repo.remoteUrl, operation: 'boot' } });
  await h.sim.install(g1);
});
afterAll(removeTempDirs);

async function head(): Promise<string> {
  return (await run('git', ['-C', h.sim.paths.nixConfigDir, 'rev-parse', 'HEAD'])).stdout.trim();
}

describe('the checkout after a boot rollback to the golden', () => {
  it('status says why the checkout is not at the deployed commit; the next upgrade moves it there', async () => {
    const c1 = (await run('git', ['-C', fx.repo.workDir, 'rev-parse', 'HEAD'])).stdout.trim();
    const first = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect((await h.state()).deployments.current).toMatchObject({ commit: c1, storePath: g1 });
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);

    const c2 = await fx.repo.commitGeneration(
      { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
      'break sshd',
    );
    const up = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(await head()).toBe(c2);
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    await h.sim.boot();
    const rb = await h.gitopsd(['boot', 'validate']);
    expect(rb.exitCode).toBe(5);
    expect(rb.stdout).toContain('rolling back to the golden');
    await h.sim.boot();
    expect(await h.sim.bootedSystem()).toBe(g1);
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    // The rollback made c1 the deployed commit again; the checkout is still at c2.
    expect((await h.state()).deployments.current).toMatchObject({ commit: c1, storePath: g1 });
    expect(await head()).toBe(c2);

    const s = await h.json<StatusReport>(['status']);
    expect(s.git.head).toBe(c2);
    expect(s.git.checkoutNote).toBe(
      `checkout at ${c2.slice(0, 12)}, not the deployed ${c1.slice(0, 12)}: the system was rolled back from it (auto rollback at ${s.boot.lastRollback?.at}); the next gitopsd upgrade moves it to ${c1.slice(0, 12)} (unless it carries local commits or edits)`,
    );
    const text = await h.gitopsd(['status']);
    expect(text.stdout).toContain(`checkout at ${c2.slice(0, 12)}, not the deployed ${c1.slice(0, 12)}`);

    // c2 is still the remote tip: known bad, not rebuilt (exit 3), and the checkout follows the deployed commit.
    const next = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(next.exitCode, next.stderr).toBe(3);
    expect(await head()).toBe(c1);
    const after = await h.json<StatusReport>(['status']);
    expect(after.git.checkoutNote).toBeNull();
    const drift = await h.gitopsd(['status', '--check-drift']);
    expect(drift.stdout).toContain('the checkout builds the running system');
  });
});
