/**
 * Health checks (shared domain module, docs/design.md layers): "are the
 * configured units active and do the checks pass?",
 * polled until a verdict or a deadline. Used by `boot validate` and by
 * upgrade's post-switch check.
 *
 * Contract:
 * - inputs: unit names, checks (tcp/http/command, src/core/config.ts), a
 *   timeout in seconds, the runner and clock from Deps.
 * - per poll: ONE `systemctl show -p <SHOW_PROPERTIES> <units...>` call
 *   (src/health/unit.ts parses it and decides each unit), then every check.
 * - a failed unit, or one systemd cannot find (LoadState=not-found), ends
 *   the wait at once (failedFast); `activating`, an active unit that has not
 *   settled yet (settleSec), and every other state keep waiting until the
 *   deadline. A oneshot that finished with Result=success is healthy.
 * - the deadline is measured with deps.clock.monotonicMs and the waits go
 *   through deps.clock.sleep, so tests control time.
 * - side effects: none besides the checks themselves (read-only commands).
 */
import { connect } from 'node:net';
import type { Check } from '../core/config.js';
import type { Deps } from '../core/deps.js';
import { CommandFailed, lastLine } from '../core/errors.js';
import { SHOW_PROPERTIES, decideUnit, parseShow, type UnitProps, type UnitTrack, type UnitVerdict } from './unit.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** 'unit' for a systemd unit, else the check's kind. */
  kind?: CheckKind | 'unit';
}
export interface ChecksOutcome {
  ok: boolean;
  results: CheckResult[];
  failedFast: boolean;
  /** How many polls ran before the verdict. */
  polls?: number;
  /** Whether the deadline ended the wait (as opposed to success or a failed unit). */
  timedOut?: boolean;
}

export type CheckKind = 'tcp' | 'http' | 'command';

export type WaitDeps = Pick<Deps, 'runner' | 'clock' | 'log'>;

export interface WaitOptions {
  services: string[];
  checks: Check[];
  timeoutSec: number;
  /**
   * How long a running unit must stay active, with NRestarts and
   * ActiveEnterTimestampMonotonic unchanged, to count as healthy
   * (config validation.settleSeconds). 0: the first active sample counts.
   */
  settleSec: number;
  /** Pause between polls; default DEFAULT_POLL_MS (250 ms). */
  pollMs?: number;
}

/**
 * 250 ms, not 2 s: the verdict comes at most one pause after the last unit
 * becomes active, and boot-complete.target waits for it (benchmark B5,
 * docs/benchmarks.md: at 2 s the median was 563 ms and the worst case 2 s,
 * against a 0.5 s target). A poll is one `systemctl show` (a D-Bus
 * query) plus the checks, so 4 polls a second during the boot is cheap.
 */
export const DEFAULT_POLL_MS = 250;
/** A single probe never takes longer than this, so one hung port cannot eat the whole budget. */
const TCP_TIMEOUT_MS = 3000;
const HTTP_TIMEOUT_MS = 5000;
const COMMAND_TIMEOUT_MS = 30_000;
const SYSTEMCTL_TIMEOUT_MS = 15_000;
/** Smallest timeout a probe gets, even when the deadline is closer. */
const MIN_PROBE_MS = 500;
/**
 * Smallest timeout of the `systemctl show` call, even at the deadline: the
 * last poll's answer is the verdict, and a unit without an answer is not
 * healthy. A D-Bus query that needs more is itself a problem; the verdict is
 * then at most this late.
 */
const MIN_SYSTEMCTL_MS = 5000;

export type PollDecision =
  { kind: 'healthy' } | { kind: 'failed-unit'; units: string[] } | { kind: 'wait' } | { kind: 'timed-out' };

/**
 * The pure verdict of one poll, from each unit's verdict (src/health/unit.ts
 * decideUnit) and the checks. A failed or missing unit ends it at once (it
 * will not recover by itself within a boot); anything else not yet good
 * waits until the deadline.
 */
export function decidePoll(input: {
  units: ReadonlyMap<string, UnitVerdict>;
  checks: readonly CheckResult[];
  elapsedMs: number;
  timeoutMs: number;
}): PollDecision {
  const failed = [...input.units].filter(([, v]) => v.kind === 'failed').map(([u]) => u);
  if (failed.length > 0) return { kind: 'failed-unit', units: failed };
  const unitsOk = [...input.units.values()].every((v) => v.kind === 'healthy');
  const checksOk = input.checks.every((c) => c.ok);
  if (unitsOk && checksOk) return { kind: 'healthy' };
  if (input.elapsedMs >= input.timeoutMs) return { kind: 'timed-out' };
  return { kind: 'wait' };
}

export function checkKind(c: Check): CheckKind {
  if ('tcp' in c) return 'tcp';
  if ('http' in c) return 'http';
  return 'command';
}

export function checkName(c: Check): string {
  if (c.name !== undefined) return c.name;
  if ('tcp' in c) return `tcp ${c.tcp}`;
  if ('http' in c) return `http ${c.http}`;
  return `command ${c.command.join(' ')}`;
}

/** "127.0.0.1:22" → {host, port}; "[::1]:22" → {host: "::1", port}. */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  let host = s.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number.parseInt(s.slice(i + 1), 10) };
}

function tcpProbe(target: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  const { host, port } = parseHostPort(target);
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let settled = false;
    const done = (ok: boolean, detail: string): void => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve({ ok, detail });
    };
    sock.setTimeout(timeoutMs, () => done(false, `no connection within ${timeoutMs} ms`));
    sock.once('connect', () => done(true, 'connected'));
    sock.once('error', (err: NodeJS.ErrnoException) => done(false, `connect failed: ${err.code ?? err.message}`));
  });
}

async function httpProbe(
  url: string,
  expectStatus: number | undefined,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  try {
    // redirect: 'manual' so a 3xx is judged as itself, not as the page it points to.
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    const ok = expectStatus !== undefined ? res.status === expectStatus : res.status >= 200 && res.status < 300;
    const want = expectStatus !== undefined ? `expected ${expectStatus}` : 'expected 2xx';
    return { ok, detail: ok ? `HTTP ${res.status}` : `HTTP ${res.status} (${want})` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError')
      return { ok: false, detail: `no answer within ${timeoutMs} ms` };
    return { ok: false, detail: `request failed: ${e.cause?.code ?? e.message}` };
  }
}

async function commandProbe(
  deps: WaitDeps,
  argv: readonly string[],
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return { ok: false, detail: 'empty command' };
  try {
    const r = await deps.runner.run(cmd, args, { timeoutMs, allowFailure: true });
    if (r.exitCode === 0) return { ok: true, detail: 'exit 0' };
    const last = (lastLine(r.stderr) || lastLine(r.stdout)).slice(0, 200);
    return { ok: false, detail: `exit ${r.exitCode}${last ? `: ${last}` : ''}` };
  } catch (err) {
    // Timed out or could not start: a failed check, not a crash of the validator.
    return { ok: false, detail: err instanceof CommandFailed ? err.message : String(err) };
  }
}

async function queryUnits(
  deps: WaitDeps,
  units: readonly string[],
  timeoutMs: number,
): Promise<Map<string, UnitProps | null>> {
  if (units.length === 0) return new Map();
  try {
    // allowFailure: the properties on stdout are the answer. systemctl show
    // exits 0 even for a unit it cannot find (LoadState=not-found).
    const r = await deps.runner.run('systemctl', ['show', '-p', SHOW_PROPERTIES.join(','), ...units], {
      timeoutMs,
      allowFailure: true,
    });
    if (r.exitCode !== 0) deps.log.warn('systemctl show failed', { exitCode: r.exitCode, stderr: r.stderr.trim() });
    return parseShow(units, r.exitCode === 0 ? r.stdout : '');
  } catch (err) {
    deps.log.warn('systemctl show could not run', { err });
    return new Map(units.map((u) => [u, null]));
  }
}

async function runCheck(deps: WaitDeps, c: Check, remainingMs: number): Promise<CheckResult> {
  const kind = checkKind(c);
  const cap = (ms: number): number => Math.max(MIN_PROBE_MS, Math.min(ms, remainingMs));
  let r: { ok: boolean; detail: string };
  if ('tcp' in c) r = await tcpProbe(c.tcp, cap(TCP_TIMEOUT_MS));
  else if ('http' in c) r = await httpProbe(c.http, c.expectStatus, cap(HTTP_TIMEOUT_MS));
  else r = await commandProbe(deps, c.command, cap(COMMAND_TIMEOUT_MS));
  return { name: checkName(c), ok: r.ok, detail: r.detail, kind };
}

/** Run one poll: units in one call, then the checks (concurrently). */
export async function pollOnce(
  deps: WaitDeps,
  opts: { services: readonly string[]; checks: readonly Check[]; remainingMs: number },
): Promise<{ units: Map<string, UnitProps | null>; checks: CheckResult[] }> {
  const units = await queryUnits(
    deps,
    opts.services,
    Math.max(MIN_SYSTEMCTL_MS, Math.min(SYSTEMCTL_TIMEOUT_MS, opts.remainingMs)),
  );
  const checks = await Promise.all(opts.checks.map((c) => runCheck(deps, c, opts.remainingMs)));
  return { units, checks };
}

function unitResults(units: ReadonlyMap<string, UnitVerdict>): CheckResult[] {
  return [...units].map(([name, v]) => ({ name, ok: v.kind === 'healthy', detail: v.detail, kind: 'unit' as const }));
}

/**
 * Poll until healthy, a failed unit, or the deadline. Never throws for an
 * unhealthy host: the outcome says what failed.
 */
export async function waitForHealthy(deps: WaitDeps, opts: WaitOptions): Promise<ChecksOutcome> {
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const timeoutMs = opts.timeoutSec * 1000;
  const settleMs = opts.settleSec * 1000;
  const start = deps.clock.monotonicMs();
  const tracks = new Map<string, UnitTrack | null>();
  let polls = 0;
  for (;;) {
    const remainingMs = Math.max(0, timeoutMs - (deps.clock.monotonicMs() - start));
    const { units: props, checks } = await pollOnce(deps, {
      services: opts.services,
      checks: opts.checks,
      remainingMs,
    });
    polls += 1;
    const nowMs = deps.clock.monotonicMs();
    const units = new Map<string, UnitVerdict>();
    for (const [u, p] of props) {
      const r = decideUnit({ props: p, track: tracks.get(u) ?? null, nowMs, settleMs });
      tracks.set(u, r.track);
      units.set(u, r.verdict);
    }
    const results = [...unitResults(units), ...checks];
    const elapsedMs = nowMs - start;
    const d = decidePoll({ units, checks, elapsedMs, timeoutMs });
    switch (d.kind) {
      case 'healthy':
        return { ok: true, results, failedFast: false, polls, timedOut: false };
      case 'failed-unit':
        deps.log.warn('unit failed or not found; not waiting any longer', {
          units: d.units.map((u) => `${u}: ${units.get(u)?.detail ?? ''}`),
        });
        return { ok: false, results, failedFast: true, polls, timedOut: false };
      case 'timed-out':
        deps.log.warn('health checks did not pass before the deadline', {
          timeoutSec: opts.timeoutSec,
          failing: results.filter((r) => !r.ok).map((r) => r.name),
        });
        return { ok: false, results, failedFast: false, polls, timedOut: true };
      case 'wait':
        deps.log.debug('not healthy yet; polling again', {
          failing: results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`),
        });
        await deps.clock.sleep(Math.min(pollMs, Math.max(0, timeoutMs - elapsedMs)));
        break;
    }
  }
}
