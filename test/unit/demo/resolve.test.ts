/** The demo follows the printed resolve steps line by line (demo/resolve.ts, issue 18). */
import { describe, expect, it } from 'vitest';
import { classifyStep, printedSteps } from '../../../demo/resolve.js';
import { resolveSteps } from '../../../src/sync/cli.js';

describe('classifyStep', () => {
  it('sorts every line gitopsd prints for a plain conflict into cd, the edit, notes and commands', () => {
    const steps = resolveSteps({
      src: '/home/alice/.local/share/chezmoi',
      bookmark: 'main',
      remote: 'origin',
      park: 'sync/beta',
      paths: ['dot_gitconfig'],
    });
    expect(steps.map((l) => classifyStep(l).kind)).toEqual(['cd', 'run', 'run', 'edit', 'run', 'run', 'run', 'note']);
    expect(classifyStep(steps[0] ?? '')).toEqual({ kind: 'cd', dir: '/home/alice/.local/share/chezmoi' });
    expect(classifyStep(steps[4] ?? '')).toEqual({ kind: 'run', line: 'jj commit -m "resolve dotfile conflict"' });
  });

  it('refuses the encrypted-file merge it cannot do, rather than skip it', () => {
    const steps = resolveSteps({
      src: '/s',
      bookmark: 'main',
      remote: 'origin',
      park: 'sync/beta',
      paths: ['encrypted_dot_netrc'],
    });
    expect(steps.map((l) => classifyStep(l).kind)).toContain('unsupported');
  });
});

describe('printedSteps', () => {
  it('takes the indented lines after "to resolve, as the dotfiles user:"', () => {
    const text =
      'conflicting paths (source dir /s), parked on sync/b since T:\n  dot_x\n\nto resolve, as the dotfiles user:\n  cd /s\n  jj git fetch --remote origin\n';
    expect(printedSteps(text)).toEqual(['cd /s', 'jj git fetch --remote origin']);
  });

  it('throws on a text without the steps (no parked conflict)', () => {
    expect(() => printedSteps('no parked conflicts')).toThrow(/to resolve, as the dotfiles user/);
  });
});
