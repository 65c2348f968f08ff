/**
 * Network namespaces for tests and the lab: create them, wire them with veths and bridges, run
 * commands inside, and remove everything made. Nothing here ever touches the root namespace's
 * addresses or routes: every `ip` call names a namespace with `-n`.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface ExitResult extends RunResult {
  /** null when a signal ended it. */
  exitCode: number | null;
}

/**
 * Runs a command to its end with `input` on stdin (and `env` as its whole environment, if given),
 * and resolves with its output and exit status whatever they are: for callers that judge the
 * outcome themselves, as a CNI runtime judges a plugin's.
 */
export function runToExit(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
    let stdout = '';
    let stderr = '';
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout, stderr, exitCode: code });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command and returns its output; rejects with stderr in the message on failure. */
export async function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  if (opts.input !== undefined) {
    const { stdout, stderr, exitCode } = await runToExit(cmd, args, opts);
    if (exitCode === 0) return { stdout, stderr };
    throw new Error(`${cmd} ${args.join(' ')} exited ${exitCode}: ${stderr.trim()}`);
  }
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 0 });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

let counter = 0;

/**
 * A short name unique to this process, for namespaces and interfaces (interface names are at most
 * 15 characters, so keep prefixes to 4 or fewer).
 */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${(process.pid % 100000).toString(36)}${counter.toString(36)}`;
}

export interface NetnsOptions {
  /**
   * Processes started with `spawn` outlive the process that started them (the lab leaves daemons
   * running after its command returns): they are detached into their own process group, unref'd,
   * and their output goes to this file descriptor instead of pipes that would break on exit.
   * `destroy()` then leaves them alone: whoever recorded their PIDs stops them.
   */
  outlive?: { outputFd: number };
}

export class Netns {
  readonly name: string;
  private children = new Set<ChildProcess>();
  private readonly options: NetnsOptions;

  private constructor(name: string, options: NetnsOptions = {}) {
    this.name = name;
    this.options = options;
  }

  /** A handle on a namespace that already exists (made earlier, perhaps by another process). */
  static async attach(name: string, options: NetnsOptions = {}): Promise<Netns> {
    if (!(await Netns.exists(name))) throw new Error(`network namespace ${name} does not exist`);
    return new Netns(name, options);
  }

  /** Whether a named namespace exists (`ip netns list`). */
  static async exists(name: string): Promise<boolean> {
    const { stdout } = await run('ip', ['netns', 'list']);
    return stdout.split('\n').some((l) => l.split(/\s+/)[0] === name);
  }

  /** Creates a namespace with loopback up. The name must not exist yet. */
  static async create(name: string, options: NetnsOptions = {}): Promise<Netns> {
    await run('ip', ['netns', 'add', name]);
    const ns = new Netns(name, options);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** `ip -n NAME ...` */
  ip(...args: string[]): Promise<RunResult> {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** `ip -n NAME -batch -`: many commands, one process. */
  ipBatch(lines: string[]): Promise<RunResult> {
    return run('ip', ['-n', this.name, '-batch', '-'], { input: lines.join('\n') + '\n' });
  }

  /** Runs a command inside the namespace and waits for it. */
  exec(cmd: string, args: string[] = [], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Runs a shell snippet inside the namespace. */
  sh(script: string, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return this.exec('sh', ['-c', script], opts);
  }

  /** Sets a sysctl inside the namespace (`net.ipv4.ip_forward=1` style). */
  async sysctl(key: string, value: string | number): Promise<void> {
    await this.exec('sysctl', ['-qw', `${key}=${value}`]);
  }

  /**
   * Starts a long-running process inside the namespace. It is killed by `destroy()` unless it has
   * exited first. Its PID is the child's own (ip netns exec execs in place).
   */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const out = this.options.outlive?.outputFd;
    if (out !== undefined) {
      const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { ...opts, detached: true, stdio: ['ignore', out, out] });
      child.unref();
      return child;
    }
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Pings an address from inside; resolves true on a reply. */
  async ping(address: string, opts: { count?: number; timeoutS?: number } = {}): Promise<boolean> {
    const v6 = address.includes(':');
    try {
      await this.exec('ping', [...(v6 ? ['-6'] : []), '-n', '-q', '-c', String(opts.count ?? 1), '-W', String(opts.timeoutS ?? 1), address]);
      return true;
    } catch {
      return false;
    }
  }

  /** Kills what this namespace started, then deletes it. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.all(
      [...this.children].map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())))),
    );
    // Processes started by others (daemons that fork) must be stopped by their owners first;
    // deleting the namespace does not kill them.
    await run('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

/**
 * A Linux bridge in a namespace of its own, standing for the node network's switch. Hosts attach
 * with `connect`, which creates a veth whose far end lands in the host's namespace.
 */
export class Switch {
  readonly ns: Netns;
  private ports = 0;

  private constructor(ns: Netns) {
    this.ns = ns;
  }

  static async create(name: string): Promise<Switch> {
    const ns = await Netns.create(name);
    await ns.ip('link', 'add', 'br0', 'type', 'bridge');
    await ns.ip('link', 'set', 'br0', 'up');
    return new Switch(ns);
  }

  /**
   * Connects `host` to the switch with an interface named `ifname` inside `host`, gives it the
   * addresses (CIDR notation), and brings it up.
   */
  async connect(host: Netns, ifname: string, addresses: string[]): Promise<void> {
    this.ports += 1;
    const port = `p${this.ports}`;
    // Create the pair inside the switch namespace, then move one end: nothing in the root namespace.
    await this.ns.ip('link', 'add', port, 'type', 'veth', 'peer', 'name', ifname, 'netns', host.name);
    await this.ns.ip('link', 'set', port, 'master', 'br0');
    await this.ns.ip('link', 'set', port, 'up');
    for (const a of addresses) {
      const v6 = a.includes(':');
      await host.ip(...(v6 ? ['-6'] : []), 'addr', 'add', a, 'dev', ifname, ...(v6 ? ['nodad'] : []));
    }
    await host.ip('link', 'set', ifname, 'up');
  }

  destroy(): Promise<void> {
    return this.ns.destroy();
  }
}

/** Connects two namespaces point to point with a veth pair. */
export async function linkPair(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
  await a.ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name);
  await a.ip('link', 'set', aIf, 'up');
  await b.ip('link', 'set', bIf, 'up');
}

/**
 * Signals a process by PID and waits for it to exit (daemons take 1-2 s on SIGTERM), escalating
 * to SIGKILL after `graceMs`. Only PIDs we recorded ever reach here.
 */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) {
    process.kill(pid, 'SIGKILL');
    while (alive()) await new Promise((r) => setTimeout(r, 20));
  }
}
