/**
 * Randomized convergence: three hosts, one bare remote, fixed seed. Each
 * round one host edits its $HOME (a line of a shared file, often a line
 * another host also edits; a new file; a deletion) and some hosts sync.
 * Halfway, a person resolves every parked conflict. After a quiet period:
 * - every edit ever captured is in a commit reachable from main or a parked
 *   bookmark (the checker is shown to fail on a deliberately lost edit);
 * - every host's $HOME equals main for every file not parked on that host,
 *   including hosts that have a parked conflict in another file;
 * - no $HOME file contains conflict markers; conflicts were reported.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { prng } from '../../harness/prng.js';
import { removeTempDirs } from '../../harness/temp.js';
import {
  chezmoiArgs,
  filesWithMarkers,
  jjIn,
  makeHost,
  makeRemote,
  readHome,
  remoteHistoryText,
  remoteTree,
  sync,
  type Host,
  type SyncRun,
} from './fixture.js';

afterAll(removeTempDirs);

const SEED = 20261121;
const ROUNDS = 24;
const FILES = 5;
const LINES = 6;

/** Tokens of captured edits that no commit reachable from a remote ref adds. */
export function missingEdits(tokens: Iterable<string>, history: string): string[] {
  const added = new Set<string>();
  for (const line of history.split('\n')) if (line.startsWith('+') && !line.startsWith('+++')) added.add(line.slice(1));
  return [...tokens].filter((t) => !added.has(t));
}

const markerFree = (p: string): boolean => p.includes('/.jj') || p.endsWith('/.git') || p.includes('/.git/');

describe('randomized multi-host convergence (seed 20261121)', () => {
  it('converges with nothing lost', async () => {
    const rand = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const seed: Record<string, string> = {};
    for (let f = 0; f < FILES; f++) {
      seed[`dot_f${f}`] = Array.from({ length: LINES }, (_, l) => `f${f}-l${l}`).join('\n') + '\n';
    }
    const remote = await makeRemote(seed);
    const hosts: Host[] = [];
    for (const n of ['h0', 'h1', 'h2']) hosts.push(await makeHost(remote, n));
    for (const h of hosts) expect((await sync(h)).exitCode).toBe(0);

    /** Captured edits: token → where. Pending edits per host (not yet synced) by file:line. */
    const captured = new Map<string, string>();
    const pending = new Map<string, Map<string, string>>(hosts.map((h) => [h.name, new Map()]));
    const newFiles = new Map<string, string[]>(hosts.map((h) => [h.name, []]));
    const deleted: string[] = [];
    const results: SyncRun[] = [];
    const counts = { line: 0, newFile: 0, deletion: 0 };

    const doSync = async (h: Host): Promise<void> => {
      const r = await sync(h);
      if (![0, 1].includes(r.exitCode) || (r.exitCode === 1 && r.json?.['kind'] !== 'conflict-parked')) {
        throw new Error(`sync on ${h.name}: ${r.exitCode} ${r.stdout} ${r.stderr.slice(-2000)}`);
      }
      results.push(r);
      for (const [k, tok] of pending.get(h.name) ?? []) captured.set(tok, `${h.name}:${k}`);
      pending.get(h.name)?.clear();
    };

    const editLine = async (h: Host, round: number, k: number): Promise<void> => {
      const f = Math.floor(rand() * FILES);
      const target = `.f${f}`;
      const text = await readHome(h, target);
      if (text === null) return;
      const lines = text.split('\n');
      // Lines 0-1 are hot (often edited on several hosts), the rest spread out.
      const l = rand() < 0.4 ? Math.floor(rand() * 2) : Math.floor(rand() * (lines.length - 1));
      const tok = `${h.name}-r${round}-e${k}-f${f}-l${l}`;
      lines[l] = tok;
      await writeFile(join(h.home, target), lines.join('\n'));
      pending.get(h.name)?.set(`${target}:${l}`, tok);
      counts.line++;
    };

    const resolveAll = async (): Promise<void> => {
      for (const h of hosts) {
        const st = JSON.parse(await readFile(join(h.stateDir, 'sync', 'state.json'), 'utf8')) as {
          sync: { parked: { paths: string[] } | null };
        };
        if (st.sync.parked === null) continue;
        await jjIn(h, ['git', 'fetch']);
        await jjIn(h, ['new', 'main@origin', `sync/${h.name}`]);
        // The person keeps the parked (local) side of every conflicting file.
        for (const p of st.sync.parked.paths) {
          const local = (await run('git', ['--git-dir', remote.url, 'show', `sync/${h.name}:${p}`])).stdout;
          await writeFile(join(h.src, p), local);
        }
        await jjIn(h, ['commit', '-m', `resolve on ${h.name}`]);
        await jjIn(h, ['bookmark', 'set', 'main', '-r', '@-']);
        await jjIn(h, ['git', 'push', '-b', 'main']);
        await doSync(h);
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      const h = pick(hosts);
      const ops = 1 + Math.floor(rand() * 2);
      for (let k = 0; k < ops; k++) {
        const dice = rand();
        if (dice < 0.12) {
          const target = `.n-${h.name}-${round}-${k}`;
          const tok = `${h.name}-new-${round}-${k}`;
          await writeFile(join(h.home, target), `${tok}\n`);
          await run('chezmoi', [...chezmoiArgs(h), 'add', join(h.home, target)]);
          pending.get(h.name)?.set(target, tok);
          newFiles.get(h.name)?.push(target);
          counts.newFile++;
        } else if (dice < 0.2 && (newFiles.get(h.name)?.length ?? 0) > 0) {
          const mine = newFiles.get(h.name) ?? [];
          const target = mine.shift() ?? '';
          if ((await readHome(h, target)) === null) continue;
          await run('chezmoi', [...chezmoiArgs(h), 'destroy', '--force', join(h.home, target)]);
          pending.get(h.name)?.delete(target);
          deleted.push(target);
          counts.deletion++;
        } else {
          await editLine(h, round, k);
        }
      }
      await doSync(h);
      if (rand() < 0.6) await doSync(pick(hosts));
      if (round === Math.floor(ROUNDS / 2)) await resolveAll();
    }
    // Quiet period: everyone syncs until nothing moves.
    for (let pass = 0; pass < 2; pass++) for (const h of hosts) await doSync(h);

    // Every captured edit is in a commit reachable from main or a parked bookmark.
    const history = await remoteHistoryText(remote);
    expect(captured.size).toBeGreaterThan(20);
    expect(missingEdits(captured.keys(), history)).toEqual([]);
    // The checker is not vacuous: a lost edit is found.
    expect(missingEdits([...captured.keys(), 'h9-lost-edit'], history)).toEqual(['h9-lost-edit']);

    // Every host's $HOME matches main outside its parked paths.
    const main = await remoteTree(remote);
    const parkedSomewhere: string[] = [];
    for (const h of hosts) {
      const st = JSON.parse(await readFile(join(h.stateDir, 'sync', 'state.json'), 'utf8')) as {
        sync: { parked: { paths: string[] } | null };
      };
      const parked = new Set(st.sync.parked?.paths ?? []);
      parkedSomewhere.push(...parked);
      for (const [src, content] of main) {
        if (parked.has(src)) continue;
        const target = src.replace(/^dot_/, '.');
        expect({ host: h.name, target, content: await readHome(h, target) }).toEqual({ host: h.name, target, content });
      }
      for (const target of deleted)
        expect({ host: h.name, target, content: await readHome(h, target) }).toEqual({
          host: h.name,
          target,
          content: null,
        });
      expect(await filesWithMarkers(h.home, markerFree)).toEqual([]);
    }
    // The run exercised what it claims to: conflicts (reported), new files, deletions.
    expect(results.filter((r) => r.json?.['kind'] === 'conflict-parked').length).toBeGreaterThan(0);
    expect(counts.newFile).toBeGreaterThan(0);
    expect(counts.deletion).toBeGreaterThan(0);
    process.stdout.write(
      `convergence: ${results.length} syncs, ${captured.size} captured edits (${counts.line} line edits, ${counts.newFile} new files, ${counts.deletion} deletions), ${results.filter((r) => r.json?.['kind'] === 'conflict-parked').length} parked results, still parked at the end: ${parkedSomewhere.join(', ') || 'none'}\n`,
    );
  }, 600_000);
});
