/**
 * The node's kernel routes as the agent composes them for the route controller, from three
 * sources with a fixed precedence:
 *
 *   local (pods' /32 to their veth, blackholes for the node's blocks)  >  learned (the speaker's
 *   best routes, via their next hop)  >  adopted (our routes found in the kernel at start)
 *
 * Adopted routes make a restart flap-free: the kernel keeps our learned routes while the agent is
 * down; at start they are taken as desired until the speaker has heard every peer's End-of-RIB
 * (or a deadline passes), so the first resync adopts them instead of deleting them; what no peer
 * re-announced is then removed. This is RFC 4724's "forwarding state preserved" on the kernel side.
 */
import type { RouteController, RouteTarget } from '../dataplane/index.ts';
import type { KernelRoute as DpKernelRoute } from '../dataplane/index.ts';
import { RouteType } from '../dataplane/netlink.ts';

export interface NodeRoutesLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export class NodeRoutes {
  private readonly dp: RouteController;
  private readonly log: NodeRoutesLogger;
  private local = new Map<string, RouteTarget>();
  private readonly learned = new Map<string, string[]>();
  private adopted = new Map<string, string[]>();
  /** What was last handed to the controller per prefix (to skip no-op updates). */
  private readonly applied = new Map<string, string>();

  constructor(dp: RouteController, log: NodeRoutesLogger) {
    this.dp = dp;
    this.log = log;
  }

  /**
   * Takes our learned routes found in the kernel (unicast via a gateway, our protocol) as desired
   * until `sweepAdopted`. Local routes need no adoption: the datastore describes them before start.
   */
  adopt(kernelRoutes: DpKernelRoute[]): number {
    for (const r of kernelRoutes) {
      if (r.type !== RouteType.UNICAST) continue;
      const gws = r.nexthops.map((n) => n.gateway).filter((g): g is string => !!g);
      if (gws.length === 0) continue;
      this.adopted.set(r.dst, gws);
      this.update(r.dst);
    }
    return this.adopted.size;
  }

  /** Drops adopted routes nobody re-announced; returns how many went. */
  sweepAdopted(): number {
    const gone = [...this.adopted.keys()].filter((p) => !this.learned.has(p) && !this.local.has(p));
    this.adopted = new Map();
    for (const p of gone) this.update(p);
    return gone.length;
  }

  get adoptedCount(): number {
    return this.adopted.size;
  }

  /** Replaces the local routes (pods and blocks) with a new set, touching only what changed. */
  setLocal(workloads: Map<string, string>, blackholes: Set<string>): void {
    const next = new Map<string, RouteTarget>();
    for (const b of blackholes) next.set(b, { kind: 'blackhole' });
    // A pod's /32 wins over the blackhole of its own block by being more specific; same prefix: the pod.
    for (const [prefix, ifname] of workloads) next.set(prefix, { kind: 'workload', ifname });
    const old = this.local;
    this.local = next;
    for (const p of old.keys()) if (!next.has(p)) this.update(p);
    for (const [p, t] of next) if (JSON.stringify(old.get(p)) !== JSON.stringify(t)) this.update(p);
  }

  /** The speaker's best route changed: `nextHop` null when the prefix is gone (or local). */
  setLearned(prefix: string, nextHop: string | null): void {
    if (nextHop === null) {
      if (!this.learned.delete(prefix)) return;
    } else {
      this.learned.set(prefix, [nextHop]);
    }
    this.update(prefix);
  }

  private update(prefix: string): void {
    const target: RouteTarget | null = this.local.get(prefix) ?? (this.learned.has(prefix) ? { kind: 'learned', nextHops: this.learned.get(prefix)! } : this.adopted.has(prefix) ? { kind: 'learned', nextHops: this.adopted.get(prefix)! } : null);
    const sig = target ? JSON.stringify(target) : '';
    if ((this.applied.get(prefix) ?? '') === sig) return;
    try {
      if (target) this.dp.setRoute(prefix, target);
      else this.dp.deleteRoute(prefix);
      if (sig) this.applied.set(prefix, sig);
      else this.applied.delete(prefix);
    } catch (e) {
      // A bad route (e.g. a next hop of the wrong family from a peer) is refused alone.
      this.log.warn({ prefix, err: (e as Error).message, code: (e as { code?: string }).code }, 'route refused by the dataplane');
    }
  }
}
