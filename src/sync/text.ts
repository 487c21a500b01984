/** Small text helpers of dotfile sync's messages. */

/** The last non-empty line of a tool's output (the one that usually says why), or "no output". */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.at(-1) ?? 'no output';
}
