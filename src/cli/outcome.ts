/** What a command hands back to the CLI: its exit code and its report. */
import type { ExitCode } from '../core/errors.js';

export interface Outcome {
  exitCode: ExitCode;
  /** The human report (stdout), without a trailing newline. */
  text: string;
  /** The --json report; when absent, --json prints `{"ok": …, "message": text}`. */
  json?: unknown;
  /** For mutating commands: what the run record, hooks and metrics report. */
  run?: { result: string; commit?: string | null; generation?: number | null; error?: string | null };
}

export function ok(text: string, json?: unknown): Outcome {
  return json === undefined ? { exitCode: 0, text } : { exitCode: 0, text, json };
}
