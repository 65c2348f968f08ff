/**
 * Logs with pino: one JSON object per line on stderr, or a short human line when stderr is a
 * terminal. Secrets never reach the output: any field named like a password or secret, at any
 * depth, is replaced before serialization (BGP MD5 passwords travel inside peer configurations).
 */
import { pino, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config.ts';

export type { Logger } from 'pino';

export const REDACTED = '[redacted]';
const SECRET_KEY = /passw(or)?d|secret/i;
const MAX_DEPTH = 8;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with secret-named fields replaced, copying only what changes. Only plain
 * objects and arrays are walked: errors and class instances go to pino's serializers unchanged.
 */
export function redactSecrets<T>(value: T, depth = 0, seen = new WeakSet<object>()): T {
  if (depth > MAX_DEPTH || typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    value.forEach((item, i) => {
      const r = redactSecrets(item, depth + 1, seen);
      if (r !== item) (out ??= [...value])[i] = r;
    });
    return (out ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const r = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redactSecrets(v, depth + 1, seen);
    if (r !== v) (out ??= { ...value })[k] = r;
  }
  return (out ?? value) as T;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT_IN_PRETTY = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** One JSON log line as a human line: `02:30:04.123 INFO  msg key=value ...`. */
export function prettyLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json);
  } catch {
    return json;
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[rec.level as number] ?? String(rec.level)).padEnd(5);
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT_IN_PRETTY.has(k))
    .map(([k, v]) => {
      if (k === 'err' && isPlainObject(v)) return `err=${JSON.stringify(v.message)}${typeof v.stack === 'string' ? `\n${v.stack}` : ''}`;
      return `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`;
    });
  return `${time} ${level} ${rec.msg ?? ''}${fields.length ? ' ' + fields.join(' ') : ''}\n`;
}

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; stderr unless a test captures them. */
  stream?: { write(line: string): unknown; isTTY?: boolean };
}

export function createLogger(opts: LogOptions): Logger {
  const stream = opts.stream ?? process.stderr;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && Boolean(stream.isTTY));
  const destination = pretty ? { write: (line: string) => stream.write(prettyLine(line)) } : opts.stream ? { write: (line: string) => stream.write(line) } : pino.destination({ fd: 2, sync: true });
  return guardChildren(pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      formatters: {
        log: (obj) => redactSecrets(obj),
        bindings: (b) => redactSecrets(b),
      },
    },
    destination,
  ));
}

/**
 * pino's `formatters.bindings` sees only the root bindings, not those given to `child()`; scrub
 * those on the way in, for children of children too.
 */
function guardChildren(log: Logger): Logger {
  const child = log.child.bind(log) as unknown as (b: Record<string, unknown>, o?: object) => Logger;
  const guarded = (bindings: Record<string, unknown>, options?: object) => guardChildren(child(redactSecrets(bindings), options));
  log.child = guarded as unknown as Logger['child'];
  return log;
}

/** A child logger for one BGP peer: every line carries the peer's address and AS. */
export function peerLogger(log: Logger, peer: { address: string; asNumber: number; type?: string }): Logger {
  return log.child({ peer: peer.address, peerAs: peer.asNumber, ...(peer.type ? { peerType: peer.type } : {}) });
}
