/**
 * Unit files rendered by nixpkgs' nixos/lib (config.systemd.units), read and
 * checked the way systemd reads them. Shared by module.test.ts and
 * vm-test.test.ts.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tryRun } from '../../harness/exec.js';
import { tempDir } from '../../harness/temp.js';

export interface RenderedUnit {
  text: string;
  wantedBy: string[];
  requiredBy: string[];
  overrideStrategy: 'asDropinIfExists' | 'asDropin';
}
/** The values of `key` in `[section]` of a unit file, in order (a key may repeat). */
export function directive(text: string, section: string, key: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      current = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (current === section && eq > 0 && line.slice(0, eq) === key) out.push(line.slice(eq + 1));
  }
  return out;
}

/** The program paths a unit runs (Exec*= lines, without systemd's prefixes -@+!:). */
export function programs(text: string): string[] {
  return [...text.matchAll(/^Exec\w+=[-@+!:]*(\/\S+)/gm)].map((m) => m[1] ?? '');
}

/**
 * Installs the units into a temp root as nixpkgs' generateUnits would, and
 * runs `systemd-analyze verify --root=<root> --man=no <units>`.
 * - The test bed's systemd units (/usr/lib/systemd/system) are copied in:
 *   they play the units of nixpkgs' systemd package (multi-user.target,
 *   boot-complete.target, network-online.target, ...).
 * - overrideStrategy "asDropinIfExists" (the default): a unit systemd ships
 *   becomes /etc/systemd/system/<name>.d/overrides.conf, any other one
 *   /etc/systemd/system/<name>.
 * - wantedBy / requiredBy become <target>.wants/ and .requires/ links.
 * - opts.omit: a program not to create (to see the verifier fail).
 * - --man=no: the test bed has no man(1); Documentation= of systemd's own
 *   units (systemd-analyze(1): "--man=no" skips checking man pages) is not
 *   what is under test.
 */
export async function verifyUnits(
  units: Record<string, RenderedUnit>,
  opts: { omit?: string | undefined } = {},
): Promise<{ exitCode: number; output: string }> {
  const root = await tempDir('gitopsd-units');
  const upstream = '/usr/lib/systemd/system';
  cpSync(upstream, join(root, upstream), { recursive: true, verbatimSymlinks: true });
  const etc = join(root, 'etc/systemd/system');
  mkdirSync(etc, { recursive: true });
  for (const [name, unit] of Object.entries(units)) {
    const dropin = unit.overrideStrategy === 'asDropin' || existsSync(join(upstream, name));
    const file = dropin ? join(etc, `${name}.d`, 'overrides.conf') : join(etc, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, unit.text);
    for (const [targets, kind] of [
      [unit.wantedBy, 'wants'],
      [unit.requiredBy, 'requires'],
    ] as const) {
      for (const t of targets) {
        mkdirSync(join(etc, `${t}.${kind}`), { recursive: true });
        symlinkSync(`../${name}`, join(etc, `${t}.${kind}`, name));
      }
    }
    for (const p of programs(unit.text).filter((x) => x !== opts.omit)) {
      mkdirSync(join(root, dirname(p)), { recursive: true });
      writeFileSync(
        join(root, p),
        `#!/bin/sh\necho 'stand-in for ${p}, only checked by systemd-analyze' >&2\nexit 1\n`,
      );
      chmodSync(join(root, p), 0o755);
    }
  }
  const r = await tryRun('systemd-analyze', ['verify', `--root=${root}`, '--man=no', ...Object.keys(units)]);
  return { exitCode: r.exitCode, output: (r.stdout + r.stderr).trim() };
}
