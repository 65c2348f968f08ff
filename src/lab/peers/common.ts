/**
 * What the lab's reference routers (BIRD, FRR, GoBGP, ExaBGP launchers) have in common: how a
 * neighbour and an originated route are described, what a learned route looks like when queried,
 * a private directory per instance, and how an instance is started and stopped without leaving a
 * process or a directory behind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stopPid } from '../../netns/netns.ts';

export type FamilyName = 'ipv4' | 'ipv6';

export interface DaemonNeighbor {
  /** Protocol/neighbour name in the daemon's config (letters, digits, underscore). */
  name: string;
  address: string;
  asn: number;
  /** Our address towards this neighbour. */
  localAddress: string;
  /** Wait for the neighbour to connect. */
  passive?: boolean;
  families?: FamilyName[];
  holdTime?: number;
  gracefulRestart?: boolean;
  /** Seconds the neighbour should keep our routes across our restart. */
  restartTime?: number;
  routeReflectorClient?: boolean;
  /** IPv6 next hop to advertise on an IPv4 session (and the reverse). */
  nextHopV6?: string;
  nextHopV4?: string;
  /** RFC 2385 TCP MD5 password for the session (printable ASCII without quotes). */
  password?: string;
}

export interface DaemonRoute {
  prefix: string;
  med?: number;
  localPref?: number;
  /** "ASN:VALUE" */
  communities?: string[];
  /** "ASN:D1:D2" */
  largeCommunities?: string[];
}

export interface LearnedRoute {
  prefix: string;
  nextHop?: string;
  asPath: number[];
  med?: number;
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
}

export async function instanceDir(kind: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `tortie-${kind}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function readPid(file: string, timeoutMs = 10_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const pid = Number((await readFile(file, 'utf8')).trim());
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    if (Date.now() > end) throw new Error(`no PID in ${file} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function familyOf(prefix: string): FamilyName {
  return prefix.includes(':') ? 'ipv6' : 'ipv4';
}

/**
 * Runs `setup` on a new instance; if it fails (a config the daemon refuses, say), stops the
 * instance so that nothing is left behind, and rethrows.
 */
export async function startOrCleanUp<T extends { stop(): Promise<void> }>(instance: T, setup: () => Promise<void>): Promise<T> {
  try {
    await setup();
  } catch (e) {
    await instance.stop();
    throw e;
  }
  return instance;
}

/** Stops the daemon's processes (thawing paused ones first: SIGTERM waits behind SIGSTOP) and removes its directory. */
export async function stopDaemon(pids: readonly number[], dir: string): Promise<void> {
  const live = pids.filter((p) => p && isAlive(p));
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }
  await Promise.all(live.map((p) => stopPid(p)));
  await removeDir(dir);
}

/** Kills a process without a word (SIGKILL) and waits until it is gone: TCP sessions drop without NOTIFICATION. */
export async function killPid(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
}
