/**
 * What `fleet status` prints from other machines' documents (review 11):
 * control characters and bidi overrides are shown escaped, never sent raw to
 * the reader's terminal; a forged document's version does not mark the real
 * hosts behind; a failed listen of `fleet serve` is one line with an exit
 * code, not an internal error; a laptop's not-yet-made stateDir keeps its view.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printable } from '../../../src/core/printable.js';
import { renderFleet } from '../../../src/fleet/render.js';
import { newestTrustedVersion, onePerHost, signerKeyLines, summarize, writable } from '../../../src/fleet/read.js';
import { listenFailure } from '../../../src/fleet/serve.js';
import { absoluteRemote } from '../../../src/fleet/remote.js';
import { readSignersFile, type SignersSource } from '../../../src/fleet/signers-file.js';
import type { FleetRow } from '../../../src/fleet/schema.js';
import { exitCodeFor } from '../../../src/core/exit.js';

const COLUMNS: FleetRow['columns'] = {
  git: 'on main',
  lock: '-',
  system: '-',
  boot: 'ok',
  golden: 'none',
  dotfiles: 'in-sync',
  lastRun: '-',
};

/** A healthy, unsigned row of `host` with no document; `over` changes any field. */
function fleetRow(over: Partial<FleetRow> & { host: string }): FleetRow {
  return {
    state: 'healthy',
    reasons: [],
    notes: [],
    signature: { state: 'unsigned', signer: null, detail: null },
    ref: `refs/gitopsd/status/${over.host}`,
    commit: 'c'.repeat(40),
    publishedAt: '2026-12-01T00:00:00.000Z',
    ageSec: 10,
    stale: false,
    version: '0.1.0',
    versionBehind: false,
    columns: COLUMNS,
    status: null,
    ...over,
  };
}

describe('printable', () => {
  it('escapes C0, DEL, C1 and bidi controls; leaves other text alone', () => {
    expect(printable('deployed\u001b[2J\r\nfake healthy\u0007')).toBe('deployed\\u001b[2J\\r\\nfake healthy\\u0007');
    expect(printable('a\u007fb\u009bc\u202ed\u2066e\tf')).toBe('a\\u007fb\\u009bc\\u202ed\\u2066e\\tf');
    expect(printable('upgrade deployed 5h ago · ünïcode')).toBe('upgrade deployed 5h ago · ünïcode');
  });

  it('the table and the reasons of a hostile row hold no raw control character', () => {
    const row = fleetRow({
      host: 'evil',
      state: 'failed',
      reasons: ['bad\u001b]0;title\u0007'],
      notes: ['note\u001b[2J'],
      publishedAt: null,
      version: '0.1.0\u001b[31m',
      columns: { ...COLUMNS, lastRun: 'upgrade deployed\r\nfake  healthy' },
    });
    const view = summarize({
      rows: [row],
      now: new Date(0),
      remote: 'r',
      signersConfigured: false,
      newestVersion: null,
    });
    const text = renderFleet(view, { color: false });
    // eslint-disable-next-line no-control-regex -- the control characters are the point
    expect(text.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(text).toContain('upgrade deployed\\r\\nfake  healthy');
    expect(text).toContain('evil: bad\\u001b]0;title\\u0007; note: note\\u001b[2J');
  });

  it('a healthy row with a note gets a line of its own; a healthy row without one does not', () => {
    const row = (host: string, notes: string[]): FleetRow => fleetRow({ host, notes });
    const view = summarize({
      rows: [row('h1', ['published after a failed publish attempt: x']), row('h2', [])],
      now: new Date(0),
      remote: 'r',
      signersConfigured: false,
      newestVersion: null,
    });
    const lines = renderFleet(view, { color: false }).split('\n');
    expect(lines.filter((l) => /^h\d:/.test(l))).toEqual(['h1: note: published after a failed publish attempt: x']);
    expect(view.counts.healthy).toBe(2);
  });
});

describe('newestTrustedVersion', () => {
  const doc = (v: string, state: 'verified' | 'unverified' | 'unsigned') => ({
    status: { gitopsdVersion: v },
    signature: { state },
  });
  it('a status whose signature is refused does not set the fleet newest version', () => {
    expect(newestTrustedVersion([doc('0.1.0', 'verified'), doc('9.9.9', 'unverified')])).toBe('0.1.0');
    expect(newestTrustedVersion([doc('0.1.0', 'unsigned'), doc('0.2.0', 'unsigned'), doc('x', 'unsigned')])).toBe(
      '0.2.0',
    );
    expect(newestTrustedVersion([{ status: null, signature: { state: 'unsigned' } }])).toBeNull();
  });
});

describe('listenFailure', () => {
  const err = (code: string) => Object.assign(new Error(`listen ${code}`), { code });
  it('address in use: 75; an address or port this machine or user cannot have: 78; one line each', () => {
    const inUse = listenFailure(err('EADDRINUSE'), '127.0.0.1:8080');
    expect(exitCodeFor(inUse)).toBe(75);
    expect(inUse.message).toMatch(/^cannot listen on 127\.0\.0\.1:8080: the address is in use/);
    const notHere = listenFailure(err('EADDRNOTAVAIL'), '10.9.9.9:8080');
    expect(exitCodeFor(notHere)).toBe(78);
    expect(notHere.message).not.toContain('\n');
  });
});

describe('writable: where the reader keeps its view', () => {
  it('a directory with missing levels is writable when its nearest existing ancestor is', () => {
    const base = mkdtempSync(join(tmpdir(), 'gitopsd-writable-'));
    try {
      expect(writable(join(base, '.cache', 'gitopsd', 'fleet'))).toBe(true);
      expect(writable(base)).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("absoluteRemote: a relative --remote is read from the caller's directory", () => {
  it.each([
    ['./status.git', '/home/me/status.git'],
    ['status.git', '/home/me/status.git'],
    ['../x/status.git', '/home/x/status.git'],
    ['dir/with:colon.git', '/home/me/dir/with:colon.git'],
    ['/srv/status.git', '/srv/status.git'],
    ['file:///srv/status.git', 'file:///srv/status.git'],
    ['ssh://git@host/status.git', 'ssh://git@host/status.git'],
    ['git@host:infra/status.git', 'git@host:infra/status.git'],
    ['host:status.git', 'host:status.git'],
  ])('%s from /home/me is %s', (given, want) => {
    expect(absoluteRemote(given, '/home/me')).toBe(want);
  });
});

describe('onePerHost: a host with a status in both layouts', () => {
  const row = (ref: string, publishedAt: string | null, state: FleetRow['state']): FleetRow => ({
    host: 'h1',
    state,
    reasons:
      publishedAt === null
        ? ['status.json is not valid JSON']
        : state === 'unverified'
          ? ['signature: the status commit is not signed']
          : [],
    notes: [],
    signature:
      state === 'unverified'
        ? { state: 'unverified', signer: null, detail: 'the status commit is not signed' }
        : { state: 'verified', signer: 'h1', detail: null },
    ref,
    commit: 'c'.repeat(40),
    publishedAt,
    ageSec: publishedAt === null ? null : 10,
    stale: false,
    version: null,
    versionBehind: false,
    columns: { git: '-', lock: '-', system: '-', boot: '-', golden: '-', dotfiles: '-', lastRun: '-' },
    // Only null-ness matters to the choice.
    status: publishedAt === null ? null : ({} as FleetRow['status']),
  });
  const branch = 'refs/heads/gitopsd/status/h1';
  const ref = 'refs/gitopsd/status/h1';
  it('an invalid branch no longer hides a valid status (the branch sorts first); the row names the other ref', () => {
    const [kept, ...rest] = onePerHost([row(branch, null, 'invalid'), row(ref, '2026-12-01T00:00:00Z', 'healthy')]);
    expect(rest).toEqual([]);
    expect(kept?.ref).toBe(ref);
    expect(kept?.state).toBe('warning');
    expect(kept?.reasons.join()).toMatch(
      /also published at refs\/heads\/gitopsd\/status\/h1 \(status\.json is not valid JSON\)/,
    );
  });
  it('between two documents the newer wins; one ref alone is left as it is', () => {
    const rows = onePerHost([
      row(branch, '2026-12-01T01:00:00Z', 'failed'),
      row(ref, '2026-12-01T00:00:00Z', 'healthy'),
    ]);
    expect(rows.map((r) => [r.ref, r.state])).toEqual([[branch, 'failed']]);
    const alone = row(ref, '2026-12-01T00:00:00Z', 'healthy');
    expect(onePerHost([alone])).toEqual([alone]);
  });
  it('a newer unverified document never hides a verified one (review 14: it hid its known-bad mark from the gate)', () => {
    const [kept, ...rest] = onePerHost([
      row(branch, '2026-12-01T01:00:00Z', 'unverified'),
      row(ref, '2026-12-01T00:00:00Z', 'failed'),
    ]);
    expect(rest).toEqual([]);
    expect([kept?.ref, kept?.state]).toEqual([ref, 'failed']);
    expect(kept?.reasons.join()).toMatch(
      /also published at refs\/heads\/gitopsd\/status\/h1 \(signature: the status commit is not signed\), ignored/,
    );
    // Two unverified documents: the newer wins, as before.
    const two = onePerHost([
      row(branch, '2026-12-01T01:00:00Z', 'unverified'),
      row(ref, '2026-12-01T00:00:00Z', 'unverified'),
    ]);
    expect(two.map((r) => r.ref)).toEqual([branch]);
  });
});

describe('signerKeyLines: an allowed-signers file with no key is unusable (exit 64 or 78)', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb3nYx4mB1c2VyQGhvc3Q= root@alpha';
  it('counts the lines that hold a public key', () => {
    expect(signerKeyLines('')).toBe(0);
    expect(signerKeyLines('garbage line\n# alpha ssh-ed25519 AAAA\n\n')).toBe(0);
    expect(signerKeyLines(`alpha namespaces="git" ${key}\nbeta ${key}\ngarbage\n`)).toBe(2);
    expect(signerKeyLines(`a,b cert-authority,namespaces="git" ecdsa-sha2-nistp256 AAAAE2VjZHNh=`)).toBe(1);
  });

  // Review 12: `--allowed-signers /nonexistent` was exit 78 (config) though the path came from the command line.
  it('an unusable file is a usage error when an option named it, a config error when the config did', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-signers-'));
    try {
      const good = join(dir, 'good');
      const empty = join(dir, 'empty');
      writeFileSync(good, `alpha namespaces="git" ${key}\n`);
      writeFileSync(empty, '# nobody yet\n');
      const outcome = (file: string, source: SignersSource): [number, string] => {
        try {
          return [0, readSignersFile(file, source, '--allowed-signers')];
        } catch (err) {
          return [exitCodeFor(err), (err as Error).message];
        }
      };
      const option = { option: '--allowed-signers' };
      const config = { key: 'fleet.allowedSignersFile' };
      expect(outcome(good, option)).toEqual([0, `alpha namespaces="git" ${key}\n`]);
      expect(outcome(join(dir, 'none'), option)).toEqual([
        64,
        expect.stringMatching(/^--allowed-signers \S+\/none cannot be read \(ENOENT\); pass the path of a readable/),
      ]);
      expect(outcome(empty, option)).toEqual([
        64,
        expect.stringMatching(
          /^--allowed-signers \S+\/empty has no line with a public key .*; pass the allowed-signers/,
        ),
      ]);
      expect(outcome(join(dir, 'none'), config)).toEqual([
        78,
        expect.stringMatching(/ cannot be read \(ENOENT\); fix fleet\.allowedSignersFile or --allowed-signers$/),
      ]);
      expect(outcome(empty, config)).toEqual([
        78,
        expect.stringMatching(/ has no line with a public key .*; fix fleet\.allowedSignersFile or --allowed-signers$/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
