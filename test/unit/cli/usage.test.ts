/** The command tree read from yargs' help, and yargs' messages reworded into one line (src/cli/usage.ts). */
import { describe, it, expect, beforeAll } from 'vitest';
import { readCommandTree } from '../../../src/cli/main.js';
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
