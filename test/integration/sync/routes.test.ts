/**
 * `gitopsd sync` runs from its lean bundle (src/cli/lean-sync.ts, chosen by
 * src/cli/entry.ts for the forms src/cli/route.ts accepts); `chezmoi-sync`,
 * the same command under its alias, runs through yargs (src/cli/main.ts).
 * Both must do and print the same: the same output, exit code, run record
 * in the state, log lines and after-run work (fleet publish, hook,
 * metrics). Each scenario is set up twice, alike, and synced once by each
 * route; what differs by nature (times, ids, temporary paths, the alias in
 * an error line) is normalised first.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../../helpers/cli.js';
import { makeHost, makeRemote, refusePushes, sameLineConflict, syncExpect, type Host } from './fixture.js';

type Setup = () => Promise<Host>;

function setConfig(h: Host, extra: Record<string, unknown>): void {
  const c = JSON.parse(readFileSync(h.config, 'utf8')) as Record<string, unknown>;
  writeFileSync(h.config, JSON.stringify({ ...c, log: { level: 'info', format: 'json' }, ...extra }, null, 2));
}

/** The host's own paths, times, commit and change ids, durations and PIDs made alike. */
function normalise(text: string, h: Host): string {
  return text
    .split(h.root)
    .join('<ROOT>')
    .replace(/\/tmp\/[A-Za-z0-9._-]+/g, '<TMP>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<TIME>')
    .replace(/"(durationMs|pid)": ?\d+/g, '"$1":N')
    .replace(/\b[0-9a-f]{12,64}\b/g, '<ID>')
    .replace(/\b[k-z]{8,32}\b/g, '<CHANGE>')
    .replace(/^chezmoi-sync:/gm, 'gitopsd:');
}

async function runRoute(route: 'lean' | 'yargs', setup: Setup): Promise<Record<string, unknown>> {
  const h = await setup();
  const args = ['--json', '--config', h.config];
  const r = await runCli(route === 'lean' ? ['sync', ...args] : args, {
    ...(route === 'yargs' ? { bin: 'chezmoi-sync' } : {}),
    env: { GITOPSD_TEST_NOW: undefined },
  });
  const stateFile = join(h.stateDir, 'state.json');
  const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>) : {};
  const metricsDir = join(h.root, 'metrics');
  const metrics = existsSync(metricsDir)
    ? readdirSync(metricsDir)
        .map((f) => readFileSync(join(metricsDir, f), 'utf8'))
        .join('')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#') && !/_seconds|timestamp/.test(l))
    : [];
  return {
    exitCode: r.exitCode,
    stdout: normalise(r.stdout, h),
    // Lines of commands run side by side may come in either order.
    stderr: normalise(r.stderr, h).split('\n').sort(),
    runs: normalise(JSON.stringify(state['runs'] ?? null), h),
    hookRan: existsSync(join(h.root, 'hook.out')),
    metrics: metrics.map((l) => normalise(l, h)).sort(),
  };
}

const edited: Setup = async () => {
  const remote = await makeRemote({ dot_a: 'a\n' });
  const h = await makeHost(remote, 'h');
  await syncExpect(h, 0);
  writeFileSync(join(h.home, '.a'), 'b\n');
  setConfig(h, {});
  return h;
};

describe('gitopsd sync (lean bundle) and chezmoi-sync (yargs) do the same', () => {
  it.each<[string, Setup, number]>([
    ['an edit captured and pushed', edited, 0],
    [
      'a same-line conflict, parked',
      async () => {
        const { b } = await sameLineConflict();
        setConfig(b, {});
        return b;
      },
      1,
    ],
    [
      'the remote gone: offline',
      async () => {
        const h = await edited();
        const url = (JSON.parse(readFileSync(h.config, 'utf8')) as { dotfiles: { url: string } }).dotfiles.url;
        renameSync(url, `${url}.gone`);
        return h;
      },
      75,
    ],
    [
      'pushes refused: push-failed',
      async () => {
        const remote = await makeRemote({ dot_a: 'a\n' });
        const h = await makeHost(remote, 'h');
        await syncExpect(h, 0);
        writeFileSync(join(h.home, '.a'), 'b\n');
        await refusePushes(remote, 5);
        setConfig(h, {});
        return h;
      },
      1,
    ],
    [
      // An error line: each route prints it under its own name ("gitopsd:", "chezmoi-sync:").
      'a config that is not JSON',
      async () => {
        const remote = await makeRemote({ dot_a: 'a\n' });
        const h = await makeHost(remote, 'h');
        writeFileSync(h.config, '{ not json');
        return h;
      },
      78,
    ],
    [
      'the after-run step: fleet publish, an onSuccess hook, metrics',
      async () => {
        const h = await edited();
        const statusRemote = join(h.root, 'status.git');
        await execa('git', ['init', '-q', '--bare', statusRemote]);
        mkdirSync(join(h.root, 'metrics'));
        setConfig(h, {
          fleet: { enable: true, statusRemote, signingKey: null },
          hooks: { onSuccess: ['/bin/sh', '-c', `echo ok > ${join(h.root, 'hook.out')}`], onFailure: null },
          metrics: { textfileDir: join(h.root, 'metrics') },
        });
        return h;
      },
      0,
    ],
  ])('%s', async (name, setup, exitCode) => {
    const lean = await runRoute('lean', setup);
    const yargs = await runRoute('yargs', setup);
    expect(lean['exitCode'], String(lean['stderr'])).toBe(exitCode);
    expect(lean).toEqual(yargs);
    if (exitCode === 78) {
      // No run: the config did not load. The one line names the problem (and, before normalising, the route's own name).
      expect(lean['stderr']).toEqual([expect.stringMatching(/^gitopsd: config .*not valid JSON/)]);
      return;
    }
    expect(lean['stdout']).not.toBe('');
    expect(lean['runs']).toMatch(/"sync"/);
    if (name.startsWith('the after-run step')) {
      // Not equal by both doing nothing: the hook ran, the metrics were written, and the status was published.
      expect(lean['hookRan']).toBe(true);
      expect(lean['metrics']).toEqual(expect.arrayContaining([expect.stringMatching(/^gitopsd_/)]));
      expect(lean['stderr']).toEqual(expect.arrayContaining([expect.stringMatching(/published/)]));
    }
  });
});
