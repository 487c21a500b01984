/**
 * Load (docs/reliability.md §3): 50 consecutive `gitopsd cycle` runs on a
 * simulated host, with a second host syncing now and then, a new nix-config
 * commit every few cycles and failures injected from a seeded PRNG: a commit
 * that does not build, a commit whose system fails a service after the
 * switch, both remotes unreachable for a cycle. Every cycle's exit code is
 * predicted from what was injected. Afterwards nothing may have leaked:
 * - no process started by any of the runs is still alive (each run carries a
 *   tag in its environment; `ps` is checked too);
 * - the state files stay bounded: everything but the capped lists
 *   (deployments.history, badCommits) keeps its size, and those stay within
 *   their limits;
 * - <stateDir>/builds holds at most `deployed`; the host's gcroots dir holds
 *   only `booted-system` and `gitopsd-golden`; nix's auto roots pointing
 *   into the fleet are only the expected links.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readlink, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../harness/fleet.js';
import { CHEZMOI_TEST_TOML } from '../harness/chezmoi-config.js';
import { removeTempDirs, tempDir } from '../harness/temp.js';
import { BAD_LIMIT, HISTORY_LIMIT } from '../../src/core/deployments.js';
import { hostState, prng, psLinesWith, remoteFile, taggedProcesses, type Json } from './helpers.js';

afterAll(removeTempDirs);

const CYCLES = 50;
const SEED = 20261122;
const TAG = `load-${process.pid}`;

type TipKind = 'deployed' | 'good' | 'broken' | 'failing';
const SEVERITY = [4, 3, 75, 0]; // the cycle's precedence among the codes this run can produce

let fleet: Fleet;
let alpha: FleetHost;
let beta: FleetHost;

beforeAll(async () => {
  fleet = await createFleet({
    dir: await tempDir('rel-load'),
    names: ['alpha', 'beta'],
    chezmoiToml: CHEZMOI_TEST_TOML,
  });
  alpha = fleet.host('alpha');
  beta = fleet.host('beta');
  // Validate the installed system once, so the golden (and its GC root) exists throughout.
  expect((await alpha.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
});

async function cycle(h: FleetHost): Promise<{ exitCode: number; out: string }> {
  const r = await h.gitopsd(['cycle'], { env: { GITOPSD_RELIABILITY_TAG: TAG } });
  return { exitCode: r.exitCode, out: r.stdout + r.stderr.slice(-800) };
}

/** The state without the capped lists: what must not grow at all. */
function uncapped(state: Json | null): number {
  const dep = (state?.['deployments'] ?? {}) as Json;
  const rest = { ...state, updatedAt: null, deployments: { ...dep, history: null, badCommits: null } };
  return JSON.stringify(rest).length;
}

describe(`${CYCLES} consecutive cycles with injected failures (seed ${SEED})`, () => {
  it('every exit code is as predicted, and nothing leaks', async () => {
    const rand = prng(SEED);
    const t0 = performance.now();
    const psBefore = await psLinesWith(fleet.dir);
    let tip: { kind: TipKind; tried: boolean } = { kind: 'deployed', tried: false };
    let version = 1;
    let lastEdit = '';
    let unpushedEdit = false;
    const counts = {
      commits: 0,
      good: 0,
      broken: 0,
      failing: 0,
      offline: 0,
      edits: 0,
      betaCycles: 0,
      deploys: 0,
      records: 0,
      marked: 0,
    };
    const exits: Record<string, number> = {};
    const sizes: number[] = [];
    const uncappedSizes: number[] = [];
    const syncSizes: number[] = [];
    const failures: string[] = [];

    for (let i = 1; i <= CYCLES; i++) {
      // Events of this cycle, all drawn up front so the sequence depends only on the seed.
      const edit = rand() < 0.5;
      const commit = rand() < 0.3;
      const kindRoll = rand();
      const offline = i > 1 && rand() < 0.1;
      const betaTurn = i % 5 === 0;

      if (edit) {
        lastEdit = `edit-${i}`;
        await alpha.editHome('.bashrc', `# ~/.bashrc\nexport EDITOR=vi\n# ${lastEdit}\n`);
        counts.edits += 1;
        unpushedEdit = true;
      }
      if (commit) {
        version += 1;
        const kind: TipKind = kindRoll < 0.6 ? 'good' : kindRoll < 0.8 ? 'broken' : 'failing';
        await fleet.nixConfig.commitGeneration(
          {
            alpha: {
              version: `load-v${version}`,
              kernelVersion: '6.6.1',
              ...(kind === 'broken' ? { breakage: 'failing-derivation' as const } : {}),
              ...(kind === 'failing' ? { failingServices: ['sshd.service'] } : {}),
            },
          },
          `alpha: load-v${version} (${kind})`,
        );
        tip = { kind, tried: false };
        counts.commits += 1;
        counts[kind] += 1;
      }

      // The expected outcome of each step.
      const upgrade = offline ? 75 : tip.kind === 'broken' ? 3 : tip.kind === 'failing' ? (tip.tried ? 3 : 4) : 0;
      const sync = offline ? 75 : 0;
      const want = SEVERITY.find((c) => c === upgrade || c === sync) ?? 0;

      const away = [fleet.nixConfig.remoteDir, fleet.dotfilesUrl];
      if (offline) {
        counts.offline += 1;
        for (const d of away) await rename(d, `${d}.away`);
      }
      let r: { exitCode: number; out: string };
      try {
        r = await cycle(alpha);
      } finally {
        if (offline) for (const d of away) await rename(`${d}.away`, d);
      }
      exits[String(r.exitCode)] = (exits[String(r.exitCode)] ?? 0) + 1;
      if (r.exitCode !== want) failures.push(`cycle ${i}: exit ${r.exitCode}, expected ${want}: ${r.out}`);

      if (!offline) {
        // The first reachable cycle records what runs, when it deploys nothing new.
        if (counts.records === 0 && tip.kind === 'deployed') counts.records += 1;
        if (tip.kind === 'good') {
          counts.records += 1;
          tip = { kind: 'deployed', tried: false };
          counts.deploys += 1;
        } else if (tip.kind !== 'deployed' && !tip.tried) {
          tip = { ...tip, tried: true };
          counts.marked += 1;
        }
        if (unpushedEdit) {
          unpushedEdit = false;
          if (!((await remoteFile(fleet.dotfilesUrl, 'dot_bashrc')) ?? '').includes(lastEdit))
            failures.push(`cycle ${i}: ${lastEdit} is not on the remote`);
        }
      }
      if (betaTurn) {
        counts.betaCycles += 1;
        await beta.editHome('.config/starship.toml', `add_newline = false\n# beta ${i}\n`);
        const b = await cycle(beta);
        if (b.exitCode !== 0) failures.push(`beta after cycle ${i}: exit ${b.exitCode}: ${b.out}`);
      }

      // After every cycle: no stray out-link or GC root on the host.
      const builds = existsSync(join(alpha.sim.paths.stateDir, 'builds'))
        ? await readdir(join(alpha.sim.paths.stateDir, 'builds'))
        : [];
      if (builds.some((b) => b !== 'deployed')) failures.push(`cycle ${i}: builds/ holds ${builds.join(', ')}`);
      const roots = (await readdir(alpha.sim.paths.gcRootsDir)).sort();
      if (JSON.stringify(roots) !== JSON.stringify(['booted-system', 'gitopsd-golden']))
        failures.push(`cycle ${i}: gcroots holds ${roots.join(', ')}`);
      const s = await hostState(alpha);
      sizes.push((await stat(join(alpha.sim.paths.stateDir, 'state.json'))).size);
      uncappedSizes.push(uncapped(s.state));
      syncSizes.push((await stat(join(alpha.sim.paths.stateDir, 'sync', 'state.json'))).size);
      const dep = (s.state?.['deployments'] ?? {}) as { history?: unknown[]; badCommits?: Record<string, unknown> };
      if ((dep.history?.length ?? 0) > HISTORY_LIMIT || Object.keys(dep.badCommits ?? {}).length > BAD_LIMIT)
        failures.push(`cycle ${i}: a capped list is over its limit`);
    }
    const seconds = (performance.now() - t0) / 1000;

    // Leaks: processes.
    const tagged = await taggedProcesses(TAG);
    const psAfter = await psLinesWith(fleet.dir);
    // Leaks: nix's registered roots that point into this fleet.
    const auto = '/nix/var/nix/gcroots/auto';
    const autoTargets: string[] = [];
    for (const e of await readdir(auto)) {
      const target = await readlink(join(auto, e)).catch(() => '');
      if (target.startsWith(fleet.dir))
        autoTargets.push(`${target.slice(fleet.dir.length)}${existsSync(target) ? '' : ' (dangling)'}`);
    }
    const state = (await hostState(alpha)).state;
    const dep = (state?.['deployments'] ?? {}) as { history?: unknown[]; badCommits?: Record<string, unknown> };
    const gens = (await alpha.sim.generations()).length;
    const summary = {
      cycles: CYCLES,
      seconds: Math.round(seconds),
      counts,
      exits,
      stateBytes: { after1: sizes[0], after10: sizes[9], after25: sizes[24], after50: sizes.at(-1) },
      uncappedBytes: { min: Math.min(...uncappedSizes), max: Math.max(...uncappedSizes) },
      syncStateBytes: { min: Math.min(...syncSizes), max: Math.max(...syncSizes) },
      history: dep.history?.length ?? 0,
      badCommits: Object.keys(dep.badCommits ?? {}).length,
      generations: gens,
      autoRoots: autoTargets.sort(),
    };
    process.stdout.write(`load: ${JSON.stringify(summary)}\n`);

    expect(failures).toEqual([]);
    // The injections all happened (the seed is fixed; this guards against a vacuous run).
    expect(counts.broken).toBeGreaterThan(0);
    expect(counts.failing).toBeGreaterThan(0);
    expect(counts.offline).toBeGreaterThan(0);
    expect(counts.good).toBeGreaterThan(0);
    expect(tagged).toEqual([]);
    expect(psAfter).toEqual(psBefore);
    // Nothing but the capped lists grows: the rest varies only with message lengths.
    expect(Math.max(...uncappedSizes) - Math.min(...uncappedSizes)).toBeLessThan(2048);
    expect(Math.max(...syncSizes) - Math.min(...syncSizes)).toBeLessThan(1024);
    expect(dep.history?.length).toBe(Math.min(HISTORY_LIMIT, counts.records));
    expect(Object.keys(dep.badCommits ?? {})).toHaveLength(Math.min(BAD_LIMIT, counts.marked));
    // Roots nix registered for this fleet: the out-links and profiles it was told about, nothing else.
    for (const t of autoTargets) {
      expect(t, t).toMatch(
        /^\/hosts\/(alpha|beta)\/(gen1|root\/nix\/var\/nix\/profiles\/system-\d+-link|root\/nix\/var\/nix\/gcroots\/(booted-system|gitopsd-golden)|root\/var\/lib\/gitopsd\/builds\/candidate \(dangling\))$/,
      );
    }
  }, 900_000);
});
