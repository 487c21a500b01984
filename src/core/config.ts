/**
 * Loading the config: read, parse, validate, fill defaults. A bad config
 * names every problem in the file at once, one line each: the file, the
 * JSON path of the key, what is wrong and how to fix it (a misspelt key gets
 * the key it was probably meant to be). The CLI exits 78 once for all of
 * them (src/core/exit.ts).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import type * as z from './zod.js';
import { distance } from 'fastest-levenshtein';
import { ConfigError } from './errors.js';
import { CHECK_KINDS, ConfigSchema, type Config } from './config-schema.js';
import { PARSE_ONCE } from './parse-once.js';

export type { Config, Check, RawConfig } from './config-schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/gitopsd/config.json';

/** --config, else $GITOPSD_CONFIG, else /etc/gitopsd/config.json. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env['GITOPSD_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DEFAULT_CONFIG_PATH;
}

/** The largest config file read, in bytes: a config is a few KB; more is a wrong path (README, "Config reference"). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config file's text. The path may be a symlink (NixOS links
 * /etc/gitopsd/config.json into /etc/static), but what it names must be a
 * regular file of at most MAX_CONFIG_BYTES: a device such as /dev/zero, or
 * a FIFO nobody writes, would otherwise keep the command reading or waiting
 * for ever (review 9). O_NONBLOCK: opening a FIFO does not wait for a writer.
 */
function readConfigText(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found; create it (see README "Config reference") or pass --config PATH'
        : code === 'EACCES'
          ? 'permission denied; run as root or make it readable'
          : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError(`config ${file}: ${why}`, { file });
  }
  // A directory opens (O_RDONLY); fstat tells it apart.
  try {
    const st = fstatSync(fd);
    if (st.isDirectory())
      throw new ConfigError(`config ${file}: is a directory; pass the path of the JSON file`, { file });
    if (!st.isFile()) {
      throw new ConfigError(
        `config ${file}: is not a regular file (a device, FIFO or socket); pass the path of the JSON file`,
        { file },
      );
    }
    if (st.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        `config ${file}: is ${st.size} bytes, more than a config can be (${MAX_CONFIG_BYTES}); pass the path of the JSON file`,
        { file },
      );
    }
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`config ${file}: cannot be read (${code ?? String(err)})`, { file });
  } finally {
    closeSync(fd);
  }
}

export function loadConfig(file: string, machineHostname: string): Config {
  return parseConfig(readConfigText(file), file, machineHostname);
}

export function parseConfig(text: string, file: string, machineHostname: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `config ${file}: not valid JSON (${(err as Error).message}); fix the syntax (JSON allows no comments or trailing commas)`,
      { file },
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(
      `config ${file}: the top level must be a JSON object like {"nixConfig": {"path": "/etc/nixos"}}`,
      {
        file,
      },
    );
  }
  const result = ConfigSchema.safeParse(raw, { ...PARSE_ONCE, reportInput: true });
  if (!result.success) {
    const problems = describeIssues(result.error.issues, raw);
    throw new ConfigError(problems.map((p) => `config ${file}: ${p}`).join('\n'), {
      file,
      problems,
      issues: result.error.issues,
    });
  }
  const parsed = result.data;
  const hostname = parsed.hostname ?? machineHostname;
  const dotfiles = { ...parsed.dotfiles };
  if (dotfiles.user !== null) {
    dotfiles.destDir ??= `/home/${dotfiles.user}`;
    dotfiles.sourceDir ??= `${dotfiles.destDir}/.local/share/chezmoi`;
  }
  return {
    ...parsed,
    hostname,
    nixConfig: {
      ...parsed.nixConfig,
      flakeHost: parsed.nixConfig.flakeHost ?? hostname,
    },
    dotfiles,
  };
}

function jsonPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

type Issue = z.core.$ZodIssue;

/** The value at `path` in the parsed JSON, or undefined. */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** The keys the schema allows for the object at `path` (through defaults, nullables and arrays), or []. */
export function knownKeysAt(path: readonly PropertyKey[], schema: z.core.$ZodType = ConfigSchema): string[] {
  // The schema's definition (`_zod.def`, zod's own description of each
  // schema), read by its `type` tag: the same for classic zod and zod/mini.
  type Def =
    | { type: 'default' | 'nullable' | 'optional'; innerType: z.core.$ZodType }
    | { type: 'object'; shape: Record<string, z.core.$ZodType> }
    | { type: 'array'; element: z.core.$ZodType }
    | { type: 'union'; options: readonly z.core.$ZodType[] }
    | { type: 'other' };
  const defOf = (t: z.core.$ZodType): Def => t._zod.def as Def;
  const unwrap = (t: z.core.$ZodType): Def => {
    let def = defOf(t);
    for (let i = 0; i < 10; i++) {
      if (def.type === 'default' || def.type === 'nullable' || def.type === 'optional') def = defOf(def.innerType);
      else break;
    }
    return def;
  };
  let cur: z.core.$ZodType | undefined = schema;
  for (const p of path) {
    if (cur === undefined) return [];
    const def = unwrap(cur);
    if (def.type === 'object') cur = def.shape[String(p)];
    else if (def.type === 'array') cur = def.element;
    else return [];
  }
  const def = cur === undefined ? undefined : unwrap(cur);
  if (def?.type === 'object') return Object.keys(def.shape);
  // A check: the keys of every kind (zod reports an unknown key of a check
  // that has one kind at the check's own path).
  if (def?.type === 'union')
    return [
      ...new Set(
        def.options.flatMap((o) => {
          const od = defOf(o);
          return od.type === 'object' ? Object.keys(od.shape) : [];
        }),
      ),
    ];
  return [];
}

/**
 * The known key a misspelt one was probably meant to be, or null: Levenshtein
 * distance (fastest-levenshtein), case-insensitive, at most 2 or a third of
 * the key (2 lets a swapped pair through: "servcies", "tpc", "nmae").
 */
function meantKey(key: string, known: readonly string[]): string | null {
  const max = Math.max(2, Math.floor(key.length / 3));
  let best: { k: string; d: number } | null = null;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d <= max && (best === null || d < best.d)) best = { k, d };
  }
  return best?.k ?? null;
}

const samePath = (a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean =>
  a.length === b.length && a.every((p, i) => p === b[i]);

/**
 * Every issue as one line, in file order as zod reports them. A misspelt
 * key and the "required" of the key it was meant to be are one problem: the
 * line names the misspelling and the fix.
 */
export function describeIssues(
  issues: readonly Issue[],
  raw: unknown,
  keysAt: (path: readonly PropertyKey[]) => string[] = (p) => knownKeysAt(p),
): string[] {
  const meant: { path: readonly PropertyKey[]; key: string }[] = [];
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = keysAt(issue.path);
    const where = issue.path.length === 0 ? '' : `${jsonPath(issue.path)}: `;
    for (const k of issue.keys) {
      const m = meantKey(k, known);
      if (m === k) {
        // Known here only in another shape of a union: `expectStatus` on a
        // tcp check. "did you mean "expectStatus"?" named the key itself.
        lines.push(`${where}"${k}" does not belong here; remove it${ownKeysOfCheck(valueAt(raw, issue.path))}`);
        continue;
      }
      if (m !== null) meant.push({ path: issue.path, key: m });
      lines.push(
        m === null
          ? `${where}unknown key "${k}"; remove it or fix the spelling${known.length === 0 ? '' : ` (known keys here: ${known.join(', ')})`}`
          : `${where}unknown key "${k}"; did you mean "${m}"? (rename it)`,
      );
    }
  }
  const out: string[] = [];
  let u = 0;
  // One line per key: "localhost" fails both the HOST:PORT pattern and the
  // port range; the first says what to write.
  const seen = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') {
      const key = JSON.stringify(issue.path);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    if (issue.code === 'unrecognized_keys') {
      out.push(...lines.slice(u, u + issue.keys.length));
      u += issue.keys.length;
      continue;
    }
    const parent = issue.path.slice(0, -1);
    const last = issue.path.at(-1);
    const isMissing = issue.code === 'invalid_type' && issue.input === undefined;
    if (isMissing && meant.some((m) => samePath(m.path, parent) && m.key === last)) continue;
    if (issue.code === 'invalid_union') out.push(...describeCheck(issue.path, valueAt(raw, issue.path)));
    else out.push(describeIssue(issue));
  }
  return out;
}

/** " (a tcp check takes: tcp, name)" for a check object of one kind, else "". */
function ownKeysOfCheck(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return '';
  const kinds = (Object.keys(CHECK_KINDS) as (keyof typeof CHECK_KINDS)[]).filter((k) => Object.hasOwn(value, k));
  const kind = kinds.length === 1 ? kinds[0] : undefined;
  return kind === undefined ? '' : ` (a ${kind} check takes: ${Object.keys(CHECK_KINDS[kind].shape).join(', ')})`;
}

/** A `validation.checks[i]` that matches no check kind: name what it has and what it may have. */
function describeCheck(path: readonly PropertyKey[], value: unknown): string[] {
  const where = jsonPath(path);
  const kinds = Object.keys(CHECK_KINDS) as (keyof typeof CHECK_KINDS)[];
  const shapes = '{"tcp": "HOST:PORT"}, {"http": "URL"} or {"command": [argv...]}';
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [`${where}: expected a check object like ${shapes}, got ${describeValue(value)}`];
  const keys = Object.keys(value);
  const present = kinds.filter((k) => keys.includes(k));
  if (present.length > 1)
    return [`${where}: has ${present.map((k) => `"${k}"`).join(' and ')}; a check has exactly one kind: ${shapes}`];
  const kind = present[0];
  if (kind === undefined) {
    const other = keys.filter((k) => k !== 'name' && k !== 'expectStatus');
    const named = other.length === 0 ? 'no kind' : `unknown kind ${other.map((k) => `"${k}"`).join(', ')}`;
    const m = other.length === 1 ? meantKey(other[0] ?? '', kinds) : null;
    return [`${where}: check of ${named}; ${m === null ? `use one of ${shapes}` : `did you mean "${m}"?`}`];
  }
  const r = CHECK_KINDS[kind].safeParse(value, { ...PARSE_ONCE, reportInput: true });
  if (r.success) return [`${where}: invalid check`];
  const own = Object.keys(CHECK_KINDS[kind].shape);
  return describeIssues(
    r.error.issues.map((i) => ({ ...i, path: [...path, ...i.path] })),
    undefined,
    (p) => (p.length === path.length ? own : []),
  );
}

function describeIssue(issue: Issue | undefined): string {
  if (issue === undefined) return 'invalid';
  const where = jsonPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      const at = issue.path.length === 0 ? '' : `${where}: `;
      return `${at}unknown key ${keys}; remove it or fix the spelling (see README "Config reference")`;
    }
    case 'invalid_type':
      if (issue.input === undefined) return `${where}: is required (expected ${issue.expected}); add it`;
      return `${where}: expected ${issue.expected}, got ${describeValue(issue.input)}; ${issue.expected === 'boolean' ? 'write true or false (no quotes)' : `write a${/^[aeiou]/.test(issue.expected) ? 'n' : ''} ${issue.expected}`}`;
    case 'invalid_value':
      return `${where}: invalid value ${describeValue(issue.input)}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'too_small':
    case 'too_big':
      return `${where}: ${describeBound(issue)}`;
    case 'custom':
      return `${where}: ${issue.message}`;
    default:
      return `${where}: ${issue.message}${issue.input !== undefined ? `, got ${describeValue(issue.input)}` : ''}`;
  }
}

/**
 * A number out of range, as "is 0, below the minimum 1; write 1 or more".
 * zod's own wording ("Too small: expected number to be >=1") named neither
 * the value nor the fix (review 12). A bound with a message of its own (an
 * empty argv) keeps it.
 */
function describeBound(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  if (!/^Too (small|big):/.test(issue.message)) return issue.message;
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  const strict = issue.inclusive === false;
  if (issue.origin === 'number' && typeof issue.input === 'number') {
    const limit = small
      ? strict
        ? `above ${bound}`
        : `${bound} or more`
      : strict
        ? `below ${bound}`
        : `${bound} or less`;
    return `is ${describeValue(issue.input)}, ${small ? 'below the minimum' : 'above the maximum'} ${bound}; write ${limit}`;
  }
  if (issue.origin === 'array' && small) return `needs at least ${bound} entr${bound === 1 ? 'y' : 'ies'}`;
  if (issue.origin === 'string' && small) return `is empty; write a value`;
  return issue.message;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  // JSON.stringify(Infinity) is "null": a number too big for JSON (1e400) would read as null.
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
