/** The command tree read from yargs' help, and yargs' messages reworded into one line (src/cli/usage.ts). */
import { describe, it, expect, beforeAll } from 'vitest';
import { main, readCommandTree } from '../../../src/cli/main.js';
import { allCommands, closest, parseHelp, rewordUsageFailure, type CommandNode } from '../../../src/cli/usage.js';

let tree: CommandNode;
beforeAll(async () => {
  tree = await readCommandTree('gitopsd', {});
});

describe('parseHelp', () => {
  it('reads commands, notes and options from a yargs 18 help page', () => {
    const h = parseHelp(
      [
        'gitopsd sync',
        '',
        'Sync dotfiles',
        '',
        'Commands:',
        '  gitopsd sync            Run one sync now  [default]',
        '  gitopsd sync status     Last sync',
        '',
        'Options:',
        '      --config     Config file  [string]',
        '  -h, --help       Show help  [boolean]',
        '      --operation  Override  [choices: "switch", "boot"]',
      ].join('\n'),
    );
    expect(h.usage).toBe('gitopsd sync');
    expect(h.describe).toBe('Sync dotfiles');
    expect(h.commands).toEqual([
      { words: ['gitopsd', 'sync'], describe: 'Run one sync now (default)' },
      { words: ['gitopsd', 'sync', 'status'], describe: 'Last sync' },
    ]);
    expect(h.options).toEqual([
      { name: 'config', alias: null, describe: 'Config file', notes: ['string'] },
      { name: 'help', alias: 'h', describe: 'Show help', notes: ['boolean'] },
      { name: 'operation', alias: null, describe: 'Override', notes: ['choices: "switch", "boot"'] },
    ]);
  });
});

describe('the command tree', () => {
  it('holds every command and subcommand, with its own options', () => {
    const paths = allCommands(tree).map((c) => c.path.join(' '));
    expect(paths).toEqual(
      expect.arrayContaining(['sync status', 'golden pin', 'golden rollback', 'boot reset', 'config check', 'version']),
    );
    const pin = allCommands(tree).find((c) => c.path.join(' ') === 'golden pin');
    expect(pin?.options.map((o) => o.name)).toEqual(expect.arrayContaining(['store-path', 'generation', 'force']));
    expect(allCommands(tree).find((c) => c.path[0] === 'completion')?.positionals).toEqual(['<shell>']);
  });
});

describe('closest', () => {
  it.each([
    ['stauts', ['status', 'sync'], 'status'],
    ['servcies', ['services', 'checks'], 'services'],
    ['tcsh', ['bash', 'zsh', 'fish'], null],
    ['v', ['V', 'h'], 'V'],
    ['upgarde', ['upgrade', 'golden'], 'upgrade'],
    ['xyz', ['status'], null],
  ])('%s among %j -> %s', (word, candidates, expected) => {
    expect(closest(word, candidates)).toBe(expected);
  });
});

describe('rewordUsageFailure', () => {
  it.each([
    [
      'Unknown argument: stauts',
      ['stauts'],
      'unknown command "stauts" (did you mean "gitopsd status"?); see gitopsd --help',
    ],
    [
      'Unknown arguments: operaton, operaton',
      ['upgrade', '--operaton', 'x'],
      'unknown option --operaton (did you mean --operation?); see gitopsd upgrade --help',
    ],
    [
      'Invalid values:\n  Argument: operation, Given: "test", Choices: "switch", "boot"',
      ['upgrade', '--operation', 'test'],
      '--operation "test" is not allowed; use one of "switch", "boot"; see gitopsd upgrade --help',
    ],
    [
      'Arguments now and reboot are mutually exclusive',
      ['golden', 'rollback', '--now', '--reboot'],
      '--now and --reboot cannot be used together; pass only one; see gitopsd golden rollback --help',
    ],
    [
      'Not enough arguments following: store-path',
      ['golden', 'pin', '--store-path'],
      '--store-path needs a value; see gitopsd golden pin --help',
    ],
    [
      'Not enough non-option arguments: got 0, need at least 1',
      ['completion'],
      'missing an argument; usage: gitopsd completion <shell>; see gitopsd completion --help',
    ],
    ['name a command', ['-v'], 'unknown option -v (did you mean -V?); see gitopsd --help'],
    [
      // yargs' strict mode fails on a negated flag given a value before its check does.
      'Unknown arguments: no-force, noForce',
      ['fleet', 'publish', '--no-force=maybe'],
      '--no-force is a flag and takes no value (got --no-force=maybe); write --no-force alone, or leave it out; see gitopsd fleet publish --help',
    ],
    [
      'Unknown argument: maybe',
      ['golden', 'rollback', '--yes', 'maybe'],
      '--yes is a flag and takes no value (got --yes maybe); write --yes alone, or leave it out; see gitopsd golden rollback --help',
    ],
    [
      'Some new yargs message:\n  over two lines',
      ['status'],
      'Some new yargs message:; over two lines; see gitopsd status --help',
    ],
  ])('%j for %j', (msg, argv, line) => {
    const out = rewordUsageFailure(msg, { scriptName: 'gitopsd', argv, tree });
    expect(out).toBe(line);
    expect(out).not.toContain('\n');
  });
});

describe('a flag given a value', () => {
  // Every boolean option of every command (a global one once, at the first
  // command that lists it): `--X=maybe` is exit 64 and one line, where yargs
  // read it as "not given" (review 12).
  it('is a usage error for every flag of every command', async () => {
    const seen = new Set<string>();
    const cases = allCommands(tree).flatMap((c) =>
      c.options
        .filter((o) => o.notes.includes('boolean') && !seen.has(o.name) && (seen.add(o.name), true))
        .map((o) => ({ path: c.path, flag: `--${o.name}` })),
    );
    expect(cases.map((c) => c.flag)).toEqual(
      expect.arrayContaining(['--json', '--help', '--fleet', '--dry-run', '--force', '--yes', '--check-drift']),
    );
    for (const { path, flag } of cases) {
      let err = '';
      const code = await main([...path, `${flag}=maybe`], 'gitopsd', {
        stdout: () => undefined,
        stderr: (s) => (err += s),
        env: {},
      });
      expect([code, err]).toEqual([
        64,
        `gitopsd: ${flag} is a flag and takes no value (got ${flag}=maybe); write ${flag} alone, or leave it out; see ${['gitopsd', ...path].join(' ')} --help\n`,
      ]);
    }
  });
});

describe('an option given an empty value', () => {
  // yargs' requiresArg stops `--X` at the end, not `--X=` or `--X ""`: the
  // handlers read "" as not given (`fleet status --allowed-signers=` read the
  // fleet unverified, review 12).
  it.each([
    [['fleet', 'status', '--allowed-signers='], 'allowed-signers', 'fleet status'],
    [['golden', 'pin', '--store-path', ''], 'store-path', 'golden pin'],
    [['config', 'check', '--rollout='], 'rollout', 'config check'],
  ])('%j is a usage error', async (argv, name, command) => {
    let err = '';
    const code = await main(argv, 'gitopsd', { stdout: () => undefined, stderr: (s) => (err += s), env: {} });
    expect([code, err]).toEqual([64, `gitopsd: --${name} needs a value; see gitopsd ${command} --help\n`]);
  });
});
