/**
 * The config file's schema. This file is the one place where defaults live;
 * the README's config reference is written from it. Every object is strict:
 * an unknown key is an error, so a typo never silently falls back to a default.
 *
 * Written with zod/mini, zod's tree-shakable form: the same schemas, checks
 * and messages as classic zod (`z.string().min(1)` is
 * `z.string().check(z.minLength(1))`, `.default(v)` is `z._default(s, v)`),
 * without classic's methods installed on every schema instance, which made
 * building the schemas the largest part of a `gitopsd status` start
 * (issue 19, B1 in docs/benchmarks.md). Every schema of gitopsd uses
 * zod/mini, so classic zod is not in the bundle at all.
 */
import * as z from './zod.js';
import cron from 'node-cron';
import { distance } from 'fastest-levenshtein';

const absPath = z.string().check(
  z.minLength(1),
  z.refine((p) => p.startsWith('/'), {
    message: 'must be an absolute path (starting with /)',
  }),
  z.refine((p) => !p.includes('\0'), { message: 'must not contain a NUL byte' }),
);

const hhmm = z.string().check(
  z.regex(/^([01]\d|2[0-3]):[0-5]\d$/, {
    message: 'must be a time of day as HH:MM (00:00 to 23:59)',
  }),
);

const argv = z
  .array(
    z.string().check(
      z.minLength(1),
      z.refine((s) => !s.includes('\0'), {
        message: 'must not contain a NUL byte',
      }),
    ),
  )
  .check(
    z.minLength(1, {
      message: 'must be a non-empty argv array, e.g. ["curl", "-fsS", "..."]',
    }),
  );

/** validation.settleSeconds when unset: 10 s, as long as systemd's default StartLimitIntervalSec. */
export const DEFAULT_SETTLE_SECONDS = 10;

/**
 * systemd unit types, systemd.unit(5) "Description": a unit name ends in one
 * of these suffixes. The same list as nixpkgs' `unitNameType`
 * (nixos/lib/systemd-lib.nix), which types the module's `after` and `wants`.
 */
export const UNIT_TYPES = [
  'service',
  'socket',
  'device',
  'mount',
  'automount',
  'swap',
  'target',
  'path',
  'timer',
  'slice',
  'scope',
] as const;

/**
 * A unit name as systemctl reads it: a name without a unit type suffix gets
 * ".service", as systemctl(1) "Parameter Syntax" says ("If the suffix is not
 * specified (unit name is "abbreviated"), systemctl will append a suitable
 * suffix, ".service" by default"). "sshd" -> "sshd.service"; "sshd.socket"
 * stays; "foo.bar" -> "foo.bar.service" (".bar" is no unit type).
 * nix/module.nix applies the same rule before the names go into `after`.
 */
export function normaliseUnitName(name: string): string {
  const hasSuffix = UNIT_TYPES.some((t) => name.length > t.length + 1 && name.endsWith(`.${t}`));
  return hasSuffix ? name : `${name}.service`;
}

/**
 * A misspelt unit type suffix ("sshd.servce", "nginx.Service"): the part
 * after the last "." is not a unit type but is within a small edit distance
 * (fastest-levenshtein) of one, or equal to one ignoring case. systemctl
 * would append ".service" to such a name and find nothing (LoadState
 * not-found), so validation could never pass. Allowed distance: 1 for the
 * short types (swap, path, mount, ...), 2 for the long ones (a third of the
 * type's length), so dotted names that are meant as abbreviations
 * ("acme-example.com", "php8.1-fpm") still pass. Null when there is no typo.
 */
export function unitSuffixTypo(name: string): { written: string; fixed: string } | null {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  const written = name.slice(dot + 1);
  if ((UNIT_TYPES as readonly string[]).includes(written)) return null;
  const lower = written.toLowerCase();
  for (const t of UNIT_TYPES) {
    const allowed = Math.max(1, Math.floor(t.length / 3));
    if (lower === t || (written.length >= 3 && distance(lower, t) <= allowed)) {
      return { written, fixed: `${name.slice(0, dot)}.${t}` };
    }
  }
  return null;
}

/**
 * Why `name` (as written in the config) is not a unit name, or null when it
 * is one after normalisation: the characters systemd.unit(5) allows (ASCII
 * letters, digits, ":", "-", "_", ".", "\\", and "@" between a template and
 * its instance), at most 255 characters with the suffix. Every name accepted
 * here also matches nixpkgs' unitNameType.
 */
export function unitNameProblem(name: string): string | null {
  const full = normaliseUnitName(name);
  const fix = 'write it as systemctl takes it, e.g. "sshd" or "sshd.service"';
  if (name === '') return `is empty; ${fix}`;
  const typo = unitSuffixTypo(name);
  if (typo !== null) {
    return `${JSON.stringify(name)} ends in ".${typo.written}", which is no unit type (systemctl would look for "${full}", which cannot exist); write "${typo.fixed}"`;
  }
  if (!/^[A-Za-z0-9:_.@\\-]+$/.test(full)) {
    return `${JSON.stringify(name)} is not a systemd unit name (allowed: letters, digits, ":", "-", "_", ".", "\\", "@"); ${fix}`;
  }
  if (full.length > 255)
    return `${JSON.stringify(name)} is longer than a unit name may be (255 characters with the suffix)`;
  return null;
}

/** A unit name from the config, normalised (normaliseUnitName) once valid. */
const unitName = z.pipe(
  z.string().check(
    z.superRefine((name, ctx) => {
      const problem = unitNameProblem(name);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, input: name });
    }),
  ),
  z.transform(normaliseUnitName),
);

const hostname = z.string().check(
  z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message: 'must be a host name (letters, digits, ".", "_", "-"; at most 63 characters)',
  }),
);

/** A git remote's name in the checkout (`git remote`), not its URL. */
const remoteName = z.string().check(
  z.regex(/^[A-Za-z0-9._-]+$/, {
    message: 'must be the name of a git remote such as "origin" (letters, digits, ".", "_", "-"; the URL goes in url)',
  }),
);
/** A branch or bookmark name. */
const refName = (what: string) =>
  z.string().check(z.regex(/^[A-Za-z0-9._/-]+$/, { message: `must be ${what} (letters, digits, ".", "_", "-", "/")` }));

/** A non-empty string (classic zod's `z.string().min(1)`). */
const nonEmpty = (): z.ZodMiniString => z.string().check(z.minLength(1));
/** An integer (classic zod's `z.number().int()`: "expected number" for a string, "expected int" for 1.5). */
const integer = (...checks: z.core.$ZodCheck<number>[]): z.ZodMiniNumber => z.number().check(z.int(), ...checks);
/** An integer from `min` to `max` (classic `z.number().int().min(min).max(max)`). */
const intIn = (min: number, max?: number): z.ZodMiniNumber =>
  max === undefined ? integer(z.gte(min)) : integer(z.gte(min), z.lte(max));

const tcpCheck = z.strictObject({
  tcp: z.string().check(
    z.regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):\d{1,5}$/, {
      message: 'must be HOST:PORT, e.g. "127.0.0.1:22"',
    }),
    z.refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, {
      message: 'the port must be at most 65535',
    }),
  ),
  name: z.optional(nonEmpty()),
});

const httpCheck = z.strictObject({
  http: z.string().check(
    z.refine(
      (u) => {
        try {
          const p = new URL(u).protocol;
          return p === 'http:' || p === 'https:';
        } catch {
          return false;
        }
      },
      { message: 'must be an http:// or https:// URL' },
    ),
  ),
  expectStatus: z.optional(intIn(100, 599)),
  name: z.optional(nonEmpty()),
});

const commandCheck = z.strictObject({ command: argv, name: z.optional(nonEmpty()) });

/** The check kinds by their key, for the loader's message on a check of no known kind (src/core/config.ts). */
export const CHECK_KINDS = { tcp: tcpCheck, http: httpCheck, command: commandCheck } as const;

export const CheckSchema = z.union([tcpCheck, httpCheck, commandCheck], {
  error: () => 'must be one of {"tcp": "HOST:PORT"}, {"http": "URL"} or {"command": [argv...]}',
});

/** updates.branchPatterns: whether `branch` matches one of `patterns` (`*` = any characters). Pure. */
export function matchesUpdatePattern(branch: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    const star = p.indexOf('*');
    if (star < 0) return branch === p;
    const pre = p.slice(0, star);
    const post = p.slice(star + 1);
    return branch.length > pre.length + post.length && branch.startsWith(pre) && branch.endsWith(post);
  });
}

export const ConfigSchema = z
  .strictObject({
    /** Defaults to the machine's host name (filled in by the loader). */
    hostname: z.optional(hostname),
    stateDir: z._default(absPath, '/var/lib/gitopsd'),
    nixConfig: z.strictObject({
      path: absPath,
      url: z._default(z.nullable(nonEmpty()), null),
      remote: z._default(remoteName, 'origin'),
      branch: z._default(refName('a branch name such as "main"'), 'main'),
      /** Defaults to `hostname`. */
      flakeHost: z.optional(hostname),
      operation: z._default(z.enum(['switch', 'boot']), 'switch'),
      allowedSignersFile: z._default(z.nullable(absPath), null),
      commitLocalChanges: z._default(z.boolean(), false),
      updateInputs: z._default(z.boolean(), false),
      /**
       * Producer (updateInputs): push the flake.lock commit to this branch
       * (forced: the branch is the producer's proposal, replaced each run)
       * instead of `branch`, for a person to merge with `gitopsd updates
       * merge` (docs/rollout.md "Update branches"). Null: push `branch`.
       */
      proposeBranch: z._default(
        z.nullable(
          z.string().check(
            z.regex(/^[A-Za-z0-9._/-]+$/, 'must be a branch name such as "update/flake-lock"'),
            z.refine(
              (b) => !b.startsWith('/') && !b.endsWith('/') && !b.includes('..'),
              'must be a branch name such as "update/flake-lock"',
            ),
          ),
        ),
        null,
      ),
      allowForcePush: z._default(z.boolean(), false),
    }),
    dotfiles: z._default(
      z.strictObject({
        enable: z._default(z.boolean(), false),
        user: z._default(
          z.nullable(z.string().check(z.regex(/^[a-z_][a-z0-9_-]*\$?$/, { message: 'must be a user name' }))),
          null,
        ),
        sourceDir: z._default(z.nullable(absPath), null),
        destDir: z._default(z.nullable(absPath), null),
        url: z._default(z.nullable(nonEmpty()), null),
        remote: z._default(remoteName, 'origin'),
        bookmark: z._default(refName('a bookmark name such as "main"'), 'main'),
        /** chezmoi config file passed with -c (null: chezmoi's default for the user). */
        chezmoiConfig: z._default(z.nullable(absPath), null),
        /** Fetch-rebase-push attempts when the remote moves between fetch and push. */
        maxPushRetries: z._default(intIn(1, 20), 3),
        /**
         * Bytes: jj's snapshot.max-new-file-size for the sync's jj calls (jj's
         * own default is 1 MiB, docs/config.md). A new file above it is not
         * snapshotted; the sync reports it as waiting (exit 1), never silently.
         */
        maxNewFileSize: z._default(intIn(1), 16 * 1024 * 1024),
      }),
      {
        enable: false,
        user: null,
        sourceDir: null,
        destDir: null,
        url: null,
        remote: 'origin',
        bookmark: 'main',
        chezmoiConfig: null,
        maxPushRetries: 3,
        maxNewFileSize: 16 * 1024 * 1024,
      },
    ),
    schedule: z._default(
      z.strictObject({
        cron: z._default(
          z.string().check(
            z.refine((c) => cron.validate(c), {
              message: 'must be a valid cron expression, e.g. "0 4 * * *"',
            }),
          ),
          '0 4 * * *',
        ),
        randomizedDelaySec: z._default(intIn(0, 86400), 1800),
        persistent: z._default(z.boolean(), true),
      }),
      {
        cron: '0 4 * * *',
        randomizedDelaySec: 1800,
        persistent: true,
      },
    ),
    updates: z._default(
      z.strictObject({
        /**
         * Branch-name patterns of update branches (`gitopsd updates`,
         * src/fleet/updates/decide.ts DEFAULT_UPDATE_PATTERNS): one `*` at
         * most, matching any characters.
         */
        branchPatterns: z._default(
          z
            .array(
              z.string().check(
                z.regex(/^[A-Za-z0-9._/*-]+$/, 'must be a branch name pattern such as "update/*"'),
                z.refine(
                  (p) => (p.match(/\*/g) ?? []).length <= 1,
                  'must have at most one "*" (git refspecs allow one)',
                ),
                z.refine(
                  (p) => !p.startsWith('/') && !p.endsWith('/') && !p.includes('..'),
                  'must be a branch name pattern such as "update/*"',
                ),
              ),
            )
            .check(z.minLength(1)),
          ['update/*', 'update_flake_lock_action', 'renovate/lock-file-maintenance'],
        ),
      }),
      { branchPatterns: ['update/*', 'update_flake_lock_action', 'renovate/lock-file-maintenance'] },
    ),
    daemon: z._default(
      z.strictObject({
        /**
         * Seconds between two polls of the nix-config remote by `gitopsd
         * daemon` (src/cycle/poll.ts), as comin's 60 s: each poll is one
         * `git fetch`, and a new tip of the branch runs the upgrade at once.
         * 0 turns polling off: only the daily cycle (schedule.cron) runs.
         * Off by default so that an existing fleet does not start fetching
         * every minute on upgrade; 60 is the usual value.
         */
        pollIntervalSec: z._default(
          integer(
            z.gte(0),
            z.lte(86400),
            z.refine((v) => v === 0 || v >= 10, { message: 'must be 0 (polling off) or at least 10 seconds, e.g. 60' }),
          ),
          0,
        ),
        /**
         * ssh-keygen allowed-signers file of the people who may issue a
         * fleet-wide trigger (`gitopsd trigger --fleet`, docs/rollout.md).
         * Null: nixConfig.allowedSignersFile (whoever may sign nix-config may
         * say "now"); both null: every fleet trigger is ignored.
         */
        triggerSignersFile: z._default(z.nullable(absPath), null),
      }),
      { pollIntervalSec: 0, triggerSignersFile: null },
    ),
    preflight: z._default(
      z.strictObject({
        minFreeDiskPercent: z._default(z.number().check(z.gte(0), z.lte(100)), 10),
        allowDegraded: z._default(z.boolean(), false),
        minUptimeSec: z._default(intIn(0), 0),
        /** Filesystems whose free space is checked. */
        diskPaths: z._default(z.array(absPath), ['/', '/nix']),
      }),
      {
        minFreeDiskPercent: 10,
        allowDegraded: false,
        minUptimeSec: 0,
        diskPaths: ['/', '/nix'],
      },
    ),
    validation: z._default(
      z.strictObject({
        /** Unit names; one without a unit type suffix is normalised to "<name>.service" (see unitName). */
        services: z._default(z.array(unitName), []),
        checks: z._default(z.array(CheckSchema), []),
        timeoutSec: z._default(intIn(1, 3600), 180),
        /**
         * Seconds a running unit must stay active, with NRestarts and
         * ActiveEnterTimestampMonotonic unchanged, before it counts as healthy
         * (src/health/unit.ts). Catches a crash-looping unit that is briefly
         * active between restarts. 0 turns the settle time off.
         */
        settleSeconds: z._default(intIn(0, 600), DEFAULT_SETTLE_SECONDS),
        maxBootFailures: z._default(intIn(1, 10), 2),
        autoPinGolden: z._default(z.boolean(), true),
        onFirstFailure: z._default(z.enum(['reboot', 'wait']), 'reboot'),
      }),
      {
        services: [],
        checks: [],
        timeoutSec: 180,
        settleSeconds: DEFAULT_SETTLE_SECONDS,
        maxBootFailures: 2,
        autoPinGolden: true,
        onFirstFailure: 'reboot',
      },
    ),
    reboot: z._default(
      z.strictObject({
        allow: z._default(z.boolean(), false),
        window: z._default(z.nullable(z.strictObject({ lower: hhmm, upper: hhmm })), {
          lower: '01:00',
          upper: '05:00',
        }),
        /**
         * Reboots take turns (docs/rollout.md "Reboots take turns"): at most
         * this many hosts of `group` down at once, decided from the fleet's
         * published statuses (needs fleet.enable). null: no turns, a host
         * reboots inside the window without looking at the others.
         */
        maxConcurrent: z._default(z.nullable(intIn(1, 1000)), null),
        /** The hosts that take turns together; every host of the fleet by default. */
        group: z._default(
          z.string().check(
            z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
              message: 'must be a group name (letters, digits, ".", "_", "-"; at most 63 characters)',
            }),
          ),
          'fleet',
        ),
      }),
      { allow: false, window: { lower: '01:00', upper: '05:00' }, maxConcurrent: null, group: 'fleet' },
    ),
    paths: z._default(
      z.strictObject({
        systemProfile: z._default(absPath, '/nix/var/nix/profiles/system'),
        currentSystem: z._default(absPath, '/run/current-system'),
        bootedSystem: z._default(absPath, '/run/booted-system'),
        gcRootsDir: z._default(absPath, '/nix/var/nix/gcroots'),
        uptimeFile: z._default(absPath, '/proc/uptime'),
      }),
      {
        systemProfile: '/nix/var/nix/profiles/system',
        currentSystem: '/run/current-system',
        bootedSystem: '/run/booted-system',
        gcRootsDir: '/nix/var/nix/gcroots',
        uptimeFile: '/proc/uptime',
      },
    ),
    timeouts: z._default(
      z.strictObject({
        gitSec: z._default(intIn(1), 300),
        buildSec: z._default(intIn(1), 14400),
        activateSec: z._default(intIn(1), 1800),
        commandSec: z._default(intIn(1), 120),
      }),
      {
        gitSec: 300,
        buildSec: 14400,
        activateSec: 1800,
        commandSec: 120,
      },
    ),
    /**
     * Fleet status with no hub (docs/fleet.md): each host publishes its status
     * to `refs/gitopsd/status/<hostname>` of a git remote; `gitopsd fleet
     * status` reads every host's ref back.
     */
    fleet: z._default(
      z.strictObject({
        /**
         * Publish this host's status after every run (and on `gitopsd fleet
         * publish`). Off by default: most hosts hold a read-only deploy key
         * for nix-config, and a publish needs write access.
         */
        enable: z._default(z.boolean(), false),
        /**
         * The git remote (URL or path) holding the status refs, for publishing
         * and reading. Null: nixConfig.url, else the URL of nixConfig.remote in
         * the checkout. A separate repository is recommended: a key that can
         * push status refs to the config repository can also push its main.
         */
        statusRemote: z._default(z.nullable(nonEmpty()), null),
        /**
         * Publish at least this often even when nothing changed (seconds,
         * jittered down by up to 20 %); readers call a status older than
         * twice the host's heartbeat stale.
         */
        heartbeatSec: z._default(intIn(60, 604800), 21600),
        /**
         * Publish to `refs/heads/gitopsd/status/<hostname>` instead of
         * `refs/gitopsd/status/<hostname>`, for forges that accept only
         * branches. Readers fetch both.
         */
        useBranches: z._default(z.boolean(), false),
        /**
         * Private SSH key that signs each status commit (git gpg.format=ssh),
         * normally the host key /etc/ssh/ssh_host_ed25519_key. Null: unsigned.
         */
        signingKey: z._default(z.nullable(absPath), null),
        /**
         * ssh-keygen allowed-signers file (one line per host: `<hostname>
         * namespaces="git" ssh-ed25519 AAAA...`) that readers verify status
         * commits against. Set: an unsigned status or one signed by another
         * key is "unverified" and never healthy. Null: rows show "unsigned".
         */
        allowedSignersFile: z._default(z.nullable(absPath), null),
        /**
         * Readers: the hosts the fleet should have (each host's `hostname`).
         * An expected host with no status at the remote (it never published
         * there, or its ref was deleted) is listed in the view's
         * `missingHosts`, and `fleet status` exits 1: a host that never
         * reported is not silently absent. Null: no list; the rows are
         * whatever the remote holds. The NixOS module defaults it to the
         * names in services.gitopsd.fleet.allowedSigners. Reboot turns
         * count an expected host with no status as possibly down (its ref
         * may have been deleted while it reboots): a newly added host holds
         * a reboot place until its first publish (docs/rollout.md).
         */
        expectedHosts: z._default(z.nullable(z.array(hostname)), null),
        /** Time limit of one publish (all its git calls, the push included). */
        publishTimeoutSec: z._default(intIn(1, 3600), 30),
        /** `gitopsd fleet serve`: listen address (HOST:PORT) and refresh interval (seconds). */
        serve: z._default(
          z.strictObject({
            listen: z._default(
              z.string().check(
                z.regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):\d{1,5}$/, {
                  message: 'must be HOST:PORT, e.g. "127.0.0.1:8080"',
                }),
              ),
              '127.0.0.1:8080',
            ),
            refreshSec: z._default(intIn(5, 86400), 60),
          }),
          { listen: '127.0.0.1:8080', refreshSec: 60 },
        ),
      }),
      {
        enable: false,
        statusRemote: null,
        heartbeatSec: 21600,
        useBranches: false,
        signingKey: null,
        allowedSignersFile: null,
        expectedHosts: null,
        publishTimeoutSec: 30,
        serve: { listen: '127.0.0.1:8080', refreshSec: 60 },
      },
    ),
    metrics: z._default(z.strictObject({ textfileDir: z._default(z.nullable(absPath), null) }), { textfileDir: null }),
    hooks: z._default(
      z.strictObject({
        onSuccess: z._default(z.nullable(argv), null),
        onFailure: z._default(z.nullable(argv), null),
      }),
      { onSuccess: null, onFailure: null },
    ),
    log: z._default(
      z.strictObject({
        level: z._default(z.enum(['error', 'warn', 'info', 'debug']), 'info'),
        format: z._default(z.enum(['auto', 'json', 'text']), 'auto'),
      }),
      { level: 'info', format: 'auto' },
    ),
  })
  .check(
    z.superRefine(
      (c, ctx) => {
        // sourceDir and destDir default from the user (src/core/config.ts).
        // Runs even when other keys are wrong (`when`), so `config check`
        // reports this problem with the others: `c` may then be partly
        // unparsed, hence the optional chaining.
        const v = c.validation as Partial<typeof c.validation> | undefined;
        if (
          typeof v?.settleSeconds === 'number' &&
          typeof v.timeoutSec === 'number' &&
          (v.services?.length ?? 0) > 0 &&
          v.settleSeconds >= v.timeoutSec
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['validation', 'settleSeconds'],
            message: `is ${v.settleSeconds}, not below validation.timeoutSec ${v.timeoutSec}: no unit could ever settle in time; lower settleSeconds or raise timeoutSec`,
          });
        }
        const rb = c.reboot as Partial<typeof c.reboot> | undefined;
        const fl = c.fleet as Partial<typeof c.fleet> | undefined;
        if (typeof rb?.maxConcurrent === 'number' && fl?.enable !== true) {
          ctx.addIssue({
            code: 'custom',
            path: ['reboot', 'maxConcurrent'],
            message: `is ${rb.maxConcurrent}, but fleet.enable is false: reboot turns are taken from the published statuses; set fleet.enable (and fleet.statusRemote), or maxConcurrent to null`,
          });
        }
        const nc = c.nixConfig as Partial<typeof c.nixConfig> | undefined;
        if (typeof nc?.proposeBranch === 'string') {
          const patterns = (c.updates as Partial<typeof c.updates> | undefined)?.branchPatterns;
          const problem =
            nc.updateInputs !== true
              ? 'is set, but nixConfig.updateInputs is false: only a producer proposes; set updateInputs or remove proposeBranch'
              : nc.proposeBranch === (nc.branch ?? 'main')
                ? `is the deployed branch "${nc.proposeBranch}" itself; name an update branch such as "update/flake-lock", or remove proposeBranch to push directly`
                : Array.isArray(patterns) &&
                    patterns.every((p) => typeof p === 'string') &&
                    !matchesUpdatePattern(nc.proposeBranch, patterns)
                  ? `"${nc.proposeBranch}" matches none of updates.branchPatterns (${patterns.join(', ')}), so gitopsd updates would never list it; use e.g. "update/flake-lock" or add a pattern`
                  : null;
          if (problem !== null)
            ctx.addIssue({ code: 'custom', path: ['nixConfig', 'proposeBranch'], message: problem });
        }
        const d = c.dotfiles as Partial<typeof c.dotfiles> | undefined;
        if (d?.enable === true && (d.user ?? null) === null) {
          ctx.addIssue({
            code: 'custom',
            path: ['dotfiles', 'user'],
            message: 'is required when dotfiles.enable is true',
          });
        }
      },
      { when: () => true },
    ),
  );

export type RawConfig = z.input<typeof ConfigSchema>;
type Parsed = z.output<typeof ConfigSchema>;

/** The effective config: every default filled in, host names resolved. */
export type Config = Omit<Parsed, 'hostname' | 'nixConfig'> & {
  hostname: string;
  nixConfig: Omit<Parsed['nixConfig'], 'flakeHost'> & { flakeHost: string };
};
export type Check = z.output<typeof CheckSchema>;
