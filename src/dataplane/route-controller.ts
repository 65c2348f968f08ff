/**
 * The route controller: holds the routes the node should have (desired state) and makes the
 * kernel's table match, in the manner of Calico Felix's route table.
 *
 * - Desired state is a map from canonical prefix to a target (pod veth, blackhole, next hops).
 * - `view` is what we believe the kernel holds in our table, both our routes and foreign ones,
 *   built from a full dump and kept current from our own acks and others' notifications.
 * - Changes mark prefixes dirty; dirty prefixes are diffed and applied in one pipelined batch
 *   per event-loop turn.
 * - A full dump and diff happens at start (routes already right are adopted, never flapped),
 *   every `resyncIntervalMs`, and after any kernel error or lost notification, because after
 *   those our view can no longer be trusted. Repeated failures back off exponentially.
 * Ownership rules live in ownership.ts; the kernel is an injected interface (kernel.ts).
 */
import { canonicalV4Key, parseAddress, parsePrefix, prefixContains, prefixKey, type Prefix } from './address.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Kernel, KernelEvent, KernelLink, KernelRoute, NextHop, OpResult, RouteOpKind, RouteOps } from './kernel.ts';
import { RouteType, Scope } from './netlink.ts';
import {
  DEFAULT_PRIORITY_V4,
  DEFAULT_PRIORITY_V6,
  DEFAULT_PROTOCOL,
  DEFAULT_TABLE,
  DEFAULT_WORKLOAD_PREFIX,
  isOurRoute,
  isWorkloadInterface,
  sameSlot,
  type Ownership,
} from './ownership.ts';

export type RouteTarget =
  /** A local pod: `<ip>/32 dev <veth> scope link`. */
  | { kind: 'workload'; ifname: string }
  /** One of the node's own pod blocks: unassigned addresses die here. */
  | { kind: 'blackhole' }
  /** A route chosen by the speaker. Without ECMP only the first next hop is used. */
  | { kind: 'learned'; nextHops: string[] };

export interface NodeSubnet {
  /** The node network, e.g. `198.51.100.0/24`: next hops inside it are reached `onlink`. */
  cidr: string;
  /** The node's interface on that network. */
  ifname: string;
}

export interface RouteControllerOptions {
  kernel: Kernel;
  clock?: Clock;
  /** Route protocol number marking our routes (default 116, see ownership.ts). */
  protocol?: number;
  /** Routing table (default 254, main). */
  table?: number;
  /** Host-side veth name prefix (default "tor"). */
  workloadPrefix?: string;
  /** Full resync period (default 90 s). */
  resyncIntervalMs?: number;
  /** Replace a foreign route occupying a slot we want, instead of reporting it (default false). */
  takeOverConflicts?: boolean;
  /** Install several next hops for a learned route (default false: the first only). */
  ecmp?: boolean;
  nodeSubnets?: NodeSubnet[];
  /** Delay of the first retry after a failure; doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Routes of ours through a workload interface seen for less than this long are left in place
   * even when not desired (default 10 s): the CNI plugin adds a pod's route, with our protocol,
   * before the pod's address reaches the datastore, and it must not be removed meanwhile. Felix
   * has the same grace period for the same race.
   */
  workloadRouteGraceMs?: number;
  /** Told about each new conflict (the agent logs and counts them). */
  onConflict?: (c: Conflict) => void;
  /** Told about each failure (kernel errors, lost notifications). */
  onFailure?: (f: Failure) => void;
}

export interface Conflict {
  prefix: string;
  /** The foreign route(s) in the slot we want. */
  foreign: KernelRoute[];
}

export interface Failure {
  code: string;
  message: string;
  prefix?: string;
}

export interface DataplaneCounters {
  /** Desired routes by kind. */
  routes: { workload: number; blackhole: number; learned: number };
  /** Desired routes the kernel holds exactly as wanted. */
  programmed: number;
  /** Workload routes waiting for their interface to exist and be up. */
  pendingInterface: number;
  /** Desired routes blocked by a foreign route. */
  conflicts: number;
  resyncs: number;
  resyncSecondsTotal: number;
  lastResyncSeconds: number;
  /** Kernel operations that failed, failed dumps and lost notification streams. */
  failures: number;
  /** Routes put right after someone else changed or removed them. */
  repairs: number;
  lostNotifications: number;
  operations: { add: number; replace: number; delete: number };
}

export class RouteConfigError extends Error {
  readonly code = 'TORTIE_BAD_ROUTE';
}

const WORKLOAD_SYSCTLS_V4: Array<[string, string]> = [
  ['net/ipv4/conf/%/proxy_arp', '1'],
  ['net/ipv4/neigh/%/proxy_delay', '0'],
  ['net/ipv4/conf/%/forwarding', '1'],
  ['net/ipv4/conf/%/route_localnet', '1'],
];
const WORKLOAD_SYSCTLS_V6: Array<[string, string]> = [
  ['net/ipv6/conf/%/proxy_ndp', '1'],
  ['net/ipv6/conf/%/accept_ra', '0'],
];
const HOST_SYSCTLS: Array<[string, string]> = [
  ['net/ipv4/ip_forward', '1'],
  ['net/ipv6/conf/all/forwarding', '1'],
];
const ENOENT = 2;
/** Operations per `kernel.apply` while a big change set is still being planned. */
const APPLY_SLICE = 4096;

interface Desired {
  /** Family and canonical text only, held flat: 100k retained byte arrays (or even one small
   * object each) cost more in garbage collection than they save. */
  family: Prefix['family'];
  key: string;
  target: RouteTarget;
  /** `resolve`'s answer, valid while `epoch` equals the controller's link epoch. */
  want?: KernelRoute | null;
  epoch: number;
}

/**
 * What the view holds for one prefix: nearly always a single route, kept bare (an array per
 * prefix would be 100k more objects to allocate and collect); an array only when several routes
 * share the prefix (different metrics, or someone else's beside ours).
 */
type ViewEntry = KernelRoute | KernelRoute[];
const NO_ROUTES: readonly KernelRoute[] = Object.freeze([]);
const routesIn = (e: ViewEntry | undefined): readonly KernelRoute[] => (e === undefined ? NO_ROUTES : Array.isArray(e) ? e : [e]);

const nhKey = (n: NextHop) => `${n.gateway ?? ''}|${n.ifindex}`;

/** True when the kernel's route is what we want. A wanted ifindex of 0 means "any". */
function matches(k: KernelRoute, want: KernelRoute): boolean {
  if (k.type !== want.type || k.scope !== want.scope || k.priority !== want.priority) return false;
  if (k.nexthops.length !== want.nexthops.length) return false;
  if (want.nexthops.length === 1) return nhMatches(k.nexthops[0], want.nexthops[0]);
  const a = [...k.nexthops].sort((x, y) => (nhKey(x) < nhKey(y) ? -1 : 1));
  const b = [...want.nexthops].sort((x, y) => (nhKey(x) < nhKey(y) ? -1 : 1));
  return a.every((n, i) => nhMatches(n, b[i]));
}

function sameTarget(a: RouteTarget, b: RouteTarget): boolean {
  if (a === b) return true;
  if (a.kind === 'workload') return b.kind === 'workload' && a.ifname === b.ifname;
  if (a.kind === 'blackhole') return b.kind === 'blackhole';
  return b.kind === 'learned' && a.nextHops.length === b.nextHops.length && a.nextHops.every((n, i) => n === b.nextHops[i]);
}

/** Field-by-field equality of two kernel routes (same table assumed). */
function sameRoute(a: KernelRoute, b: KernelRoute): boolean {
  if (a.dst !== b.dst || a.protocol !== b.protocol || a.type !== b.type || a.scope !== b.scope || a.priority !== b.priority || a.table !== b.table) return false;
  if (a.nexthops === b.nexthops) return true;
  if (a.nexthops.length !== b.nexthops.length) return false;
  for (let i = 0; i < a.nexthops.length; i++) {
    const x = a.nexthops[i];
    const y = b.nexthops[i];
    if (x.gateway !== y.gateway || x.ifindex !== y.ifindex || x.onlink !== y.onlink) return false;
  }
  return true;
}

function nhMatches(k: NextHop, w: NextHop): boolean {
  return k.gateway === w.gateway && k.onlink === w.onlink && (w.ifindex === 0 || k.ifindex === w.ifindex);
}

export class RouteController {
  private readonly kernel: Kernel;
  private readonly clock: Clock;
  private readonly own: Ownership;
  private readonly resyncIntervalMs: number;
  private readonly takeOver: boolean;
  private readonly ecmp: boolean;
  private readonly subnets: Array<{ prefix: Prefix; ifname: string }>;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly graceMs: number;
  private readonly opts: RouteControllerOptions;

  private desired = new Map<string, Desired>();
  private workloadTargets = new Map<string, RouteTarget>();
  /** Validated one-next-hop targets by the caller's next-hop text (see setLearned). */
  private learnedTargets = new Map<string, { family: Prefix['family']; target: RouteTarget }>();
  /** Resolved next hops by gateway, valid for `gatewayHopsEpoch` (the link epoch). */
  private gatewayHops = new Map<string, NextHop[] | null>();
  private gatewayHopsEpoch = -1;
  /**
   * Desired workload prefixes by interface name, to act on link changes. An array, appended to
   * and pruned lazily (a Set of 100k keys costs more to grow than the routes cost to plan):
   * `keys` may hold prefixes that have since moved or gone, which `markInterface` skips.
   */
  private byInterface = new Map<string, { keys: string[]; live: number }>();
  private view = new Map<string, ViewEntry>();
  private viewCount = 0;
  private links = new Map<string, KernelLink>();
  private linksByIndex = new Map<number, KernelLink>();
  private dirty = new Set<string>();
  /** Prefixes dirtied by someone else's change: an op on them is a repair. */
  private drifted = new Set<string>();
  private conflicts = new Map<string, KernelRoute[]>();
  private sysctlPending = new Set<string>();
  private configured = new Set<string>();
  /** When each workload interface (by index) was first seen, for the grace period. */
  private firstSeen = new Map<number, number>();
  /** Prefixes whose undesired routes wait for a grace period to end. */
  private graceWaiting = new Set<string>();
  /** Prefixes deleted from the desired state: their routes go now, grace or not. */
  private released = new Set<string>();

  private started = false;
  private stopped = false;
  private resyncDue = false;
  private resyncing = false;
  private firstResyncDone = false;
  /** Bumped whenever links change: cached resolutions of desired routes go stale. */
  private linkEpoch = 0;
  private buffered: KernelEvent[] = [];
  private running: Promise<void> | undefined;
  private kickPending = false;
  private timer: unknown;
  private failureStreak = 0;
  /** A failure-triggered resync is scheduled (as opposed to the periodic one). */
  private retryPending = false;
  private lostDuringResync = false;
  /** Losses kept coming while a retry waited: the storm goes on, so the next wait is longer. */
  private lostWhileWaiting = false;
  private stats = {
    resyncs: 0,
    resyncSecondsTotal: 0,
    lastResyncSeconds: 0,
    failures: 0,
    repairs: 0,
    lostNotifications: 0,
    operations: { add: 0, replace: 0, delete: 0 },
  };

  constructor(opts: RouteControllerOptions) {
    this.opts = opts;
    this.kernel = opts.kernel;
    this.clock = opts.clock ?? systemClock;
    this.own = {
      protocol: opts.protocol ?? DEFAULT_PROTOCOL,
      table: opts.table ?? DEFAULT_TABLE,
      workloadPrefix: opts.workloadPrefix ?? DEFAULT_WORKLOAD_PREFIX,
    };
    if (!Number.isInteger(this.own.protocol) || this.own.protocol < 5 || this.own.protocol > 255)
      throw new RouteConfigError(`protocol ${this.own.protocol}: must be an integer 5-255 (0-4 mean something to the kernel)`);
    if (!Number.isInteger(this.own.table) || this.own.table < 1 || this.own.table > 0xffffffff || this.own.table === 255 || this.own.table === 253)
      throw new RouteConfigError(`table ${this.own.table}: must be a routing table id other than local (255) and default (253)`);
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 90_000;
    this.takeOver = opts.takeOverConflicts ?? false;
    this.ecmp = opts.ecmp ?? false;
    this.minBackoffMs = opts.minBackoffMs ?? 200;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.graceMs = opts.workloadRouteGraceMs ?? 10_000;
    this.subnets = (opts.nodeSubnets ?? []).map((s) => {
      try {
        return { prefix: parsePrefix(s.cidr), ifname: s.ifname };
      } catch (e) {
        throw new RouteConfigError(`node subnet ${JSON.stringify(s.cidr)}: ${(e as Error).message}`, { cause: e });
      }
    });
  }

  get ownership(): Readonly<Ownership> {
    return this.own;
  }

  // ---- desired state ---------------------------------------------------------------------

  /** Sets the route for a prefix (replacing any earlier target). Throws RouteConfigError on bad input. */
  setRoute(prefix: string, target: RouteTarget): void {
    // A prefix we already hold is its own canonical key (a change of next hop needs no parsing);
    // a new canonical IPv4 prefix (the bulk of an install) is its own key too: one lookup either way.
    let old = this.desired.get(prefix);
    let p: { family: Prefix['family']; text: string };
    // From here on the key is the string object stored at install: every map below compares it by
    // identity, not by its characters (the speaker formats a new string for each event).
    if (old) p = { family: old.family, text: old.key };
    else {
      p = this.keyOf(prefix);
      if (p.text !== prefix) old = this.desired.get(p.text);
    }
    if (target.kind === 'workload') {
      if (typeof target.ifname !== 'string' || !isWorkloadInterface(this.own, target.ifname) || target.ifname.length > 15)
        throw new RouteConfigError(`route ${p.text}: interface ${JSON.stringify(target.ifname)} is not a workload interface (name must start with "${this.own.workloadPrefix}", at most 15 characters)`);
    } else if (target.kind === 'learned') {
      // Thousands of routes share a next hop: one seen before is known good (the prefix must
      // still be of its family), and its routes share one frozen target.
      const shared = Array.isArray(target.nextHops) && target.nextHops.length === 1 ? this.learnedTargets.get(target.nextHops[0]) : undefined;
      if (shared && shared.family === p.family) target = shared.target;
      else {
        if (!Array.isArray(target.nextHops) || target.nextHops.length === 0) throw new RouteConfigError(`route ${p.text}: a learned route needs at least one next hop`);
        for (const nh of target.nextHops) {
          let a;
          try {
            a = parseAddress(nh);
          } catch (e) {
            throw new RouteConfigError(`route ${p.text}: next hop: ${(e as Error).message}`, { cause: e });
          }
          if (a.family !== p.family) throw new RouteConfigError(`route ${p.text}: next hop ${nh} is not IPv${p.family}`);
        }
        const given = target.nextHops;
        target = { kind: 'learned', nextHops: [...new Set(given.map((n) => parsePrefix(n).text.split('/')[0]))] };
        if (given.length === 1) {
          if (this.learnedTargets.size > 4096) this.learnedTargets.clear();
          Object.freeze(target.nextHops);
          this.learnedTargets.set(given[0], { family: p.family, target: Object.freeze(target) });
        }
      }
    } else if (target.kind !== 'blackhole') {
      throw new RouteConfigError(`route ${p.text}: unknown target kind ${JSON.stringify((target as { kind: unknown }).kind)}`);
    }
    this.put(p, target, old);
  }

  /** The canonical key and family of a prefix; RouteConfigError when it is not one. */
  private keyOf(prefix: string): { family: Prefix['family']; text: string } {
    // Canonical IPv4 text (the bulk case) needs no parsing beyond finding its key.
    const v4 = typeof prefix === 'string' ? canonicalV4Key(prefix) : null;
    try {
      return v4 !== null ? { family: 4, text: v4 } : prefixKey(prefix);
    } catch (e) {
      throw new RouteConfigError((e as Error).message, { cause: e });
    }
  }

  /** Stores a validated target for a prefix. */
  private put(p: { family: Prefix['family']; text: string }, target: RouteTarget, old: Desired | undefined): void {
    if (old && sameTarget(old.target, target)) return; // nothing new: no work
    if (old) this.unindex(p.text, old);
    if (this.released.size) this.released.delete(p.text);
    this.desired.set(p.text, { family: p.family, key: p.text, target, want: undefined, epoch: -1 });
    if (target.kind === 'workload') {
      const name = target.ifname;
      let index = this.byInterface.get(name);
      if (!index) this.byInterface.set(name, (index = { keys: [], live: 0 }));
      index.keys.push(p.text);
      index.live++;
      if (index.keys.length > 2 * index.live + 16) index.keys = [...new Set(index.keys.filter((k) => this.onInterface(k, name)))];
    }
    this.markDirty(p.text);
  }

  private onInterface(key: string, name: string): boolean {
    const t = this.desired.get(key)?.target;
    return t !== undefined && t.kind === 'workload' && t.ifname === name;
  }

  deleteRoute(prefix: string): void {
    // A prefix we hold is its own canonical key: a withdrawal needs no parsing.
    let old = this.desired.get(prefix);
    if (!old) {
      const key = this.keyOf(prefix).text;
      if (key === prefix) return;
      old = this.desired.get(key);
      if (!old) return;
    }
    // The string stored at install (see setRoute): the maps below compare it by identity.
    const key = old.key;
    this.unindex(key, old);
    this.desired.delete(key);
    this.released.add(key);
    this.markDirty(key);
  }

  /** A pod address (no length: /32 or /128) reached through its host-side veth. */
  setWorkload(ip: string, ifname: string): void {
    // Pods on one interface share one (never mutated) target: 100k fewer retained objects.
    let t = this.workloadTargets.get(ifname);
    if (!t) {
      if (this.workloadTargets.size > 4096) this.workloadTargets.clear();
      this.workloadTargets.set(ifname, (t = Object.freeze({ kind: 'workload', ifname }) as RouteTarget));
    }
    this.setRoute(ip, t);
  }
  setBlackhole(block: string): void {
    this.setRoute(block, { kind: 'blackhole' });
  }
  setLearned(prefix: string, nextHops: string[]): void {
    this.setRoute(prefix, { kind: 'learned', nextHops });
  }

  private unindex(key: string, old: Desired): void {
    if (old.target.kind === 'workload') {
      const index = this.byInterface.get(old.target.ifname);
      if (index && --index.live === 0) this.byInterface.delete(old.target.ifname);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Subscribes to kernel changes, turns on forwarding, and does the first full resync. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.kernel.onEvent((e) => this.onKernelEvent(e));
    // Host forwarding goes out alongside the first dump rather than before it: one round trip less.
    const host = Promise.all(HOST_SYSCTLS.map(([path, value]) => this.sysctl(path, value)));
    this.resyncDue = true;
    await Promise.all([host, this.runLoop()]);
  }

  /** Stops timers and waits for work in progress. Routes stay in the kernel (a restart must not flap them). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Resolves when no work is pending (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.kickPending || this.running) {
      const p = this.running;
      if (p) {
        await p;
        if (this.running === p) this.running = undefined;
      } else await new Promise((r) => setImmediate(r));
    }
  }

  /** Asks for a full dump and diff now. */
  requestResync(): void {
    this.resyncDue = true;
    this.kick();
  }

  // ---- observability -----------------------------------------------------------------------

  /** Everything the agent exports as metrics. Walks the desired routes: call it per scrape, not per route. */
  get counters(): DataplaneCounters {
    const routes = { workload: 0, blackhole: 0, learned: 0 };
    let programmed = 0;
    let pendingInterface = 0;
    for (const [key, d] of this.desired) {
      routes[d.target.kind]++;
      const want = this.resolve(d);
      if (!want) {
        pendingInterface++;
        continue;
      }
      if (routesIn(this.view.get(key)).some((k) => isOurRoute(this.own, k) && matches(k, want))) programmed++;
    }
    return { routes, programmed, pendingInterface, conflicts: this.conflicts.size, ...this.stats, operations: { ...this.stats.operations } };
  }

  /** True once a full resync has completed without errors (for the agent's readiness). */
  get synced(): boolean {
    return this.firstResyncDone && this.failureStreak === 0;
  }

  /** The cheap part of `counters` (no walk over the desired routes). */
  get resyncStats(): { resyncs: number; lastResyncSeconds: number; resyncSecondsTotal: number } {
    return { resyncs: this.stats.resyncs, lastResyncSeconds: this.stats.lastResyncSeconds, resyncSecondsTotal: this.stats.resyncSecondsTotal };
  }

  currentConflicts(): Conflict[] {
    return [...this.conflicts].map(([prefix, foreign]) => ({ prefix, foreign }));
  }

  // ---- kernel events -----------------------------------------------------------------------

  private onKernelEvent(e: KernelEvent): void {
    if (this.stopped) return;
    if (this.resyncing) {
      this.buffered.push(e);
      if (e.kind === 'lost') this.noteLost(e.reason);
      return;
    }
    this.applyEvent(e);
    this.kick();
  }

  /**
   * Lost notifications: only a full dump can tell what changed. Not at once, though: losses come
   * in storms (someone adding 100k routes), and dumping during one only slows the storm down and
   * gets interrupted; so the resync waits, longer while the losses go on.
   */
  private noteLost(reason: string): void {
    this.stats.lostNotifications++;
    this.lostDuringResync ||= this.resyncing;
    this.fail({ code: 'TORTIE_NOTIFICATIONS_LOST', message: reason });
    if (this.retryPending) this.lostWhileWaiting = true;
    else this.scheduleRetry();
  }

  /** Folds one notification into the view and marks what it touches. */
  private applyEvent(e: KernelEvent): void {
    switch (e.kind) {
      case 'route-new':
      case 'route-del': {
        const r = e.route;
        if (r.table !== this.own.table) return;
        const list = routesIn(this.view.get(r.dst));
        let next: readonly KernelRoute[];
        if (e.kind === 'route-del') {
          const i = list.findIndex((k) => k.protocol === r.protocol && sameSlot(k, r) && k.type === r.type);
          next = i < 0 ? list : list.filter((_, j) => j !== i);
        } else {
          // A replace takes the slot, whoever held it; a plain add joins the list.
          next = [...(e.replace ? list.filter((k) => !sameSlot(k, r)) : list.filter((k) => !(sameSlot(k, r) && k.protocol === r.protocol))), r];
        }
        this.setView(r.dst, next);
        if (this.desired.has(r.dst) || isOurRoute(this.own, r)) {
          this.drifted.add(r.dst);
          this.dirty.add(r.dst);
        }
        return;
      }
      case 'link-new': {
        const l = e.link;
        const before = this.links.get(l.name);
        if (before && before.index !== l.index) this.forgetLink(before);
        const old = this.linksByIndex.get(l.index);
        if (old && old.name !== l.name) this.forgetLink(old);
        if (!old || old.name !== l.name) this.noteFirstSeen(l);
        this.links.set(l.name, l);
        this.linksByIndex.set(l.index, l);
        this.linkEpoch++;
        // IPv4 drops routes through a link that goes down, without notifications.
        // (A link we did not know yet carries no routes: no need to look.)
        if (!l.up && before?.up && before.index === l.index) this.dropRoutesVia(l.index, 4);
        if (isWorkloadInterface(this.own, l.name) && !this.configured.has(l.name)) this.sysctlPending.add(l.name);
        this.markInterface(l.name);
        return;
      }
      case 'link-del': {
        const known = this.linksByIndex.get(e.link.index);
        if (known) this.forgetLink(known);
        this.dropRoutesVia(e.link.index, 0);
        return;
      }
      case 'lost':
        this.noteLost(e.reason);
        return;
    }
  }

  private forgetLink(l: KernelLink): void {
    this.linkEpoch++;
    this.links.delete(l.name);
    this.linksByIndex.delete(l.index);
    this.configured.delete(l.name);
    this.sysctlPending.delete(l.name);
    this.firstSeen.delete(l.index);
    this.markInterface(l.name);
  }

  private noteFirstSeen(l: KernelLink): void {
    if (this.graceMs > 0 && isWorkloadInterface(this.own, l.name) && !this.firstSeen.has(l.index)) this.firstSeen.set(l.index, this.clock.now());
  }

  /**
   * An undesired route of ours through a workload interface still in its grace period: kept, and
   * the prefix looked at again when the period ends.
   */
  private inGrace(key: string, r: KernelRoute): boolean {
    if (this.firstSeen.size === 0 || r.nexthops.length !== 1) return false;
    const seen = this.firstSeen.get(r.nexthops[0].ifindex);
    if (seen === undefined) return false;
    const left = seen + this.graceMs - this.clock.now();
    if (left <= 0) return false;
    if (!this.graceWaiting.has(key)) {
      this.graceWaiting.add(key);
      this.clock.setTimeout(() => {
        this.graceWaiting.delete(key);
        this.markDirty(key);
      }, left + 1);
    }
    return true;
  }

  private markInterface(name: string): void {
    for (const key of this.byInterface.get(name)?.keys ?? []) if (this.onInterface(key, name)) this.markDirty(key);
    // A node interface carries the learned routes whose next hops are on its subnet (rare: walk them all).
    if (this.subnets.some((s) => s.ifname === name)) for (const d of this.desired.values()) if (d.target.kind === 'learned') this.markDirty(d.key);
  }

  /** The kernel deletes routes through a deleted (or, for IPv4, downed) link by itself. */
  private dropRoutesVia(index: number, family: 0 | 4): void {
    const via = (r: KernelRoute) => (!family || r.family === family) && r.nexthops.some((n) => n.ifindex === index);
    for (const [key, e] of this.view) {
      if (!Array.isArray(e) && !via(e)) continue;
      const list = routesIn(e);
      const keep = list.filter((r) => !via(r));
      if (keep.length !== list.length) {
        this.setView(key, keep);
        this.dirty.add(key);
      }
    }
  }

  /** Every change to the view goes through here, keeping `viewCount` (routes, not prefixes). */
  private setView(key: string, list: readonly KernelRoute[]): void {
    const old = this.view.get(key);
    this.viewCount += list.length - (old === undefined ? 0 : Array.isArray(old) ? old.length : 1);
    if (list.length === 1) this.view.set(key, list[0]);
    else if (list.length) this.view.set(key, [...list]);
    else this.view.delete(key);
  }

  // ---- the loop ----------------------------------------------------------------------------

  private markDirty(key: string): void {
    // Before start, the first resync looks at every desired route anyway.
    if (!this.started) return;
    this.dirty.add(key);
    this.kick();
  }

  /** Coalesces everything that happens in one event-loop turn into one batch. */
  private kick(): void {
    if (!this.started || this.stopped || this.kickPending) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      void this.runLoop();
    });
  }

  private runLoop(): Promise<void> {
    if (this.running) return this.running;
    const p = this.loop();
    this.running = p;
    // Cleared only after it settles (the body may finish before `running` is even assigned).
    void p.finally(() => {
      if (this.running === p) this.running = undefined;
    });
    return p;
  }

  private async loop(): Promise<void> {
    await Promise.resolve();
    while (!this.stopped) {
      if (this.resyncDue) {
        this.resyncDue = false;
        await this.guarded(() => this.resync());
      } else if (this.dirty.size || this.sysctlPending.size) {
        await this.guarded(() => this.applyDirty());
      } else break;
    }
  }

  private async guarded(work: () => Promise<number>): Promise<void> {
    try {
      const errors = await work();
      if (errors > 0) this.scheduleRetry();
    } catch (e) {
      const err = e as { code?: string; message: string };
      this.fail({ code: err.code ?? 'TORTIE_KERNEL_FAILED', message: err.message });
      this.scheduleRetry();
    }
  }

  private fail(f: Failure): void {
    this.stats.failures++;
    this.opts.onFailure?.(f);
  }

  /** After a failure: a full resync, sooner the first time, later on each repeat. */
  private scheduleRetry(): void {
    this.failureStreak++;
    const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** (this.failureStreak - 1));
    this.schedule(delay, true);
  }

  private schedule(delayMs: number, retry: boolean): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.retryPending = retry;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.retryPending = false;
      this.requestResync();
    }, delayMs);
  }

  private async resync(): Promise<number> {
    const t0 = this.clock.now();
    this.resyncing = true;
    this.lostDuringResync = false;
    const stormGoesOn = this.lostWhileWaiting;
    this.lostWhileWaiting = false;
    this.buffered = [];
    let links: KernelLink[];
    let routes: KernelRoute[];
    try {
      links = await this.kernel.dumpLinks();
      routes = await this.kernel.dumpRoutes(this.own.table);
    } finally {
      this.resyncing = false;
    }
    // Cached resolutions stay valid unless a link changed behind our back.
    const same = links.length === this.links.size && links.every((l) => {
      const k = this.links.get(l.name);
      return k !== undefined && k.index === l.index && k.up === l.up;
    });
    if (!same) {
      this.links.clear();
      this.linksByIndex.clear();
      this.linkEpoch++;
      const seen = new Set<number>();
      for (const l of links) {
        this.links.set(l.name, l);
        this.linksByIndex.set(l.index, l);
        // Links there before the first resync are old: the datastore was read before it.
        if (this.firstResyncDone) this.noteFirstSeen(l);
        seen.add(l.index);
      }
      for (const index of this.firstSeen.keys()) if (!seen.has(index)) this.firstSeen.delete(index);
    }
    for (const name of this.configured) if (!this.links.has(name)) this.configured.delete(name);
    for (const l of links) if (isWorkloadInterface(this.own, l.name) && !this.configured.has(l.name)) this.sysctlPending.add(l.name);
    const strays: string[] = [];
    // Usually the kernel holds exactly what we think: check that without building anything
    // (rebuilding a 100k-entry view costs more than the dump itself).
    // Same count and every dumped route known means the same set (the kernel holds no duplicates).
    if (!this.viewHolds(routes)) this.rebuildView(routes, strays);
    // Changes that raced with the dump: replaying them is harmless when the dump already has them.
    const events = this.buffered;
    this.buffered = [];
    for (const e of events) if (e.kind !== 'lost') this.applyEvent(e);
    this.drifted.clear();
    // Replayed events may have added strays too: those are dirty, and diffed with the rest.
    for (const key of this.dirty) if (!this.desired.has(key)) strays.push(key);
    this.dirty.clear();
    for (const key of this.conflicts.keys()) if (!this.desired.has(key)) strays.push(key);
    const everything = { desired: this.desired, extra: [...new Set(strays)] };
    // Anything a periodic resync has to change is drift that notifications did not show us.
    const initial = !this.firstResyncDone;
    const errors = await this.applyDirty(!initial, everything);
    this.firstResyncDone = true;
    const seconds = (this.clock.now() - t0) / 1000;
    this.stats.resyncs++;
    this.stats.resyncSecondsTotal += seconds;
    this.stats.lastResyncSeconds = seconds;
    if (this.lostDuringResync) return errors; // a retry is already scheduled
    if (errors === 0) {
      if (!stormGoesOn) this.failureStreak = 0;
      this.schedule(this.resyncIntervalMs, false);
    }
    return errors;
  }

  /** True when the view holds exactly `routes` (same count, and every one known). */
  private viewHolds(routes: KernelRoute[]): boolean {
    if (routes.length !== this.viewCount) return false;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      const known = this.view.get(r.dst);
      if (known === undefined || !(Array.isArray(known) ? known.some((k) => sameRoute(k, r)) : sameRoute(known, r))) return false;
    }
    return true;
  }

  /** Replaces the view by a dump, collecting our routes that are not desired into `strays`. */
  private rebuildView(routes: KernelRoute[], strays: string[]): void {
    this.view.clear();
    this.viewCount = routes.length;
    for (const r of routes) {
      const e = this.view.get(r.dst);
      if (e === undefined) this.view.set(r.dst, r);
      else if (Array.isArray(e)) e.push(r);
      else this.view.set(r.dst, [e, r]);
      if (isOurRoute(this.own, r) && !this.desired.has(r.dst)) strays.push(r.dst);
    }
  }

  /** Diffs the dirty prefixes against the view and applies the differences. Returns the error count. */
  private async applyDirty(countAsRepairs = false, which?: { desired: Map<string, Desired>; extra: string[] }): Promise<number> {
    let errors = 0;
    // Interface sysctls and routes do not depend on each other: both go out at once.
    let sysctls: Promise<number[]> | undefined;
    if (this.sysctlPending.size) {
      const names = [...this.sysctlPending];
      this.sysctlPending.clear();
      sysctls = Promise.all(names.map((name) => this.configureInterface(name)));
    }
    const keys = which ? which.extra : [...this.dirty];
    if (!which) this.dirty.clear();
    // Every operation's route has the prefix it was planned for as its `dst`: no separate keys.
    const ops: RouteOps = { kinds: [], routes: [] };
    // Big change sets go to the kernel in slices while the rest is still being diffed, so that
    // the kernel (on the other core) inserts routes while we plan: a 100k-route install is not
    // diff-everything-then-send. Each slice is one `apply`, sent in order.
    const sent: Array<Promise<OpResult[]>> = [];
    let flushed = 0;
    let channelFailed = false;
    const flush = (last: boolean) => {
      const n = ops.kinds.length;
      if (n === flushed || channelFailed) return;
      // A slice sent before planning ends is a copy: `ops` keeps growing while the kernel encodes it.
      const slice = this.kernel.apply(last && flushed === 0 ? ops : { kinds: ops.kinds.slice(flushed), routes: ops.routes.slice(flushed) });
      // Once the channel has failed, planning stops: the rejection becomes a full resync.
      slice.catch(() => (channelFailed = true));
      sent.push(slice);
      flushed = n;
    };
    // The loops live in plain methods, called once per slice: V8 optimizes those once and keeps
    // them, where a long loop inside this async function would be compiled anew on the stack
    // (OSR) at every batch, on worker threads whose CPU counts as much as ours.
    const everything = which?.desired.values();
    let k = 0;
    for (;;) {
      const more = everything !== undefined && this.planDesired(everything, ops, flushed + APPLY_SLICE);
      if (!more) k = this.planKeys(keys, k, ops, flushed + APPLY_SLICE);
      if (!more && k >= keys.length) break;
      flush(false);
      await new Promise((r) => setImmediate(r)); // let the slice be encoded and sent
      if (channelFailed) break;
    }
    flush(true);
    const settled = Promise.all(sent);
    // Every slice has a rejection handler before we wait on anything else.
    settled.catch(() => undefined);
    for (const n of (await sysctls) ?? []) errors += n;
    const slices = await settled;
    const { kinds, routes } = ops;
    if (kinds.length === 0) return errors;
    const repaired = new Set<string>();
    const counted = { add: 0, replace: 0, delete: 0 };
    for (let s = 0, i = 0; s < slices.length; i += slices[s].length, s++) errors += this.applied(kinds, routes, i, slices[s], countAsRepairs, repaired, counted);
    this.stats.operations.add += counted.add;
    this.stats.operations.replace += counted.replace;
    this.stats.operations.delete += counted.delete;
    if (this.drifted.size) for (const key of which ? routes.map((r) => r.dst) : keys) this.drifted.delete(key);
    this.stats.repairs += repaired.size;
    return errors;
  }

  /** Diffs desired routes until `ops` holds `until` operations (true) or the routes run out (false). */
  private planDesired(it: Iterator<Desired>, ops: RouteOps, until: number): boolean {
    while (ops.kinds.length < until) {
      const next = it.next();
      if (next.done) return false;
      this.diff(next.value.key, ops, next.value);
    }
    return true;
  }

  /** Diffs `keys` from index `k` until `ops` holds `until` operations; returns the next index. */
  private planKeys(keys: string[], k: number, ops: RouteOps, until: number): number {
    while (k < keys.length && ops.kinds.length < until) this.diff(keys[k++], ops);
    return k;
  }

  /** Folds the kernel's answers to one slice (operations `first`...) into the view; returns its errors. */
  private applied(kinds: RouteOpKind[], routes: KernelRoute[], first: number, slice: OpResult[], countAsRepairs: boolean, repaired: Set<string>, counted: Record<RouteOpKind, number>): number {
    let errors = 0;
    for (let j = 0, i = first; j < slice.length; j++, i++) {
      const res = slice[j];
      const op = kinds[i];
      const route = routes[i];
      const key = route.dst;
      if (res.errno) {
        errors++;
        this.fail({ code: `TORTIE_ROUTE_${op.toUpperCase()}_FAILED`, message: `${op} ${describe(route)}: errno ${res.errno}${res.message ? ` (${res.message})` : ''}`, prefix: key });
        continue;
      }
      counted[op]++;
      if (countAsRepairs || (this.drifted.size && this.drifted.has(key))) repaired.add(key);
      const e = this.view.get(key);
      if (e === undefined) {
        // (setView without its second lookup: the bulk case of an install)
        if (op !== 'delete') {
          this.view.set(key, route);
          this.viewCount++;
        }
      } else if (op === 'delete') {
        if (!Array.isArray(e) && sameSlot(e, route) && e.protocol === route.protocol) {
          // (setView without its second lookup: the bulk case of a withdrawal)
          this.view.delete(key);
          this.viewCount--;
        }
        else this.setView(key, routesIn(e).filter((k) => !(sameSlot(k, route) && k.protocol === route.protocol)));
      } else {
        this.setView(key, [...routesIn(e).filter((k) => !sameSlot(k, route)), route]);
      }
    }
    return errors;
  }

  /** What the kernel should hold for a desired route now, or null while its interface is missing. */
  private resolve(d: Desired): KernelRoute | null {
    if (d.epoch === this.linkEpoch && d.want !== undefined) return d.want;
    d.want = this.resolveNow(d);
    d.epoch = this.linkEpoch;
    return d.want;
  }

  /** Routes through one interface share one (never mutated) next-hop list. */
  private deviceHops = new Map<number, NextHop[]>();
  private deviceHop(ifindex: number): NextHop[] {
    let h = this.deviceHops.get(ifindex);
    if (!h) {
      if (this.deviceHops.size > 4096) this.deviceHops.clear();
      this.deviceHops.set(ifindex, (h = [{ ifindex, onlink: false }]));
    }
    return h;
  }

  /** One object literal per route, all of one shape (no spreads, no closure: 100k of them at install). */
  private route(d: Desired, type: number, scope: number, nexthops: NextHop[]): KernelRoute {
    return {
      family: d.family,
      dst: d.key,
      table: this.own.table,
      protocol: this.own.protocol,
      type,
      scope,
      priority: d.family === 4 ? DEFAULT_PRIORITY_V4 : DEFAULT_PRIORITY_V6,
      nexthops,
    };
  }

  private resolveNow(d: Desired): KernelRoute | null {
    const family = d.family;
    const t = d.target;
    switch (t.kind) {
      case 'workload': {
        const link = this.links.get(t.ifname);
        if (!link || !link.up) return null;
        // IPv6 has no route scopes: the kernel stores and reports every IPv6 route as universe.
        return this.route(d, RouteType.UNICAST, family === 4 ? Scope.LINK : Scope.UNIVERSE, this.deviceHop(link.index));
      }
      case 'blackhole':
        return this.route(d, RouteType.BLACKHOLE, Scope.UNIVERSE, []);
      case 'learned': {
        if (t.nextHops.length === 1 || !this.ecmp) {
          // One next hop: resolved once per gateway (and link change), shared by its routes.
          if (this.gatewayHopsEpoch !== this.linkEpoch) {
            this.gatewayHops.clear();
            this.gatewayHopsEpoch = this.linkEpoch;
          }
          const gw = t.nextHops[0];
          let hops = this.gatewayHops.get(gw);
          if (hops === undefined) {
            if (this.gatewayHops.size > 4096) this.gatewayHops.clear();
            this.gatewayHops.set(gw, (hops = this.resolveHops([gw])));
          }
          return hops && this.route(d, RouteType.UNICAST, Scope.UNIVERSE, hops);
        }
        const nexthops = this.resolveHops(t.nextHops);
        return nexthops && this.route(d, RouteType.UNICAST, Scope.UNIVERSE, nexthops);
      }
    }
  }

  /** Next hops for gateways: `onlink` through the node interface inside a node subnet; null while that interface is missing or down. */
  private resolveHops(gateways: readonly string[]): NextHop[] | null {
    const nexthops: NextHop[] = [];
    for (const gw of gateways) {
      const addr = parseAddress(gw).bytes;
      const subnet = this.subnets.find((s) => prefixContains(s.prefix, addr));
      if (subnet) {
        const link = this.links.get(subnet.ifname);
        if (!link || !link.up) return null;
        nexthops.push({ gateway: gw, ifindex: link.index, onlink: true });
      } else {
        nexthops.push({ gateway: gw, ifindex: 0, onlink: false });
      }
    }
    return nexthops;
  }

  /** Appends the operations that make one prefix right. The ownership rules decide what we may touch. */
  private diff(key: string, ops: RouteOps, d = this.desired.get(key)): void {
    const want = d ? this.resolve(d) : null;
    const e = this.view.get(key);
    // Fast paths for the bulk cases: a new route into an empty slot (install), and our one route
    // exactly right (steady state: almost every prefix of a resync).
    if (e === undefined) {
      if (this.released.size) this.released.delete(key);
      if (this.conflicts.size) this.conflicts.delete(key);
      if (want) push(ops, 'add', want);
      return;
    }
    if (want && !Array.isArray(e) && isOurRoute(this.own, e) && matches(e, want)) {
      if (this.conflicts.size) this.conflicts.delete(key);
      return;
    }
    const present = routesIn(e);
    if (!want) {
      if (this.conflicts.size) this.conflicts.delete(key);
      const released = this.released.size > 0 && this.released.delete(key);
      for (const r of present) if (isOurRoute(this.own, r) && (released || !this.inGrace(key, r))) push(ops, 'delete', r);
      return;
    }
    const ours = present.filter((r) => isOurRoute(this.own, r));
    const foreign = present.filter((r) => !isOurRoute(this.own, r) && r.table === this.own.table && sameSlot(r, want));
    if (foreign.length) {
      if (!this.takeOver) {
        if (!this.conflicts.has(key)) this.opts.onConflict?.({ prefix: key, foreign });
        this.conflicts.set(key, foreign);
        // Leave the slot to its owner, and drop any stale route of ours elsewhere on this prefix.
        for (const r of ours) if (!sameSlot(r, want)) push(ops, 'delete', r);
        return;
      }
      for (const r of foreign) push(ops, 'delete', r);
    }
    this.conflicts.delete(key);
    const good = ours.find((r) => matches(r, want));
    for (const r of ours) if (r !== good && !(sameSlot(r, want) && !good)) push(ops, 'delete', r);
    if (good) return;
    const inSlot = ours.some((r) => sameSlot(r, want));
    push(ops, inSlot ? 'replace' : 'add', want);
  }

  private async configureInterface(name: string): Promise<number> {
    if (!this.links.has(name)) return 0;
    let errors = 0;
    await Promise.all(
      [...WORKLOAD_SYSCTLS_V4, ...WORKLOAD_SYSCTLS_V6].map(async ([tmpl, value]) => {
        try {
          await this.kernel.writeSysctl(tmpl.replace('%', name), value);
        } catch (e) {
          const err = e as { errno?: number; code?: string; message: string };
          // ENOENT: the interface went away meanwhile, or IPv6 is off; neither is an error.
          if (err.errno === ENOENT) return;
          errors++;
          this.fail({ code: err.code ?? 'TORTIE_SYSCTL_FAILED', message: err.message });
        }
      }),
    );
    if (errors === 0) this.configured.add(name);
    return errors;
  }

  private async sysctl(path: string, value: string): Promise<void> {
    try {
      await this.kernel.writeSysctl(path, value);
    } catch (e) {
      const err = e as { errno?: number; code?: string; message: string };
      if (err.errno === ENOENT) return;
      this.fail({ code: err.code ?? 'TORTIE_SYSCTL_FAILED', message: err.message });
    }
  }
}

function push(ops: RouteOps, kind: RouteOpKind, route: KernelRoute): void {
  ops.kinds.push(kind);
  ops.routes.push(route);
}

function describe(r: KernelRoute): string {
  if (r.type === RouteType.BLACKHOLE) return `blackhole ${r.dst}`;
  const hops = r.nexthops.map((n) => (n.gateway ? `via ${n.gateway}${n.ifindex ? ` ifindex ${n.ifindex}` : ''}${n.onlink ? ' onlink' : ''}` : `ifindex ${n.ifindex}`));
  return `${r.dst} ${hops.join(' ')}`;
}
