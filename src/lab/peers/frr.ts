/**
 * FRR (zebra + bgpd) as a reference router in a namespace. FRR refuses to run as root, so the
 * daemons run as the `frr` user in a private directory it owns; every instance has its own zserv
 * and vty sockets, so several can run side by side. Queried with `vtysh --vty_socket DIR ... json`.
 * PEERS.md has the pitfalls: RFC 8212 policy on eBGP, network import-check.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, stopPid, type Netns } from '../../netns/netns.ts';
import { familyOf, instanceDir, killPid, readPid, startOrCleanUp, stopDaemon, type DaemonNeighbor, type DaemonRoute, type FamilyName, type LearnedRoute } from './common.ts';

/** Debian installs the daemons outside PATH. */
const FRR_ZEBRA = '/usr/lib/frr/zebra';
const FRR_BGPD = '/usr/lib/frr/bgpd';

export interface FrrOptions {
  ns: Netns;
  routerId: string;
  asn: number;
  neighbors: DaemonNeighbor[];
  routes?: DaemonRoute[];
  /** Extra lines inside `router bgp`. */
  extraBgp?: string[];
  /**
   * bgpd hands its best routes to zebra, which installs them in the namespace's kernel
   * (`proto bgp`). Off by default (`bgpd -n`): tests query the RIB and big tables stay cheap.
   */
  fib?: boolean;
}

export function frrBgpConfig(o: FrrOptions, dir: string): string {
  const L: string[] = ['frr defaults traditional', `hostname frr-${o.routerId}`, `log file ${path.join(dir, 'bgpd.log')}`, '!'];
  const gr = o.neighbors.some((n) => n.gracefulRestart);
  L.push(`router bgp ${o.asn}`, ` bgp router-id ${o.routerId}`, ' no bgp ebgp-requires-policy', ' no bgp network import-check', ' no bgp default ipv4-unicast');
  if (gr) L.push(' bgp graceful-restart', ` bgp graceful-restart restart-time ${o.neighbors.find((n) => n.gracefulRestart)?.restartTime ?? 60}`);
  for (const n of o.neighbors) {
    const hold = n.holdTime ?? 9;
    L.push(
      ` neighbor ${n.address} remote-as ${n.asn}`,
      ` neighbor ${n.address} update-source ${n.localAddress}`,
      ` neighbor ${n.address} timers ${Math.max(1, Math.floor(hold / 3))} ${hold}`,
      ` neighbor ${n.address} timers connect 2`,
      ` neighbor ${n.address} advertisement-interval 0`,
    );
    if (n.passive) L.push(` neighbor ${n.address} passive`);
    if (n.password !== undefined) L.push(` neighbor ${n.address} password ${n.password}`);
  }
  if (o.extraBgp) L.push(...o.extraBgp.map((l) => ` ${l}`));
  for (const fam of ['ipv4', 'ipv6'] as const) {
    L.push(` address-family ${fam} unicast`);
    (o.routes ?? []).forEach((r, i) => {
      if (familyOf(r.prefix) === fam) L.push(`  network ${r.prefix} route-map ORIG_${i}`);
    });
    for (const n of o.neighbors) {
      if (!(n.families ?? ['ipv4', 'ipv6']).includes(fam)) continue;
      L.push(`  neighbor ${n.address} activate`);
      if (n.routeReflectorClient) L.push(`  neighbor ${n.address} route-reflector-client`);
      if (fam === 'ipv6' && n.nextHopV6) L.push(`  neighbor ${n.address} route-map NH6_${n.name} out`);
    }
    L.push(' exit-address-family');
  }
  L.push('!');
  (o.routes ?? []).forEach((r, i) => {
    L.push(`route-map ORIG_${i} permit 10`);
    if (r.med !== undefined) L.push(` set metric ${r.med}`);
    if (r.localPref !== undefined) L.push(` set local-preference ${r.localPref}`);
    if (r.communities?.length) L.push(` set community ${r.communities.join(' ')}`);
    if (r.largeCommunities?.length) L.push(` set large-community ${r.largeCommunities.join(' ')}`);
    L.push('!');
  });
  for (const n of o.neighbors) {
    if (n.nextHopV6) L.push(`route-map NH6_${n.name} permit 10`, ` set ipv6 next-hop global ${n.nextHopV6}`, '!');
  }
  return L.join('\n') + '\n';
}

export class Frr {
  readonly ns: Netns;
  readonly dir: string;
  readonly options: FrrOptions;
  zebraPid = 0;
  bgpdPid = 0;

  private constructor(ns: Netns, dir: string, options: FrrOptions) {
    this.ns = ns;
    this.dir = dir;
    this.options = options;
  }

  static async start(options: FrrOptions): Promise<Frr> {
    const dir = await instanceDir('frr');
    const f = new Frr(options.ns, dir, options);
    await writeFile(path.join(dir, 'zebra.conf'), `hostname zebra\nlog file ${path.join(dir, 'zebra.log')}\n`);
    await writeFile(path.join(dir, 'bgpd.conf'), frrBgpConfig(options, dir));
    await writeFile(path.join(dir, 'vtysh.conf'), '');
    return startOrCleanUp(f, async () => {
      await run('chown', ['-R', 'frr:frr', dir]);
      await f.launchZebra();
      await f.launchBgpd();
    });
  }

  private common(name: string): string[] {
    return ['-d', '-u', 'frr', '-g', 'frr', '-P', '0', '-z', path.join(this.dir, 'zserv.api'), '--vty_socket', this.dir, '-f', path.join(this.dir, `${name}.conf`), '-i', path.join(this.dir, `${name}.pid`)];
  }

  private async launchZebra(): Promise<void> {
    await run('rm', ['-f', path.join(this.dir, 'zebra.pid')]);
    await this.ns.exec(FRR_ZEBRA, this.common('zebra'));
    this.zebraPid = await readPid(path.join(this.dir, 'zebra.pid'));
  }

  private async launchBgpd(): Promise<void> {
    await run('rm', ['-f', path.join(this.dir, 'bgpd.pid')]);
    // -n: do not install routes in the kernel (no_kernel); the RIB is what we query.
    await this.ns.exec(FRR_BGPD, [...this.common('bgpd'), ...(this.options.fib ? [] : ['-n'])]);
    this.bgpdPid = await readPid(path.join(this.dir, 'bgpd.pid'));
  }

  async vtysh(...commands: string[]): Promise<string> {
    const args = ['--vty_socket', this.dir, '--config_dir', this.dir];
    for (const c of commands) args.push('-c', c);
    const { stdout } = await this.ns.exec('vtysh', args);
    return stdout;
  }

  /** "Established", "Active", "Connect", "Idle", ... */
  async sessionState(address: string): Promise<string> {
    const out = JSON.parse(await this.vtysh(`show bgp neighbors ${address} json`)) as Record<string, { bgpState?: string }>;
    return out[address]?.bgpState ?? 'unknown';
  }

  /** Best routes of a family in bgpd's table (prefix, next hop, path; no communities: see `route`). */
  async routes(family: FamilyName): Promise<LearnedRoute[]> {
    const out = JSON.parse(await this.vtysh(`show bgp ${family} unicast json`)) as { routes?: Record<string, FrrPathSummary[]> };
    const list: LearnedRoute[] = [];
    for (const [prefix, paths] of Object.entries(out.routes ?? {})) {
      const best = paths.find((p) => p.bestpath) ?? paths[0];
      if (!best) continue;
      list.push({
        prefix,
        nextHop: best.nexthops?.find((n) => n.scope !== 'link-local')?.ip,
        asPath: (best.path ?? '').split(/\s+/).filter(Boolean).map(Number),
        med: best.metric,
        localPref: best.locPrf,
        communities: [],
        largeCommunities: [],
      });
    }
    return list;
  }

  /** Count of prefixes in the table (cheap, for big tables). */
  async count(family: FamilyName): Promise<number> {
    const out = JSON.parse(await this.vtysh(`show bgp ${family} unicast summary json`)) as { ribCount?: number } & Record<string, { ribCount?: number }>;
    return out.ribCount ?? out[`${family}Unicast`]?.ribCount ?? 0;
  }

  /** One prefix with all its attributes, or undefined. */
  async route(prefix: string): Promise<LearnedRoute | undefined> {
    const out = JSON.parse(await this.vtysh(`show bgp ${familyOf(prefix)} unicast ${prefix} json`)) as { prefix?: string; paths?: FrrPathDetail[] };
    if (out.prefix !== prefix || !out.paths?.length) return undefined;
    const p = out.paths.find((x) => x.bestpath?.overall) ?? out.paths[0];
    return {
      prefix,
      nextHop: p.nexthops?.find((n) => n.scope !== 'link-local')?.ip,
      asPath: (p.aspath?.string ?? '').split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number),
      med: p.metric ?? p.med,
      localPref: p.locPrf ?? p.localpref ?? p.localPref,
      communities: (p.community?.string ?? '').split(/\s+/).filter(Boolean),
      largeCommunities: (p.largeCommunity?.string ?? '').split(/\s+/).filter(Boolean),
    };
  }

  pause(): void {
    process.kill(this.bgpdPid, 'SIGSTOP');
  }

  resume(): void {
    process.kill(this.bgpdPid, 'SIGCONT');
  }

  /** Restarts bgpd (zebra keeps running). */
  async restart(): Promise<void> {
    await stopPid(this.bgpdPid);
    await this.launchBgpd();
  }

  async kill(): Promise<void> {
    await killPid(this.bgpdPid);
  }

  async startBgpd(): Promise<void> {
    await this.launchBgpd();
  }

  async stop(): Promise<void> {
    await stopDaemon([this.bgpdPid, this.zebraPid], this.dir);
  }
}

interface FrrPathSummary {
  bestpath?: boolean;
  path?: string;
  metric?: number;
  locPrf?: number;
  nexthops?: Array<{ ip: string; scope?: string }>;
}

interface FrrPathDetail {
  bestpath?: { overall?: boolean };
  aspath?: { string?: string };
  metric?: number;
  med?: number;
  localpref?: number;
  locPrf?: number;
  localPref?: number;
  community?: { string?: string };
  largeCommunity?: { string?: string };
  nexthops?: Array<{ ip: string; scope?: string }>;
}
