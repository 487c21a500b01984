/**
 * A vitest globalSetup for integration runs: fails the whole run unless git,
 * jj, chezmoi and nix are present and new enough (never skips), and prints
 * their versions first. Wire it with `test.globalSetup` in vitest.config.ts.
 */
import { describeTools } from './tools.js';

export default async function setup(): Promise<void> {
  const line = await describeTools();
  console.log(`integration tools: ${line}`);
}
