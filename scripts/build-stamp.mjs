#!/usr/bin/env node
// What a build of dist/ was made from, so the test run can tell whether
// `npm run build` already built the sources as they are now (npm run ci
// builds, then tests; test/setup/global.ts would otherwise build again).
//
//   node scripts/build-stamp.mjs begin   before the build: removes the stamp, the inputs' digest to dist/.build-pending
//   node scripts/build-stamp.mjs end     after a build that succeeded: dist/.build-pending -> dist/.build-stamp
//   node scripts/build-stamp.mjs check   exit 0 when dist/.build-stamp is the digest of the inputs now, else 1
//
// The digest covers the content of every build input (src/, bin/, the build
// scripts, package.json, package-lock.json, the tsconfigs) and what the bundle
// embeds (scripts/bundle.mjs buildInfo: HEAD, whether tracked files are
// modified, $GITOPSD_COMMIT). It is taken BEFORE the build reads anything, so
// a file saved during a build leaves a stamp that no longer matches. Without
// git (a Nix build) the git part is "no-git".
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { git, root } from './git-query.mjs';

const INPUTS = [
  'src',
  'bin',
  'scripts/bundle.mjs',
  'scripts/gen-man.mjs',
  'scripts/build-stamp.mjs',
  'scripts/git-query.mjs',
  'scripts/string-width-lazy.mjs',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
const PENDING = join(root, 'dist', '.build-pending');
const STAMP = join(root, 'dist', '.build-stamp');

function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

function digest() {
  const h = createHash('sha256');
  for (const f of INPUTS.flatMap((i) => files(join(root, i)))) {
    h.update(`${relative(root, f)}\0`);
    h.update(readFileSync(f));
    h.update('\0');
  }
  h.update(`HEAD ${git(['rev-parse', '--verify', 'HEAD']) ?? 'no-git'}\0`);
  h.update(`status ${git(['status', '--porcelain', '--untracked-files=no']) ?? 'no-git'}\0`);
  h.update(`GITOPSD_COMMIT ${process.env.GITOPSD_COMMIT ?? ''}\0`);
  return h.digest('hex');
}

const mode = process.argv[2];
if (mode === 'begin') {
  // A build that fails half-way leaves no stamp: dist/ is then of no known sources.
  rmSync(STAMP, { force: true });
  mkdirSync(dirname(PENDING), { recursive: true });
  writeFileSync(PENDING, `${digest()}\n`);
} else if (mode === 'end') {
  renameSync(PENDING, STAMP);
} else if (mode === 'check') {
  const stamp = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : '';
  process.exitCode = stamp !== '' && stamp === digest() ? 0 : 1;
} else {
  process.stderr.write('usage: node scripts/build-stamp.mjs begin|end|check\n');
  process.exitCode = 64;
}
