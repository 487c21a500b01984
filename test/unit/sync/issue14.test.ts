/**
 * Parsing and decisions added for issue 14 (what chezmoi and jj users really
 * do): tables of the real tools' output and source names.
 */
import { describe, expect, it } from 'vitest';
import {
  findUncapturable,
  isEncrypted,
  orphanedEdit,
  planHeldBases,
  sameTargetPaths,
  unlistedHeld,
  whyNotCaptured,
} from '../../../src/sync/decide.js';
import { resolveSteps } from '../../../src/sync/cli.js';

describe('sameTargetPaths', () => {
  it.each([
    [['dot_tool'], ['executable_dot_tool', 'dot_plain'], ['executable_dot_tool']],
    [['executable_dot_tool'], ['dot_tool', 'executable_dot_tool'], ['dot_tool']],
    [['dot_plain'], ['dot_tool', 'executable_dot_tool'], []],
    [[], ['dot_tool'], []],
  ])('held %j, changed %j → %j', (held, changed, want) => {
    expect(sameTargetPaths(held, changed)).toEqual(want);
  });
});

describe('planHeldBases', () => {
  it('keeps an existing base, gives new ones the old wcBase, drops what is no longer left', () => {
    expect(planHeldBases({ '.tcfg': 'c1', '.gone': 'c1' }, 'c2', ['.tcfg', 'setup.sh'])).toEqual({
      '.tcfg': 'c1',
      'setup.sh': 'c2',
    });
  });
  it('has no base to give on a first run', () => {
    expect(planHeldBases({}, null, ['.x'])).toEqual({});
  });
});

describe('why an edit was not captured', () => {
  it.each([
    ['.gamma', 'D', 'dot_gamma', 'chezmoi forget'],
    ['.tcfg', 'M', 'dot_tcfg.tmpl', 'chezmoi edit ~/.tcfg'],
    ['.lnk', 'M', 'symlink_dot_lnk', 'chezmoi add ~/.lnk'],
    ['.gitconfig', 'M', 'modify_dot_gitconfig', 'modify_ script'],
    ['.x', 'M', undefined, 'no source entry found'],
  ])('%s (%s, %s) mentions %s', (target, code, src, want) => {
    expect(whyNotCaptured(target, code, src)).toContain(want);
  });
  it('an edit on the lines of an unapplied change says how to merge it', () => {
    const [u] = findUncapturable(
      [{ x: 'M', y: 'M', target: '.plain' }],
      new Map([['.plain', 'dot_plain']]),
      new Map([['.plain', 'same-lines' as const]]),
    );
    expect(u?.why).toContain('chezmoi merge ~/.plain');
    expect(u?.why).toContain('dot_plain');
  });
  it('an encrypted file left by the merge says so, and how to merge the plaintext (review 13b, W2)', () => {
    const [u] = findUncapturable(
      [{ x: 'M', y: 'M', target: '.token' }],
      new Map([['.token', 'encrypted_private_dot_token.age']]),
      new Map([['.token', 'encrypted' as const]]),
    );
    expect(u?.why).toContain('encrypted (encrypted_private_dot_token.age)');
    expect(u?.why).toContain('chezmoi re-add ~/.token');
    expect(u?.why).not.toContain('same lines');
  });
  it.each([
    ['encrypted_private_dot_token.age', true],
    ['private_encrypted_dot_k', true],
    ['dir/encrypted_dot_k.asc', true],
    ['encrypted_dir/dot_k', false],
    ['dot_encrypted_x', false],
  ])('isEncrypted(%s) is %s', (src, want) => {
    expect(isEncrypted(src)).toBe(want);
  });
  it('a kept file whose source another host deleted names both ways out (review 13b, W1)', () => {
    expect(orphanedEdit('.gamma')).toMatchObject({ target: '.gamma', code: 'O' });
    expect(orphanedEdit('.gamma').why).toMatch(/chezmoi add ~\/\.gamma.*or remove it/);
  });
  it('only held targets the status no longer lists need a look at the managed set', () => {
    expect(unlistedHeld({ '.b': 'c1', '.a': 'c1', '.t': 'c2' }, [{ x: 'M', y: 'M', target: '.t' }])).toEqual([
      '.a',
      '.b',
    ]);
  });
});

describe('resolution steps for a parked conflict in an encrypted file', () => {
  it('decrypts both sides into a private directory and re-encrypts the merge instead of editing ciphertext', () => {
    const steps = resolveSteps({
      src: '/home/u/.local/share/chezmoi',
      bookmark: 'main',
      remote: 'origin',
      park: 'sync/h1',
      paths: ['encrypted_private_dot_token.age', 'dot_plain'],
      chezmoiConfig: '/home/u/.config/chezmoi/chezmoi.toml',
    });
    const c = 'chezmoi -c /home/u/.config/chezmoi/chezmoi.toml';
    expect(steps.slice(3, 9)).toEqual([
      '# encrypted_private_dot_token.age is encrypted: merge the plaintext, not the ciphertext, in a private directory:',
      't=$(mktemp -d)',
      `jj file show -r sync/h1 encrypted_private_dot_token.age | ${c} decrypt > "$t/local"`,
      `jj file show -r main@origin encrypted_private_dot_token.age | ${c} decrypt > "$t/remote"`,
      '# merge "$t/remote" and "$t/local" into "$t/merged", then:',
      `${c} encrypt "$t/merged" > encrypted_private_dot_token.age && rm -r "$t"`,
    ]);
    // No secret is ever written to a fixed name in the shared /tmp.
    expect(steps.join('\n')).not.toContain('/tmp/');
    // Without dotfiles.chezmoiConfig, chezmoi finds its default config.
    expect(
      resolveSteps({ src: '/s', bookmark: 'main', remote: 'origin', park: 'sync/h1', paths: ['encrypted_dot_k.age'] }),
    ).toContain('jj file show -r sync/h1 encrypted_dot_k.age | chezmoi decrypt > "$t/local"');
    // A plain file needs none of it.
    expect(
      resolveSteps({ src: '/s', bookmark: 'main', remote: 'origin', park: 'sync/h1', paths: ['dot_plain'] }),
    ).not.toContain(expect.stringContaining('chezmoi decrypt'));
  });
});
