/**
 * The must-show: a simulated fleet of 20 hosts publishing to one
 * bare status remote with real git and SSH-signed status commits
 * (ssh-keygen host keys), then `gitopsd fleet status` shows each host's
 * real state: one reverted (a commit that breaks its sshd), one with a
 * parked dotfile conflict, one offline going stale (the clock injected
 * forward while it publishes nothing), and one whose status is signed with
 * another host's key (unverified). Every other host is healthy.
 *
 * The same view as a page: `gitopsd fleet serve` on loopback and the static
 * `fleet status --html` file, loaded in a real headless Chromium (Debian's
 * package, in the test bed) driven by playwright-core: the rows, their
 * states and colours are read from the DOM, and a screenshot is written to
 * test-output/fleet-page.png (docs/fleet-page.png is one such screenshot).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { chromium, type Browser, type Page } from 'playwright-core';
import { STATE_COLORS } from '../../../src/fleet/html.js';
import { repoRoot } from '../../helpers/cli.js';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { CHEZMOI_TEST_TOML } from '../../harness/chezmoi-config.js';
import { tempDir } from '../../harness/temp.js';
import { configureHost, createStatusRemote, remoteRefs, signFleet } from './fixture.js';
import type { FleetView } from '../../../src/fleet/schema.js';

const N = 20;
const names = Array.from({ length: N }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
const T0 = Date.parse('2026-11-22T12:00:00Z');
const at = (hours: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(T0 + hours * 3600_000).toISOString(),
  TZ: 'UTC',
});

let fleet: Fleet;
let dir: string;
let remote: string;
let keys: Record<string, string> = {};

/** Run `fn` over `items`, `limit` at a time (2 cores; each host run spawns git, jj, nix). */
async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
    }),
  );
}

async function expectExit(h: FleetHost, args: string[], code: number, env: Record<string, string>): Promise<void> {
  const r = await h.gitopsd(args, { env });
  expect(r.exitCode, `${h.name} ${args.join(' ')}: ${r.stdout}\n${r.stderr}`).toBe(code);
}

const host = (name: string): FleetHost => fleet.host(name);

beforeAll(async () => {
  dir = await tempDir('gitopsd-fleet20');
  fleet = await createFleet({
    dir: join(dir, 'fleet'),
    names,
    chezmoiToml: CHEZMOI_TEST_TOML,
    overrides: { validation: { services: ['sshd.service'], timeoutSec: 5 } },
  });
  remote = await createStatusRemote(join(dir, 'remotes'));
  ({ keys } = await signFleet({ hosts: fleet.hosts, dir, remote }));
}, 900_000);

describe(`a fleet of ${N} hosts`, () => {
  it('every host publishes its signed status after its cycle', { timeout: 900_000 }, async () => {
    await pool(fleet.hosts, 3, (h) => expectExit(h, ['cycle'], 0, at(0)));
    const refs = await remoteRefs(remote);
    expect(Object.keys(refs).sort()).toEqual(names.map((n) => `refs/gitopsd/status/${n}`));
    const r = await host('h01').gitopsd(['fleet', 'status', '--json'], { env: at(0.1) });
    const view = JSON.parse(r.stdout) as FleetView;
    expect(view.hosts.map((x) => [x.host, x.state, x.signature.state])).toEqual(
      names.map((n) => [n, 'healthy', 'verified']),
    );
    expect(r.exitCode).toBe(0);
  });

  it(
    'fleet status shows the real state of each host: reverted, conflict, stale, unverified',
    { timeout: 900_000 },
    async () => {
      // h04: a commit whose system breaks sshd; the upgrade reverts it (exit 4).
      await fleet.nixConfig.commitGeneration(
        { h04: { version: 'v2-nosshd', kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
        'h04: v2 breaks sshd',
      );
      await expectExit(host('h04'), ['upgrade'], 4, at(0.2));
      // h09 and h10 edit the same line of .gitconfig; h10 syncs second and parks its edit.
      const cfg = (await host('h09').readHome('.gitconfig')) ?? '';
      await host('h09').editHome('.gitconfig', cfg.replace('Fleet User', 'User on h09'));
      await host('h10').editHome('.gitconfig', cfg.replace('Fleet User', 'User on h10'));
      await expectExit(host('h09'), ['sync'], 0, at(0.3));
      await expectExit(host('h10'), ['sync'], 1, at(0.3));
      // h07's status is signed with h06's key (a key that is not h07's).
      await configureHost(host('h07'), { fleet: { signingKey: keys['h06'] } });
      await expectExit(host('h07'), ['fleet', 'publish', '--force'], 0, at(0.4));
      // Five hours on, every host but h05 (offline) has published its heartbeat.
      await pool(
        fleet.hosts.filter((h) => h.name !== 'h05'),
        3,
        (h) => expectExit(h, ['fleet', 'publish'], 0, at(5)),
      );
      const r = await host('h01').gitopsd(['fleet', 'status', '--json'], { env: at(5.1) });
      expect(r.exitCode, r.stderr).toBe(1);
      const view = JSON.parse(r.stdout) as FleetView;
      const row = (n: string) => view.hosts.find((x) => x.host === n);
      expect(row('h04')).toMatchObject({
        state: 'reverted',
        signature: { state: 'verified' },
      });
      expect(row('h04')?.reasons).toContain('the last upgrade was reverted');
      expect(row('h04')?.status?.knownBadCommits).toEqual([expect.objectContaining({ reason: 'post-switch-failed' })]);
      expect(row('h10')).toMatchObject({
        state: 'warning',
        columns: { dotfiles: 'conflict (1)' },
      });
      expect(row('h10')?.reasons).toContain('dotfiles conflict parked: dot_gitconfig');
      expect(row('h05')).toMatchObject({ state: 'stale', stale: true });
      expect(row('h05')?.ageSec).toBeGreaterThan(2 * 3600);
      expect(row('h07')).toMatchObject({
        state: 'unverified',
        signature: { state: 'unverified', signer: 'h06', detail: "signed by h06's key, not h07's" },
      });
      const special = new Set(['h04', 'h05', 'h07', 'h10']);
      for (const x of view.hosts.filter((y) => !special.has(y.host))) {
        expect([x.host, x.state, x.signature.state, x.stale]).toEqual([x.host, 'healthy', 'verified', false]);
      }
      expect(view.counts).toMatchObject({ healthy: 16, warning: 1, reverted: 1, stale: 1, unverified: 1 });
      expect(view.staleHosts).toBe(1);
      const text = await host('h01').gitopsd(['fleet', 'status'], { env: at(5.1) });
      expect(text.exitCode).toBe(1);
      expect(text.stdout).toMatch(/^h04\s+reverted\s/m);
      expect(text.stdout).toMatch(/^h05\s+stale\s/m);
      expect(text.stdout).toMatch(/^h07\s+unverified\s.*UNVERIFIED\s*$/m);
      expect(text.stdout).toMatch(/^h10\s+warning\s.*conflict \(1\)/m);
      expect(text.stdout).toMatch(/20 hosts from .*: 16 healthy, 1 warning, 1 reverted, 1 stale, 1 unverified$/m);
    },
  );

  it(
    'the page shows the same rows, states and colours in a real Chromium (served on loopback, and as a static file)',
    { timeout: 300_000 },
    async () => {
      const h01 = host('h01');
      const json = await h01.gitopsd(['fleet', 'status', '--json'], { env: at(5.1) });
      const view = JSON.parse(json.stdout) as FleetView;
      const staticPage = join(dir, 'fleet.html');
      const html = await h01.gitopsd(['fleet', 'status', '--html', staticPage], { env: at(5.1) });
      expect(html.exitCode, html.stderr).toBe(1); // not all healthy, as above
      const serve = execa(
        'node',
        [join(repoRoot, 'bin/gitopsd'), 'fleet', 'serve', '--listen', '127.0.0.1:0', '--config', h01.config],
        {
          env: { ...h01.sim.env, ...at(5.1), GITOPSD_CONFIG: undefined },
          reject: false,
          stdin: 'ignore',
          timeout: 240_000,
        },
      );
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        // The address is announced on stderr (the log stream); stdout stays for data.
        serve.stderr?.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
          if (m) resolve(m[0]);
        });
        void serve.then((r) => reject(new Error(`fleet serve ended (exit ${r.exitCode}): ${String(r.stderr)}`)));
      });
      let browser: Browser | undefined;
      try {
        // As root in a sandbox with no network: no Chromium sandbox, no background connections.
        browser = await chromium.launch({
          executablePath: '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        });
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        // Evaluated in the page (a string: this project compiles without the DOM types).
        const rowsOf = (p: Page) =>
          p.evaluate<Array<{ host: string; state: string; colour: string }>>(
            `[...document.querySelectorAll('#fleet tbody tr')].map((tr) => ({
            host: tr.getAttribute('data-host'),
            state: tr.getAttribute('data-state'),
            colour: getComputedStyle(tr.querySelector('td.state')).backgroundColor,
          }))`,
          );
        const want = view.hosts.map((x) => ({ host: x.host, state: x.state, colour: STATE_COLORS[x.state] }));
        for (const target of [url, `file://${staticPage}`]) {
          await page.goto(target);
          expect(await rowsOf(page), target).toEqual(want);
          // The detail view of the reverted host names its reason.
          expect(await page.textContent('#host-h04')).toContain('the last upgrade was reverted');
          // The signature column flags h07 in the warning colour.
          const sig = await page.evaluate<string>(
            `getComputedStyle(document.querySelector('tr[data-host="h07"] td.sig-unverified')).color`,
          );
          expect(sig).toBe('rgb(218, 54, 51)');
        }
        await page.goto(url);
        await mkdir(join(repoRoot, 'test-output'), { recursive: true });
        await page.screenshot({ path: join(repoRoot, 'test-output', 'fleet-page.png'), fullPage: true });
      } finally {
        await browser?.close();
        serve.kill('SIGTERM');
        const r = await serve;
        expect(r.exitCode, String(r.stderr)).toBe(0);
      }
    },
  );
});
