/**
 * Running `tortie agent`: logging, the node's addresses, the health, metrics and control endpoints,
 * and the lifecycle. The speaker, dataplane and datastore plug in through `AgentParts`; until they
 * are wired, `unwiredParts` stands in: no peers, no routes, and a datastore that never syncs, so
 * the node honestly reports not ready.
 */
import { accessSync, constants } from 'node:fs';
import { selectNodeAddress, IprouteHost, type HostNetwork, type NodeAddressChoice, type NodeAddressHints } from './autodetect.ts';
import { configForLog, formatListen, type ListenAddress, type LoadedConfig } from './config.ts';
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
  /** Started components, in start order (stopped in reverse). */
  components?: Component[];
  /** Run on SIGHUP: re-read what can change at run time (the datastore relists, peers are re-diffed). */
  reload?: () => Promise<void> | void;
}

export interface NodeAddresses {
  ipv4: NodeAddressChoice;
  ipv6: NodeAddressChoice;
}

/** Chooses both families' addresses; errors name the setting or annotation to fix. */
export async function resolveNodeAddresses(loaded: LoadedConfig, hints: { ipv4?: NodeAddressHints; ipv6?: NodeAddressHints }, host: HostNetwork): Promise<NodeAddresses> {
  const ipv4 = await selectNodeAddress(4, hints.ipv4 ?? {}, loaded.config.ipAutodetectionMethod, host);
  const ipv6 = await selectNodeAddress(6, hints.ipv6 ?? {}, loaded.config.ip6AutodetectionMethod, host);
  return { ipv4, ipv6 };
}

/** Stand-ins until the speaker, dataplane and datastore are wired (issue 7's wiring phase). */
export function unwiredParts(node: NodeStatus): AgentParts {
  return {
    status: { node: () => node, peers: () => [] },
    routes: { routes: () => [] },
    kernel: { kernelRoutes: async () => [] },
    sync: { synced: () => false },
  };
}

export interface RunningAgent {
  log: Logger;
  lifecycle: Lifecycle;
  metrics: AgentMetrics;
  addresses: NodeAddresses;
  /** Where the endpoints really listen (the port is known even when 0 was asked for). */
  endpoints: { metrics: ListenAddress | null; health: ListenAddress | null; control: string };
}

export interface RunOptions {
  /** The host autodetection reads; the kernel via `ip` by default. */
  host?: HostNetwork;
  /** Builds the parts once the node is known; `unwiredParts` until the wiring lands. */
  parts?: (node: NodeStatus) => AgentParts;
  /** Tests: capture the log, and take signals and exit from an emitter instead of the process. */
  logStream?: LogOptions['stream'];
  proc?: ProcessLike;
  exit?: (code: number) => void;
}

/** Starts the agent's endpoints and signal handling; resolves once everything listens. */
export async function runAgent(loaded: LoadedConfig, opts: RunOptions = {}): Promise<RunningAgent> {
  const { config } = loaded;
  const log = createLogger({ level: config.logLevel, format: config.logFormat, stream: opts.logStream });
  const startedAt = Date.now();
  log.info({ version: VERSION, config: configForLog(loaded) }, 'tortie agent starting');

  if (config.datastore.type === 'file') {
    try {
      accessSync(config.datastore.path, constants.R_OK);
    } catch (e) {
      throw new AgentError(AgentErrorCode.ConfigInvalid, `--datastore (TORTIE_DATASTORE) file:${config.datastore.path}: cannot read the file (${(e as NodeJS.ErrnoException).code})`);
    }
  }

  const addresses = await resolveNodeAddresses(loaded, {}, opts.host ?? new IprouteHost());
  for (const choice of [addresses.ipv4, addresses.ipv6]) {
    log.info({ family: `ipv${choice.family}`, address: choice.address, interface: choice.interface, source: choice.source }, `node IPv${choice.family} address ${choice.address ?? 'none'}: ${choice.reason}`);
  }
  const node: NodeStatus = {
    name: config.nodeName,
    asNumber: null,
    routerId: addresses.ipv4.address,
    ipv4Address: addresses.ipv4.address,
    ipv6Address: addresses.ipv6.address,
    startedAt: new Date(startedAt).toISOString(),
    version: VERSION,
  };
  const parts = (opts.parts ?? unwiredParts)(node);
  if (!opts.parts) log.warn('speaker, dataplane and datastore are not wired into the agent yet: serving status, metrics and health only');

  const lifecycle = new Lifecycle({ log, shutdownTimeoutMs: config.shutdownTimeout, proc: opts.proc, exit: opts.exit });
  for (const c of parts.components ?? []) lifecycle.add(c);
  if (parts.reload) lifecycle.onReload('parts', parts.reload);

  const metrics = new AgentMetrics({ version: VERSION, node: config.nodeName, sources: { status: parts.status, locRib: parts.locRib, dataplane: parts.dataplane, datastore: parts.sync } });
  const health = new Health({ sync: parts.sync, peers: parts.status, startedAt });
  const control = new ControlServer(config.controlSocket, { status: parts.status, routes: parts.routes, kernel: parts.kernel }, { onError: (err) => log.error({ err }, 'control request failed') });

  const endpoints: RunningAgent['endpoints'] = { metrics: null, health: null, control: config.controlSocket };
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
  } catch (e) {
    // Undo what started, then report: a half-started agent must not linger.
    await lifecycle.shutdownWithoutExit();
    throw e;
  }
  lifecycle.installSignalHandlers();
  return { log, lifecycle, metrics, addresses, endpoints };
}
