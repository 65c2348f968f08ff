/** What `tortie status` and `tortie routes` share: finding the socket and reporting failures. */
import { DEFAULT_CONTROL_SOCKET } from '../agent/control.ts';
import { AgentError } from '../agent/errors.ts';

export const CONTROL_SOCKET_HELP = `  --control-socket PATH
      The agent's control socket. Environment: TORTIE_CONTROL_SOCKET. Default: ${DEFAULT_CONTROL_SOCKET}.`;

export function controlSocketPath(flag: string | undefined, env: Record<string, string | undefined> = process.env): string {
  return flag ?? (env.TORTIE_CONTROL_SOCKET || DEFAULT_CONTROL_SOCKET);
}

/** Prints an error as `tortie CMD: message` and returns the exit code (1 for agent errors). */
export function reportError(command: string, e: unknown): number {
  if (e instanceof AgentError) {
    process.stderr.write(`tortie ${command}: ${e.message} [${e.code}]\n`);
    return 1;
  }
  throw e;
}

/** Turns a parseArgs failure into a usage error (exit 2). */
export function usageError(command: string, e: unknown, help: string): number {
  process.stderr.write(`tortie ${command}: ${(e as Error).message}\n\n${help}`);
  return 2;
}
