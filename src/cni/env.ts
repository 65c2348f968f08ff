/**
 * The CNI_* environment variables (CNI spec 1.1 "Parameters"), checked per command. A missing or
 * malformed variable is error code 4 and names the variable.
 */
import { CniCode, CniError } from './errors.ts';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CniEnv {
  command: Command;
  containerId: string;
  /** Path of the container's network namespace; may be empty on DEL. */
  netns: string;
  ifname: string;
  /** CNI_ARGS, `K=V;K=V`. */
  args: Map<string, string>;
  /** CNI_PATH split on ':'. */
  path: string[];
}

const bad = (msg: string) => new CniError(CniCode.InvalidEnvironment, msg);

/** Which variables each command must have (spec: "Parameters" and each operation's inputs). */
const REQUIRED: Record<Command, Array<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME'>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  VERSION: [],
  STATUS: [],
  GC: [],
};

/** Reads only CNI_COMMAND, so that VERSION works with nothing else set. */
export function parseCommand(env: NodeJS.ProcessEnv): Command {
  const command = env.CNI_COMMAND;
  if (!command) throw bad('CNI_COMMAND is not set');
  if (!(COMMANDS as readonly string[]).includes(command)) throw bad(`CNI_COMMAND '${command}' is not one of ${COMMANDS.join(', ')}`);
  return command as Command;
}

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = parseCommand(env);
  for (const name of REQUIRED[command]) {
    if (!env[name]) throw bad(`${name} is required for ${command}`);
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  // Spec: a container ID starts with an alphanumeric and continues with alphanumerics, '_', '.', '-'.
  if (containerId && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) throw bad(`CNI_CONTAINERID '${containerId}' has characters the spec does not allow`);
  const ifname = env.CNI_IFNAME ?? '';
  // Linux: at most 15 bytes, not '.' or '..', no '/', ':' or whitespace.
  if (ifname && (ifname.length > 15 || ifname === '.' || ifname === '..' || /[/:\s]/.test(ifname))) {
    throw bad(`CNI_IFNAME '${ifname}' is not a valid interface name`);
  }
  const netns = env.CNI_NETNS ?? '';
  if (netns && !netns.startsWith('/')) throw bad(`CNI_NETNS '${netns}' must be an absolute path`);
  return { command, containerId, netns, ifname, args: parseCniArgs(env.CNI_ARGS ?? ''), path: (env.CNI_PATH ?? '').split(':').filter(Boolean) };
}

/** CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name;...` */
export function parseCniArgs(text: string): Map<string, string> {
  const args = new Map<string, string>();
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(`CNI_ARGS entry '${pair}' is not KEY=VALUE`);
    args.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return args;
}
