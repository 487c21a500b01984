/**
 * The fleet page: one self-contained HTML document (inline CSS, no script,
 * no external resource) with the table of `fleet status`, coloured by state,
 * and a detail view per host (a <details> element holding its reasons and
 * its published status.json). `fleet status --html FILE` writes it;
 * `fleet serve` serves it, with a meta refresh. Every text from a status
 * document is escaped (escape-html): a host cannot inject markup.
 */
import { createRequire } from 'node:module';
import type { FleetRow, FleetView, HostState } from './schema.js';
import { ageText } from './render.js';

/** Background colours of the state cells (also checked by the browser test). */
export const STATE_COLORS: Record<HostState, string> = {
  healthy: 'rgb(46, 160, 67)',
  warning: 'rgb(210, 153, 34)',
  failed: 'rgb(218, 54, 51)',
  reverted: 'rgb(218, 54, 51)',
  degraded: 'rgb(218, 54, 51)',
  stale: 'rgb(137, 87, 229)',
  unverified: 'rgb(218, 54, 51)',
  invalid: 'rgb(110, 118, 129)',
};

export function renderPage(view: FleetView, opts: { refreshSec: number | null }): string {
  const require = createRequire(import.meta.url);
  const esc = require('escape-html') as (s: string) => string;
  const cell = (cls: string, text: string): string => `<td class="${cls}">${esc(text)}</td>`;
  const row = (r: FleetRow): string => {
    const c = r.columns;
    const sig = r.signature.state;
    return [
      `<tr class="host state-${r.state}" data-host="${esc(r.host)}" data-state="${r.state}">`,
      `<td class="name"><a href="#host-${esc(r.host)}">${esc(r.host)}</a></td>`,
      `<td class="state">${esc(r.state)}</td>`,
      cell('git', c.git),
      cell('lock', c.lock),
      cell('system', c.system),
      cell('boot', c.boot),
      cell('golden', c.golden),
      cell(`dotfiles dotfiles-${c.dotfiles.split(' ')[0] ?? ''}`, c.dotfiles),
      cell(
        r.versionBehind ? 'version behind' : 'version',
        r.version === null ? '-' : r.version + (r.versionBehind ? ' (behind)' : ''),
      ),
      cell('lastrun', c.lastRun),
      cell(r.stale ? 'age stale' : 'age', ageText(r.ageSec)),
      cell(`sig sig-${sig}`, sig),
      '</tr>',
    ].join('');
  };
  const detail = (r: FleetRow): string =>
    [
      `<details id="host-${esc(r.host)}" class="detail state-${r.state}"><summary>${esc(r.host)}: ${esc(r.state)}</summary>`,
      r.reasons.length === 0 ? '' : `<ul>${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`,
      r.notes.length === 0 ? '' : `<ul class="notes">${r.notes.map((x) => `<li>note: ${esc(x)}</li>`).join('')}</ul>`,
      `<p>ref <code>${esc(r.ref)}</code> at <code>${esc(r.commit)}</code>; signature: ${esc(r.signature.state)}${r.signature.signer === null ? '' : ` by ${esc(r.signature.signer)}`}${r.signature.detail === null ? '' : ` (${esc(r.signature.detail)})`}</p>`,
      r.status === null ? '' : `<pre>${esc(JSON.stringify(r.status, null, 2))}</pre>`,
      '</details>',
    ].join('');
  const counts = Object.entries(view.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `<span class="count state-${s}">${n} ${esc(s)}</span>`)
    .join(' ');
  const css = [
    'body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}',
    'table{border-collapse:collapse;width:100%}',
    'th,td{padding:4px 8px;border-bottom:1px solid #d0d7de;text-align:left;white-space:nowrap}',
    'th{background:#f6f8fa}',
    'td.state{color:#fff;font-weight:600}',
    ...Object.entries(STATE_COLORS).map(([s, c]) => `tr.state-${s} td.state,.count.state-${s}{background-color:${c}}`),
    '.count{color:#fff;padding:2px 6px;border-radius:4px;margin-right:4px}',
    'td.sig-unverified,td.version.behind,td.age.stale{color:rgb(218, 54, 51);font-weight:600}',
    'td.dotfiles-conflict{color:rgb(154, 103, 0);font-weight:600}',
    'p.missing{color:rgb(218, 54, 51);font-weight:600}',
    'details{margin:.5em 0}pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:30em}',
  ].join('\n');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    opts.refreshSec === null ? '' : `<meta http-equiv="refresh" content="${opts.refreshSec}">`,
    `<title>gitopsd fleet: ${view.hosts.length} hosts</title>`,
    `<style>${css}</style></head><body>`,
    `<h1>gitopsd fleet</h1>`,
    `<p id="summary">${view.hosts.length} hosts from <code>${esc(view.remote)}</code>, read ${esc(view.generatedAt)}: ${counts}${view.signersConfigured ? '' : ' (no allowed signers configured: signatures not checked)'}</p>`,
    '<table id="fleet"><thead><tr><th>host</th><th>state</th><th>Git</th><th>Lock</th><th>System</th><th>Boot</th><th>Golden</th><th>Dotfiles</th><th>version</th><th>last run</th><th>age</th><th>signature</th></tr></thead>',
    `<tbody>${view.hosts.map(row).join('\n')}</tbody></table>`,
    view.missingHosts.length === 0
      ? ''
      : `<p id="missing" class="missing">no status for ${view.missingHosts.length} expected host(s): ${view.missingHosts.map((h) => `<code>${esc(h)}</code>`).join(', ')} (never published to this remote, or the ref was deleted)</p>`,
    '<h2>Hosts</h2>',
    view.hosts.map(detail).join('\n'),
    '</body></html>',
    '',
  ].join('\n');
}
