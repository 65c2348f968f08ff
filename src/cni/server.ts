/**
 * The CNI server inside the long-lived agent, Cilium-style: the executable the kubelet runs is a
 * small C front end (native/tortie-cni-shim.c) that forwards each invocation here over a unix
 * socket, so that a pod's ADD and DEL do not each pay Node's start-up. The work is the standalone
 * plugin's own code (main.ts runCni) run in a pool of worker threads: the plugin waits on `ip`
 * synchronously, which must block a worker, never the agent's event loop (BGP keepalives).
 *
 * Protocol: framing.ts. Concurrency: the kubelet runs ADDs in parallel; each takes a free worker
 * or waits in line. The built-in IPAM claims addresses with link(2), atomic across threads as
 * across processes. Bad input closes that connection and nothing else; the socket is owner-only.
 */
import { accessSync, constants, existsSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { clearStaleSocket, listenOwnerOnly } from '../net/unix-socket.ts';
import { Worker } from 'node:worker_threads';
import { BUILTIN_IPAM } from './config.ts';
import { CniCode, CniError } from './errors.ts';
import { encodeResponse, RequestDecoder, TAG_ACCEPTED, TAG_GO, type CniRequest, type CniResponse } from './framing.ts';
import type { WorkerConfig, WorkerJob, WorkerResult } from './server-worker.ts';
import { SUPPORTED_VERSIONS } from './types.ts';

/** Where the agent listens and the shim looks unless the conflist says `agentSocket`. */
export const DEFAULT_CNI_SOCKET = '/var/run/tortie/cni.sock';
/** A runtime sends its request at once; a connection silent this long is not one. */
const REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_WORKERS = 4;

export const CniServerErrorCode = {
  SocketInUse: 'TORTIE_CNI_SOCKET_IN_USE',
  SocketFailed: 'TORTIE_CNI_SOCKET_FAILED',
} as const;

export class CniServerError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CniServerError';
    this.code = code;
  }
}

export interface CniServerOptions {
  /** Worker threads, i.e. invocations running at once (default 4), started as requests come. */
  workers?: number;
  /** Variables besides CNI_* that invocations see (delegated IPAM plugins inherit them). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Called for each finished invocation and for refused connections. */
  onEvent?: (e: CniServerEvent) => void;
  /** How workers wire pods: netlink through a relay each (default) or `ip` processes. */
  wiring?: WorkerConfig['wiring'];
}

/** Commands that enter CNI_NETNS, which the agent must be able to open. */
const NETNS_COMMANDS = new Set(['ADD', 'DEL', 'CHECK']);
/** Added by the front end: the inode of its PID namespace (the kubelet's, the runtime's). */
export const CALLER_PIDNS_VAR = 'CNI_TORTIE_PIDNS';

function ownPidNamespace(): string | undefined {
  try {
    return statSync('/proc/self/ns/pid', { bigint: true }).ino.toString();
  } catch {
    return undefined;
  }
}

/**
 * Why this server must not run a request itself, or undefined. CNI_NETNS of the form
 * /proc/PID/ns/net names a process in the caller's PID namespace: in another one (an agent
 * without hostPID) the same number is some other process, maybe one in the host's network
 * namespace. A path the agent cannot see at all (a mount it lacks) goes back as well, and so
 * does a delegated IPAM plugin the agent cannot find in CNI_PATH (its container lacks
 * /opt/cni/bin): the front end runs on the host, where both are.
 */
export function handBackReason(env: Record<string, string>, stdin: string, ownPidns: string | undefined): string | undefined {
  const ipamType = delegatedIpamType(env.CNI_COMMAND ?? '', stdin);
  if (ipamType !== undefined && !onPath(ipamType, env.CNI_PATH ?? '')) {
    return `IPAM plugin ${ipamType} is not in CNI_PATH as the agent sees it: the front end runs the plugin itself`;
  }
  const netns = env.CNI_NETNS;
  if (!netns || !NETNS_COMMANDS.has(env.CNI_COMMAND ?? '')) return undefined;
  if (netns.startsWith('/proc/') && (ownPidns === undefined || env[CALLER_PIDNS_VAR] !== ownPidns)) {
    return `CNI_NETNS ${netns} names a process in a PID namespace the agent does not share (hostPID): the front end runs the plugin itself`;
  }
  if (!existsSync(netns)) return `CNI_NETNS ${netns} is not visible to the agent: the front end runs the plugin itself`;
  return undefined;
}

/** The IPAM plugin a command would exec, if any (malformed input is the plugin's to report). */
function delegatedIpamType(command: string, stdin: string): string | undefined {
  if (!['ADD', 'DEL', 'CHECK', 'GC'].includes(command)) return undefined;
  try {
    const type = (JSON.parse(stdin) as { ipam?: { type?: unknown } }).ipam?.type;
    return typeof type === 'string' && type !== BUILTIN_IPAM && !type.includes('/') ? type : undefined;
  } catch {
    return undefined;
  }
}

function onPath(file: string, cniPath: string): boolean {
  return cniPath.split(':').some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, file), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export type CniServerEvent =
  | { kind: 'done'; command: string; containerId: string; exitCode: number; ms: number; stderr: string }
  | { kind: 'refused'; reason: string }
  /** Closed before the accept on purpose: the front end runs the standalone plugin instead. */
  | { kind: 'handed-back'; reason: string }
  | { kind: 'worker-failed'; reason: string };

interface Job {
  id: number;
  request: CniRequest;
  resolve: (r: CniResponse) => void;
}

class WorkerSlot {
  worker: Worker;
  job: Job | null = null;

  constructor(worker: Worker) {
    this.worker = worker;
  }
}

/** A pool of worker threads with a queue in front. */
class WorkerPool {
  private readonly slots: WorkerSlot[] = [];
  private readonly queue: Job[] = [];
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly onFailure: (reason: string) => void;
  private readonly config: WorkerConfig;
  private closed = false;

  private readonly size: number;

  /** Threads start on demand, up to `size`: an agent that wires no pods pays for none. */
  constructor(size: number, baseEnv: NodeJS.ProcessEnv, onFailure: (reason: string) => void, config: WorkerConfig) {
    this.size = Math.max(1, size);
    this.baseEnv = baseEnv;
    this.onFailure = onFailure;
    this.config = config;
  }

  private spawn(): WorkerSlot {
    // No inherited execArgv or stdio: the worker only computes and posts its result.
    const worker = new Worker(new URL('./server-worker.ts', import.meta.url), { stdout: true, stderr: true, workerData: this.config });
    worker.unref();
    const slot = new WorkerSlot(worker);
    worker.on('message', (r: WorkerResult) => {
      const job = slot.job;
      slot.job = null;
      if (job && job.id === r.id) job.resolve({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
      this.next(slot);
    });
    const failed = (reason: string) => {
      if (this.closed) return;
      this.onFailure(reason);
      const job = slot.job;
      slot.job = null;
      // The invocation may have done part of its work; the runtime retries after DEL.
      if (job) job.resolve(errorResponse(job.request, new CniError(CniCode.TryAgainLater, 'the tortie agent failed while handling this request', reason)));
      const i = this.slots.indexOf(slot);
      if (i >= 0) {
        this.slots[i] = this.spawn();
        this.next(this.slots[i]);
      }
    };
    worker.on('error', (e) => failed(e.message));
    worker.on('exit', (code) => failed(`worker thread exited with ${code}`));
    return slot;
  }

  run(request: CniRequest, id: number): Promise<CniResponse> {
    return new Promise((resolve) => {
      const job: Job = { id, request, resolve };
      let idle = this.slots.find((s) => s.job === null);
      if (!idle && this.slots.length < this.size) {
        idle = this.spawn();
        this.slots.push(idle);
      }
      if (idle) this.dispatch(idle, job);
      else this.queue.push(job);
    });
  }

  private next(slot: WorkerSlot): void {
    const job = this.queue.shift();
    if (job) this.dispatch(slot, job);
  }

  private dispatch(slot: WorkerSlot, job: Job): void {
    slot.job = job;
    slot.worker.postMessage({ id: job.id, env: { ...this.baseEnv, ...job.request.env }, stdin: job.request.stdin } satisfies WorkerJob);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(errorResponse(job.request, new CniError(CniCode.TryAgainLater, 'the tortie agent is stopping')));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function errorResponse(req: CniRequest, err: CniError): CniResponse {
  let version: string = SUPPORTED_VERSIONS.at(-1)!;
  try {
    const v = (JSON.parse(req.stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && v.length < 20) version = v;
  } catch {
    // keep the newest
  }
  return { exitCode: 1, stdout: JSON.stringify(err.toJSON(version)) + '\n', stderr: `tortie-cni error: ${err.message}${err.details ? `: ${err.details}` : ''}\n` };
}

export class CniServer {
  readonly path: string;
  private server: Server | null = null;
  private pool: WorkerPool | null = null;
  private ino = -1;
  private nextId = 1;
  private readonly sockets = new Set<Socket>();
  /** Requests past the go: a stop lets them finish, as a half-wired pod is worse than a wait. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly started = new WeakSet<Socket>();
  private readonly options: CniServerOptions;
  private readonly pidns = ownPidNamespace();

  constructor(path: string, options: CniServerOptions = {}) {
    this.path = path;
    this.options = options;
  }

  async start(): Promise<void> {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new CniServerError(CniServerErrorCode.SocketFailed, `cannot create the directory of CNI socket ${this.path}: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
    }
    await this.clearStale();
    const baseEnv = this.options.baseEnv ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    this.pool = new WorkerPool(this.options.workers ?? DEFAULT_WORKERS, baseEnv, (reason) => this.options.onEvent?.({ kind: 'worker-failed', reason }), {
      wiring: this.options.wiring ?? 'netlink',
    });
    const server = createServer((socket) => this.serve(socket));
    server.maxConnections = 1024;
    try {
      // Owner-only from bind() on: whoever reaches this socket wires pods as root.
      this.ino = await listenOwnerOnly(server, this.path);
    } catch (e) {
      await this.pool.close();
      this.pool = null;
      const err = e as NodeJS.ErrnoException;
      if (err instanceof CniServerError) throw err;
      throw new CniServerError(err.code === 'EADDRINUSE' ? CniServerErrorCode.SocketInUse : CniServerErrorCode.SocketFailed, `cannot listen on CNI socket ${this.path}: ${err.code ?? err.message}`, { cause: e });
    }
    this.server = server;
  }

  /** Replaces a socket left by a dead agent; refuses a live one or a non-socket. */
  private async clearStale(): Promise<void> {
    const outcome = await clearStaleSocket(this.path);
    if (outcome.kind === 'not-socket') throw new CniServerError(CniServerErrorCode.SocketInUse, `CNI socket path ${this.path} exists and is not a socket`);
    if (outcome.kind === 'alive') throw new CniServerError(CniServerErrorCode.SocketInUse, `another agent serves CNI on ${this.path}`);
    if (outcome.kind === 'unprobed') throw new CniServerError(CniServerErrorCode.SocketInUse, `CNI socket ${this.path} cannot be probed (${outcome.code})`);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const refuse = (reason: string) => {
      this.options.onEvent?.({ kind: 'refused', reason });
      socket.destroy();
    };
    const timer = setTimeout(() => refuse('no complete request within 10 s'), REQUEST_TIMEOUT_MS);
    timer.unref();
    socket.on('close', () => clearTimeout(timer));
    const decoder = new RequestDecoder();
    let request: CniRequest | undefined;
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      try {
        if (!request) {
          request = decoder.push(chunk);
          if (!request) return;
          // Closing before the accept makes the front end run the standalone plugin, which sees
          // the node as the kubelet does.
          const handBack = handBackReason(request.env, request.stdin, this.pidns);
          delete request.env[CALLER_PIDNS_VAR];
          if (handBack) {
            this.options.onEvent?.({ kind: 'handed-back', reason: handBack });
            socket.destroy();
            return;
          }
          socket.write(Buffer.from([TAG_ACCEPTED]));
          return;
        }
        if (started || chunk.length !== 1 || chunk[0] !== TAG_GO) return refuse('expected the go byte after the request');
        started = true;
        this.started.add(socket);
        clearTimeout(timer);
        void this.execute(socket, request);
      } catch (e) {
        refuse((e as Error).message);
      }
    });
  }

  private execute(socket: Socket, request: CniRequest): Promise<void> {
    const p = this.executeOne(socket, request).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return p;
  }

  private async executeOne(socket: Socket, request: CniRequest): Promise<void> {
    const t0 = performance.now();
    const pool = this.pool;
    const response = pool ? await pool.run(request, this.nextId++) : errorResponse(request, new CniError(CniCode.TryAgainLater, 'the tortie agent is stopping'));
    this.options.onEvent?.({
      kind: 'done',
      command: request.env.CNI_COMMAND ?? '',
      containerId: request.env.CNI_CONTAINERID ?? '',
      exitCode: response.exitCode,
      ms: performance.now() - t0,
      stderr: response.stderr,
    });
    if (!socket.destroyed) socket.end(encodeResponse(response));
  }

  /**
   * Stops listening and drops connections that have not said go (their front ends fall back);
   * requests already running finish, up to `graceMs`; then removes the socket file.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) if (!this.started.has(s)) s.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.inFlight), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const s of this.sockets) if (!s.writableEnded) s.destroy();
    await closed;
    await this.pool?.close();
    this.pool = null;
    try {
      if (lstatSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
