/**
 * The node-state file: how the agent tells the CNI plugin which pod CIDRs (and address blocks)
 * this node owns. The agent writes it whenever the Node object changes and refreshes it while it
 * runs; the plugin reads it on ADD (to allocate, or to replace `usePodCidr`) and on STATUS (ready
 * only when it exists, is valid and, if the conflist asks, fresh). It lives on tmpfs by default, so
 * after a reboot the node is not ready until the agent has written it again.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parsePrefix } from './ip.ts';

export const DEFAULT_NODE_STATE_FILE = '/var/run/tortie/node.json';

export interface NodeState {
  /** Format version of this file. */
  version: 1;
  /** The Kubernetes Node this file describes. */
  nodeName: string;
  /** Node.spec.podCIDRs: at most one IPv4 and one IPv6 prefix. */
  podCIDRs: string[];
  /**
   * The blocks the built-in IPAM allocates from, when they differ from the pod CIDRs (e.g. only
   * part of the pod CIDR is for pods). Absent: allocate from `podCIDRs`.
   */
  blocks?: string[];
  /** When the agent last wrote the file (ISO 8601); STATUS may require it to be recent. */
  updatedAt: string;
}

export class NodeStateError extends Error {
  /** `missing`: no file (the agent has not run yet); `invalid`: unreadable or malformed. */
  readonly code: 'missing' | 'invalid';
  readonly file: string;

  constructor(code: 'missing' | 'invalid', file: string, message: string, options?: { cause?: unknown }) {
    super(`node state ${file}: ${message}`, options);
    this.name = 'NodeStateError';
    this.code = code;
    this.file = file;
  }
}

/** Checks a parsed JSON value and returns it typed; throws a message naming the bad field. */
export function validateNodeState(value: unknown, file = '(node state)'): NodeState {
  const bad = (msg: string) => new NodeStateError('invalid', file, msg);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('expected a JSON object');
  const v = value as Record<string, unknown>;
  if (v.version !== 1) throw bad(`unsupported version ${JSON.stringify(v.version)}; expected 1`);
  if (typeof v.nodeName !== 'string' || v.nodeName === '') throw bad('nodeName must be a non-empty string');
  const prefixes = (key: string, required: boolean): string[] | undefined => {
    const list = v[key];
    if (list === undefined && !required) return undefined;
    if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) throw bad(`${key} must be an array of prefixes`);
    for (const p of list as string[]) {
      try {
        parsePrefix(p);
      } catch (e) {
        throw bad(`${key}: ${(e as Error).message}`);
      }
    }
    return list as string[];
  };
  const podCIDRs = prefixes('podCIDRs', true)!;
  const blocks = prefixes('blocks', false);
  if (typeof v.updatedAt !== 'string' || Number.isNaN(Date.parse(v.updatedAt))) throw bad('updatedAt must be an ISO 8601 time');
  return { version: 1, nodeName: v.nodeName, podCIDRs, ...(blocks ? { blocks } : {}), updatedAt: v.updatedAt };
}

export function readNodeState(file: string = DEFAULT_NODE_STATE_FILE): NodeState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NodeStateError('missing', file, 'does not exist (is the tortie agent running on this node?)', { cause: e });
    throw new NodeStateError('invalid', file, `cannot be read: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new NodeStateError('invalid', file, `is not JSON: ${(e as Error).message}`, { cause: e });
  }
  return validateNodeState(json, file);
}

/** Age of the state in seconds, from `updatedAt` (the file's own claim, not its mtime). */
export function nodeStateAgeSeconds(state: NodeState, now: Date = new Date()): number {
  return (now.getTime() - Date.parse(state.updatedAt)) / 1000;
}

/**
 * Writes the file atomically (a temporary file renamed over it), so that a plugin reading it
 * concurrently sees the old or the new content, never half of one. For the agent.
 */
export function writeNodeState(
  file: string,
  state: { nodeName: string; podCIDRs: string[]; blocks?: string[]; updatedAt?: Date },
): NodeState {
  const full = validateNodeState(
    {
      version: 1,
      nodeName: state.nodeName,
      podCIDRs: state.podCIDRs,
      ...(state.blocks ? { blocks: state.blocks } : {}),
      updatedAt: (state.updatedAt ?? new Date()).toISOString(),
    },
    file,
  );
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(full, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, file);
  return full;
}

/** True when the file exists (a cheap check for callers that only need presence). */
export function nodeStateExists(file: string = DEFAULT_NODE_STATE_FILE): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
