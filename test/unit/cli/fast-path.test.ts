/**
 * `gitopsd status`, `sync`, `daemon`, `upgrade`, `fleet status` and `fleet
 * publish` skip yargs for a strict set of argument forms. These tests pin
 * that set and show that both paths, and the bin's entry (which runs
 * status, sync, upgrade and fleet status from their lean bundles), print
 * the same thing.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, parseFastCommand, parseFastFleetCommand, parseFastUpgradeCommand } from '../../../src/cli/main.js';
import { fastRoute } from '../../../src/cli/route.js';
import { main as entryMain } from '../../../src/cli/entry.js';

describe('parseFastCommand', () => {
  it.each([
    [['status'], { json: false, config: undefined }],
    [['status', '--json'], { json: true, config: undefined }],
    [['status', '--config', '/c.json'], { json: false, config: '/c.json' }],
    [['status', '--config=/c.json', '--json'], { json: true, config: '/c.json' }],
    [['status', '--json', '--config', 'rel.json'], { json: true, config: 'rel.json' }],
    [['sync'], { json: false, config: undefined }],
    [['sync', '--json', '--config=/c.json'], { json: true, config: '/c.json' }],
    [['sync', '--config', '/c.json', '--json'], { json: true, config: '/c.json' }],
    [['daemon'], { json: false, config: undefined }],
    [['daemon', '--config', '/c.json'], { json: false, config: '/c.json' }],
    [['daemon', '--config=/c.json'], { json: false, config: '/c.json' }],
  ])('%j is fast', (argv, want) => {
    expect(parseFastCommand(argv)).toEqual({ command: argv[0], ...want });
  });

  it.each([
    [[]],
    [['upgrade']],
    [['status', '--help']],
    [['status', '-h']],
    [['status', '--check-drift']],
    [['status', '--json=maybe']],
    [['status', '--log-level', 'debug']],
    [['status', '--json', '--json']],
    [['status', '--config']],
    [['status', '--config', '--json']],
    [['status', '--config=']],
    [['status', '--config', 'a', '--config', 'b']],
    [['status', 'extra']],
    [['--json', 'status']],
    // `sync status` and `sync conflicts` (and any option but --json and --config) go to yargs.
    [['sync', 'status']],
    [['sync', 'conflicts', '--json']],
    [['sync', '--help']],
    [['sync', '--dry-run']],
    [['sync', '--log-level', 'info']],
    [['sync', '--json', '--json']],
    [['sync', '--config']],
    [['daemon', '--json']],
    [['daemon', '--help']],
    [['daemon', '--log-level', 'debug']],
    [['daemon', '--config']],
    [['daemon', 'extra']],
    [['cycle']],
  ])('%j goes to yargs', (argv) => {
    expect(parseFastCommand(argv)).toBeNull();
  });
});

describe('fastRoute', () => {
  it('routes only under the name gitopsd: an alias keeps its own help and errors (yargs)', () => {
    expect(fastRoute(['status'], 'gitopsd')).toEqual({
      command: 'status',
      json: false,
      config: undefined,
      args: { json: false, config: undefined, 'check-drift': false },
    });
    expect(fastRoute(['status'], 'show-golden')).toBeNull();
    // chezmoi-sync (what a person types) keeps yargs, for its own help and errors.
    expect(fastRoute(['sync', '--json'], 'gitopsd')).toEqual({
      command: 'sync',
      json: true,
      config: undefined,
      args: { json: true, config: undefined },
    });
    expect(fastRoute([], 'chezmoi-sync')).toBeNull();
    expect(fastRoute(['upgrade', '--dry-run'], 'gitopsd')).toMatchObject({
      command: 'upgrade',
      args: { 'dry-run': true },
    });
    expect(fastRoute(['upgrade', '--help'], 'gitopsd')).toBeNull();
    expect(fastRoute(['fleet', 'status', '--host', 'a'], 'gitopsd')).toMatchObject({
      command: 'fleet status',
      args: { host: ['a'] },
    });
  });
});

describe('parseFastFleetCommand', () => {
  const status = (args: Record<string, unknown>) => ({
    command: 'fleet status',
    json: args['json'] === true,
    config: args['config'],
    args: { json: false, ...args },
  });
  const publish = (args: Record<string, unknown>) => ({
    command: 'fleet publish',
    json: args['json'] === true,
    config: args['config'],
    args: { json: false, force: false, ...args },
  });
  it.each([
    [['fleet', 'status'], status({})],
    [['fleet', 'status', '--json'], status({ json: true })],
    [
      ['fleet', 'status', '--json', '--remote', 'file:///r.git', '--config=/c.json'],
      status({ json: true, remote: 'file:///r.git', config: '/c.json' }),
    ],
    [['fleet', 'status', '--host', 'a', '--host=b,c'], status({ host: ['a', 'b,c'] })],
    [
      ['fleet', 'status', '--allowed-signers', '/s', '--html', '/p.html', '--commit', 'abc1234'],
      status({ 'allowed-signers': '/s', html: '/p.html', commit: 'abc1234' }),
    ],
    [['fleet', 'publish'], publish({})],
    [
      ['fleet', 'publish', '--force', '--json', '--config', 'c.json'],
      publish({ force: true, json: true, config: 'c.json' }),
    ],
  ])('%j is fast', (argv, want) => {
    expect(parseFastFleetCommand(argv)).toEqual(want);
  });

  it.each([
    [['fleet']],
    [['fleet', 'serve']],
    [['fleet', 'status', '--help']],
    [['fleet', 'status', '-h']],
    [['fleet', 'status', '--log-level', 'debug']],
    [['fleet', 'status', '--json', '--json']],
    [['fleet', 'status', '--json=true']],
    [['fleet', 'status', '--remote']],
    [['fleet', 'status', '--remote', '--json']],
    [['fleet', 'status', '--remote=']],
    [['fleet', 'status', '--remote', 'a', '--remote', 'b']],
    [['fleet', 'status', '--host', 'a', 'b']],
    [['fleet', 'status', '--force']],
    [['fleet', 'status', 'extra']],
    [['fleet', 'publish', '--no-force']],
    [['fleet', 'publish', '--force=maybe']],
    [['fleet', 'publish', '--force', '--force']],
    [['fleet', 'publish', '--remote', 'r']],
    [['--json', 'fleet', 'status']],
  ])('%j goes to yargs', (argv) => {
    expect(parseFastFleetCommand(argv)).toBeNull();
  });
});

describe('parseFastUpgradeCommand', () => {
  const upgrade = (args: Record<string, unknown>) => ({
    json: args['json'] === true,
    config: args['config'],
    args: { json: false, 'dry-run': false, ...args },
  });
  it.each([
    [['upgrade'], upgrade({})],
    [['upgrade', '--config', '/c.json'], upgrade({ config: '/c.json' })],
    [['upgrade', '--json', '--dry-run', '--config=c.json'], upgrade({ json: true, 'dry-run': true, config: 'c.json' })],
    [['upgrade', '--operation', 'boot'], upgrade({ operation: 'boot' })],
    [['upgrade', '--operation=switch', '--dry-run'], upgrade({ operation: 'switch', 'dry-run': true })],
  ])('%j is fast', (argv, want) => {
    expect(parseFastUpgradeCommand(argv)).toEqual(want);
  });

  it.each([
    [['status']],
    [['upgrade', '--help']],
    [['upgrade', '-h']],
    [['upgrade', '--log-level', 'debug']],
    [['upgrade', '--no-dry-run']],
    [['upgrade', '--dry-run=false']],
    [['upgrade', '--dry-run=maybe']],
    [['upgrade', '--dry-run', '--dry-run']],
    [['upgrade', '--json=true']],
    [['upgrade', '--operation', 'test']],
    [['upgrade', '--operation']],
    [['upgrade', '--config']],
    [['upgrade', '--config', '--json']],
    [['upgrade', '--config=']],
    [['upgrade', '--config', 'a', '--config', 'b']],
    [['upgrade', 'extra']],
    [['--json', 'upgrade']],
  ])('%j goes to yargs', (argv) => {
    expect(parseFastUpgradeCommand(argv)).toBeNull();
  });
});

describe('fast and yargs paths agree', () => {
  let cfg: string;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-fast-'));
    cfg = join(dir, 'config.json');
    writeFileSync(
      cfg,
      JSON.stringify({ hostname: 'fast', stateDir: join(dir, 'state'), nixConfig: { path: join(dir, 'nixos') } }),
    );
  });

  type Run = { code: number; out: string; err: string };
  async function both(argv: string[]): Promise<[Run, Run, Run]> {
    const runAs = async (name: string, run: typeof main = main) => {
      let out = '';
      let err = '';
      const code = await run(argv, name, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
      return { code, out: out.replace(/"generatedAt": "[^"]+"/, ''), err: err.replace(`${name}:`, 'NAME:') };
    };
    // Any other script name takes the yargs path; the bin's entry
    // (src/cli/entry.ts) takes the lean module of status, sync, upgrade and
    // fleet status (src/cli/lean-*.ts), the full CLI's fast path for the others.
    return [await runAs('gitopsd'), await runAs('gitopsd-via-yargs'), await runAs('gitopsd', entryMain)];
  }

  it.each([
    [['status', '--json', '--config', 'CFG']],
    [['status', '--config=CFG']],
    [['status', '--config', '/nonexistent/config.json']],
    [['status', '--json', '--config', '/nonexistent/config.json']],
    [['daemon', '--config', '/nonexistent/config.json']],
    // The lean sync: a config that does not load (78); dotfiles.enable is false (78).
    [['sync', '--config', '/nonexistent/config.json']],
    [['sync', '--json', '--config', 'CFG']],
    [['sync', '--config=CFG']],
    // fleet.enable is false: a config error (78).
    [['fleet', 'publish', '--force', '--config', 'CFG']],
    [['fleet', 'publish', '--json', '--config=CFG']],
    // The status remote cannot be read: 75, one line.
    [['fleet', 'status', '--json', '--remote', '/nonexistent/status.git', '--config', 'CFG']],
    [['fleet', 'status', '--host', 'a', '--remote=/nonexistent/status.git', '--config', 'CFG']],
    // A config that does not load: 78; the checkout does not exist: the upgrade's own error.
    [['upgrade', '--config', '/nonexistent/config.json']],
    [['upgrade', '--json', '--dry-run', '--config', '/nonexistent/config.json']],
    [['upgrade', '--dry-run', '--json', '--config', 'CFG']],
    [['upgrade', '--operation', 'boot', '--dry-run', '--config=CFG']],
  ])('%j', async (argv) => {
    const [fast, slow, entry] = await both(argv.map((a) => a.replace('CFG', cfg)));
    expect(fast).toEqual(slow);
    expect(entry).toEqual(fast);
    expect(fast.out.length + fast.err.length).toBeGreaterThan(0);
  });

  // A flag given a value goes to yargs from every route, the lean bundles' included: exit 64 (review 12).
  it.each([
    [['status', '--json=maybe', '--config', 'CFG'], 'status', '--json=maybe'],
    [['fleet', 'publish', '--force=maybe', '--config', 'CFG'], 'fleet publish', '--force=maybe'],
    [['fleet', 'status', '--json=1', '--config', 'CFG'], 'fleet status', '--json=1'],
    [['upgrade', '--dry-run=yes', '--config', 'CFG'], 'upgrade', '--dry-run=yes'],
    [['sync', '--json=1', '--config', 'CFG'], 'sync', '--json=1'],
  ])('%j is a usage error', async (argv, command, typed) => {
    // Under another name (yargs) the --help pointer names that program: only the code is compared.
    const [fast, slow, entry] = await both(argv.map((a) => a.replace('CFG', cfg)));
    expect(slow.code).toBe(64);
    expect(entry).toEqual(fast);
    const flag = typed.split('=')[0] ?? '';
    expect(fast).toEqual({
      code: 64,
      out: '',
      err: `NAME: ${flag} is a flag and takes no value (got ${typed}); write ${flag} alone, or leave it out; see gitopsd ${command} --help\n`,
    });
  });
});
