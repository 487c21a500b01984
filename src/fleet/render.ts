/**
 * `fleet status` as a terminal table (cli-table3), coloured by state with
 * picocolors on a TTY only (no ANSI codes otherwise, and none with NO_COLOR).
 */
import { createRequire } from 'node:module';
import { printable } from '../core/printable.js';
import type { FleetRow, FleetView, HostState } from './schema.js';

type Paint = (s: string) => string;

/** An age in seconds as the fleet table and page show it: "45s", "12m", "5h", "3d"; "-" for none. */
export function ageText(sec: number | null): string {
  if (sec === null) return '-';
  const s = Math.max(0, sec);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function renderFleet(view: FleetView, opts: { color: boolean }): string {
  const require = createRequire(import.meta.url);
  const pc = (require('picocolors') as typeof import('picocolors')).createColors(opts.color);
  const Table = require('cli-table3') as typeof import('cli-table3');
  const tone: Record<HostState, Paint> = {
    healthy: pc.green,
    warning: pc.yellow,
    failed: pc.red,
    reverted: pc.red,
    degraded: pc.red,
    stale: pc.magenta,
    unverified: pc.red,
    invalid: pc.red,
  };
  const table = new Table({
    head: ['host', 'state', 'Git', 'Lock', 'System', 'Boot', 'Golden', 'Dotfiles', 'version', 'last run', 'age', 'sig'],
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 1 },
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: ' ',
    },
  });
  const sig = (r: FleetRow): string =>
    r.signature.state === 'verified'
      ? pc.green('ok')
      : r.signature.state === 'unverified'
        ? pc.red('UNVERIFIED')
        : pc.dim(r.signature.state);
  for (const r of view.hosts) {
    const c = r.columns;
    const version = r.version === null ? null : printable(r.version);
    table.push([
      r.host,
      tone[r.state](r.state),
      printable(c.git),
      printable(c.lock),
      printable(c.system),
      printable(c.boot),
      printable(c.golden),
      c.dotfiles === 'in-sync'
        ? c.dotfiles
        : r.state === 'invalid'
          ? printable(c.dotfiles)
          : pc.yellow(printable(c.dotfiles)),
      version === null ? '-' : r.versionBehind ? pc.yellow(`${version} (behind)`) : version,
      printable(c.lastRun),
      r.stale ? pc.magenta(ageText(r.ageSec)) : ageText(r.ageSec),
      sig(r),
    ]);
  }
  const lines = [table.toString()];
  // A line for each host that is not healthy, or has a note (a healthy one too).
  const said = view.hosts.filter((r) => r.state !== 'healthy' || r.notes.length > 0);
  if (said.length > 0) {
    lines.push('');
    for (const r of said) {
      const text = [...r.reasons, ...r.notes.map((n) => `note: ${n}`)].join('; ');
      lines.push(`${tone[r.state](`${r.host}:`)} ${printable(text)}`);
    }
  }
  const counts = Object.entries(view.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  lines.push(
    '',
    `${view.hosts.length} host${view.hosts.length === 1 ? '' : 's'} from ${view.remote}: ${counts === '' ? 'none' : counts}` +
      (view.signersConfigured ? '' : ' (no allowed signers configured: signatures not checked)'),
  );
  return lines.join('\n');
}
