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
  /**
   * One frozen target per next hop: the 100k routes a router announces share a handful, so an
   * update allocates nothing and the controller recognises a next hop it has checked before.
   */
  private readonly via = new Map<string, RouteTarget>();

  // No map of what was handed to the controller: the target before a change is composed from the
  // sources as they were, so a learned route costs one map (`learned`) here, not two. At 100k
  // routes each string-keyed map is a measurable share of the agent's CPU (bench `agent`).

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
      const before = this.target(r.dst);
      this.adopted.set(r.dst, gws.length === 1 ? this.viaTarget(gws[0]) : { kind: 'learned', nextHops: gws });
      this.apply(r.dst, before, this.target(r.dst));
    }
    return this.adopted.size;
  }

  /** Drops adopted routes nobody re-announced; returns how many went. */
  sweepAdopted(): number {
    const old = this.adopted;
    // Emptied first: `target` must no longer see them.
    this.adopted = new Map();
    let gone = 0;
    for (const [p, t] of old) {
      if (this.learned.has(p) || this.local.has(p)) continue;
      gone++;
      this.apply(p, t, undefined);
    }
    return gone;
  }

  /**
   * Holds every learned route as adopted, the kernel untouched: used when the sessions restart
   * (the speaker is replaced, or a peer ended its sessions for a configuration change), so that
   * forwarding continues until the routes are learned again and `sweepAdopted` runs.
   */
  holdLearned(): number {
    // Learned and adopted give the same target, so the kernel sees no change.
    for (const [p, nextHop] of this.learned) this.adopted.set(p, this.viaTarget(nextHop));
    this.learned.clear();
    return this.adopted.size;
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
    for (const [p, t] of old) if (!next.has(p)) this.apply(p, t, this.target(p));
    for (const [p, t] of next) {
      const before = old.get(p);
      if (!sameTarget(before, t)) this.apply(p, before ?? this.remote(p), t);
    }
  }

  /** The speaker's best route changed: `nextHop` null when the prefix is gone (or local). */
  setLearned(prefix: string, nextHop: string | null): void {
    const was = this.learned.get(prefix);
    if (nextHop === null) {
      if (was === undefined) return;
      this.learned.delete(prefix);
    } else {
      if (was === nextHop) return;
      this.learned.set(prefix, nextHop);
    }
    // A local route of the same prefix hides the learned one: nothing changes in the kernel.
    if (this.local.size !== 0 && this.local.has(prefix)) return;
    const adopted = this.adopted.size !== 0 ? this.adopted.get(prefix) : undefined;
    this.apply(prefix, was !== undefined ? this.viaTarget(was) : adopted, nextHop !== null ? this.viaTarget(nextHop) : adopted);
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

  /** The route the sources give a prefix now: local over learned over adopted. */
  private target(prefix: string): RouteTarget | undefined {
    return this.local.get(prefix) ?? this.remote(prefix);
  }

  /** Learned over adopted, ignoring local routes. */
  private remote(prefix: string): RouteTarget | undefined {
    const nextHop = this.learned.get(prefix);
    return nextHop !== undefined ? this.viaTarget(nextHop) : this.adopted.get(prefix);
  }

  /** Hands a prefix's change to the controller, if it is one. */
  private apply(prefix: string, before: RouteTarget | undefined, target: RouteTarget | undefined): void {
    if (sameTarget(before, target)) return;
    try {
      if (target) this.dp.setRoute(prefix, target);
      else this.dp.deleteRoute(prefix);
    } catch (e) {
      // A bad route (e.g. a next hop of the wrong family from a peer) is refused alone.
      this.log.warn({ prefix, err: (e as Error).message, code: (e as { code?: string }).code }, 'route refused by the dataplane');
    }
  }
}
