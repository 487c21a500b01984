import { describe, it, expect } from 'vitest';
import { explainCheckout } from '../../../src/status/index.js';

const C1 = '1'.repeat(40);
const C2 = '2'.repeat(40);
const G = '/nix/store/ggg-nixos-system-g';
const B = '/nix/store/bbb-nixos-system-b';
const rb = { commit: C2, from: B, to: G, source: 'auto', at: '2026-01-01T00:00:00.000Z', status: 'done' };

describe('explainCheckout', () => {
  it.each<[string, Parameters<typeof explainCheckout>[0], RegExp | null]>([
    ['at the deployed commit', { head: C1, deployed: C1, lastRollback: null, running: G, deployedStorePath: G }, null],
    ['nothing deployed', { head: C1, deployed: null, lastRollback: null, running: G, deployedStorePath: null }, null],
    ['no checkout', { head: null, deployed: C1, lastRollback: rb, running: G, deployedStorePath: G }, null],
    [
      'rolled back from the checkout commit, golden commit known',
      { head: C2, deployed: C1, lastRollback: rb, running: G, deployedStorePath: G },
      /^checkout at 222222222222, not the deployed 111111111111: the system was rolled back from it \(auto rollback at 2026-01-01T00:00:00.000Z\); the next gitopsd upgrade moves it to 111111111111/,
    ],
    [
      'moved for another reason',
      { head: C2, deployed: C1, lastRollback: null, running: G, deployedStorePath: G },
      /: it moved after the last deploy; the next gitopsd upgrade moves it/,
    ],
    [
      'rolled back to a golden whose commit gitopsd does not know: the record still names the bad commit',
      { head: C2, deployed: C2, lastRollback: rb, running: G, deployedStorePath: B },
      /which the system was rolled back from; the running system \/nix\/store\/ggg-nixos-system-g was not deployed by gitopsd.*stays until a newer commit is deployed/,
    ],
  ])('%s', (_n, input, want) => {
    const note = explainCheckout(input);
    if (want === null) expect(note).toBeNull();
    else expect(note).toMatch(want);
  });
});
