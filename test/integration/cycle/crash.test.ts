/**
 * Crash safety of the cycle's own steps: SIGKILL (GITOPSD_FAULT_KILL_AT=N)
 * at each checkpoint the cycle itself owns, i.e. its two state writes (the
 * start record before the first step and the end record after the last;
 * each write is two checkpoints). The steps' own checkpoints are covered by
 * the sync and upgrade crash tests. After each kill, the next `gitopsd cycle`
 * takes over the dead holder's locks, completes with exit 0, and both the
 * dotfile edit and the nix-config commit are deployed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec.js';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { CHEZMOI_TEST_TOML } from '../../harness/chezmoi-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';

afterAll(removeTempDirs);

let fleet: Fleet;
let host: FleetHost;
let version = 1;

interface TraceEvent {
  event: string;
  n?: number;
  label?: string;
  file?: string;
  target?: string;
}

/** New work for one cycle: a dotfile edit and a nix-config commit. */
async function newWork(): Promise<{ editor: string; system: string }> {
  version += 1;
  const editor = `editor-${version}`;
  await host.editHome('.bashrc', `# ~/.bashrc\nexport EDITOR=${editor}\n`);
  await fleet.nixConfig.commitGeneration(
    { alpha: { version: `v${version}`, kernelVersion: '6.6.1' } },
    `alpha: v${version}`,
  );
  return { editor, system: `nixos-system-alpha-v${version}` };
}

async function assertDeployed(w: { editor: string; system: string }): Promise<void> {
  const remote = (await run('git', ['--git-dir', fleet.dotfilesUrl, 'show', 'main:dot_bashrc'])).stdout;
  expect(remote).toContain(w.editor);
  expect(await host.sim.profileSystem()).toMatch(new RegExp(`${w.system}$`));
}

/** The checkpoints of the cycle's own writes: the first and the last state.json write. */
function cycleCheckpoints(trace: TraceEvent[], stateFile: string): number[] {
  const cps = trace.filter((e) => e.event === 'checkpoint' && typeof e.n === 'number');
  const ofState = (e: TraceEvent) => e.file === stateFile || e.target === stateFile;
  const startWrite = cps.slice(0, 2);
  const endWrite = cps.slice(-2);
  for (const e of [...startWrite, ...endWrite]) expect(ofState(e), JSON.stringify(e)).toBe(true);
  return [...startWrite, ...endWrite].map((e) => e.n ?? 0);
}

beforeAll(async () => {
  fleet = await createFleet({
    dir: await tempDir('gitopsd-cycle-crash'),
    names: ['alpha'],
    chezmoiToml: CHEZMOI_TEST_TOML,
  });
  host = fleet.host('alpha');
  const first = await host.gitopsd(['cycle']);
  expect(first.exitCode, first.stderr).toBe(0);
});

describe("gitopsd cycle: kill -9 at the cycle's own checkpoints", () => {
  let points: number[] = [];

  it("a traced run finds the cycle's checkpoints", async () => {
    const w = await newWork();
    const traceFile = join(await tempDir('cycle-trace'), 'trace.jsonl');
    const r = await host.gitopsd(['cycle'], { env: { GITOPSD_TRACE: traceFile } });
    expect(r.exitCode, r.stderr).toBe(0);
    await assertDeployed(w);
    const trace = readFileSync(traceFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as TraceEvent);
    points = cycleCheckpoints(trace, join(host.sim.paths.stateDir, 'state.json'));
    expect(points).toHaveLength(4);
  });

  it('after a kill at each of them, the next cycle completes and deploys both', async () => {
    for (const n of points) {
      const w = await newWork();
      const killed = await host.gitopsd(['cycle'], { env: { GITOPSD_FAULT_KILL_AT: String(n) } });
      expect(killed.exitCode, `kill at ${n}: ${killed.stderr}`).not.toBe(0);
      const again = await host.gitopsd(['cycle']);
      expect(again.exitCode, `after kill at ${n}: ${again.stdout}\n${again.stderr}`).toBe(0);
      await assertDeployed(w);
      const cycle = (
        JSON.parse(readFileSync(join(host.sim.paths.stateDir, 'state.json'), 'utf8')) as Record<
          string,
          Record<string, unknown>
        >
      )['cycle'];
      expect(cycle?.['lastExitCode']).toBe(0);
      expect(String(cycle?.['lastFinishedAt']) >= String(cycle?.['lastStartedAt'])).toBe(true);
    }
  });
});
