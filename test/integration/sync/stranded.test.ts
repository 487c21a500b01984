/**
 * Issue 14, input 1: something left unapplied on a host (a template edited
 * in $HOME while another host changed it, or a script that fails there)
 * used to hold back the merge base of every target, so a later edit to an
 * unrelated line of another file conflicted with a change that was already
 * applied, was stranded in $HOME, and the sync said all is well (exit 0).
 * Now what is left unapplied holds back only itself: every other edit
 * reaches the remote, and every edit that cannot is listed with its reason
 * (exit 1).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import { makeHost, makeRemote, readHome, remoteTree, syncExpect } from './fixture.js';

afterAll(removeTempDirs);

const PLAIN = 'a\nb\nc\nd\ne\n';

describe('an edit made while something else is left unapplied', () => {
  it('a template edited in $HOME and changed elsewhere holds back only itself', async () => {
    const remote = await makeRemote({ dot_plain: PLAIN, 'dot_tcfg.tmpl': 'os={{ .chezmoi.os }}\n' });
    const h1 = await makeHost(remote, 'h1');
    const h2 = await makeHost(remote, 'h2');
    await syncExpect(h1, 0);
    await syncExpect(h2, 0);
    expect(await readHome(h1, '.tcfg')).toBe('os=linux\n');
    await writeFile(join(h1.home, '.tcfg'), 'os=linux\nlocal=1\n');
    await writeFile(join(h2.src, 'dot_tcfg.tmpl'), 'os={{ .chezmoi.os }}\nshell=zsh\n');
    await syncExpect(h2, 0);
    const first = await syncExpect(h1, 1);
    expect(first.json?.['kind']).toBe('edits-waiting');
    // h2 changes line b; h1 applies it.
    await writeFile(join(h2.home, '.plain'), 'a\nB\nc\nd\ne\n');
    await syncExpect(h2, 0);
    await syncExpect(h1, 1);
    expect(await readHome(h1, '.plain')).toBe('a\nB\nc\nd\ne\n');
    // h1 edits line c and syncs twice: the edit reaches the remote.
    await writeFile(join(h1.home, '.plain'), 'a\nB\nC\nd\ne\n');
    const r = await syncExpect(h1, 1);
    await syncExpect(h1, 1);
    expect((await remoteTree(remote)).get('dot_plain')).toBe('a\nB\nC\nd\ne\n');
    expect(r.json?.['kind']).toBe('edits-waiting');
    expect(r.json?.['pushed']).toEqual(['main']);
    const unc = r.json?.['uncapturable'] as { target: string; why: string }[];
    expect(unc.map((u) => u.target)).toEqual(['.tcfg']);
    expect(unc[0]?.why).toContain('template dot_tcfg.tmpl');
    expect(String(r.json?.['message'])).toContain('(.tcfg)');
    expect(String(r.json?.['message'])).not.toContain('.plain');
    // The local template edit is still there, untouched.
    expect(await readHome(h1, '.tcfg')).toBe('os=linux\nlocal=1\n');
    await syncExpect(h2, 0);
    expect(await readHome(h2, '.plain')).toBe('a\nB\nC\nd\ne\n');
    // sync status and status --json list the waiting path with its reason.
    const st = await runCli(['sync', 'status', '--config', h1.config]);
    expect(st.stdout).toMatch(/not captured: \.tcfg \(M\): rendered from the template dot_tcfg\.tmpl/);
    const all = await runCli(['status', '--json', '--config', h1.config]);
    const dot = (JSON.parse(all.stdout) as { dotfiles: { uncapturable: { target: string; why: string }[] } }).dotfiles;
    expect(dot.uncapturable.map((u) => u.target)).toEqual(['.tcfg']);
  }, 600_000);

  it('a run_onchange_ script failing on one host blames the script and strands nothing else', async () => {
    const remote = await makeRemote({ dot_plain: PLAIN });
    const h1 = await makeHost(remote, 'h1');
    const h2 = await makeHost(remote, 'h2');
    await syncExpect(h1, 0);
    await syncExpect(h2, 0);
    await writeFile(join(h1.home, '.failhere'), 'this host has no such tool\n');
    await writeFile(
      join(h2.src, 'run_onchange_setup.sh.tmpl'),
      '#!/bin/sh\n[ ! -e "{{ .chezmoi.destDir }}/.failhere" ] || { echo "setup: tool missing" >&2; exit 3; }\n',
    );
    await syncExpect(h2, 0);
    const failed = await syncExpect(h1, 1);
    expect(failed.json?.['kind']).toBe('apply-failed');
    expect(String(failed.json?.['message'])).toContain('setup.sh');
    await writeFile(join(h2.home, '.plain'), 'a\nB\nc\nd\ne\n');
    await syncExpect(h2, 0);
    await syncExpect(h1, 1);
    expect(await readHome(h1, '.plain')).toBe('a\nB\nc\nd\ne\n');
    await writeFile(join(h1.home, '.plain'), 'a\nB\nC\nd\ne\n');
    const r = await syncExpect(h1, 1);
    expect(r.json?.['kind']).toBe('apply-failed');
    expect(String(r.json?.['message'])).toContain('setup.sh');
    expect(String(r.json?.['message'])).not.toContain('.plain');
    expect(r.json?.['uncapturable']).toEqual([]);
    expect((await remoteTree(remote)).get('dot_plain')).toBe('a\nB\nC\nd\ne\n');
    await syncExpect(h2, 0);
    expect(await readHome(h2, '.plain')).toBe('a\nB\nC\nd\ne\n');
  }, 600_000);
});
