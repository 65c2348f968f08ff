/**
 * The lab's state file: every namespace, process and directory the lab made, written after each
 * step of `up` so that `down` (in another process, perhaps after a failed `up`) removes exactly
 * those, stopping processes by recorded PID (never by name).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Netns, run, stopPid } from '../netns/netns.ts';
import type { LabPod } from './cluster.ts';
import type { LabOptions, RouterKind } from './plan.ts';

export interface LabProcess {
  /** What it is: `agent tortie-node1`, `bird`, `zebra`, ... */
  role: string;
  pid: number;
  netns: string;
  /**
   * A string the process's command line contains. Checked before signalling, so that a PID the
   * kernel has since given to another program is never touched.
   */
  marker: string;
}

export interface RouterState {
  kind: RouterKind;
  netns: string;
  /** The launcher's private directory (config, control sockets, logs). */
  dir: string;
  /** GoBGP's gRPC port inside the router namespace. */
  apiPort?: number;
}

/** A pod the lab wired: its Kubernetes identity, its sandbox, and the CNI result DEL needs. */
export interface PodRecord extends LabPod {
  netns: string;
  containerId: string;
  /** tortie-cni's ADD result, passed back as prevResult on CHECK and DEL (as the runtime caches it). */
  result: unknown;
}

export interface LabState {
  version: 1;
  createdAt: string;
  options: LabOptions;
  /** Namespaces in the order they were made. */
  namespaces: string[];
  processes: LabProcess[];
  /** Directories outside the state directory to remove (the router launcher's). */
  dirs: string[];
  router: RouterState | null;
  pods: PodRecord[];
}

export const STATE_FILE = 'state.json';

export class LabStateError extends Error {
  readonly code: 'TK_LAB_NO_STATE' | 'TK_LAB_BAD_STATE' | 'TK_LAB_EXISTS';
  constructor(code: LabStateError['code'], message: string) {
    super(message);
    this.name = 'LabStateError';
    this.code = code;
  }
}

export function emptyState(options: LabOptions): LabState {
  return { version: 1, createdAt: new Date().toISOString(), options, namespaces: [], processes: [], dirs: [], router: null, pods: [] };
}

export function writeState(stateDir: string, state: LabState): void {
  mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, file);
}

export function readState(stateDir: string): LabState {
  const file = path.join(stateDir, STATE_FILE);
  if (!existsSync(file)) throw new LabStateError('TK_LAB_NO_STATE', `no lab here: ${file} does not exist (start one with 'npm run lab -- up')`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LabStateError('TK_LAB_BAD_STATE', `${file} is not JSON (${(e as Error).message}); remove the lab's namespaces by hand ('ip netns list')`);
  }
  const s = parsed as Partial<LabState>;
  if (s.version !== 1 || !Array.isArray(s.namespaces) || !Array.isArray(s.processes) || !Array.isArray(s.dirs) || !Array.isArray(s.pods)) {
    throw new LabStateError('TK_LAB_BAD_STATE', `${file} is not a lab state file of version 1`);
  }
  return s as LabState;
}

export function hasState(stateDir: string): boolean {
  return existsSync(path.join(stateDir, STATE_FILE));
}

/** Whether `pid` runs a program whose command line contains `marker`. */
export function processMatches(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(marker);
  } catch {
    return false;
  }
}

/** PIDs of processes inside a namespace (`ip netns pids`). */
async function pidsIn(netns: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', netns]);
    return stdout.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface TeardownReport {
  stopped: string[];
  /** Processes found still inside a lab namespace after the recorded ones stopped. */
  strays: number[];
  namespaces: string[];
}

/**
 * Removes everything the state names: recorded processes (SIGTERM, then SIGKILL), any process
 * still inside a lab namespace (it can only be the lab's: nothing else runs there), the
 * namespaces (pods first), the router's directory and the state directory itself.
 */
export async function teardown(stateDir: string, state: LabState): Promise<TeardownReport> {
  const report: TeardownReport = { stopped: [], strays: [], namespaces: [] };
  await Promise.all(
    state.processes.map(async (p) => {
      if (!processMatches(p.pid, p.marker)) return;
      try {
        process.kill(p.pid, 'SIGCONT'); // a paused daemon cannot act on SIGTERM
      } catch {
        return;
      }
      await stopPid(p.pid, 5000);
      report.stopped.push(`${p.role} (pid ${p.pid})`);
    }),
  );
  const namespaces = [...state.namespaces].reverse();
  for (const ns of namespaces) {
    for (const pid of await pidsIn(ns)) {
      report.strays.push(pid);
      await stopPid(pid, 2000).catch(() => undefined);
    }
  }
  for (const ns of namespaces) {
    if (await Netns.exists(ns)) {
      await run('ip', ['netns', 'del', ns]);
      report.namespaces.push(ns);
    }
  }
  for (const d of state.dirs) rmSync(d, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
  return report;
}
