/**
 * The RIBs of RFC 4271 3.2: Adj-RIB-In per peer, the Loc-RIB, and Adj-RIB-Out per peer. Knows wire
 * types, never sockets: a session hands it decoded prefixes and attributes, and pulls what its peer
 * still has to be sent with `takePending`.
 *
 * Memory: a route is one Map entry per table, keyed by a compact key (prefix.ts), whose value is a
 * shared, interned attribute set (attrs.ts). The Loc-RIB stores only which source won; the winning
 * attributes are looked up in that source's Adj-RIB-In.
 *
 * Backpressure: what a peer still has to be sent is a set of keys (plus a walk over the Loc-RIB
 * right after the session comes up), never a queue of messages. Whatever happened to a prefix in
 * the meantime, the peer gets its latest state once, when its session is ready to write.
 */
import { Afi } from '../wire/constants.ts';
import type { PrefixList } from '../wire/types.ts';
import { AttrPool, asPathContains, prependAs, type AttrInput, type AttrSet } from './attrs.ts';
import { selectBest, DEFAULT_LOCAL_PREF, type Candidate } from './decision.ts';
import { ACCEPT_ALL, compilePolicy, type CompiledPolicy, type Policy } from './policy.ts';
import { keyAfi, keyContains, listKey, parsePrefix, type RouteKey } from './prefix.ts';
import { newIndexTable, newRouteTable, type RouteTable } from './table.ts';

export const AFIS: readonly Afi[] = [Afi.IPv4, Afi.IPv6];

export interface RibOptions {
  localAsn: number;
  /** Our BGP identifier (uint32). */
  routerId: number;
  /** RFC 4456: the cluster ID when we reflect routes (default: our router ID). */
  clusterId?: number;
  /**
   * The cluster's own pod and service ranges. By default, routes from external (eBGP) peers that
   * lie within them (equal or more specific) are rejected, so that an outside router can never
   * hijack pod traffic. A covering route (a default, 10.0.0.0/8) is not: longest-prefix match
   * keeps pod traffic on the blocks, and a top-of-rack router's default is the usual design.
   */
  clusterRanges?: string[];
  /** The next-hop reachability check of RFC 4271 9.1.2 (default: every next hop is reachable). */
  nextHopReachable?: (nextHop: string, afi: Afi) => boolean;
  /**
   * Whether two addresses lie on one subnet we are directly attached to. When a route's next hop
   * and an external peer do, the route goes to that peer with its next hop unchanged (RFC 4271
   * 5.1.3, "third party" next hop). Default: never (always next hop self towards eBGP).
   */
  sharedSubnet?: (a: string, b: string) => boolean;
}

export interface RibPeerConfig {
  /** Unique among peers (usually the address). */
  id: string;
  address: string;
  asn: number;
  /** RFC 4456: this iBGP peer is a route reflector client of ours. */
  routeReflectorClient?: boolean;
  /** Set ourselves as next hop on routes we pass to this iBGP peer (always so on eBGP). */
  nextHopSelf?: boolean;
  importPolicy?: Policy;
  exportPolicy?: Policy;
  /**
   * Accept routes within the cluster's pod/service ranges. Default: true for iBGP peers (the
   * other nodes), false for eBGP peers.
   */
  allowClusterRanges?: boolean;
}

/** A route source: a peer, or the speaker itself for originated routes. */
export class RibSource {
  readonly kind: 'local' | 'ibgp' | 'ebgp';
  readonly id: string;
  readonly address: string;
  bgpId: number;
  /** Small integer naming this source in the Loc-RIB (which stores indices, not pointers). */
  index = 0;
  /** Adj-RIB-In after import policy: what this source offers the decision process. */
  readonly adjIn = new Map<Afi, RouteTable<AttrSet>>([
    [Afi.IPv4, newRouteTable(Afi.IPv4)],
    [Afi.IPv6, newRouteTable(Afi.IPv6)],
  ]);
  /** RFC 4724: routes kept from before a graceful restart, until refreshed or purged. */
  stale: Map<Afi, RouteTable<AttrSet>> | null = null;

  constructor(kind: 'local' | 'ibgp' | 'ebgp', id: string, address: string, bgpId: number) {
    this.kind = kind;
    this.id = id;
    this.address = address;
    this.bgpId = bgpId;
  }

  lookup(afi: Afi, key: RouteKey): AttrSet | undefined {
    return this.adjIn.get(afi)!.get(key) ?? this.stale?.get(afi)?.get(key);
  }
}

interface PendingOut {
  keys: Set<RouteKey>;
  /** After the session comes up: a live walk over the Loc-RIB, so the first sync copies nothing. */
  walk: Iterator<RouteKey> | null;
}

export class RibPeer extends RibSource {
  /** Replaced, with the policies below, by `Rib.setPolicy` (soft reconfiguration). */
  config: RibPeerConfig;
  importPolicy: CompiledPolicy;
  exportPolicy: CompiledPolicy;
  allowClusterRanges: boolean;
  /** Prefixes the peer sent that import policy rejected (kept so that counts stay right). */
  readonly rejected = new Map<Afi, Set<RouteKey>>([
    [Afi.IPv4, new Set()],
    [Afi.IPv6, new Set()],
  ]);
  /** Session up and exchanging routes. */
  up = false;
  /** Families negotiated with the peer. */
  families = new Set<Afi>();
  /** Our addresses on the session, the next hop we advertise as "self". */
  localAddress: { v4?: string; v6?: string } = {};
  /** Adj-RIB-Out: what the peer has been sent. */
  readonly adjOut = new Map<Afi, RouteTable<AttrSet>>([
    [Afi.IPv4, newRouteTable(Afi.IPv4)],
    [Afi.IPv6, newRouteTable(Afi.IPv6)],
  ]);
  readonly pending = new Map<Afi, PendingOut>([
    [Afi.IPv4, { keys: new Set(), walk: null }],
    [Afi.IPv6, { keys: new Set(), walk: null }],
  ]);
  /** Called (once per batch) when the peer has something new to be sent. */
  onPending: (() => void) | null = null;
  /** Export transform memo: source -> attributes in -> attributes out. */
  exportMemo = new Map<RibSource, WeakMap<AttrSet, AttrSet>>();
  /** Import checks memo (loop detection, attribute scrubbing), per attribute set. */
  importMemo = new WeakMap<AttrSet, AttrSet | null>();

  constructor(kind: 'ibgp' | 'ebgp', config: RibPeerConfig) {
    super(kind, config.id, config.address, 0);
    this.config = config;
    this.importPolicy = compilePolicy(config.importPolicy ?? ACCEPT_ALL, `peer ${config.id} import policy`);
    this.exportPolicy = compilePolicy(config.exportPolicy ?? ACCEPT_ALL, `peer ${config.id} export policy`);
    this.allowClusterRanges = config.allowClusterRanges ?? kind === 'ibgp';
  }

  get rrClient(): boolean {
    return this.kind === 'ibgp' && !!this.config.routeReflectorClient;
  }

  /** Prefixes received (accepted or not), per RFC 4271's Adj-RIB-In before policy. */
  received(): number {
    let n = 0;
    for (const afi of AFIS) n += this.adjIn.get(afi)!.size + this.rejected.get(afi)!.size + (this.stale?.get(afi)?.size ?? 0);
    return n;
  }

  accepted(): number {
    let n = 0;
    for (const afi of AFIS) n += this.adjIn.get(afi)!.size + (this.stale?.get(afi)?.size ?? 0);
    return n;
  }

  advertised(): number {
    let n = 0;
    for (const afi of AFIS) n += this.adjOut.get(afi)!.size;
    return n;
  }

  hasPending(afi: Afi): boolean {
    const p = this.pending.get(afi)!;
    return p.walk !== null || p.keys.size > 0;
  }
}

export interface BestRoute {
  source: RibSource;
  attrs: AttrSet;
}

export type BestChangeListener = (afi: Afi, key: RouteKey, best: BestRoute | null) => void;

/** A batch of what a peer has to be sent: withdrawals, and announcements grouped by attribute set. */
export interface OutBatch {
  afi: Afi;
  withdrawn: RouteKey[];
  announced: Map<AttrSet, RouteKey[]>;
  /** Nothing more is pending for this family (the first time: the initial table is complete). */
  drained: boolean;
}

export class RibError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'RibError';
    this.code = code;
  }
}

export class Rib {
  readonly pool = new AttrPool();
  readonly localAsn: number;
  readonly routerId: number;
  readonly clusterId: number;
  readonly local: RibSource;
  private readonly clusterRanges: RouteKey[];
  private readonly nextHopReachable: (nh: string, afi: Afi) => boolean;
  private readonly sharedSubnet: (a: string, b: string) => boolean;
  private readonly peers = new Map<string, RibPeer>();
  /** Loc-RIB: the winning source per prefix, as the source's index (2 bytes, not a pointer). */
  private readonly locRib = new Map<Afi, RouteTable<number>>([
    [Afi.IPv4, newIndexTable(Afi.IPv4)],
    [Afi.IPv6, newIndexTable(Afi.IPv6)],
  ]);
  /** Sources by index (0 unused); indices of removed peers are reused. */
  private readonly byIndex: Array<RibSource | undefined> = [undefined];
  private readonly freeIndices: number[] = [];
  private readonly listeners = new Set<BestChangeListener>();
  /** The local source and every peer, in a plain array for the hot loop. */
  private sources: RibSource[] = [];
  private readonly notifyQueued = new Set<RibPeer>();

  constructor(opts: RibOptions) {
    this.localAsn = opts.localAsn;
    this.routerId = opts.routerId;
    this.clusterId = opts.clusterId ?? opts.routerId;
    this.clusterRanges = (opts.clusterRanges ?? []).map((r) => parsePrefix(r).key);
    this.nextHopReachable = opts.nextHopReachable ?? (() => true);
    this.sharedSubnet = opts.sharedSubnet ?? (() => false);
    this.local = new RibSource('local', 'local', '', opts.routerId);
    this.local.index = 1;
    this.byIndex.push(this.local);
    this.sources = [this.local];
  }

  onBestChange(fn: BestChangeListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // -------------------------------------------------------------------------------------------
  // Peers

  addPeer(config: RibPeerConfig): RibPeer {
    if (this.peers.has(config.id)) throw new RibError('bgp-peer-exists', `peer ${config.id} already exists`);
    const peer = new RibPeer(config.asn === this.localAsn ? 'ibgp' : 'ebgp', config);
    const index = this.freeIndices.pop() ?? this.byIndex.length;
    if (index > 0xffff) throw new RibError('bgp-too-many-peers', 'at most 65534 peers at a time');
    peer.index = index;
    this.byIndex[index] = peer;
    this.peers.set(config.id, peer);
    this.sources = [this.local, ...this.peers.values()];
    return peer;
  }

  getPeer(id: string): RibPeer | undefined {
    return this.peers.get(id);
  }

  allPeers(): IterableIterator<RibPeer> {
    return this.peers.values();
  }

  /** Removes a peer and every route it gave us. */
  removePeer(peer: RibPeer): void {
    this.peerDown(peer, { keepStale: false });
    this.dropStale(peer);
    this.peers.delete(peer.id);
    // Its routes are withdrawn above, so no Loc-RIB entry names its index any more.
    this.byIndex[peer.index] = undefined;
    this.freeIndices.push(peer.index);
    this.sources = [this.local, ...this.peers.values()];
    for (const p of this.peers.values()) p.exportMemo.delete(peer);
  }

  /**
   * The session came up: from now on the peer is sent the Loc-RIB (through its export rules) and
   * its changes.
   */
  peerUp(peer: RibPeer, info: { bgpId: number; families: Iterable<Afi>; localAddress: { v4?: string; v6?: string } }): void {
    peer.bgpId = info.bgpId;
    peer.families = new Set(info.families);
    peer.localAddress = info.localAddress;
    peer.up = true;
    peer.exportMemo = new Map();
    for (const afi of AFIS) {
      peer.adjOut.get(afi)!.clear();
      const p = peer.pending.get(afi)!;
      p.keys.clear();
      p.walk = peer.families.has(afi) ? this.locRib.get(afi)!.keys() : null;
    }
    this.queueNotify(peer);
  }

  /**
   * The session went down. With `keepStale` (RFC 4724 helper), the peer's routes stay in use,
   * marked stale, until it refreshes them or `purgeStale` runs; otherwise they are withdrawn now.
   */
  peerDown(peer: RibPeer, opts: { keepStale: boolean }): void {
    peer.up = false;
    for (const afi of AFIS) {
      peer.adjOut.get(afi)!.clear();
      const p = peer.pending.get(afi)!;
      p.keys.clear();
      p.walk = null;
      peer.rejected.get(afi)!.clear();
    }
    if (opts.keepStale) {
      // Routes stale from an earlier restart that never finished stay stale.
      const stale = peer.stale ?? new Map<Afi, RouteTable<AttrSet>>([
        [Afi.IPv4, newRouteTable(Afi.IPv4)],
        [Afi.IPv6, newRouteTable(Afi.IPv6)],
      ]);
      for (const afi of AFIS) {
        const s = stale.get(afi)!;
        for (const [k, v] of peer.adjIn.get(afi)!) s.set(k, v);
        peer.adjIn.get(afi)!.clear();
      }
      peer.stale = stale;
      return;
    }
    for (const afi of AFIS) {
      const table = peer.adjIn.get(afi)!;
      const keys = [...table.keys()];
      table.clear();
      for (const k of keys) this.decide(afi, k);
    }
  }

  /** RFC 4724 4.2: End-of-RIB from the peer (or the stale timer fired): drop what is still stale. */
  purgeStale(peer: RibPeer, afi?: Afi): number {
    if (!peer.stale) return 0;
    let n = 0;
    for (const a of afi === undefined ? AFIS : [afi]) {
      const s = peer.stale.get(a)!;
      const keys = [...s.keys()];
      s.clear();
      n += keys.length;
      for (const k of keys) this.decide(a, k);
    }
    if (AFIS.every((a) => peer.stale!.get(a)!.size === 0)) peer.stale = null;
    return n;
  }

  /**
   * RFC 7313 4.2: the peer sent a BoRR: every route it gave us in `afi` is now stale (still in use)
   * until it re-announces it; `purgeStale` at its EoRR drops the rest. Returns how many were marked.
   */
  markStale(peer: RibPeer, afi: Afi): number {
    peer.stale ??= new Map<Afi, RouteTable<AttrSet>>([
      [Afi.IPv4, newRouteTable(Afi.IPv4)],
      [Afi.IPv6, newRouteTable(Afi.IPv6)],
    ]);
    const s = peer.stale.get(afi)!;
    const table = peer.adjIn.get(afi)!;
    const n = table.size;
    // The lookup falls through from Adj-RIB-In to the stale table, so the Loc-RIB does not change.
    for (const [k, v] of table) s.set(k, v);
    table.clear();
    return n;
  }

  /**
   * Soft reconfiguration of a live peer: new import/export policy (and the other per-peer rules
   * that only filter or rewrite). What the peer was sent is re-derived at once and only the
   * difference goes out; the import side takes effect for routes the peer sends from now on, so the
   * caller asks the peer for a route refresh (RFC 2918) to re-run it over everything.
   */
  setPolicy(peer: RibPeer, config: RibPeerConfig): { importChanged: boolean; exportChanged: boolean } {
    const before = peer.config;
    const same = (a: Policy | undefined, b: Policy | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const importChanged = !same(before.importPolicy, config.importPolicy) || (before.allowClusterRanges ?? null) !== (config.allowClusterRanges ?? null);
    const exportChanged = !same(before.exportPolicy, config.exportPolicy) || !!before.nextHopSelf !== !!config.nextHopSelf;
    // Compile both before assigning anything, so that a bad policy leaves the peer as it was.
    const importPolicy = importChanged ? compilePolicy(config.importPolicy ?? ACCEPT_ALL, `peer ${peer.id} import policy`) : peer.importPolicy;
    const exportPolicy = exportChanged ? compilePolicy(config.exportPolicy ?? ACCEPT_ALL, `peer ${peer.id} export policy`) : peer.exportPolicy;
    peer.config = { ...config, id: before.id, address: before.address, asn: before.asn, routeReflectorClient: before.routeReflectorClient };
    peer.importPolicy = importPolicy;
    peer.exportPolicy = exportPolicy;
    peer.allowClusterRanges = config.allowClusterRanges ?? peer.kind === 'ibgp';
    if (exportChanged) for (const afi of AFIS) this.resend(peer, afi, { full: false });
    return { importChanged, exportChanged };
  }

  private dropStale(peer: RibPeer): void {
    this.purgeStale(peer);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving (Adj-RIB-In)

  /**
   * Routes announced by a peer: every prefix of `list` with the attributes `input` (already holding
   * the family's next hop). Returns how many were accepted.
   */
  announce(peer: RibPeer, list: PrefixList, input: AttrInput): number {
    const attrs = this.importChecks(peer, this.pool.intern(input));
    const afi = list.afi;
    const table = peer.adjIn.get(afi)!;
    const rejected = peer.rejected.get(afi)!;
    const stale = peer.stale?.get(afi);
    let accepted = 0;
    for (let i = 0; i < list.count; i++) {
      const key = listKey(list, i);
      stale?.delete(key);
      const out = attrs && this.importPolicy(peer, key, attrs);
      if (out) {
        rejected.delete(key);
        const before = table.get(key);
        table.set(key, out);
        accepted++;
        if (before !== out) this.decide(afi, key);
      } else {
        rejected.add(key);
        if (table.delete(key) || stale) this.decide(afi, key);
      }
    }
    return accepted;
  }

  /** Routes withdrawn by a peer (or treated as withdrawn, RFC 7606). */
  withdraw(peer: RibPeer, list: PrefixList): void {
    const afi = list.afi;
    const table = peer.adjIn.get(afi)!;
    const rejected = peer.rejected.get(afi)!;
    const stale = peer.stale?.get(afi);
    for (let i = 0; i < list.count; i++) {
      const key = listKey(list, i);
      rejected.delete(key);
      const a = table.delete(key);
      const b = stale?.delete(key) ?? false;
      if (a || b) this.decide(afi, key);
    }
  }

  /**
   * Checks that depend only on the attribute set, done once per set: RFC 4271 9.1.2 AS loop on eBGP,
   * RFC 4456 8 ORIGINATOR_ID / CLUSTER_LIST loops on iBGP, and scrubbing what an external peer may
   * not set. Null means every prefix with these attributes is ineligible (treated as withdrawn).
   */
  private importChecks(peer: RibPeer, attrs: AttrSet): AttrSet | null {
    const memo = peer.importMemo.get(attrs);
    if (memo !== undefined) return memo;
    let out: AttrSet | null = attrs;
    if (peer.kind === 'ebgp') {
      if (asPathContains(attrs.asPath, this.localAsn)) out = null;
      else if (attrs.localPref !== undefined || attrs.originatorId !== undefined || attrs.clusterList !== undefined) {
        out = this.pool.derive(attrs, { localPref: undefined, originatorId: undefined, clusterList: undefined });
      }
    } else {
      if (attrs.originatorId === this.routerId) out = null;
      else if (attrs.clusterList?.includes(this.clusterId)) out = null;
    }
    peer.importMemo.set(attrs, out);
    return out;
  }

  private importPolicy(peer: RibPeer, key: RouteKey, attrs: AttrSet): AttrSet | null {
    if (!peer.allowClusterRanges && this.clusterRanges.length) {
      for (const r of this.clusterRanges) if (keyContains(r, key)) return null;
    }
    return peer.importPolicy.evaluate(key, attrs, this.pool);
  }

  // -------------------------------------------------------------------------------------------
  // Local routes

  /** Originates a route (e.g. a pod block) with optional attributes; replaces an earlier one. */
  originate(prefix: string, input: AttrInput = {}): void {
    const { afi, key } = parsePrefix(prefix);
    const attrs = this.pool.intern({ origin: 0, asPath: [], ...input });
    const table = this.local.adjIn.get(afi)!;
    if (table.get(key) === attrs) return;
    table.set(key, attrs);
    this.decide(afi, key);
  }

  withdrawLocal(prefix: string): boolean {
    const { afi, key } = parsePrefix(prefix);
    if (!this.local.adjIn.get(afi)!.delete(key)) return false;
    this.decide(afi, key);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Decision (Loc-RIB)

  best(afi: Afi, key: RouteKey): BestRoute | null {
    const src = this.winner(afi, key);
    if (!src) return null;
    return { source: src, attrs: src.lookup(afi, key)! };
  }

  private winner(afi: Afi, key: RouteKey): RibSource | undefined {
    const i = this.locRib.get(afi)!.get(key);
    return i === undefined ? undefined : this.byIndex[i];
  }

  locRibSize(afi: Afi): number {
    return this.locRib.get(afi)!.size;
  }

  locRibKeys(afi: Afi): IterableIterator<RouteKey> {
    return this.locRib.get(afi)!.keys();
  }

  /** Re-runs the decision for every prefix, e.g. after next-hop reachability changed. */
  revalidate(): void {
    for (const afi of AFIS) {
      const keys = new Set<RouteKey>(this.locRib.get(afi)!.keys());
      for (const src of [this.local, ...this.peers.values()]) {
        for (const k of src.adjIn.get(afi)!.keys()) keys.add(k);
        for (const k of src.stale?.get(afi)?.keys() ?? []) keys.add(k);
      }
      for (const k of keys) this.decide(afi, k);
    }
  }

  /** RFC 4271 9.1: re-runs the decision for one prefix and propagates a change. Hot path. */
  private decide(afi: Afi, key: RouteKey): void {
    // Gather eligible candidates; most prefixes have exactly one, which needs no array.
    let first: RibSource | null = null;
    let firstAttrs: AttrSet | null = null;
    let more: Candidate<RibSource>[] | null = null;
    const sources = this.sources;
    for (let i = 0; i < sources.length; i++) {
      const src = sources[i];
      const attrs = src.lookup(afi, key);
      if (!attrs) continue;
      if (src.kind !== 'local' && attrs.nextHop !== undefined && !this.nextHopReachable(attrs.nextHop, afi)) continue;
      if (first === null) {
        first = src;
        firstAttrs = attrs;
      } else {
        more ??= [{ source: first, attrs: firstAttrs! }];
        more.push({ source: src, attrs });
      }
    }
    let winner: RibSource | null = first;
    let winnerAttrs: AttrSet | null = firstAttrs;
    if (more) {
      const w = selectBest(more)!;
      winner = w.source;
      winnerAttrs = w.attrs;
    }
    const loc = this.locRib.get(afi)!;
    const beforeIndex = loc.get(key);
    const before = beforeIndex === undefined ? undefined : this.byIndex[beforeIndex];
    if (winner) loc.set(key, winner.index);
    else if (beforeIndex !== undefined) loc.delete(key);
    else return;
    // Even with the same source the attributes may have changed: tell listeners and peers.
    if (this.listeners.size) {
      const best = winner ? { source: winner, attrs: winnerAttrs! } : null;
      for (const fn of this.listeners) fn(afi, key, best);
    }
    for (const p of this.peers.values()) {
      if (!p.up || !p.families.has(afi)) continue;
      // A peer is never sent its own routes: if it was not sent this prefix before (it was its
      // own, or absent) and it is its own now (or gone), there is nothing to tell it.
      if ((before === p || before === undefined) && (winner === p || winner === null)) continue;
      p.pending.get(afi)!.keys.add(key);
      this.queueNotify(p);
    }
  }

  private queueNotify(peer: RibPeer): void {
    if (!peer.onPending || this.notifyQueued.has(peer)) return;
    this.notifyQueued.add(peer);
    queueMicrotask(() => {
      this.notifyQueued.delete(peer);
      if (peer.up) peer.onPending?.();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Export (Adj-RIB-Out)

  /**
   * What `peer` should have for `key` now: the Loc-RIB's best through the iBGP/eBGP and route
   * reflection rules (RFC 4271 9.1.3, RFC 4456 6) and export policy; null when nothing.
   */
  exportFor(peer: RibPeer, afi: Afi, key: RouteKey): AttrSet | null {
    const src = this.winner(afi, key);
    if (!src || src === peer) return null;
    const attrs = src.lookup(afi, key)!;
    let memo = peer.exportMemo.get(src);
    if (!memo) {
      memo = new WeakMap();
      peer.exportMemo.set(src, memo);
    }
    let out = memo.get(attrs);
    if (out === undefined) {
      out = this.transformForPeer(peer, src, afi, attrs) ?? undefined;
      // Cache rejections too, as a sentinel: the set itself marks "not exported".
      memo.set(attrs, out ?? NOT_EXPORTED);
    } else if (out === NOT_EXPORTED) {
      out = undefined;
    }
    if (!out) return null;
    return peer.exportPolicy.evaluate(key, out, this.pool);
  }

  private transformForPeer(peer: RibPeer, src: RibSource, afi: Afi, attrs: AttrSet): AttrSet | null {
    const self = afi === Afi.IPv4 ? peer.localAddress.v4 : peer.localAddress.v6;
    if (peer.kind === 'ebgp') {
      // RFC 4271 5.1.2/5.1.3/5.1.4: prepend our AS, next hop self, no LOCAL_PREF; a MED learned
      // from another AS is not passed on to a third one. RFC 4271 5.1.3 (2): a learned route whose
      // next hop shares a subnet with the peer keeps it ("third party"), so that the peer sends
      // traffic straight to the node that owns the block, not through us.
      const thirdParty = src.kind !== 'local' && attrs.nextHop !== undefined && this.sharedSubnet(attrs.nextHop, peer.address);
      if (!self && !thirdParty) return null;
      return this.pool.derive(attrs, {
        asPath: prependAs(attrs.asPath, this.localAsn),
        nextHop: thirdParty ? attrs.nextHop : self,
        linkLocalNextHop: undefined,
        localPref: undefined,
        originatorId: undefined,
        clusterList: undefined,
        med: src.kind === 'ebgp' ? undefined : attrs.med,
      });
    }
    // iBGP target: LOCAL_PREF always present (RFC 4271 5.1.5).
    const changes: Partial<AttrInput> = { localPref: attrs.localPref ?? DEFAULT_LOCAL_PREF };
    if (src.kind === 'ibgp') {
      // RFC 4456 6: a route from a client goes to everyone; from a non-client, to clients only.
      if (!(src as RibPeer).rrClient && !peer.rrClient) return null;
      changes.originatorId = attrs.originatorId ?? src.bgpId;
      changes.clusterList = [this.clusterId, ...(attrs.clusterList ?? [])];
    }
    // Local routes without an explicit next hop, and next-hop-self peers, get our address.
    const nextHop = peer.config.nextHopSelf || (src.kind === 'local' && attrs.nextHop === undefined) ? self : attrs.nextHop;
    if (!nextHop) return null;
    if (nextHop !== attrs.nextHop) {
      changes.nextHop = nextHop;
      changes.linkLocalNextHop = undefined;
    }
    return this.pool.derive(attrs, changes);
  }

  /**
   * Takes up to `limit` prefixes of what `peer` still has to be sent in `afi`, brings its
   * Adj-RIB-Out up to date for them, and returns the difference to send.
   */
  takePending(peer: RibPeer, afi: Afi, limit = Infinity): OutBatch {
    const batch: OutBatch = { afi, withdrawn: [], announced: new Map(), drained: false };
    const pending = peer.pending.get(afi)!;
    const out = peer.adjOut.get(afi)!;
    let n = 0;
    const visit = (key: RouteKey) => {
      const want = this.exportFor(peer, afi, key);
      const have = out.get(key);
      if (want === (have ?? null)) return;
      n++;
      if (want) {
        out.set(key, want);
        let keys = batch.announced.get(want);
        if (!keys) batch.announced.set(want, (keys = []));
        keys.push(key);
      } else {
        out.delete(key);
        batch.withdrawn.push(key);
      }
    };
    while (pending.walk && n < limit) {
      const r = pending.walk.next();
      if (r.done) pending.walk = null;
      else visit(r.value);
    }
    if (n < limit) {
      for (const key of pending.keys) {
        pending.keys.delete(key);
        visit(key);
        if (n >= limit) break;
      }
    }
    batch.drained = !peer.hasPending(afi);
    return batch;
  }

  /** Re-derives everything a peer was sent (export policy changed, or it asked for a refresh). */
  resend(peer: RibPeer, afi: Afi, opts: { full: boolean }): void {
    if (!peer.up || !peer.families.has(afi)) return;
    peer.exportMemo = new Map();
    const p = peer.pending.get(afi)!;
    // A route refresh request asks for everything again: forget what was sent. A policy change
    // re-checks what was sent too, so that newly rejected routes are withdrawn.
    if (opts.full) peer.adjOut.get(afi)!.clear();
    else for (const k of peer.adjOut.get(afi)!.keys()) p.keys.add(k);
    p.walk = this.locRib.get(afi)!.keys();
    this.queueNotify(peer);
  }

  /** For tests and status: where a prefix given as text stands. */
  bestOf(prefix: string): BestRoute | null {
    const { afi, key } = parsePrefix(prefix);
    return this.best(afi, key);
  }
}

const NOT_EXPORTED: AttrSet = Object.freeze({ id: '\0not-exported' });

export { keyAfi };
