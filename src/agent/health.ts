/**
 * `/livez` and `/readyz` for the DaemonSet's probes.
 *
 * Readiness follows calico-node's `bird-ready` rule: the datastore has synced, and, during the
 * first 30 s after start, every configured peer is Established; after that, at least one. A node
 * whose sessions are all down is not ready, but one slow peer does not keep a node out of service
 * forever. With no peers configured, a synced node is ready.
 *
 * The clock is injected so tests move time instead of waiting.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSource, SyncSource } from './sources.ts';

export const ALL_PEERS_WINDOW_MS = 30_000;

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface HealthReport {
  ok: boolean;
  checks: CheckResult[];
}

/** A liveness check from a component (e.g. "the dataplane loop ran in the last minute"). */
export type LivenessCheck = () => CheckResult;

export interface HealthOptions {
  sync: SyncSource;
  peers: Pick<StatusSource, 'peers'>;
  /** Milliseconds since the epoch; Date.now unless a test moves time. */
  clock?: () => number;
  /** When the agent started; the clock's now by default. */
  startedAt?: number;
  allPeersWindowMs?: number;
  liveness?: LivenessCheck[];
}

export class Health {
  private readonly opts: HealthOptions;
  private readonly clock: () => number;
  private readonly startedAt: number;
  private readonly windowMs: number;

  constructor(opts: HealthOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.startedAt = opts.startedAt ?? this.clock();
    this.windowMs = opts.allPeersWindowMs ?? ALL_PEERS_WINDOW_MS;
  }

  readiness(): HealthReport {
    const synced = this.opts.sync.synced();
    const checks: CheckResult[] = [{ name: 'datastore', ok: synced, detail: synced ? 'synced' : 'not synced yet' }];
    const peers = this.opts.peers.peers();
    const established = peers.filter((p) => p.state === 'Established').length;
    const inWindow = this.clock() - this.startedAt < this.windowMs;
    let peersOk: boolean;
    let detail: string;
    if (peers.length === 0) {
      peersOk = true;
      detail = 'no peers configured';
    } else if (inWindow) {
      peersOk = established === peers.length;
      const down = peers.filter((p) => p.state !== 'Established').map((p) => `${p.address} ${p.state}`);
      detail = `${established} of ${peers.length} peers Established; all must be within ${this.windowMs / 1000} s of start${down.length ? ` (not yet: ${down.join(', ')})` : ''}`;
    } else {
      peersOk = established > 0;
      detail = `${established} of ${peers.length} peers Established; at least one must be`;
    }
    checks.push({ name: 'bgp', ok: peersOk, detail });
    return { ok: checks.every((c) => c.ok), checks };
  }

  liveness(): HealthReport {
    const checks: CheckResult[] = [{ name: 'process', ok: true, detail: 'event loop answering' }];
    for (const check of this.opts.liveness ?? []) {
      try {
        checks.push(check());
      } catch (e) {
        checks.push({ name: 'check', ok: false, detail: `check threw: ${(e as Error)?.message ?? String(e)}` });
      }
    }
    return { ok: checks.every((c) => c.ok), checks };
  }

  /** HTTP handler: 200 or 503, with Kubernetes-style `[+]name detail` lines. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const which = url.pathname === '/livez' ? 'livez' : url.pathname === '/readyz' ? 'readyz' : null;
    if (!which) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /livez or /readyz\n');
      return;
    }
    const report = which === 'livez' ? this.liveness() : this.readiness();
    const verbose = url.searchParams.has('verbose') || !report.ok;
    const body = verbose
      ? report.checks.map((c) => `[${c.ok ? '+' : '-'}]${c.name} ${c.ok ? 'ok' : 'failed'}: ${c.detail}`).join('\n') + `\n${which} check ${report.ok ? 'passed' : 'failed'}\n`
      : 'ok\n';
    res.writeHead(report.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
