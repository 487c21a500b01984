/**
 * `npm run demo` as a new user runs it (README, issue 18): the whole demo on
 * real git, jj, chezmoi and nix, then one command on a demo host through the
 * wrapper it leaves behind. The demo checks its own facts as it goes (each
 * `ok:` line is a check that throws when false); this test asserts that it
 * got to the end, that the story it told is the one the facts say, and that
 * the wrapper answers with the host's true state.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

describe('the demo', () => {
  it('runs to the end, tells every version it pushed, and leaves a wrapper that answers truly', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'gitopsd-demo-')), 'demo-fleet');
    const r = await execa('node', ['--import', 'tsx', join(repoRoot, 'demo/run.ts')], {
      cwd: repoRoot,
      env: { GITOPSD_DEMO_DIR: dir },
      reject: false,
      timeout: 1_500_000,
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = r.stdout;
    const headings = out.split('\n').filter((l) => l.startsWith('== '));
    expect(headings.map((l) => /^== (\w+)\./.exec(l)?.[1])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', 'end']);
    // Finding 8: every version it deploys is named, and the jump in generation numbers is explained.
    for (const v of ['v2', 'v3-broken', 'v4', 'v5'])
      expect(headings.some((h) => h.includes(` ${v},`) || h.includes(` ${v} `))).toBe(true);
    expect(out).toContain('Generation 1 is v1, 2 is v2, 3 is v4, and 4 is v2 again.');
    expect(out).toContain('v3-broken has no generation: never built.');
    expect(out).toContain("ok: alpha's newest generation (4) holds v2, the golden");
    expect(out).toContain('ok: the story names every version pushed (v1, v2, v3-broken, v4, v5)');
    // It ends by resolving the parked conflict the way a person would.
    expect(out).toContain("ok: the dotfiles remote's main holds the merged ~/.gitconfig");
    expect(out).toContain('ok: no parked bookmark (sync/beta) is left on the remote');
    // Finding 1: the wrapper gives the true answer on a demo host.
    const s = await execa(join(dir, 'gitopsd'), ['alpha', 'status', '--json'], { reject: false, timeout: 120_000 });
    expect(s.exitCode).toBe(0);
    const status = JSON.parse(s.stdout) as { system: { current: string | null }; golden: { storePath: string | null } };
    expect(status.system.current).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-alpha-v5$/);
    expect(status.golden.storePath).toMatch(/-nixos-system-alpha-v\d$/);
  }, 1_500_000);
});
