/**
 * GoBGP as a reference router in a namespace. `gobgpd` runs in the foreground (we keep the child
 * and its PID); its gRPC API listens on loopback inside the namespace, so the `gobgp` CLI must run
 * there too. Routes are originated through the CLI after start.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stopPid, type Netns } from '../../netns/netns.ts';
import { familyOf, instanceDir, isAlive, removeDir, type DaemonNeighbor, type DaemonRoute, type FamilyName, type LearnedRoute } from './common.ts';

export interface GobgpOptions {
  ns: Netns;
  routerId: string;
  asn: number;
  /** Address to listen on for BGP (default: the first neighbour's localAddress). */
  listenAddress?: string;
  neighbors: DaemonNeighbor[];
  routes?: DaemonRoute[];
  /** gRPC port inside the namespace (default 50051). */
  apiPort?: number;
}

export function gobgpConfig(o: GobgpOptions): string {
  const L: string[] = ['[global.config]', `  as = ${o.asn}`, `  router-id = "${o.routerId}"`];
  const listen = o.listenAddress ?? o.neighbors[0]?.localAddress;
  if (listen) L.push(`  local-address-list = ["${listen}"]`);
  for (const n of o.neighbors) {
    const hold = n.holdTime ?? 9;
    L.push(
      '',
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      '  [neighbors.timers.config]',
      '    connect-retry = 2',
      `    hold-time = ${hold}`,
      `    keepalive-interval = ${Math.max(1, Math.floor(hold / 3))}`,
      '  [neighbors.transport.config]',
      `    local-address = "${n.localAddress}"`,
      `    passive-mode = ${n.passive ? 'true' : 'false'}`,
    );
    if (n.gracefulRestart) L.push('  [neighbors.graceful-restart.config]', '    enabled = true', `    restart-time = ${n.restartTime ?? 60}`);
    if (n.routeReflectorClient) L.push('  [neighbors.route-reflector.config]', '    route-reflector-client = true', `    route-reflector-cluster-id = "${o.routerId}"`);
    for (const fam of n.families ?? ['ipv4', 'ipv6']) {
      L.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${fam}-unicast"`);
      if (n.gracefulRestart) L.push('    [neighbors.afi-safis.mp-graceful-restart.config]', '      enabled = true');
    }
  }
  return L.join('\n') + '\n';
}

interface GobgpPath {
  best?: boolean;
  attrs?: Array<Record<string, unknown> & { type: number }>;
}

export class Gobgp {
  readonly ns: Netns;
  readonly dir: string;
  readonly options: GobgpOptions;
  private child: ChildProcess | null = null;
  pid = 0;

  private constructor(ns: Netns, dir: string, options: GobgpOptions) {
    this.ns = ns;
    this.dir = dir;
    this.options = options;
  }

  static async start(options: GobgpOptions): Promise<Gobgp> {
    const dir = await instanceDir('gobgp');
    const g = new Gobgp(options.ns, dir, options);
    try {
      await writeFile(path.join(dir, 'gobgpd.toml'), gobgpConfig(options));
      await g.launch();
      for (const r of options.routes ?? []) await g.announce(r);
    } catch (e) {
      await g.stop();
      throw e;
    }
    return g;
  }

  get apiPort(): number {
    return this.options.apiPort ?? 50051;
  }

  private async launch(): Promise<void> {
    const child = this.ns.spawn('gobgpd', ['-f', path.join(this.dir, 'gobgpd.toml'), '--api-hosts', `127.0.0.1:${this.apiPort}`, '--pprof-disable', '-p'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.pid = child.pid!;
    // Ready when the API answers.
    const end = Date.now() + 15_000;
    for (;;) {
      try {
        await this.cli('global');
        return;
      } catch (e) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`gobgpd did not come up: ${(e as Error).message}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async cli(...args: string[]): Promise<string> {
    const { stdout } = await this.ns.exec('gobgp', ['-p', String(this.apiPort), ...args]);
    return stdout;
  }

  /** Originates a route from the global RIB. */
  async announce(r: DaemonRoute & { nextHop?: string }): Promise<void> {
    const fam = familyOf(r.prefix);
    const args = ['global', 'rib', 'add', '-a', fam, r.prefix, 'origin', 'igp'];
    if (r.med !== undefined) args.push('med', String(r.med));
    if (r.localPref !== undefined) args.push('local-pref', String(r.localPref));
    if (r.communities?.length) args.push('community', r.communities.join(','));
    if (r.largeCommunities?.length) args.push('large-community', r.largeCommunities.join(','));
    const nh = r.nextHop ?? (fam === 'ipv6' ? this.options.neighbors.find((n) => n.nextHopV6)?.nextHopV6 : undefined);
    if (nh) args.push('nexthop', nh);
    await this.cli(...args);
  }

  async withdrawRoute(prefix: string): Promise<void> {
    await this.cli('global', 'rib', 'del', '-a', familyOf(prefix), prefix);
  }

  /** "Established", "Active", "Connect", "Idle", ... */
  async sessionState(address: string): Promise<string> {
    const list = JSON.parse(await this.cli('neighbor', '-j')) as Array<{ conf?: { neighbor_address?: string }; state?: { session_state?: number | string } }>;
    const n = list.find((x) => x.conf?.neighbor_address === address);
    const s = n?.state?.session_state;
    const names = ['unknown', 'Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];
    if (typeof s === 'number') return names[s] ?? 'unknown';
    if (typeof s === 'string') return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase().replace('sent', 'Sent').replace('confirm', 'Confirm');
    return 'unknown';
  }

  /** Best routes of a family in the global RIB. */
  async routes(family: FamilyName): Promise<LearnedRoute[]> {
    const out = JSON.parse(await this.cli('global', 'rib', '-a', family, '-j')) as Record<string, GobgpPath[]>;
    const list: LearnedRoute[] = [];
    for (const [prefix, paths] of Object.entries(out)) {
      const p = paths.find((x) => x.best) ?? paths[0];
      if (p) list.push(parsePath(prefix, p));
    }
    return list;
  }

  async route(prefix: string): Promise<LearnedRoute | undefined> {
    return (await this.routes(familyOf(prefix))).find((r) => r.prefix === prefix);
  }

  pause(): void {
    process.kill(this.pid, 'SIGSTOP');
  }

  resume(): void {
    process.kill(this.pid, 'SIGCONT');
  }

  /** Stops and starts gobgpd again, re-announcing the configured routes. */
  async restart(): Promise<void> {
    await stopPid(this.pid);
    await this.launch();
    for (const r of this.options.routes ?? []) await this.announce(r);
  }

  async stop(): Promise<void> {
    if (this.pid && isAlive(this.pid)) {
      try {
        process.kill(this.pid, 'SIGCONT');
      } catch {
        // gone
      }
      await stopPid(this.pid);
    }
    await removeDir(this.dir);
  }
}

function parsePath(prefix: string, p: GobgpPath): LearnedRoute {
  const r: LearnedRoute = { prefix, asPath: [], communities: [], largeCommunities: [] };
  for (const a of p.attrs ?? []) {
    switch (a.type) {
      case 2:
        r.asPath = ((a.as_paths as Array<{ asns?: number[] }>) ?? []).flatMap((s) => s.asns ?? []);
        break;
      case 3:
        r.nextHop = a.nexthop as string;
        break;
      case 4:
        r.med = a.metric as number;
        break;
      case 5:
        r.localPref = a.value as number;
        break;
      case 8:
        r.communities = ((a.communities as number[]) ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`);
        break;
      case 14:
        r.nextHop = a.nexthop as string;
        break;
      case 32:
        // Field names vary between GoBGP versions (ASN/LocalData1/LocalData2 in 3.x): take the
        // three numbers in order.
        r.largeCommunities = ((a.value as Array<Record<string, number>>) ?? []).map((c) => Object.values(c).filter((v) => typeof v === 'number').join(':'));
        break;
    }
  }
  return r;
}
