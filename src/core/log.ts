/**
 * Logging. Messages are static strings; data travels as metadata. Output goes
 * to stderr (stdout belongs to the command's report and --json), as readable
 * text on a TTY and JSON lines otherwise.
 *
 * winston is loaded on the first message that passes the level filter, so a
 * quiet command such as `gitopsd status` never pays for it.
 *
 * The long-running `gitopsd daemon` writes its lines without winston
 * (`backend: 'plain'`, src/cycle/cli.ts): it logs on every poll, all day, and
 * winston's stream pipeline added about 16 MiB to its idle memory and several
 * ms of CPU to each poll (docs/benchmarks.md, B7 and B11). Its lines are the
 * same bytes: the same fields, serialised by the library winston's json()
 * format uses (safe-stable-stringify, keys sorted), or the same text line.
 * `status`, `sync`, `upgrade`, `fleet status` and `fleet publish` log the
 * same way (src/cli/session.ts FAST_COMMAND_OPTIONS, and their yargs
 * commands): the first four run from a lean bundle, whose process has V8's checksum flag
 * on, and winston loaded there through node's loader had its compile-cache
 * entries rejected and written again at every turn with a full-CLI command
 * (docs/benchmarks.md, nineteenth session). Every other command, and each
 * cycle the daemon starts (a `gitopsd cycle` process of its own), logs
 * through winston.
 */
import { createRequire } from 'node:module';
import { configure as configureStringify } from 'safe-stable-stringify';
import type * as Winston from 'winston';
import { printable } from './printable.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'auto' | 'json' | 'text';
export type Meta = Record<string, unknown>;

export interface Logger {
  error(msg: string, meta?: Meta): void;
  warn(msg: string, meta?: Meta): void;
  info(msg: string, meta?: Meta): void;
  debug(msg: string, meta?: Meta): void;
  child(meta: Meta): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const SECRET_KEY = /pass(word)?|secret|token|credential|private.?key|authorization/i;

/** Replace the values of secret-looking keys, at any depth. */
export function redact(meta: Meta): Meta {
  const out: Meta = {};
  for (const [k, v] of Object.entries(meta)) {
    if (SECRET_KEY.test(k)) out[k] = '[redacted]';
    else if (v instanceof Error)
      out[k] = {
        name: v.name,
        message: v.message,
        ...(v.cause instanceof Error ? { cause: v.cause.message } : {}),
      };
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = redact(v as Meta);
    else out[k] = v;
  }
  return out;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where to write; defaults to process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** 'winston' (default), or 'plain': the same lines written directly (the daemon, see above). */
  backend?: 'winston' | 'plain';
}

/** One line of the text format (TTY): `<ISO time> <level>: <message> <other fields as JSON>`. */
function textLine(info: Record<string, unknown>): string {
  const { level, message, timestamp: ts, ...rest } = info;
  // The message and the fields may carry another party's text (a `message`
  // field is appended to the message: the sync's result quotes the dotfiles
  // user's file names; a refused target is a field). JSON escapes only C0:
  // C1 controls and bidi overrides in a field went raw (review 17).
  const extra = Object.keys(rest).length > 0 ? ` ${printable(JSON.stringify(rest))}` : '';
  return `${String(ts)} ${String(level)}: ${printable(String(message))}${extra}`;
}

/**
 * logform's json() (winston 3): safe-stable-stringify with its default
 * options, and a BigInt written as a string (logform json.js `replacer`).
 */
const stringifyJson = configureStringify({});
const bigintAsString = (_key: string, value: unknown): unknown =>
  typeof value === 'bigint' ? value.toString() : value;

/**
 * The plain backend: what winston's `log(level, msg, meta)` with
 * `combine(timestamp(), json() | printf(textLine))` and a Stream transport
 * writes, without winston. As winston does (winston/lib/winston/logger.js
 * `log`), a `message` string in the metadata is appended to the message.
 */
function plainWriter(
  stream: NodeJS.WritableStream,
  useJson: boolean,
): (level: LogLevel, msg: string, meta: Meta) => void {
  return (level, msg, meta) => {
    const info: Record<string, unknown> = { ...meta, level, message: msg };
    const extra: unknown = meta['message'];
    if (typeof extra === 'string' && extra !== '') info['message'] = `${msg} ${extra}`;
    else if (extra) info['message'] = `${msg} ${JSON.stringify(extra)}`; // winston would write [object Object]
    info['timestamp'] = new Date().toISOString();
    const line = useJson ? (stringifyJson(info, bigintAsString) ?? '{}') : textLine(info);
    stream.write(`${line}\n`);
  };
}

export function createLogger(opts: LoggerOptions): Logger {
  const stream = opts.stream ?? process.stderr;
  const useJson = opts.format === 'json' || (opts.format === 'auto' && stream.isTTY !== true);
  let backend: Winston.Logger | undefined;
  const load = (): Winston.Logger => {
    if (backend) return backend;
    const require = createRequire(import.meta.url);
    const winston = require('winston') as typeof Winston;
    const { combine, timestamp, json, printf } = winston.format;
    const text = printf((info) => textLine(info));
    backend = winston.createLogger({
      level: opts.level,
      format: combine(timestamp(), useJson ? json() : text),
      transports: [new winston.transports.Stream({ stream })],
    });
    return backend;
  };
  const plain = opts.backend === 'plain' ? plainWriter(stream, useJson) : null;
  const make = (bound: Meta): Logger => {
    const emit = (level: LogLevel, msg: string, meta?: Meta): void => {
      if (RANK[level] > RANK[opts.level]) return;
      const m = redact({ ...bound, ...meta });
      if (plain !== null) plain(level, msg, m);
      else load().log(level, msg, m);
    };
    return {
      error: (m, meta) => emit('error', m, meta),
      warn: (m, meta) => emit('warn', m, meta),
      info: (m, meta) => emit('info', m, meta),
      debug: (m, meta) => emit('debug', m, meta),
      child: (meta) => make({ ...bound, ...meta }),
      isLevelEnabled: (level) => RANK[level] <= RANK[opts.level],
    };
  };
  return make({});
}

/** A logger that drops everything (for pure unit tests). */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
  isLevelEnabled: () => false,
};
