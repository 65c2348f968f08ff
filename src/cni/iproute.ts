/**
 * The plugin's only tool on the host: iproute2's `ip`, run in batch mode so that a whole step is
 * one process. With `-force` ip carries on past a failing line and reports it as
 * "Command failed -:N"; we turn that into a per-line result so that callers decide which
 * failures matter (an existing route may be fine, a failed veth creation is not).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CniCode, CniError } from './errors.ts';

export interface BatchResult {
  stdout: string;
  /** 1-based line number -> the error ip printed for it. */
  failed: Map<number, string>;
}

/**
 * The runtime's PATH for plugins is not always the login PATH (containerd passes its own), so
 * look in iproute2's usual homes first; TORTIE_IP_COMMAND overrides for odd installations.
 */
const IP = process.env.TORTIE_IP_COMMAND ?? (['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((f) => existsSync(f)) || 'ip');

/** Runs `ip [-n NETNS] [-o] -force -batch -` over `lines`. Throws only when ip cannot run at all. */
export function ipBatch(lines: string[], opts: { netns?: string; oneline?: boolean; family?: 4 | 6 } = {}): BatchResult {
  // Batch lines cannot carry options: the address family applies to the whole batch.
  const args = [...(opts.netns ? ['-n', opts.netns] : []), ...(opts.family ? [`-${opts.family}`] : []), ...(opts.oneline ? ['-o'] : []), '-force', '-batch', '-'];
  const r = spawnSync(IP, args, { input: lines.join('\n') + '\n', encoding: 'utf8' });
  if (r.error) throw new CniError(CniCode.IoFailure, `cannot run '${IP}' (is iproute2 installed?)`, r.error.message);
  const failed = new Map<number, string>();
  let pending: string[] = [];
  for (const line of r.stderr.split('\n')) {
    const m = /^Command failed -:(\d+)$/.exec(line.trim());
    if (m) {
      failed.set(Number(m[1]), pending.join(' ').trim() || 'failed');
      pending = [];
    } else if (line.trim()) {
      pending.push(line.trim());
    }
  }
  // A failure ip did not attribute to a line (e.g. it could not enter the namespace).
  if (r.status !== 0 && failed.size === 0) failed.set(0, r.stderr.trim() || `ip exited ${r.status}`);
  return { stdout: r.stdout, failed };
}

/** Runs one `ip` command; returns stdout or throws with ip's message. */
export function ip(args: string[], opts: { netns?: string } = {}): string {
  const r = ipBatch([args.join(' ')], opts);
  const err = r.failed.values().next().value;
  if (err !== undefined) throw new CniError(CniCode.IoFailure, `ip ${args.join(' ')} failed`, err);
  return r.stdout;
}

export function isExists(message: string | undefined): boolean {
  return message !== undefined && /File exists/i.test(message);
}

export function isNoDevice(message: string | undefined): boolean {
  return message !== undefined && /(Cannot find device|No such device|does not exist)/i.test(message);
}

/** Where `ip netns` keeps named namespaces; `ip -n NAME` opens NETNS_RUN_DIR/NAME. */
const NETNS_RUN_DIRS = ['/var/run/netns', '/run/netns'];

/**
 * `ip -n` takes a name under /var/run/netns, but CNI_NETNS is any path (/proc/PID/ns/net, a bind
 * mount elsewhere). For a path outside the run directory we add a symlink there for the duration
 * of the command (`ip` opens it, following the link) and remove it afterwards.
 */
export class NetnsHandle {
  readonly name: string;
  private readonly link: string | undefined;

  private constructor(name: string, link?: string) {
    this.name = name;
    this.link = link;
  }

  static open(path: string): NetnsHandle {
    if (NETNS_RUN_DIRS.includes(dirname(path))) return new NetnsHandle(basename(path));
    const dir = NETNS_RUN_DIRS[0];
    const name = `tortie-cni-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      mkdirSync(dir, { recursive: true });
      symlinkSync(path, `${dir}/${name}`);
    } catch (e) {
      throw new CniError(CniCode.IoFailure, `cannot refer to network namespace ${path}`, (e as Error).message);
    }
    return new NetnsHandle(name, `${dir}/${name}`);
  }

  close(): void {
    if (!this.link) return;
    try {
      unlinkSync(this.link);
    } catch {
      // Already removed.
    }
  }
}

/** Removes symlinks left by plugin processes that died between open and close. */
export function removeStaleNetnsLinks(): number {
  let removed = 0;
  const dir = NETNS_RUN_DIRS[0];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^tortie-cni-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      readlinkSync(`${dir}/${name}`);
      unlinkSync(`${dir}/${name}`);
      removed++;
    } catch {
      // Not a link of ours, or gone.
    }
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
