/**
 * `gitopsd fleet serve`: a read-only web page of the fleet (src/fleet/html.ts)
 * on node:http. It reads the status remote at start and every
 * fleet.serve.refreshSec, and serves the last view it read; it has no
 * actions (GET and HEAD only, on `/` and `/fleet.json`).
 *
 * Contract
 * - Binds to fleet.serve.listen (default 127.0.0.1:8080; `--listen`
 *   overrides) before its first read, so an address in use fails at once;
 *   a non-loopback address is allowed but logged as a warning: the page
 *   shows every host's state to whoever can reach it. The URL is announced
 *   after the first read.
 * - A failed refresh keeps the last good view and shows the error above it;
 *   before the first read succeeds `/` answers 503 with the error. A config
 *   error at the first read (allowed signers unreadable) ends it: exit 78.
 * - Stops on SIGTERM or SIGINT (or the `signal`), closing the listener; the
 *   promise resolves then.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../core/deps.js';
import { GitopsdError, UsageError } from '../core/errors.js';
import { readFleet, type ReadOptions } from './read.js';
import { renderPage } from './html.js';
import type { FleetView } from './schema.js';

export interface ServeOptions {
  listen: string;
  refreshSec: number;
  read: ReadOptions;
  /** Told the bound address once listening (the port is real even for port 0). */
  announce: (url: string) => void;
  signal?: AbortSignal;
}

/** Pure: HOST:PORT (IPv6 in brackets) to its parts. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) {
    throw new UsageError(`--listen "${listen}" is not HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)`);
  }
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

// node:http and node:net are required when a page is served, not imported:
// `fleet status` runs from a bundle that holds this module too
// (dist/bundle/lean-fleet-status.cjs), and an ESM import of node:http builds
// its facade, whose getters load undici (about 12 ms of a read,
// docs/benchmarks.md B8, eighth session).
const req = createRequire(import.meta.url);

const isLoopback = (host: string): boolean => {
  const { isIP } = req('node:net') as typeof import('node:net');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
};

/**
 * Pure: the one-line error of a listen that failed. The address in use
 * (another `fleet serve`, another server) is temporary (75); an address
 * this machine does not have, or a port this user may not bind, is the
 * address's fault (78).
 */
export function listenFailure(err: NodeJS.ErrnoException, listen: string): GitopsdError {
  const code = err.code ?? err.message;
  if (err.code === 'EADDRINUSE') {
    return new GitopsdError(
      'temporary',
      `cannot listen on ${listen}: the address is in use (EADDRINUSE); stop what listens there or pass another --listen`,
      { cause: err },
    );
  }
  return new GitopsdError(
    'config',
    `cannot listen on ${listen} (${code}); pass an address of this machine and a port this user may bind (--listen or fleet.serve.listen)`,
    { cause: err },
  );
}

export async function serveFleet(deps: Deps, o: ServeOptions): Promise<{ refreshes: number }> {
  const log = deps.log.child({ module: 'fleet-serve' });
  const { host, port } = parseListen(o.listen);
  if (!isLoopback(host)) {
    log.warn('fleet serve listens beyond loopback: anyone who reaches it sees every host', { listen: o.listen });
  }
  let view: FleetView | null = null;
  let page: string | null = null;
  let error: string | null = null;
  let refreshes = 0;
  const refresh = async (): Promise<void> => {
    let read: FleetView;
    try {
      read = await readFleet(deps, o.read);
      view = read;
      page = renderPage(read, { refreshSec: o.refreshSec });
      error = null;
    } catch (err) {
      // An unusable config (an allowed-signers file that cannot be read) at
      // the first read: exit 78 as `fleet status` does, rather than serve a
      // 503 for ever under a unit that looks healthy (review 11).
      if (refreshes === 0 && err instanceof GitopsdError && (err.kind === 'config' || err.kind === 'usage')) throw err;
      error = err instanceof Error ? err.message : String(err);
      log.warn('fleet view not refreshed; serving the last one', { error });
      refreshes++;
      return;
    }
    refreshes++;
    // The view is refreshed whether or not its metrics file can be written:
    // a metrics failure is its own warning, not the page's "refresh failed".
    if (deps.config.metrics.textfileDir !== null) {
      try {
        const { writeFleetMetrics } = await import('./metrics.js');
        await writeFleetMetrics(deps.config.metrics.textfileDir, read);
      } catch (err) {
        log.warn('fleet metrics file not written', { error: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  const send = (res: ServerResponse, code: number, type: string, body: string, head: boolean): void => {
    res.writeHead(code, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
    res.end(head ? undefined : body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end('read-only\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/fleet.json') {
      if (view === null) send(res, 503, 'application/json', JSON.stringify({ error }), head);
      else send(res, 200, 'application/json', JSON.stringify(view), head);
      return;
    }
    if (path !== '/') {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
      return;
    }
    if (page === null) {
      send(
        res,
        503,
        'text/plain; charset=utf-8',
        `the fleet has not been read yet${error === null ? '' : `: ${error}`}\n`,
        head,
      );
      return;
    }
    const banner =
      error === null
        ? page
        : page.replace(
            '<h1>gitopsd fleet</h1>',
            `<h1>gitopsd fleet</h1><p id="error" style="color:rgb(218, 54, 51)">refresh failed: ${error.replace(/[<>&"']/g, '')}</p>`,
          );
    send(res, 200, 'text/html; charset=utf-8', banner, head);
  };
  // Bind first: an address in use is reported at once, not after a first
  // read that may take up to timeouts.gitSec (review 11). A request before
  // that read ends gets 503 "not read yet".
  const { createServer } = req('node:http') as typeof import('node:http');
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenFailure(err, o.listen)));
    server.listen(port, host, () => resolve());
  });
  try {
    await refresh();
  } catch (err) {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    throw err;
  }
  // Announced once the first read has ended: from then on `/` has a page (or the read's error).
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
  o.announce(`http://${host.includes(':') ? `[${host}]` : host}:${bound}/`);
  let timer: NodeJS.Timeout | null = null;
  const schedule = (): void => {
    timer = setTimeout(() => {
      void refresh().then(schedule);
    }, o.refreshSec * 1000);
  };
  schedule();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      if (timer !== null) clearTimeout(timer);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    o.signal?.addEventListener('abort', stop, { once: true });
  });
  return { refreshes };
}
