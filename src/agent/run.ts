/**
 * Running `tortie agent`: logging, the node's addresses, the health, metrics and control endpoints,
 * and the lifecycle. The speaker, dataplane and datastore plug in through `AgentParts`, built by a
 * parts factory: `wiredParts` (wiring.ts) in `tortie agent`, in-memory parts in tests, and
 * `unwiredParts` (endpoints only, never ready) when nothing else is given.
 */
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { CniServer, type CniServerEvent } from '../cni/server.ts';
import { selectNodeAddress, IprouteHost, type HostNetwork, type NodeAddressChoice, type NodeAddressHints } from './autodetect.ts';
import { configForLog, formatListen, type AgentConfig, type ListenAddress, type LoadedConfig } from './config.ts';
import { ControlServer } from './control.ts';
import { AgentError, AgentErrorCode } from './errors.ts';
import { Health } from './health.ts';
import { listenHttp } from './http.ts';
import { Lifecycle, type Component, type ProcessLike } from './lifecycle.ts';
import { createLogger, type LogOptions, type Logger } from './log.ts';
import { AgentMetrics } from './metrics.ts';
import type { DataplaneStatsSource, KernelRoutesSource, LocRibSizeSource, NodeStatus, RoutesSource, StatusSource, SyncSource } from './sources.ts';
import { VERSION } from '../version.ts';

/** Everything the agent reads from its parts. */
export interface AgentParts {
  status: StatusSource;
  routes: RoutesSource;
  kernel: KernelRoutesSource;
  sync: SyncSource;
  locRib?: LocRibSizeSource;
  dataplane?: DataplaneStatsSource;
}

export interface NodeAddresses {
  ipv4: NodeAddressChoice;
  ipv6: NodeAddressChoice;
}

/** What the parts factory gets: the settings, the shared logger and metrics, and the hooks. */
export interface AgentContext {
  config: AgentConfig;
  log: Logger;
  metrics: AgentMetrics;
  /** ISO 8601 start of this process. */
  startedAt: string;
  /**
   * Chooses this node's addresses (annotation, else InternalIP, else autodetection), logs each
   * choice with its reason, and shows them in `tortie status` from then on.
   */
  resolveNodeAddresses(hints?: { ipv4?: NodeAddressHints; ipv6?: NodeAddressHints }): Promise<NodeAddresses>;
  /** Registers a started component; components stop in reverse order, before the endpoints. */
  onStop(component: Component): void;
  /** Registers something to run on SIGHUP. */
  onReload(name: string, fn: () => Promise<void> | void): void;
}

/** Builds and starts the parts; may take long (the datastore's first sync) while the endpoints answer. */
export type PartsFactory = (ctx: AgentContext) => Promise<AgentParts>;

/** Each CNI request at debug level; failures and refused connections as warnings. */
function logCniEvent(log: Logger, e: CniServerEvent): void {
  if (e.kind === 'done') {
    const fields = { command: e.command, containerId: e.containerId, exitCode: e.exitCode, ms: Math.round(e.ms) };
    if (e.exitCode === 0) log.debug(fields, `CNI ${e.command} done`);
    else log.warn({ ...fields, stderr: e.stderr.trim() }, `CNI ${e.command} failed`);
  } else if (e.kind === 'handed-back') {
    log.info({ reason: e.reason }, 'CNI request handed back to the front end');
  } else {
    log.warn({ reason: e.reason }, e.kind === 'refused' ? 'CNI connection refused' : 'CNI worker thread failed');
  }
}

/** Chooses both families' addresses; errors name the setting or annotation to fix. */
export async function resolveNodeAddresses(loaded: LoadedConfig, hints: { ipv4?: NodeAddressHints; ipv6?: NodeAddressHints }, host: HostNetwork): Promise<NodeAddresses> {
  const ipv4 = await selectNodeAddress(4, hints.ipv4 ?? {}, loaded.config.ipAutodetectionMethod, host);
  const ipv6 = await selectNodeAddress(6, hints.ipv6 ?? {}, loaded.config.ip6AutodetectionMethod, host);
  return { ipv4, ipv6 };
}

function nodeStatus(ctx: { config: AgentConfig; startedAt: string }, addresses: NodeAddresses | null): NodeStatus {
  return {
    name: ctx.config.nodeName,
    asNumber: null,
    routerId: addresses?.ipv4.address ?? null,
    ipv4Address: addresses?.ipv4.address ?? null,
    ipv6Address: addresses?.ipv6.address ?? null,
    startedAt: ctx.startedAt,
    version: VERSION,
  };
}

/** What the endpoints serve until the parts are attached: this node, no peers, not synced. */
function startingParts(node: () => NodeStatus): AgentParts {
  return {
    status: { node, peers: () => [] },
    routes: { routes: () => [] },
    kernel: { kernelRoutes: async () => [] },
    sync: { synced: () => false },
  };
}

/**
 * Endpoints only: the node's addresses by autodetection alone, no peers, no routes, and a
 * datastore that never syncs, so the node honestly reports not ready. For embedding and tests;
 * `tortie agent` runs `wiredParts`.
 */
export const unwiredParts: PartsFactory = async (ctx) => {
  const addresses = await ctx.resolveNodeAddresses();
  ctx.log.warn('speaker, dataplane and datastore are not wired into the agent yet: serving status, metrics and health only');
  return startingParts(() => nodeStatus(ctx, addresses));
};

export interface RunningAgent {
  log: Logger;
  lifecycle: Lifecycle;
  metrics: AgentMetrics;
  /** null until the parts factory resolved them. */
  addresses: NodeAddresses | null;
  /** Where the endpoints really listen (the port is known even when 0 was asked for). */
  endpoints: { metrics: ListenAddress | null; health: ListenAddress | null; control: string };
}

export interface RunOptions {
  /** The host autodetection reads; the kernel via `ip` by default. */
  host?: HostNetwork;
  /** Builds the parts; `unwiredParts` when absent (`tortie agent` passes `wiredParts`). */
  parts?: PartsFactory;
  /** Tests: capture the log, and take signals and exit from an emitter instead of the process. */
  logStream?: LogOptions['stream'];
  proc?: ProcessLike;
  exit?: (code: number) => void;
}

/**
 * Starts the agent: first the health, metrics and control endpoints (so that probes and
 * `tortie status` answer while the datastore syncs), then the parts, which the endpoints serve
 * from the moment the factory returns. Resolves once the parts are attached; a failure on the way
 * stops whatever had started and rejects.
 */
export async function runAgent(loaded: LoadedConfig, opts: RunOptions = {}): Promise<RunningAgent> {
  const { config } = loaded;
  const log = createLogger({ level: config.logLevel, format: config.logFormat, stream: opts.logStream });
  const startedAtMs = Date.now();
  const startedAt = new Date(startedAtMs).toISOString();
  log.info({ version: VERSION, config: configForLog(loaded) }, 'tortie agent starting');

  if (config.datastore.type === 'file') {
    try {
      accessSync(config.datastore.path, constants.R_OK);
    } catch (e) {
      throw new AgentError(AgentErrorCode.ConfigInvalid, `--datastore (TORTIE_DATASTORE) file:${config.datastore.path}: cannot read the file (${(e as NodeJS.ErrnoException).code})`);
    }
  }

  let addresses: NodeAddresses | null = null;
  // The endpoints read the parts through this one variable, swapped when the factory returns.
  let parts = startingParts(() => nodeStatus({ config, startedAt }, addresses));
  const status: StatusSource = { node: () => parts.status.node(), peers: () => parts.status.peers() };
  const sync: SyncSource = { synced: () => parts.sync.synced() };

  const lifecycle = new Lifecycle({ log, shutdownTimeoutMs: config.shutdownTimeout, proc: opts.proc, exit: opts.exit });
  const metrics = new AgentMetrics({ version: VERSION, node: config.nodeName, sources: { status, datastore: sync } });
  const health = new Health({ sync, peers: status, startedAt: startedAtMs });
  const control = new ControlServer(
    config.controlSocket,
    { status, routes: { routes: (q) => parts.routes.routes(q) }, kernel: { kernelRoutes: (p) => parts.kernel.kernelRoutes(p) }, readiness: () => health.readiness() },
    { onError: (err) => log.error({ err }, 'control request failed') },
  );

  const endpoints: RunningAgent['endpoints'] = { metrics: null, health: null, control: config.controlSocket };
  const host = opts.host ?? new IprouteHost();
  try {
    if (config.healthListen) {
      const ep = await listenHttp('health', config.healthListen, health.handle);
      lifecycle.add({ name: 'health endpoint', stop: ep.stop });
      endpoints.health = ep.address;
      log.info({ listen: formatListen(ep.address) }, 'health endpoint listening (/livez, /readyz)');
    }
    if (config.metricsListen) {
      const ep = await listenHttp('metrics', config.metricsListen, metrics.handle);
      lifecycle.add({ name: 'metrics endpoint', stop: ep.stop });
      endpoints.metrics = ep.address;
      log.info({ listen: formatListen(ep.address) }, 'metrics endpoint listening (/metrics)');
    }
    await control.start();
    lifecycle.add({ name: 'control socket', stop: () => control.stop() });
    log.info({ path: config.controlSocket }, 'control socket listening');
    if (config.cniSocket !== 'off') {
      const path = config.cniSocket ?? join(dirname(config.controlSocket), 'cni.sock');
      const cni = new CniServer(path, { onEvent: (e) => logCniEvent(log, e) });
      await cni.start();
      lifecycle.add({ name: 'CNI socket', stop: () => cni.stop() });
      log.info({ path }, 'CNI server listening');
    }
    // SIGTERM while the parts start (a long first sync) must still stop cleanly.
    lifecycle.installSignalHandlers();

    const ctx: AgentContext = {
      config,
      log,
      metrics,
      startedAt,
      resolveNodeAddresses: async (hints = {}) => {
        const chosen = await resolveNodeAddresses(loaded, hints, host);
        for (const c of [chosen.ipv4, chosen.ipv6]) {
          log.info({ family: `ipv${c.family}`, address: c.address, interface: c.interface, source: c.source }, `node IPv${c.family} address ${c.address ?? 'none'}: ${c.reason}`);
        }
        addresses = chosen;
        return chosen;
      },
      onStop: (c) => lifecycle.add(c),
      onReload: (name, fn) => lifecycle.onReload(name, fn),
    };
    parts = await (opts.parts ?? unwiredParts)(ctx);
    metrics.setSources({ locRib: parts.locRib, dataplane: parts.dataplane });
  } catch (e) {
    // Undo what started, then report: a half-started agent must not linger.
    lifecycle.uninstallSignalHandlers();
    await lifecycle.shutdownWithoutExit();
    throw e;
  }
  return { log, lifecycle, metrics, addresses, endpoints };
}
