/**
 * Run the built CLI (bin/gitopsd and its aliases) as a real process.
 * Shared by every integration test: one way to spawn gitopsd.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  opts: { bin?: string; env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const r = await execa('node', [join(repoRoot, 'bin', opts.bin ?? 'gitopsd'), ...args], {
    reject: false,
    env: { GITOPSD_CONFIG: undefined, ...opts.env },
    cwd: opts.cwd ?? repoRoot,
    timeout: opts.timeoutMs ?? 120_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Start the built CLI without waiting: for a test that acts while it runs (or is stopped). */
export function startCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): { pid: number; done: Promise<CliResult> } {
  const child = execa('node', [join(repoRoot, 'bin', 'gitopsd'), ...args], {
    reject: false,
    env: { GITOPSD_CONFIG: undefined, ...opts.env },
    cwd: repoRoot,
    timeout: opts.timeoutMs ?? 120_000,
    stdin: 'ignore',
  });
  if (child.pid === undefined) throw new Error('startCli: node did not start');
  const done = child.then((r) => ({ exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }));
  return { pid: child.pid, done };
}
