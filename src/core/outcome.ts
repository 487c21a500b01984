/**
 * What a command hands back to the CLI: its exit code and its report, and the
 * shape of a command handler. A leaf module (it imports only types from
 * core), so the `cli.ts` of each capability can name a Handler without
 * importing src/cli, which sits above every capability (docs/design.md
 * "Layers").
 */
import type { Deps } from './deps.js';
import type { ExitCode } from './errors.js';

export interface Outcome {
  exitCode: ExitCode;
  /** The human report (stdout), without a trailing newline. */
  text: string;
  /** The --json report; when absent, --json prints `{"ok": …, "message": text}`. */
  json?: unknown;
  /**
   * Print the --json report on one line, without indentation (default:
   * indented by 2). For the large reports: `fleet status` at 1,000 hosts is
   * 1.3 MB so instead of 2.2 MB, and half the CPU to write (docs/fleet.md).
   */
  compactJson?: boolean;
  /** For mutating commands: what the run record, hooks and metrics report. */
  run?: { result: string; commit?: string | null; generation?: number | null; error?: string | null };
}

/** The parsed command line (yargs' argv), as src/cli/main.ts hands it to a handler. */
export type CliArgs = Record<string, unknown>;

/** One command: built dependencies and parsed arguments in, an Outcome out (errors are thrown). */
export type Handler = (deps: Deps, args: CliArgs) => Promise<Outcome>;

export function ok(text: string, json?: unknown): Outcome {
  return json === undefined ? { exitCode: 0, text } : { exitCode: 0, text, json };
}
