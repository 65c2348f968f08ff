/**
 * The control socket: how `tortie status` and `tortie routes` reach a running agent.
 *
 * Protocol: newline-delimited JSON over a unix stream socket. Each request is one line
 * `{"id": N, "method": "status" | "routes" | "ping", "params": {...}}`; each answer one line
 * `{"id": N, "ok": true, "result": ...}` or `{"id": N, "ok": false, "error": {"code", "message"}}`.
 * The socket is owner-only (0600): it reveals the cluster's peers and routes.
 */
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { clearStaleSocket, listenOwnerOnly } from '../net/unix-socket.ts';
import { AgentError, AgentErrorCode } from './errors.ts';
import { addressFamily, parseCidr } from './addr.ts';
import type { HealthReport } from './health.ts';
import type { KernelRoute, KernelRoutesSource, NodeStatus, PeerStatus, RibRoute, RoutesQuery, RoutesSource, StatusSource } from './sources.ts';

/** Where `tortie agent` listens and the CLI looks, unless told otherwise. */
export const DEFAULT_CONTROL_SOCKET = '/var/run/tortie/tortie.sock';

export const ControlErrorCode = {
  BadRequest: 'TORTIE_CONTROL_BAD_REQUEST',
  UnknownMethod: 'TORTIE_CONTROL_UNKNOWN_METHOD',
  BadParams: 'TORTIE_CONTROL_BAD_PARAMS',
  Internal: 'TORTIE_CONTROL_INTERNAL',
} as const;

/** Longest request line accepted; a request is a few dozen bytes. */
const MAX_REQUEST_BYTES = 64 * 1024;

/** `status` answer. */
export interface StatusResult {
  node: NodeStatus;
  peers: PeerStatus[];
  /** The same verdict as /readyz, when the agent has one. */
  readiness?: HealthReport;
}

export interface RoutesResult {
  routes: (RibRoute & { kernel: KernelRoute[] })[];
}

export interface ControlHandlers {
  status: StatusSource;
  routes: RoutesSource;
  kernel: KernelRoutesSource;
  readiness?: () => HealthReport;
}

class RequestError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Parses the `prefix` parameter of `routes`: a CIDR selects exactly, a bare address by longest match. */
export function routesQueryFrom(prefix: unknown): RoutesQuery {
  if (prefix === undefined || prefix === null) return { match: 'all' };
  if (typeof prefix !== 'string') throw new RequestError(ControlErrorCode.BadParams, 'prefix must be a string');
  const cidr = parseCidr(prefix);
  if (cidr) return { match: 'exact', prefix: `${canonicalAddress(cidr.network, cidr.family)}/${cidr.prefixLength}` };
  if (addressFamily(prefix) !== null) return { match: 'longest', address: prefix };
  throw new RequestError(ControlErrorCode.BadParams, `'${prefix}' is neither a prefix (ADDR/LEN) nor an address`);
}

function canonicalAddress(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952 section 4.2).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

async function dispatch(handlers: ControlHandlers, method: unknown, params: Record<string, unknown>): Promise<unknown> {
  switch (method) {
    case 'ping':
      return { pong: true };
    case 'status': {
      return { node: handlers.status.node(), peers: handlers.status.peers(), readiness: handlers.readiness?.() } satisfies StatusResult;
    }
    case 'routes': {
      const query = routesQueryFrom(params.prefix);
      const routes = handlers.routes.routes(query);
      const prefixes = [...new Set(routes.map((r) => r.prefix))];
      if (query.match === 'exact' && !prefixes.includes(query.prefix)) prefixes.push(query.prefix);
      const kernel = prefixes.length > 0 ? await handlers.kernel.kernelRoutes(prefixes) : [];
      return { routes: routes.map((r) => ({ ...r, kernel: kernel.filter((k) => k.prefix === r.prefix) })) } satisfies RoutesResult;
    }
    default:
      throw new RequestError(ControlErrorCode.UnknownMethod, `unknown method ${JSON.stringify(method)}; known: ping, status, routes`);
  }
}

/**
 * Listens on `path`. A stale socket (nothing accepts on it) left by a crashed agent is replaced;
 * a live one, or anything that is not a socket, is refused with `ControlSocketInUse`.
 */
export class ControlServer {
  readonly path: string;
  private server: Server | null = null;
  private ino = -1;
  private readonly sockets = new Set<Socket>();
  private readonly handlers: ControlHandlers;
  private readonly onError: (err: unknown) => void;

  constructor(path: string, handlers: ControlHandlers, opts: { onError?: (err: unknown) => void } = {}) {
    this.path = path;
    this.handlers = handlers;
    this.onError = opts.onError ?? (() => undefined);
  }

  async start(): Promise<void> {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new AgentError(AgentErrorCode.ControlSocketFailed, `cannot create the directory of control socket ${this.path}: ${(e as NodeJS.ErrnoException).code ?? e}; run as root or choose another --control-socket`, { cause: e });
    }
    await this.clearStale();
    const server = createServer((socket) => this.serve(socket));
    // A handful of CLI calls at a time is normal; a runaway script must not exhaust descriptors.
    server.maxConnections = 64;
    try {
      this.ino = await listenOwnerOnly(server, this.path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const code = err.code === 'EADDRINUSE' ? AgentErrorCode.ControlSocketInUse : AgentErrorCode.ControlSocketFailed;
      throw new AgentError(code, `cannot listen on control socket ${this.path}: ${err.code ?? err.message}; choose another --control-socket`, { cause: e });
    }
    this.server = server;
  }

  private async clearStale(): Promise<void> {
    const outcome = await clearStaleSocket(this.path);
    switch (outcome.kind) {
      case 'not-socket':
        throw new AgentError(AgentErrorCode.ControlSocketInUse, `control socket path ${this.path} exists and is not a socket; remove it or choose another --control-socket`);
      case 'alive':
        throw new AgentError(AgentErrorCode.ControlSocketInUse, `another agent is listening on ${this.path}; stop it or choose another --control-socket`);
      case 'unprobed':
        throw new AgentError(AgentErrorCode.ControlSocketInUse, `control socket ${this.path} exists and cannot be probed (${outcome.code}); remove it or choose another --control-socket`);
    }
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    // Requests on one connection are answered in order.
    let chain = Promise.resolve();
    let refused = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (refused) return;
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() === '') continue;
        chain = chain.then(() => this.answer(socket, line));
      }
      if (buffered.length > MAX_REQUEST_BYTES) {
        // No newline in sight: not a client of ours. Answer once and hang up.
        refused = true;
        buffered = '';
        void chain.then(() => socket.end(JSON.stringify({ id: null, ok: false, error: { code: ControlErrorCode.BadRequest, message: `request longer than ${MAX_REQUEST_BYTES} bytes` } }) + '\n'));
      }
    });
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    let id: unknown = null;
    let reply: unknown;
    try {
      let req: unknown;
      try {
        req = JSON.parse(line);
      } catch {
        throw new RequestError(ControlErrorCode.BadRequest, 'request is not JSON');
      }
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new RequestError(ControlErrorCode.BadRequest, 'request must be a JSON object');
      const r = req as { id?: unknown; method?: unknown; params?: unknown };
      id = r.id ?? null;
      const params = typeof r.params === 'object' && r.params !== null ? (r.params as Record<string, unknown>) : {};
      reply = { id, ok: true, result: await dispatch(this.handlers, r.method, params) };
    } catch (e) {
      if (e instanceof RequestError) {
        reply = { id, ok: false, error: { code: e.code, message: e.message } };
      } else {
        // A failing source must not take the agent down; the CLI shows the message.
        this.onError(e);
        reply = { id, ok: false, error: { code: ControlErrorCode.Internal, message: (e as Error)?.message ?? String(e) } };
      }
    }
    if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
  }

  /** Stops listening, closes connections and removes the socket file if it is still ours. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // libuv normally unlinks the path on close; if the file is still there, remove it only if it is
    // the inode we created (a successor agent's socket must survive).
    try {
      if (lstatSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** Sends one request and waits for its answer. Errors are `AgentError`s saying what to do. */
export async function controlRequest(path: string, method: string, params: Record<string, unknown> = {}, opts: { timeoutMs?: number } = {}): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    let settled = false;
    const finish = (err: Error | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new AgentError(AgentErrorCode.AgentUnreachable, `the agent at ${path} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ id: 1, method, params }) + '\n'));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      let reply: { ok?: boolean; result?: unknown; error?: { code?: string; message?: string } };
      try {
        reply = JSON.parse(buffered.slice(0, nl));
      } catch {
        return finish(new AgentError(AgentErrorCode.ControlRequestFailed, `the agent at ${path} sent an answer that is not JSON`));
      }
      if (reply.ok) return finish(null, reply.result);
      finish(new AgentError(AgentErrorCode.ControlRequestFailed, `the agent refused the request: ${reply.error?.message ?? 'no reason given'} (${reply.error?.code ?? 'no code'})`));
    });
    socket.on('end', () => finish(new AgentError(AgentErrorCode.AgentUnreachable, `the agent at ${path} closed the connection without answering`)));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(unreachable(path, e)));
  });
}

function unreachable(path: string, e: NodeJS.ErrnoException): AgentError {
  const why =
    e.code === 'ENOENT'
      ? `no control socket at ${path}: the agent is not running (start it with \`tortie agent\`), or it uses another --control-socket`
      : e.code === 'ECONNREFUSED'
        ? `nothing listens on ${path}: the agent is not running (the socket was left by an agent that stopped)`
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? `permission denied on ${path}: the control socket is owner-only; run as the agent's user (usually root)`
          : e.code === 'ENOTSOCK'
            ? `${path} is not a socket`
            : `cannot connect to ${path}: ${e.message}`;
  return new AgentError(AgentErrorCode.AgentUnreachable, why, { cause: e });
}
