/**
 * BIRD 2 as a reference router in a namespace: writes a config into a private directory, starts
 * `bird` there (it daemonizes; we keep its PID), queries it with `birdc` over its own control
 * socket, and stops it by PID. PEERS.md has the pitfalls this works around: explicit filters on
 * eBGP channels, short connect timers.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, stopPid, type Netns } from '../../netns/netns.ts';
import { familyOf, instanceDir, killPid, readPid, startOrCleanUp, stopDaemon, type DaemonNeighbor, type DaemonRoute, type FamilyName, type LearnedRoute } from './common.ts';

export interface BirdOptions {
  ns: Netns;
  routerId: string;
  asn: number;
  neighbors: DaemonNeighbor[];
  /** Routes BIRD originates (static blackholes with BGP attributes). */
  routes?: DaemonRoute[];
  /** Start with graceful restart recovery (`bird -R`), as after a restart that kept forwarding. */
  recovery?: boolean;
  /** Extra configuration appended verbatim. */
  extra?: string;
}

function communityList(list: string[] | undefined, attr: string): string[] {
  return (list ?? []).map((c) => `${attr}.add((${c.split(':').join(',')}));`);
}

export function birdConfig(o: BirdOptions, dir: string): string {
  const lines: string[] = [`router id ${o.routerId};`, `log "${path.join(dir, 'bird.log')}" { info, remote, warning, error, auth, fatal, bug };`, 'protocol device { scan time 5; }'];
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const rs = (o.routes ?? []).filter((r) => familyOf(r.prefix) === fam);
    if (!rs.length) continue;
    lines.push(`protocol static static_${fam} {`, `  ${fam};`);
    for (const r of rs) {
      const set = [
        ...(r.med !== undefined ? [`bgp_med = ${r.med};`] : []),
        ...(r.localPref !== undefined ? [`bgp_local_pref = ${r.localPref};`] : []),
        ...communityList(r.communities, 'bgp_community'),
        ...communityList(r.largeCommunities, 'bgp_large_community'),
      ];
      lines.push(`  route ${r.prefix} blackhole${set.length ? ` { ${set.join(' ')} }` : ''};`);
    }
    lines.push('}');
  }
  for (const n of o.neighbors) {
    const families = n.families ?? ['ipv4', 'ipv6'];
    const hold = n.holdTime ?? 9;
    lines.push(
      `protocol bgp ${n.name} {`,
      `  local ${n.localAddress} as ${o.asn};`,
      `  neighbor ${n.address} as ${n.asn};`,
      // Neighbours share a link: single hop for iBGP too (BIRD makes iBGP multihop by default).
      '  direct;',
      `  hold time ${hold}; keepalive time ${Math.max(1, Math.floor(hold / 3))};`,
      // PEERS.md: the defaults wait minutes between attempts.
      '  connect delay time 1; connect retry time 3; error wait time 1,5;',
      ...(n.passive ? ['  passive on;'] : []),
      ...(n.password !== undefined ? [`  password "${n.password}";`] : []),
      ...(n.gracefulRestart ? [`  graceful restart on; graceful restart time ${n.restartTime ?? 60};`] : ['  graceful restart off;']),
      ...(n.routeReflectorClient ? ['  rr client;'] : []),
    );
    for (const fam of families) {
      const nh = fam === 'ipv6' && n.nextHopV6 ? `next hop address ${n.nextHopV6}; ` : fam === 'ipv4' && n.nextHopV4 ? `next hop address ${n.nextHopV4}; ` : '';
      // eBGP channels exchange nothing without explicit filters (PEERS.md).
      lines.push(`  ${fam} { import all; export all; gateway direct; ${nh}};`);
    }
    lines.push('}');
  }
  if (o.extra) lines.push(o.extra);
  return lines.join('\n') + '\n';
}

export class Bird {
  readonly ns: Netns;
  readonly dir: string;
  readonly options: BirdOptions;
  pid = 0;

  private constructor(ns: Netns, dir: string, options: BirdOptions) {
    this.ns = ns;
    this.dir = dir;
    this.options = options;
  }

  static async start(options: BirdOptions): Promise<Bird> {
    const dir = await instanceDir('bird');
    const b = new Bird(options.ns, dir, options);
    return startOrCleanUp(b, async () => {
      await writeFile(path.join(dir, 'bird.conf'), birdConfig(options, dir));
      await b.launch(!!options.recovery);
    });
  }

  get socket(): string {
    return path.join(this.dir, 'bird.ctl');
  }

  private async launch(recovery: boolean): Promise<void> {
    const pidFile = path.join(this.dir, 'bird.pid');
    await run('rm', ['-f', pidFile]);
    await this.ns.exec('bird', ['-c', path.join(this.dir, 'bird.conf'), '-s', this.socket, '-P', pidFile, ...(recovery ? ['-R'] : [])]);
    this.pid = await readPid(pidFile);
  }

  /** Runs a birdc command (the control socket works from any namespace). */
  async birdc(...cmd: string[]): Promise<string> {
    const { stdout } = await run('birdc', ['-s', this.socket, ...cmd]);
    return stdout;
  }

  /** The BGP state of a neighbour: "Established", "Active", "Connect", "Idle", ... */
  async sessionState(name: string): Promise<string> {
    const out = await this.birdc('show', 'protocols', name);
    const line = out.split('\n').find((l) => l.startsWith(name + ' '));
    if (!line) return 'unknown';
    const cols = line.trim().split(/\s+/);
    return cols[cols.length - 1];
  }

  /** Routes in BIRD's table for a family, as learned from BGP (or all, with `protocol` unset). */
  async routes(family: FamilyName, protocol?: string): Promise<LearnedRoute[]> {
    const out = await this.birdc('show', 'route', 'all', 'table', family === 'ipv4' ? 'master4' : 'master6', ...(protocol ? ['protocol', protocol] : []));
    return parseBirdRoutes(out);
  }

  async route(prefix: string, protocol?: string): Promise<LearnedRoute | undefined> {
    return (await this.routes(familyOf(prefix), protocol)).find((r) => r.prefix === prefix);
  }

  /** Freezes the daemon (SIGSTOP): it stops answering, and its peers' hold timers run out. */
  pause(): void {
    process.kill(this.pid, 'SIGSTOP');
  }

  resume(): void {
    process.kill(this.pid, 'SIGCONT');
  }

  /** Stops and starts again with the same config (`recovery`: graceful restart, `bird -R`). */
  async restart(opts: { recovery?: boolean; graceful?: boolean } = {}): Promise<void> {
    if (opts.graceful) await this.birdc('graceful', 'restart').catch(() => undefined);
    await stopPid(this.pid);
    await this.launch(!!opts.recovery);
  }

  /** Rewrites the config (e.g. other routes) for the next start or `birdc configure`. */
  async reconfigure(changes: Partial<Omit<BirdOptions, 'ns'>>): Promise<void> {
    Object.assign(this.options, changes);
    await writeFile(path.join(this.dir, 'bird.conf'), birdConfig(this.options, this.dir));
  }

  /**
   * Shuts down in graceful restart mode (`birdc graceful restart`): sessions close without
   * NOTIFICATION so that helpers keep the routes; start again with `startAgain({ recovery: true })`.
   */
  async gracefulStop(): Promise<void> {
    await this.birdc('graceful', 'restart').catch(() => undefined);
    await stopPid(this.pid, 10_000);
  }

  async startAgain(opts: { recovery?: boolean } = {}): Promise<void> {
    await this.launch(!!opts.recovery);
  }

  /** Kills it without a word (SIGKILL): TCP sessions drop without NOTIFICATION. */
  async kill(): Promise<void> {
    await killPid(this.pid);
  }

  async stop(): Promise<void> {
    await stopDaemon([this.pid], this.dir);
  }
}

/**
 * Parses `birdc show route all`. A route starts with a line holding the prefix (or, for another
 * route to the same prefix, an indented line with "unicast ["); its attributes follow, indented.
 * Only the first (best) route per prefix is kept.
 */
export function parseBirdRoutes(out: string): LearnedRoute[] {
  const routes = new Map<string, LearnedRoute>();
  let current: LearnedRoute | null = null;
  for (const raw of out.split('\n')) {
    if (!raw.trim() || raw.startsWith('BIRD ') || raw.startsWith('Table ')) continue;
    const head = /^(\S+)\s+\S+\s+\[/.exec(raw);
    if (head) {
      const prefix = head[1];
      current = routes.has(prefix) ? null : { prefix, asPath: [], communities: [], largeCommunities: [] };
      if (current) routes.set(prefix, current);
      continue;
    }
    if (/^ +\w+ +\[/.test(raw)) {
      current = null; // another route to the same prefix
      continue;
    }
    if (!current) continue;
    const m = /^\s+BGP\.(\w+):\s*(.*)$/.exec(raw);
    if (!m) continue;
    const [, key, value] = m;
    switch (key) {
      case 'next_hop':
        current.nextHop = value.split(/\s+/)[0];
        break;
      case 'as_path':
        current.asPath = value.split(/\s+/).filter(Boolean).map(Number).filter((n) => !Number.isNaN(n));
        break;
      case 'med':
        current.med = Number(value);
        break;
      case 'local_pref':
        current.localPref = Number(value);
        break;
      case 'community':
        current.communities = [...value.matchAll(/\((\d+),\s*(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}`);
        break;
      case 'large_community':
        current.largeCommunities = [...value.matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}:${x[3]}`);
        break;
    }
  }
  return [...routes.values()];
}
