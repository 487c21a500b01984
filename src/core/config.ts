/**
 * Loading the config: read, parse, validate, fill defaults. A bad config is
 * one line naming the file, the JSON path of the key, what is wrong and what
 * is allowed (exit 78, mapped in src/cli/exit.ts).
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { ConfigSchema, type Config } from './config-schema.js';

export type { Config, Check, RawConfig } from './config-schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/gitopsd/config.json';

/** --config, else $GITOPSD_CONFIG, else /etc/gitopsd/config.json. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env['GITOPSD_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DEFAULT_CONFIG_PATH;
}

export function loadConfig(file: string, machineHostname: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found; create it (see README "Config reference") or pass --config PATH'
        : code === 'EACCES'
          ? 'permission denied; run as root or make it readable'
          : code === 'EISDIR'
            ? 'is a directory; pass the path of the JSON file'
            : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError(`config ${file}: ${why}`, { file });
  }
  return parseConfig(text, file, machineHostname);
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
  const result = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    // A misspelt key also leaves the key it was meant to be "required":
    // name the misspelling, which is what the person has to fix.
    const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0];
    throw new ConfigError(`config ${file}: ${describeIssue(issue)}`, {
      file,
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

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'invalid';
  const where = jsonPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      const at = issue.path.length === 0 ? '' : `${where}: `;
      return `${at}unknown key ${keys}; remove it or fix the spelling (see README "Config reference")`;
    }
    case 'invalid_type':
      if (issue.input === undefined) return `${where}: is required (expected ${issue.expected})`;
      return `${where}: expected ${issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `${where}: invalid value ${describeValue(issue.input)}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'too_small':
    case 'too_big':
      return `${where}: ${issue.message}`;
    case 'custom':
      return `${where}: ${issue.message}`;
    default:
      return `${where}: ${issue.message}${issue.input !== undefined ? `, got ${describeValue(issue.input)}` : ''}`;
  }
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
