/**
 * B7: `gitopsd daemon` resident memory when idle after one cycle, against an
 * idle node process (`node -e "setInterval(()=>{},1e6)"`). The daemon
 * starts with GITOPSD_TEST_NOW just after a 04:00 slot it missed (the state
 * says the last cycle started the day before), so the persistent catch-up
 * runs one full cycle (upgrade no-op + dotfile sync) at once. When the next
 * slot is planned the daemon is idle; VmRSS is read from /proc/<pid>/status
 * after IDLE_MS more. Each run is a new daemon (and a new baseline process).
 * The daemon starts as gitopsd.service starts it (nix/module.nix: node with
 * package.json's daemonNodeFlags; common.ts daemonArgv), and the command
 * line is printed with the table. Target: ratio <= 1.5.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import type { Readable } from 'node:stream';
import { procStatusMiB, stats, table } from './lib.js';
import { daemonArgv, gitopsd, runsFor, sleep, type Benchmark } from './common.js';
import { createFleet } from '../test/harness/fleet.js';
import { join } from 'node:path';

const IDLE_MS = 3000;

interface Rss {
  /** VmRSS: what the target is about. */
  total: number;
  /** RssAnon: heap and other private memory. */
  anon: number;
  /** RssFile: file-backed pages (mostly the node binary's code, shared and reclaimable). */
  file: number;
}

/** Resident memory of a live process, in MiB, from /proc/<pid>/status. */
function rssMiB(pid: number): Rss {
  return {
    total: procStatusMiB(pid, 'VmRSS'),
    anon: procStatusMiB(pid, 'RssAnon'),
    file: procStatusMiB(pid, 'RssFile'),
  };
}

/** Resolves when a JSON log line on the process's stderr satisfies `pred`. */
function waitForLog(
  proc: { stderr: Readable | null },
  pred: (l: Record<string, unknown>) => boolean,
  what: string,
  timeoutMs = 120_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const seen: string[] = [];
    const t = setTimeout(
      () => reject(new Error(`B7: no ${what} within ${timeoutMs} ms:\n${seen.join('\n')}`)),
      timeoutMs,
    );
    proc.stderr?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        seen.push(text);
        try {
          if (pred(JSON.parse(text) as Record<string, unknown>)) {
            clearTimeout(t);
            resolve();
          }
        } catch {
          // not a JSON line
        }
      }
    });
  });
}

export const b7: Benchmark = {
  id: 'B7',
  title: '`gitopsd daemon` idle RSS after one cycle',
  async run(dir) {
    const fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['b7'] });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('B7: no host');
    const cfg = JSON.parse(readFileSync(h.config, 'utf8')) as Record<string, unknown>;
    cfg['log'] = { level: 'info', format: 'json' };
    cfg['schedule'] = { cron: '0 4 * * *', randomizedDelaySec: 0, persistent: true };
    writeFileSync(h.config, JSON.stringify(cfg, null, 2));
    const env = { ...h.sim.env, TZ: 'UTC', GITOPSD_CONFIG: undefined };
    // A first cycle (bootstraps the dotfiles, records the deployment) the day before.
    await gitopsd(['cycle', '--config', h.config], { env: { ...env, GITOPSD_TEST_NOW: '2026-03-01T03:00:00Z' } });

    const runs = runsFor(5);
    const daemon: Rss[] = [];
    const base: Rss[] = [];
    for (let i = 0; i < runs; i++) {
      const now = `2026-03-${String(2 + i).padStart(2, '0')}T04:00:05Z`;
      const proc = execa('node', [...daemonArgv(), '--config', h.config], {
        reject: false,
        env: { ...env, GITOPSD_TEST_NOW: now },
        stdin: 'ignore',
        timeout: 300_000,
      });
      const started = waitForLog(
        proc,
        (l) => l['message'] === 'cycle starting' && l['trigger'] === 'catch-up',
        'catch-up cycle',
      );
      const idle = waitForLog(
        proc,
        (l) => l['message'] === 'next cycle planned' && l['trigger'] === 'schedule',
        'idle plan',
      );
      await started;
      await idle;
      await sleep(IDLE_MS);
      daemon.push(rssMiB(proc.pid ?? -1));
      proc.kill('SIGTERM');
      const r = await proc;
      if (r.exitCode !== 0) throw new Error(`B7: daemon exited ${r.exitCode}: ${String(r.stderr).slice(-1000)}`);

      const idleNode = execa('node', ['-e', 'setInterval(()=>{},1e6)'], { reject: false, stdin: 'ignore' });
      await sleep(IDLE_MS);
      base.push(rssMiB(idleNode.pid ?? -1));
      idleNode.kill('SIGTERM');
      await idleNode;
    }
    const idle = 'node -e "setInterval(()=>{},1e6)"';
    const b = stats({ name: `${idle} (VmRSS)`, runs: base.map((r) => r.total) });
    const d = stats({ name: 'gitopsd daemon, idle after a cycle (VmRSS)', runs: daemon.map((r) => r.total) });
    const ratio = d.medianMs / b.medianMs;
    const md = [
      table(`B7 ${this.title}`, b, [d], 'ratio <= 1.5', { unit: 'MiB' }),
      '',
      table(
        'B7 the same, split into private (RssAnon) and file-backed (RssFile) memory',
        null,
        [
          stats({ name: `${idle}: RssAnon`, runs: base.map((r) => r.anon) }),
          stats({ name: 'gitopsd daemon: RssAnon', runs: daemon.map((r) => r.anon) }),
          stats({ name: `${idle}: RssFile`, runs: base.map((r) => r.file) }),
          stats({ name: 'gitopsd daemon: RssFile', runs: daemon.map((r) => r.file) }),
        ],
        undefined,
        { unit: 'MiB' },
      ),
      '',
      `daemon started as gitopsd.service starts it: \`node ${daemonArgv()
        .map((a) => (a.startsWith('/') ? a.split('/').slice(-2).join('/') : a))
        .join(' ')}\``,
    ].join('\n');
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [`B7 ratio ${ratio.toFixed(2)} (target <= 1.5): ${ratio <= 1.5 ? 'met' : 'NOT met'}`],
    };
  },
};
