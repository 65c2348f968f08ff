/**
 * What the agent needs to know from its parts, as small interfaces. The control socket, the
 * metrics and the health endpoints read only these; the speaker, the dataplane and the datastore
 * each get a thin adapter implementing them when the agent is wired. Tests implement them in memory.
 *
 *   StatusSource        <- speaker (peers, sessions, counters) + agent (node identity)
 *   RoutesSource        <- speaker (Loc-RIB with the decision's reasons)
 *   KernelRoutesSource  <- dataplane (what the kernel holds, ours and foreign)
 *   DataplaneStatsSource<- dataplane (its counters, read at scrape time)
 *   SyncSource          <- datastore (initial sync done?)
 */

import { State as SessionState } from '../bgp/session/fsm.ts';

/** RFC 4271 section 8.2.2 state names: the session layer's own, so the two can never drift apart. */
export { SessionState };

/** Numeric code of each state for the metrics gauge (1 Idle ... 6 Established, as in RFC 4273's bgpPeerState). */
export const SESSION_STATE_CODE: Record<SessionState, number> = {
  Idle: 1,
  Connect: 2,
  Active: 3,
  OpenSent: 4,
  OpenConfirm: 5,
  Established: 6,
};

/** BGP message types (RFC 4271 4.1, RFC 2918) as metric labels. */
export type BgpMessageType = 'OPEN' | 'UPDATE' | 'NOTIFICATION' | 'KEEPALIVE' | 'ROUTE-REFRESH';

/** Counters the speaker keeps per peer, cumulative since the peer was added. */
export interface PeerCounters {
  messagesReceived: Partial<Record<BgpMessageType, number>>;
  messagesSent: Partial<Record<BgpMessageType, number>>;
  /** Prefixes announced and withdrawn in UPDATEs, counted per prefix (absent where not counted). */
  prefixesAnnouncedIn?: number;
  prefixesWithdrawnIn?: number;
  prefixesAnnouncedOut?: number;
  prefixesWithdrawnOut?: number;
}

/** Why we peer: the node-to-node mesh, a BGPPeer for every node, or a BGPPeer for this node. */
export const PeerType = { Mesh: 'mesh', Global: 'global', Node: 'node' } as const;
export type PeerType = (typeof PeerType)[keyof typeof PeerType];

export interface PeerStatus {
  /** The peer's IP address (no port). */
  address: string;
  /** Set when the peer is not on the default port. */
  port?: number;
  asNumber: number;
  type: PeerType;
  state: SessionState;
  /** When `state` was entered, ISO 8601 (as the speaker and the datastore's BGPStatus give it). */
  since: string;
  /** Prefixes in the peer's Adj-RIB-In. */
  prefixesReceived: number;
  /** Of those, the ones import policy accepted. */
  prefixesAccepted: number;
  /** Prefixes in the peer's Adj-RIB-Out. */
  prefixesAdvertised: number;
  /** The last error that took the session down (a NOTIFICATION, a socket error), or null. */
  lastError: string | null;
  /** For the metrics only (not shown by `tortie status`); absent until the speaker counts them. */
  counters?: PeerCounters;
}

export interface NodeStatus {
  name: string;
  /** null until the datastore has said (BGPConfiguration, or the node's as-number annotation). */
  asNumber: number | null;
  /** BGP identifier, dotted quad. */
  routerId: string | null;
  ipv4Address: string | null;
  ipv6Address: string | null;
  /** Start of this agent process, ISO 8601. */
  startedAt: string;
  version: string;
  /**
   * Configuration the agent refused: datastore edits refused since the last change it accepted
   * (newest last), then what the model asks that cannot be applied now (a BGPPeer with a bad
   * filter, a speaker that could not restart with a new AS). The running state is kept meanwhile.
   */
  configErrors?: { code: string; subject: string; message: string; since: string }[];
}

export interface StatusSource {
  node(): NodeStatus;
  peers(): PeerStatus[];
}

/** How `tortie routes PREFIX` selects: exactly that prefix, or the longest prefix covering an address. */
export type RoutesQuery = { match: 'all' } | { match: 'exact'; prefix: string } | { match: 'longest'; address: string };

/** One path of the Loc-RIB, best or not. */
export interface RibRoute {
  /** `10.65.1.0/26`, `fd00:65::/122`. */
  prefix: string;
  /** null for routes this node originates. */
  nextHop: string | null;
  /** The peer it came from, or null when originated here. */
  peer: string | null;
  /** AS_PATH as BIRD and GoBGP print it: `65001 65002 {65003,65004}`; empty for iBGP-learned and local routes. */
  asPath: string;
  best: boolean;
  /** Why it won or lost, in RFC 4271 9.1.2.2 terms ("lower MED than 10.0.0.3", "only path"). */
  reason: string;
}

export interface RoutesSource {
  routes(query: RoutesQuery): RibRoute[];
}

/** What the kernel holds for a prefix, as the dataplane sees it. */
export interface KernelRoute {
  prefix: string;
  /** unicast via a gateway or device, or blackhole. */
  type: 'unicast' | 'blackhole' | 'unreachable' | 'other';
  gateway: string | null;
  dev: string | null;
  protocol: number | string;
  table: number;
  /** Ours: carries tortie's protocol number. */
  owned: boolean;
}

export interface KernelRoutesSource {
  kernelRoutes(prefixes: string[]): Promise<KernelRoute[]>;
}

/**
 * The dataplane's route counts for the metrics, by the dataplane's own kinds: workload (a pod's /32
 * to its veth), blackhole (this node's blocks), learned (from BGP).
 */
export const DataplaneRouteKind = { Workload: 'workload', Blackhole: 'blackhole', Learned: 'learned' } as const;
export type DataplaneRouteKind = (typeof DataplaneRouteKind)[keyof typeof DataplaneRouteKind];

/** What the dataplane counts; totals are cumulative since start. A subset of the route controller's `counters`. */
export interface DataplaneStats {
  /** Desired routes by kind. */
  routes: Record<DataplaneRouteKind, number>;
  /** Full kernel dump-and-diff passes, and the seconds they took in total and the last time. */
  resyncs: number;
  resyncSecondsTotal: number;
  lastResyncSeconds: number;
  /** Kernel operations that failed, failed dumps, lost notification streams. */
  failures: number;
  /** Routes put right after something outside tortie changed or removed them. */
  repairs: number;
  /** Desired routes blocked by a foreign route. */
  conflicts: number;
  /** Workload routes waiting for their interface. */
  pendingInterface: number;
}

export interface DataplaneStatsSource {
  stats(): DataplaneStats;
}

export interface LocRibSizeSource {
  locRibSize(): { ipv4: number; ipv6: number };
}

export interface SyncSource {
  /** True once the datastore has delivered its first complete view of the cluster. */
  synced(): boolean;
}
