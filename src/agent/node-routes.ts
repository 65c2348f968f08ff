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

const BLACKHOLE: RouteTarget = Object.freeze({ kind: 'blackhole' as const });

/** Same route for the controller: one shared object, or equal fields. */
function sameTarget(a: RouteTarget | undefined, b: RouteTarget | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.kind !== b.kind) return false;
  if (a.kind === 'workload') return a.ifname === (b as typeof a).ifname;
  if (a.kind === 'learned') {
    const x = a.nextHops;
    const y = (b as typeof a).nextHops;
    return x.length === y.length && x.every((h, i) => h === y[i]);
  }
  return true;
}

/** Distinct next hops we keep a shared target for; past it the cache starts over (never wrong, only slower). */
const MAX_SHARED_TARGETS = 4096;

export class NodeRoutes {
  private readonly dp: RouteController;
  private readonly log: NodeRoutesLogger;
  private local = new Map<string, RouteTarget>();
  /** The speaker's best next hop per prefix. */
  private readonly learned = new Map<string, string>();
  private adopted = new Map<string, RouteTarget>();
  /** What was last handed to the controller per prefix (to skip no-op updates). */
  private readonly applied = new Map<string, RouteTarget>();
  /**
   * One frozen target per next hop: the 100k routes a router announces share a handful, so an
   * update allocates nothing and the controller recognises a next hop it has checked before.
   */
  private readonly via = new Map<string, RouteTarget>();

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
      this.adopted.set(r.dst, gws.length === 1 ? this.viaTarget(gws[0]) : { kind: 'learned', nextHops: gws });
      this.update(r.dst);
    }
    return this.adopted.size;
  }

  /** Drops adopted routes nobody re-announced; returns how many went. */
  sweepAdopted(): number {
    const old = this.adopted;
    // Emptied first: `update` must no longer see them.
    this.adopted = new Map();
    let gone = 0;
    for (const p of old.keys()) {
      if (this.learned.has(p) || this.local.has(p)) continue;
      gone++;
      this.update(p);
    }
    return gone;
  }

  get adoptedCount(): number {
    return this.adopted.size;
  }

  /** Replaces the local routes (pods and blocks) with a new set, touching only what changed. */
  setLocal(workloads: Map<string, string>, blackholes: Set<string>): void {
    const next = new Map<string, RouteTarget>();
    for (const b of blackholes) next.set(b, BLACKHOLE);
    // A pod's /32 wins over the blackhole of its own block by being more specific; same prefix: the pod.
    for (const [prefix, ifname] of workloads) next.set(prefix, { kind: 'workload', ifname });
    const old = this.local;
    this.local = next;
    for (const p of old.keys()) if (!next.has(p)) this.update(p);
    for (const [p, t] of next) if (!sameTarget(old.get(p), t)) this.update(p);
  }

  /** The speaker's best route changed: `nextHop` null when the prefix is gone (or local). */
  setLearned(prefix: string, nextHop: string | null): void {
    if (nextHop === null) {
      if (!this.learned.delete(prefix)) return;
    } else {
      if (this.learned.get(prefix) === nextHop) return;
      this.learned.set(prefix, nextHop);
    }
    this.update(prefix);
  }

  private viaTarget(nextHop: string): RouteTarget {
    let t = this.via.get(nextHop);
    if (!t) {
      if (this.via.size >= MAX_SHARED_TARGETS) this.via.clear();
      t = Object.freeze({ kind: 'learned' as const, nextHops: Object.freeze([nextHop]) as string[] });
      this.via.set(nextHop, t);
    }
    return t;
  }

  private update(prefix: string): void {
    const nextHop = this.learned.get(prefix);
    const target = this.local.get(prefix) ?? (nextHop !== undefined ? this.viaTarget(nextHop) : this.adopted.get(prefix));
    if (sameTarget(this.applied.get(prefix), target)) return;
    try {
      if (target) {
        this.dp.setRoute(prefix, target);
        this.applied.set(prefix, target);
      } else {
        this.dp.deleteRoute(prefix);
        this.applied.delete(prefix);
      }
    } catch (e) {
      // A bad route (e.g. a next hop of the wrong family from a peer) is refused alone.
      this.log.warn({ prefix, err: (e as Error).message, code: (e as { code?: string }).code }, 'route refused by the dataplane');
    }
  }
}
