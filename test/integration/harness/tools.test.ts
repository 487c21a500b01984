/**
 * The tool check: real versions are found and new enough; parsing and
 * comparison are exact.
 */
import { describe, expect, it } from 'vitest';
import { MIN_VERSIONS, parseVersion, requireTools, toolVersions, versionAtLeast } from '../../harness/tools.js';

describe('tools', () => {
  it('finds git, jj, chezmoi and nix at or above the minimum versions', async () => {
    const v = await requireTools();
    for (const t of ['git', 'jj', 'chezmoi', 'nix'] as const) {
      expect(v[t], t).toMatch(/^\d+\.\d+/);
      expect(versionAtLeast(v[t], MIN_VERSIONS[t]), `${t} ${v[t]}`).toBe(true);
    }
    expect(await toolVersions()).toEqual(v);
  });

  it('parses each tool’s --version line', () => {
    expect(parseVersion('git', 'git version 2.55.0\n')).toBe('2.55.0');
    expect(parseVersion('jj', 'jj 0.46.0-7c1e4a0e\n')).toBe('0.46.0');
    expect(
      parseVersion('chezmoi', 'chezmoi version v2.73.3-1, built at 2026-10-24T06:26:28+00:00, built by debian\n'),
    ).toBe('2.73.3');
    expect(parseVersion('chezmoi', 'chezmoi version 2.71.0, commit abc\n')).toBe('2.71.0');
    expect(parseVersion('nix', 'nix (Nix) 2.34.8\n')).toBe('2.34.8');
    expect(parseVersion('git', 'something else')).toBeNull();
  });

  it('compares versions numerically, not as strings', () => {
    expect(versionAtLeast('2.41.0', '2.41')).toBe(true);
    expect(versionAtLeast('2.9.0', '2.41.0')).toBe(false);
    expect(versionAtLeast('0.100.0', '0.38.0')).toBe(true);
    expect(versionAtLeast('2.40.4', '2.41.0')).toBe(false);
  });
});
