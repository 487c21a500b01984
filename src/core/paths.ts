/**
 * Every file gitopsd owns, derived from config values. Host paths are never
 * literals outside the config defaults (src/core/config-schema.ts).
 */
import { join } from 'node:path';
import type { Config } from './config.js';

export interface Paths {
  stateDir: string;
  stateFile: string;
  lockFile: string;
  /** Out-links of candidate builds; each is a GC root while it exists. */
  buildsDir: string;
  /** Per-user sync state and lock; the NixOS module makes it the dotfiles user's. */
  syncDir: string;
  syncStateFile: string;
  syncLockFile: string;
  goldenRoot: string;
  systemProfile: string;
  currentSystem: string;
  bootedSystem: string;
  gcRootsDir: string;
  uptimeFile: string;
}

export function pathsFor(config: Config): Paths {
  const s = config.stateDir;
  return {
    stateDir: s,
    stateFile: join(s, 'state.json'),
    lockFile: join(s, 'gitopsd.lock'),
    buildsDir: join(s, 'builds'),
    syncDir: join(s, 'sync'),
    syncStateFile: join(s, 'sync', 'state.json'),
    syncLockFile: join(s, 'sync', 'sync.lock'),
    goldenRoot: join(config.paths.gcRootsDir, 'gitopsd-golden'),
    systemProfile: config.paths.systemProfile,
    currentSystem: config.paths.currentSystem,
    bootedSystem: config.paths.bootedSystem,
    gcRootsDir: config.paths.gcRootsDir,
    uptimeFile: config.paths.uptimeFile,
  };
}
