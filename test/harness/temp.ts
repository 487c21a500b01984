/**
 * Unique temporary directories for tests, under os.tmpdir() (a fresh tmpfs per
 * scripts/testbed invocation). `tempDir` creates one; `removeTempDirs` removes
 * every directory this process created (call it from afterAll). Store paths
 * built by a test are not removed: they live in /nix/store, and any out-link
 * under a removed directory simply stops being a GC root.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created: string[] = [];

export async function tempDir(prefix = 'gitopsd-test'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  created.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  const dirs = created.splice(0);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
