/**
 * `gitopsd completion bash|zsh|fish`: yargs' own completion scripts
 * (yargs/build/lib/completion-templates.js). Each script asks
 * `gitopsd --get-yargs-completions WORDS…` for the candidates, so completion
 * always matches the installed commands.
 *
 * yargs picks the template (and the candidate format: plain words for bash,
 * `word:description` for zsh, `word<TAB>description` for fish) from $SHELL
 * when its instance is created (yargs/build/lib/completion.js); here the shell
 * named on the command line decides, so $SHELL is set for that instance only.
 */
import type { COMPLETION_SHELLS } from './main.js';

export async function completionScript(scriptName: string, shell: (typeof COMPLETION_SHELLS)[number]): Promise<string> {
  const { default: yargs } = await import('yargs');
  const saved = process.env['SHELL'];
  process.env['SHELL'] = `/bin/${shell}`;
  try {
    let script = '';
    await yargs([])
      .scriptName(scriptName)
      .completion('completion', false)
      .exitProcess(false)
      .parseAsync(['completion'], {}, (_err: Error | undefined, _argv: unknown, output: string) => {
        script = output;
      });
    if (!script.includes('--get-yargs-completions')) throw new Error(`yargs wrote no ${shell} completion script`);
    // The template's "Installation:" lines name the command without the shell.
    return `${script.replaceAll(`${scriptName} completion `, `${scriptName} completion ${shell} `).trimEnd()}\n`;
  } finally {
    if (saved === undefined) delete process.env['SHELL'];
    else process.env['SHELL'] = saved;
  }
}
