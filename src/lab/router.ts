/**
 * The lab's router: BIRD, FRR or GoBGP (the speaker's launchers in src/lab/peers) in its own
 * namespace, peered over eBGP with every node as a top-of-rack router would be, and forwarding
 * between the client's link and the node network.
 *
 * Two halves: `startRouter` returns a handle that can restart the daemon and make it announce
 * routes (tests), and `RouterView` answers "which sessions, which routes" from the state file
 * alone (so `npm run lab -- status` works from a later process).
 */
import { Bird, parseBirdRoutes } from './peers/bird.ts';
import type { DaemonNeighbor, DaemonRoute, FamilyName, LearnedRoute } from './peers/common.ts';
import { Frr } from './peers/frr.ts';
import { Gobgp } from './peers/gobgp.ts';
import { Netns, run } from '../netns/netns.ts';
import type { LabPlan } from './plan.ts';
import type { LabProcess, RouterState } from './state.ts';

export const GOBGP_API_PORT = 50051;

/** RFC 4271 8.2.2 state names. */
export const BGP_STATE_NAMES: readonly string[] = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];

export interface RouterSession {
  /** The node's address. */
  peer: string;
  /** RFC 4271 state name as the daemon reports it. */
  state: string;
}

/**
 * BGP protocols and their session state from `birdc show protocols`. Columns: name, proto, table,
 * state, since (one or two words, as BIRD's timeformat says), info; the BGP state is the first
 * RFC 4271 state name in the info, which may go on ("Active  Socket: Connection refused").
 */
export function parseBirdProtocols(out: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === 'BGP') byName.set(cols[0], cols.slice(4).find((c) => BGP_STATE_NAMES.includes(c)) ?? cols[3]);
  }
  return byName;
}

/** BIRD's protocol name for a node's session: `node1`, `node1_v6`. */
export function birdNeighborName(nodeIndex: number, v6: boolean): string {
  return `node${nodeIndex}${v6 ? '_v6' : ''}`;
}

export function routerNeighbors(plan: LabPlan): DaemonNeighbor[] {
  const r = plan.router;
  const hold = plan.options.holdTime;
  const list: DaemonNeighbor[] = [];
  for (const n of plan.nodes) {
    const common = { asn: plan.clusterAs, holdTime: hold, gracefulRestart: true, restartTime: 120 };
    list.push({ ...common, name: birdNeighborName(n.index, false), address: n.ipv4, localAddress: r.ipv4, families: ['ipv4'] });
    if (n.ipv6 && r.ipv6) list.push({ ...common, name: birdNeighborName(n.index, true), address: n.ipv6, localAddress: r.ipv6, families: ['ipv6'] });
  }
  return list;
}

/**
 * BIRD installs its BGP routes into the router's kernel, so that the client's packets find the
 * pods; the static routes it announces in tests (a default, an overlap) stay out of the kernel.
 */
const BIRD_KERNEL = ['protocol kernel kernel4 { ipv4 { export where source = RTS_BGP; }; }', 'protocol kernel kernel6 { ipv6 { export where source = RTS_BGP; }; }'].join('\n');

export interface RouterHandle {
  state: RouterState;
  processes(): LabProcess[];
  view: RouterView;
  /** Announces these routes to every node (replacing what was announced before). */
  announce(routes: string[]): Promise<void>;
  /** Stops and starts the daemon again with the same configuration. */
  restart(): Promise<void>;
}

export async function startRouter(plan: LabPlan, ns: Netns): Promise<RouterHandle> {
  const r = plan.router;
  const neighbors = routerNeighbors(plan);
  const base = { ns, routerId: r.routerId, asn: r.asNumber, neighbors };
  switch (r.kind) {
    case 'bird': {
      const bird = await Bird.start({ ...base, extra: BIRD_KERNEL });
      const state: RouterState = { kind: 'bird', netns: ns.name, dir: bird.dir };
      return {
        state,
        processes: () => [{ role: 'bird', pid: bird.pid, netns: ns.name, marker: 'bird' }],
        view: new RouterView(state, plan),
        announce: async (routes) => {
          await bird.reconfigure({ routes: routes.map((prefix): DaemonRoute => ({ prefix })) });
          await bird.birdc('configure');
        },
        restart: () => bird.restart(),
      };
    }
    case 'frr': {
      // zebra installs FRR's routes in the router's kernel, as BIRD's kernel protocol does.
      const frr = await Frr.start({ ...base, fib: true });
      const state: RouterState = { kind: 'frr', netns: ns.name, dir: frr.dir };
      let announced: string[] = [];
      return {
        state,
        processes: () => [
          { role: 'bgpd', pid: frr.bgpdPid, netns: ns.name, marker: 'bgpd' },
          { role: 'zebra', pid: frr.zebraPid, netns: ns.name, marker: 'zebra' },
        ],
        view: new RouterView(state, plan),
        announce: async (routes) => {
          const lines = ['configure terminal', `router bgp ${r.asNumber}`];
          for (const fam of ['ipv4', 'ipv6'] as const) {
            lines.push(`address-family ${fam} unicast`);
            for (const p of announced) if (p.includes(':') === (fam === 'ipv6')) lines.push(`no network ${p}`);
            for (const p of routes) if (p.includes(':') === (fam === 'ipv6')) lines.push(`network ${p}`);
            lines.push('exit-address-family');
          }
          await frr.vtysh(...lines);
          announced = routes;
        },
        restart: () => frr.restart(),
      };
    }
    case 'gobgp': {
      const gobgp = await Gobgp.start({ ...base, listenAddress: r.ipv4, apiPort: GOBGP_API_PORT });
      const state: RouterState = { kind: 'gobgp', netns: ns.name, dir: gobgp.dir, apiPort: GOBGP_API_PORT };
      let announced: string[] = [];
      return {
        state,
        processes: () => [{ role: 'gobgpd', pid: gobgp.pid, netns: ns.name, marker: 'gobgpd' }],
        view: new RouterView(state, plan),
        announce: async (routes) => {
          for (const p of announced) await gobgp.withdrawRoute(p);
          for (const p of routes) await gobgp.announce({ prefix: p, nextHop: p.includes(':') ? (r.ipv6 ?? undefined) : r.ipv4 });
          announced = routes;
          gobgp.options.routes = routes.map((prefix) => ({ prefix }));
        },
        restart: () => gobgp.restart(),
      };
    }
  }
}

interface FrrSummary {
  peers?: Record<string, { state?: string }>;
}

/** Reads the router's sessions and routes through its own CLI; needs only the state file. */
export class RouterView {
  readonly state: RouterState;
  private readonly plan: LabPlan;

  constructor(state: RouterState, plan: LabPlan) {
    this.state = state;
    this.plan = plan;
  }

  private birdc(...args: string[]): Promise<string> {
    return run('birdc', ['-s', `${this.state.dir}/bird.ctl`, ...args]).then((r) => r.stdout);
  }

  private vtysh(...commands: string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.state.netns, 'vtysh', '--vty_socket', this.state.dir, '--config_dir', this.state.dir, ...commands.flatMap((c) => ['-c', c])]).then((r) => r.stdout);
  }

  private gobgp(...args: string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.state.netns, 'gobgp', '-p', String(this.state.apiPort ?? GOBGP_API_PORT), ...args]).then((r) => r.stdout);
  }

  /** One session per node and family, with the daemon's state name. */
  async sessions(): Promise<RouterSession[]> {
    switch (this.state.kind) {
      case 'bird': {
        const byName = parseBirdProtocols(await this.birdc('show', 'protocols'));
        return this.plan.nodes.flatMap((n) => [
          { peer: n.ipv4, state: byName.get(birdNeighborName(n.index, false)) ?? 'unknown' },
          ...(n.ipv6 ? [{ peer: n.ipv6, state: byName.get(birdNeighborName(n.index, true)) ?? 'unknown' }] : []),
        ]);
      }
      case 'frr': {
        const out = JSON.parse(await this.vtysh('show bgp summary json')) as Record<string, FrrSummary>;
        const states = new Map<string, string>();
        for (const fam of Object.values(out)) for (const [addr, p] of Object.entries(fam.peers ?? {})) states.set(addr, p.state ?? 'unknown');
        return this.addresses().map((peer) => ({ peer, state: states.get(peer) ?? 'unknown' }));
      }
      case 'gobgp': {
        const list = JSON.parse(await this.gobgp('neighbor', '-j')) as Array<{ conf?: { neighbor_address?: string }; state?: { session_state?: number | string } }>;
        const names = ['unknown', 'Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];
        const states = new Map<string, string>();
        for (const n of list) {
          const s = n.state?.session_state;
          const name = typeof s === 'number' ? names[s] : typeof s === 'string' ? (names.find((x) => x.toLowerCase() === s.toLowerCase()) ?? s) : 'unknown';
          if (n.conf?.neighbor_address) states.set(n.conf.neighbor_address, name ?? 'unknown');
        }
        return this.addresses().map((peer) => ({ peer, state: states.get(peer) ?? 'unknown' }));
      }
    }
  }

  private addresses(): string[] {
    return this.plan.nodes.flatMap((n) => [n.ipv4, ...(n.ipv6 ? [n.ipv6] : [])]);
  }

  /** The router's best route per prefix, as its daemon sees them. */
  async routes(family: FamilyName): Promise<LearnedRoute[]> {
    switch (this.state.kind) {
      case 'bird': {
        return parseBirdRoutes(await this.birdc('show', 'route', 'all', 'table', family === 'ipv4' ? 'master4' : 'master6'));
      }
      case 'frr': {
        const out = JSON.parse(await this.vtysh(`show bgp ${family} unicast json`)) as { routes?: Record<string, Array<{ bestpath?: boolean; path?: string; nexthops?: Array<{ ip: string; scope?: string }> }>> };
        return Object.entries(out.routes ?? {}).map(([prefix, paths]) => {
          const best = paths.find((p) => p.bestpath) ?? paths[0];
          return { prefix, nextHop: best?.nexthops?.find((n) => n.scope !== 'link-local')?.ip, asPath: (best?.path ?? '').split(/\s+/).filter(Boolean).map(Number), communities: [], largeCommunities: [] };
        });
      }
      case 'gobgp': {
        const out = JSON.parse((await this.gobgp('global', 'rib', '-a', family, '-j')) || '{}') as Record<string, Array<{ best?: boolean; attrs?: Array<{ type: number; nexthop?: string; as_paths?: Array<{ asns?: number[] }> }> }>>;
        return Object.entries(out).map(([prefix, paths]) => {
          const best = paths.find((p) => p.best) ?? paths[0];
          const attrs = best?.attrs ?? [];
          return {
            prefix,
            nextHop: attrs.find((a) => a.type === 3 || a.type === 14)?.nexthop,
            asPath: attrs.find((a) => a.type === 2)?.as_paths?.flatMap((s) => s.asns ?? []) ?? [],
            communities: [],
            largeCommunities: [],
          };
        });
      }
    }
  }

  /** The daemon's own words: its session summary and its table, as a person would ask for them. */
  async describe(): Promise<string> {
    const fams: FamilyName[] = this.plan.options.ipv6 ? ['ipv4', 'ipv6'] : ['ipv4'];
    const parts: string[] = [];
    const show = async (title: string, text: Promise<string>) => parts.push(`$ ${title}\n${(await text.catch((e: Error) => `(failed: ${e.message})`)).trimEnd()}`);
    switch (this.state.kind) {
      case 'bird':
        await show('birdc show protocols', this.birdc('show', 'protocols'));
        await show('birdc show route', this.birdc('show', 'route'));
        break;
      case 'frr':
        await show('vtysh -c "show bgp summary"', this.vtysh('show bgp summary'));
        for (const f of fams) await show(`vtysh -c "show bgp ${f} unicast"`, this.vtysh(`show bgp ${f} unicast`));
        break;
      case 'gobgp':
        await show('gobgp neighbor', this.gobgp('neighbor'));
        for (const f of fams) await show(`gobgp global rib -a ${f}`, this.gobgp('global', 'rib', '-a', f));
        break;
    }
    return parts.join('\n\n') + '\n';
  }

  /**
   * GoBGP (no FIB at all) keeps its routes out of the kernel, unlike BIRD with its kernel protocol
   * and FRR with zebra. For the client's traffic to find the pods, the lab copies GoBGP's best
   * routes towards the nodes into the router's kernel, marked `proto bgp`, replacing the previous
   * copy. A no-op for BIRD and FRR.
   */
  async syncKernel(): Promise<number> {
    if (this.state.kind !== 'gobgp') return 0;
    const ns = await Netns.attach(this.state.netns);
    const nodeAddresses = new Set(this.addresses());
    let installed = 0;
    for (const fam of (this.plan.options.ipv6 ? ['ipv4', 'ipv6'] : ['ipv4']) as FamilyName[]) {
      const v6 = fam === 'ipv6' ? ['-6'] : [];
      const wanted = (await this.routes(fam)).filter((r) => r.nextHop && nodeAddresses.has(r.nextHop));
      await ns.ip(...v6, 'route', 'flush', 'proto', 'bgp').catch(() => undefined);
      for (const r of wanted) {
        await ns.ip(...v6, 'route', 'replace', r.prefix, 'via', r.nextHop!, 'proto', 'bgp');
        installed += 1;
      }
    }
    return installed;
  }
}
