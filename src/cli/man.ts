/**
 * The man page gitopsd(1), as ronn-style markdown for marked-man
 * (scripts/gen-man.mjs turns it into roff at build time). The COMMANDS and
 * OPTIONS sections are written from the command tree read back from yargs
 * (./usage.ts), so the page lists exactly what `--help` lists. Pure.
 */
import { EXIT, type ExitCode } from '../core/errors.js';
import type { CommandNode, OptionInfo } from './usage.js';

/** What each exit code means; README "Exit codes" holds the same table (test/unit/cli/man.test.ts). */
export const EXIT_MEANING: Record<ExitCode, string> = {
  [EXIT.ok]: 'ok, including a no-op and an upgrade waiting at its rollout gate (`gated`, docs/rollout.md)',
  [EXIT.failed]: 'operation failed (also: a parked sync conflict, a corrupt state file that was moved aside)',
  [EXIT.buildFailed]:
    'build validation failed because of the commit, nothing activated (also: the remote tip is a known-bad commit, or its rollout is halted; `gitopsd bad list` / `bad forget`, docs/rollout.md)',
  [EXIT.reverted]: 'activation or post-switch check failed, and the system was reverted',
  [EXIT.bootFailed]: 'boot validation failed',
  [EXIT.refused]:
    'refused by policy: preflight, signature, force-push, a health check that already fails before an upgrade, a bad rollout policy, or a rollout marker or fleet trigger the hosts would ignore; also a `golden rollback` not confirmed (no `--yes` without a terminal, or "no" at the prompt), and a command run by a user who may not run it (one that writes `stateDir`, run without root: run it with sudo; a sync started by another user)',
  [EXIT.usage]:
    'usage: unknown command or option, conflicting options, an option without its value (`--remote=`) or a flag given one (`--force=maybe`), or an option that names a file or path that does not exist or cannot be used (`--allowed-signers`, `--store-path`, the directory of `--html`, `--rollout`; but a missing `--config` file is 78)',
  [EXIT.internal]: 'internal error (a bug: please report it)',
  [EXIT.temporary]:
    'temporary: lock held, remote unreachable, or a build/activation failure that is not the commit\'s fault (full disk, fetch, timeout, hang; docs/upgrade.md "What gets blamed"); also: the output could not be written (stdout on a full disk); retry later',
  [EXIT.config]:
    'config: the file (`--config`, else `$GITOPSD_CONFIG`, else the default) is missing, is not valid JSON, or a key is wrong (also: a file a key names cannot be used, such as `fleet.allowedSignersFile`)',
};

/** Markdown special characters in text that comes from yargs. */
const md = (s: string): string => s.replace(/([\\`*_[\]<>#|])/g, '\\$1');

function optionItem(o: OptionInfo): string {
  const flag = `${o.alias === null ? '' : `\`-${o.alias}\`, `}\`--${o.name}\``;
  const notes = o.notes.filter((n) => n !== 'boolean' && n !== 'string' && n !== 'number' && n !== 'required');
  const type = o.notes.find((n) => n === 'string' || n === 'number');
  return `* ${flag}${type === undefined ? '' : ` _${type.toUpperCase()}_`}:\n  ${md(o.describe)}${notes.length > 0 ? ` (${md(notes.join('; '))})` : ''}`;
}

export function manPageMarkdown(tree: CommandNode, opts: { scriptName: string; version: string }): string {
  const globals = new Set(tree.options.map((o) => o.name));
  const out: string[] = [];
  out.push(`# ${opts.scriptName}(1) -- pull-based GitOps daemon for NixOS hosts`, '');
  out.push('## SYNOPSIS', '', `\`${opts.scriptName}\` _command_ \\[_options_\\]`, '');
  out.push('## DESCRIPTION', '', md(tree.describe.replace(/\s+/g, ' ')), '');
  out.push(
    'Every error is one line on standard error naming what failed, why, and what to do next (a config file with several mistakes: one line per mistake). With `--json`, standard output also carries a JSON object with _ok_, _exitCode_ and _error_.',
    '',
  );
  out.push('## COMMANDS', '');
  const walk = (n: CommandNode): void => {
    for (const c of n.commands) {
      const usage = [opts.scriptName, ...c.path, ...c.positionals].join(' ');
      out.push(`### ${md(usage)}`, '', md(c.describe.split('\n')[0] ?? ''), '');
      const own = c.options.filter((o) => !globals.has(o.name));
      if (own.length > 0) out.push(...own.map(optionItem), '');
      walk(c);
    }
  };
  walk(tree);
  out.push('## GLOBAL OPTIONS', '', ...tree.options.map(optionItem), '');
  out.push('## EXIT STATUS', '');
  for (const [code, meaning] of Object.entries(EXIT_MEANING)) out.push(`* \`${code}\`:\n  ${md(meaning)}`);
  out.push('');
  out.push(
    '## ENVIRONMENT',
    '',
    '* `GITOPSD_CONFIG`:\n  the config file when `--config` is not given.',
    '* `NO_COLOR`:\n  when set, `status` prints no colour even on a terminal.',
    '',
  );
  out.push(
    '## FILES',
    '',
    '* _/etc/gitopsd/config.json_:\n  the config (written by the NixOS module from `services.gitopsd.settings`).',
    '* _/var/lib/gitopsd_:\n  the state directory (`stateDir`): state.json, the build out-links, the sync state.',
    '',
  );
  out.push(
    '## LOGS',
    '',
    'Every run logs to the journal of its systemd unit: `journalctl -u gitopsd-upgrade.service` and `journalctl -u gitopsd-sync.service` (mode "timer"), `journalctl -u gitopsd.service` (mode "daemon"), `journalctl -b -u gitopsd-boot-validate.service` (this boot\'s validation). `gitopsd status` prints the command for the newest run on its `log` line (by systemd invocation ID: `journalctl _SYSTEMD_INVOCATION_ID=…`).',
    '',
  );
  out.push(
    '## SEE ALSO',
    '',
    'nixos-rebuild(8), nh(1), nix-env(1), jj(1), chezmoi(1), journalctl(1); the project README and docs/ (design, upgrade, sync, golden-and-boot, status, nixos).',
    '',
  );
  out.push(`## VERSION`, '', `${opts.scriptName} ${md(opts.version)}`, '');
  return out.join('\n');
}
