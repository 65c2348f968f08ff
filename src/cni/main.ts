/**
 * tortie-cni's entry point: reads the CNI_* environment and stdin, runs the command, prints the
 * result or the spec's error JSON on stdout, logs on stderr, and returns the exit status.
 */
import { readFileSync } from 'node:fs';
import type { LogLevel } from './config.ts';
import { parseCommand } from './env.ts';
import { asCniError, CniError } from './errors.ts';
import { add, check, del, gc, parseInvocation, status, version, type Logger, type Output } from './plugin.ts';
import { SUPPORTED_VERSIONS } from './types.ts';
import type { WiringBackend } from './wiring.ts';

const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function makeLogger(level: () => LogLevel, write: (line: string) => void): Logger {
  const at = (l: LogLevel) => (msg: string) => {
    if (LEVELS[l] <= LEVELS[level()]) write(`tortie-cni ${l}: ${msg}\n`);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export interface Io {
  env: NodeJS.ProcessEnv;
  stdin: () => string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Default: `ip` processes (wiring.ts). */
  wiring?: WiringBackend;
}

/** Runs one invocation; returns the exit status. Never rejects. */
export async function runCni(io: Io): Promise<number> {
  let level: LogLevel = 'warn';
  const log = makeLogger(() => level, io.stderr);
  // The error JSON carries the configuration's version when we got that far.
  let cniVersion: string = SUPPORTED_VERSIONS.at(-1)!;
  try {
    const command = parseCommand(io.env);
    const stdin = io.stdin();
    const declared = peekVersion(stdin);
    if (declared) cniVersion = declared;
    let out: Output;
    if (command === 'VERSION') {
      out = version(stdin);
    } else {
      const inv = parseInvocation(io.env, stdin, log, io.wiring);
      level = inv.conf.logLevel;
      out = await { ADD: add, DEL: del, CHECK: check, GC: gc, STATUS: status }[command](inv);
    }
    if (out !== undefined) io.stdout(JSON.stringify(out) + '\n');
    return 0;
  } catch (e) {
    const err = asCniError(e);
    if (!(e instanceof CniError)) log.error(`unexpected: ${(e as Error)?.stack ?? String(e)}`);
    log.error(`${err.message}${err.details ? `: ${err.details}` : ''}`);
    io.stdout(JSON.stringify(err.toJSON(cniVersion)) + '\n');
    return 1;
  }
}

/**
 * One invocation from values, with its output collected: what the agent's CNI server runs for
 * each request (server.ts), the same code path as the standalone plugin.
 */
export async function runCniCollected(env: NodeJS.ProcessEnv, stdin: string, wiring?: WiringBackend): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCni({ env, stdin: () => stdin, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), wiring });
  return { exitCode, stdout, stderr };
}

function peekVersion(stdin: string): string | undefined {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && v.length < 20 ? v : undefined;
  } catch {
    return undefined;
  }
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    // No stdin at all (closed or a terminal that went away) reads as empty.
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EOF') return '';
    throw e;
  }
}

/** For bin/tortie-cni and the bundled executable. */
export async function main(): Promise<void> {
  const code = await runCni({
    env: process.env,
    stdin: readStdin,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
  // Writes to pipes and files are synchronous on Linux, so nothing is pending: exit now rather
  // than wait for the event loop to wind down.
  process.exit(code);
}
