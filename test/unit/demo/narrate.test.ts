/** The demo tells its story from facts (demo/narrate.ts, issue 18 finding 8). */
import { describe, expect, it } from 'vitest';
import { generationStory, unnamedVersions, versionOfToplevel } from '../../../demo/narrate.js';

describe('versionOfToplevel', () => {
  it('reads the version from a simulated toplevel, and nothing from another path', () => {
    expect(versionOfToplevel('/nix/store/6yk9pwn68hrapk5y1m568lg13sklr376-nixos-system-alpha-v2')).toBe('v2');
    expect(versionOfToplevel('/nix/store/6yk9pwn68hrapk5y1m568lg13sklr376-hello-2.12')).toBeNull();
  });
});

describe('generationStory', () => {
  it("tells the demo's rollback: v4 failed, golden v2 came back as a new generation, v3 never built", () => {
    const gens = [
      { number: 1, version: 'v1' },
      { number: 2, version: 'v2' },
      { number: 3, version: 'v4' },
      { number: 4, version: 'v2' },
    ];
    expect(generationStory(gens, ['v1', 'v2', 'v3-broken', 'v4'])).toEqual([
      'Generation 1 is v1, 2 is v2, 3 is v4, and 4 is v2 again.',
      'v3-broken has no generation: never built.',
    ]);
  });

  it('says nothing of unbuilt versions when every pushed version has a generation', () => {
    expect(generationStory([{ number: 1, version: 'v1' }], ['v1'])).toEqual(['Generation 1 is v1.']);
    expect(
      generationStory(
        [
          { number: 7, version: 'v1' },
          { number: 8, version: 'v2' },
        ],
        ['v2'],
      ),
    ).toEqual(['Generation 7 is v1 and 8 is v2.']);
  });

  it('lists several unbuilt versions, and an empty profile', () => {
    expect(generationStory([{ number: 1, version: 'v1' }], ['v1', 'v2', 'v3'])).toEqual([
      'Generation 1 is v1.',
      'v2, v3 have no generation: never built.',
    ]);
    expect(generationStory([], ['v1'])).toEqual(['The system profile has no generation yet.']);
  });
});

describe('unnamedVersions', () => {
  it('finds a version the narration skips, as the demo once went from v2 to v4', () => {
    const old = 'pushed "fleet: v2"\npushed "fleet: typo"\npushed "fleet: v4"';
    expect(unnamedVersions(old, ['v2', 'v3-broken', 'v4'])).toEqual(['v3-broken']);
    expect(unnamedVersions(`${old}\ngeneration v3-broken, which is broken`, ['v2', 'v3-broken', 'v4'])).toEqual([]);
  });

  it('does not count v1 as named inside v10 or v1-rc', () => {
    expect(unnamedVersions('v10 and v1-rc', ['v1'])).toEqual(['v1']);
  });
});
