/**
 * The BGP speaker: owns the peers (one Session each) and the RIBs, and wires them together. Peers
 * come and go at run time without disturbing the others; local routes are originated and withdrawn;
 * best-path changes come out as events for whoever programs the kernel. Knows nothing of
 * Kubernetes or the kernel.
 *
 * Sending: a peer's session pulls from its Adj-RIB-Out (`Rib.takePending`) only while its socket can
 * take more, a bounded batch at a time, yielding between batches so that one peer never holds up
 * another. A slow peer therefore costs a set of pending prefixes, never a queue of messages.
 */
import { EventEmitter } from 'node:events';
import net, { type Server, type Socket } from 'node:net';
import type { AttrPool} from './rib/attrs.ts';
import { type AttrInput, type AttrSet } from './rib/attrs.ts';
import type { Policy } from './rib/policy.ts';
import { compareAddresses, formatIPv6, formatKey, keysToList, parseIPv4, parseIPv6, type RouteKey } from './rib/prefix.ts';
import { AFIS, Rib, type RibPeer, type RibPeerConfig } from './rib/rib.ts';
import { systemClock, type Clock, type TimerHandle } from './session/clock.ts';
import { normalizeAddress } from './session/connection.ts';
import type { State } from './session/fsm.ts';
import { afiName, type LocalOpenConfig, type Negotiated } from './session/open.ts';
import { Session, type SessionHandler } from './session/session.ts';
import { loadTcpMd5, md5Key, TcpMd5Error, TcpMd5ErrorCode } from './session/tcp-md5.ts';
import { warmUpReceivePath } from './warmup.ts';
import { encodeAnnouncements, encodeEndOfRib, encodeWithdrawals, endOfRibFamily, EncodeError } from './wire/index.ts';
import { Afi, BGP_PORT, CeaseSubcode, ErrorCode, RouteRefreshSubtype, Safi } from './wire/constants.ts';
import type { BgpError, PathAttributes, RouteRefreshMessage, UpdateDecodeResult, UpdateMessage } from './wire/types.ts';

export type FamilyName = 'ipv4' | 'ipv6';

export interface SpeakerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: SpeakerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Why sessions are ended: a Cease subcode (RFC 4486 3) and the text logged with it. */
export interface CeaseReason {
  subcode: number;
  reason: string;
}

export interface SpeakerOptions {
  localAsn: number;
  /** BGP identifier, dotted quad. */
  routerId: string;
  /** RFC 4456 cluster ID when reflecting (default: the router ID). */
  clusterId?: string;
  /** The cluster's pod and service ranges, protected from external peers (rib.ts). */
  clusterRanges?: string[];
  /** Where to accept connections; `false` for none. Default: port 179 on every address. */
  listen?: { port?: number; host?: string } | false;
  /** Seconds we propose (default 90). */
  holdTime?: number;
  /** Seconds between connection attempts (default 5: nodes come and go, and sessions are cheap). */
  connectRetryTime?: number;
  /** Idle hold backoff after errors (default 1 s doubling to 60 s). */
  idleHold?: { initialMs: number; maxMs: number };
  families?: FamilyName[];
  /** RFC 4724. Omit to not advertise graceful restart. */
  gracefulRestart?: {
    /** Seconds peers should keep our routes while we restart. */
    restartTime: number;
    /** We have just restarted with forwarding state kept: advertise the R and F bits. */
    restarting?: boolean;
    /** Seconds a restarted peer's stale routes are kept after it comes back (default 360). */
    staleTime?: number;
    /**
     * RFC 4724 4.1 selection deferral: after a restart (`restarting`), best paths are neither
     * advertised nor reported (`best` events) until every graceful-restart peer has sent End-of-RIB,
     * or this many seconds have passed (default 360, FRR's select-defer-time).
     */
    selectionDeferralTime?: number;
  };
  /**
   * RFC 7313 4.2: seconds to keep a peer's routes marked stale after its BoRR if its EoRR never
   * comes (default 360, like FRR's stale-path time); then what is still stale is purged.
   */
  refreshStaleTime?: number;
  /** Next hops we advertise as "self" for the family the session's own address is not in. */
  nextHops?: { ipv4?: string; ipv6?: string };
  nextHopReachable?: (nextHop: string, afi: Afi) => boolean;
  /** Two addresses on one directly attached subnet: third-party next hops towards eBGP (rib.ts). */
  sharedSubnet?: (a: string, b: string) => boolean;
  clock?: Clock;
  logger?: SpeakerLogger;
}

export interface MaxPrefixConfig {
  limit: number;
  /** Warn once, or tear the session down (Cease, RFC 4486 subcode 1) and retry after `restartAfter`. */
  action: 'warn' | 'teardown';
  /** Seconds before retrying after a teardown (default 60). */
  restartAfter?: number;
}

export interface PeerConfig {
  address: string;
  asn: number;
  /** Default 179. */
  port?: number;
  /** Source address for our connections. Required for `mesh`. */
  localAddress?: string;
  /**
   * Who dials: 'both' (default, with collision detection), 'active', 'passive', or 'mesh': the lower
   * address dials and the higher one listens (Calico's rule), so a reconnect never collides.
   */
  mode?: 'both' | 'active' | 'passive' | 'mesh';
  families?: FamilyName[];
  holdTime?: number;
  /** Seconds between KEEPALIVEs (default a third of the negotiated hold time; never more). */
  keepaliveTime?: number;
  routeReflectorClient?: boolean;
  nextHopSelf?: boolean;
  importPolicy?: Policy;
  exportPolicy?: Policy;
  allowClusterRanges?: boolean;
  maxPrefixes?: MaxPrefixConfig;
  description?: string;
  /**
   * RFC 2385 TCP MD5 password (1-80 bytes), on our connections and, through the listener, on the
   * peer's. When TCP MD5 is unavailable here, `addPeer` refuses the peer rather than run it
   * unsigned. Never logged.
   */
  password?: string;
  /**
   * RFC 4724 3: the restart time we offer this peer, seconds (0-4095); default the speaker's
   * `gracefulRestart.restartTime`. Ignored when the speaker does not advertise graceful restart.
   */
  gracefulRestartTime?: number;
}

export interface PeerStatus {
  address: string;
  asn: number;
  type: 'ibgp' | 'ebgp';
  state: State;
  /** When the state last changed (ISO 8601). */
  since: string;
  prefixesReceived: number;
  prefixesAccepted: number;
  prefixesAdvertised: number;
  lastError: string | null;
  /** UPDATE messages since the session came up. */
  updatesReceived: number;
  updatesSent: number;
  description?: string;
}

export interface BestPathEvent {
  family: FamilyName;
  prefix: string;
  /** The new best route, or null when the prefix is gone. */
  route: { nextHop: string | undefined; peer: string | null; attrs: AttrSet } | null;
}

function bestPathEvent(afi: Afi, key: RouteKey, best: { source: { kind: string; address: string }; attrs: AttrSet } | null): BestPathEvent {
  return {
    family: afi === Afi.IPv4 ? 'ipv4' : 'ipv6',
    prefix: formatKey(key),
    route: best ? { nextHop: best.attrs.nextHop, peer: best.source.kind === 'local' ? null : best.source.address, attrs: best.attrs } : null,
  };
}

export class SpeakerError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SpeakerError';
    this.code = code;
  }
}

interface PeerRuntime {
  config: PeerConfig;
  key: string;
  rib: RibPeer;
  session: Session;
  families: Afi[];
  flushScheduled: boolean;
  /** Families whose End-of-RIB we sent since the session came up. */
  eorSent: Set<Afi>;
  /** Families whose End-of-RIB the peer sent since the session came up. */
  eorReceived: Set<Afi>;
  /** RFC 7313: families we are re-sending after the peer's refresh request (EoRR when drained). */
  refreshing: Set<Afi>;
  /** RFC 7313 4.2: the peer's BoRR came; its EoRR (or this timer) purges what it did not re-send. */
  refreshTimers: Map<Afi, TimerHandle>;
  /** RFC 4724 4.1: this peer no longer holds up our selection deferral. */
  deferralDone: boolean;
  /** What was negotiated on the last Established session (for graceful restart after it drops). */
  lastNegotiated: Negotiated | null;
  /** RFC 4724: restart timer (peer down) or stale timer (peer back). */
  grTimer: TimerHandle | null;
  maxPrefixTimer: TimerHandle | null;
  maxPrefixWarned: boolean;
  lastError: string | null;
  removed: boolean;
}

const toAfi = (f: FamilyName): Afi => (f === 'ipv4' ? Afi.IPv4 : Afi.IPv6);

/** Peer settings that `reconfigurePeer` can change on a live session (they only filter or rewrite). */
const SOFT_FIELDS = ['importPolicy', 'exportPolicy', 'allowClusterRanges', 'nextHopSelf', 'maxPrefixes', 'description'] as const;

/** Everything else in a peer's configuration: a change there needs a new session. */
/** What the RIB keeps of a peer's configuration (the same at addPeer and on a live change). */
function ribPeer(key: string, c: PeerConfig): RibPeerConfig {
  return {
    id: key,
    address: key,
    asn: c.asn,
    routeReflectorClient: c.routeReflectorClient,
    nextHopSelf: c.nextHopSelf,
    importPolicy: c.importPolicy,
    exportPolicy: c.exportPolicy,
    allowClusterRanges: c.allowClusterRanges,
  };
}

function sessionShape(c: PeerConfig): string {
  const rest: Record<string, unknown> = { ...c, address: canonicalAddress(c.address) };
  for (const f of SOFT_FIELDS) delete rest[f];
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/** Canonical text of an address (so that "2001:DB8::1" and Node's "2001:db8::1" meet). */
export function canonicalAddress(a: string): string {
  const n = normalizeAddress(a) ?? a;
  if (n.includes(':')) {
    const w = parseIPv6(n);
    if (!w) throw new SpeakerError('bgp-invalid-address', `"${a}" is not an IP address`);
    return formatIPv6(w);
  }
  if (parseIPv4(n) === null) throw new SpeakerError('bgp-invalid-address', `"${a}" is not an IP address`);
  return n;
}

export class Speaker extends EventEmitter<{
  /**
   * Best-path changes, gathered over an event-loop turn, in the order they happened: a prefix may
   * appear more than once, and its last entry is its state now.
   */
  best: [BestPathEvent[]];
  'peer-state': [{ address: string; from: State; to: State }];
  /** `received`: the NOTIFICATION the peer ended the session with, when it sent one. */
  'peer-error': [{ address: string; error: string; received?: { code: number; subcode: number } }];
  /** The peer's End-of-RIB for a family (RFC 4724 2): its initial table is complete. */
  'end-of-rib': [{ address: string; family: FamilyName }];
  /**
   * RFC 4724 4.1: route selection after our restart is complete (every GR peer's End-of-RIB, or the
   * deferral timer): the `best` events held back have just been emitted, and peers are being sent
   * our routes and End-of-RIB.
   */
  'selection-deferral-end': [{ reason: string }];
  /** RFC 7313: a peer's BoRR (routes marked stale), EoRR (stale ones purged) or its timer. */
  'enhanced-refresh': [{ address: string; family: FamilyName; marker: 'begin' | 'end' | 'timeout'; routes: number }];
}> {
  readonly rib: Rib;
  private readonly opts: SpeakerOptions;
  private readonly clock: Clock;
  private readonly log: SpeakerLogger;
  private readonly peers = new Map<string, PeerRuntime>();
  private readonly routerId: number;
  private server: Server | null = null;
  /**
   * RFC 4724 4.1: while set, best paths are held back from peers and from `best` listeners. It
   * only ever starts in the constructor, so listeners have heard nothing before it: at its end the
   * Loc-RIB as it stands is reported, with no record of what changed meanwhile.
   */
  private deferral: { timer: TimerHandle; checkQueued: boolean } | null = null;
  /**
   * Best-path changes not yet emitted: one `best` event carries a turn's worth (100k prefixes from
   * a peer's table arrive in a few hundred UPDATEs, and one event per prefix costs more than the
   * work its listener does).
   */
  private bestBatch: BestPathEvent[] = [];
  /** Wire attributes per interned set and family (the encoder's input), computed once. */
  private readonly wireAttrs = [new WeakMap<AttrSet, PathAttributes>(), new WeakMap<AttrSet, PathAttributes>()];

  constructor(opts: SpeakerOptions) {
    super();
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silent;
    const id = parseIPv4(opts.routerId);
    if (id === null || id === 0) throw new SpeakerError('bgp-invalid-router-id', `router ID "${opts.routerId}" must be a non-zero dotted quad`);
    this.routerId = id;
    if (!Number.isInteger(opts.localAsn) || opts.localAsn < 1 || opts.localAsn > 0xffffffff) {
      throw new SpeakerError('bgp-invalid-asn', `local AS ${opts.localAsn} must be an integer 1-4294967295`);
    }
    const clusterId = opts.clusterId !== undefined ? parseIPv4(opts.clusterId) : id;
    if (clusterId === null) throw new SpeakerError('bgp-invalid-cluster-id', `cluster ID "${opts.clusterId}" must be a dotted quad`);
    for (const [name, v] of [['gracefulRestart.selectionDeferralTime', opts.gracefulRestart?.selectionDeferralTime], ['refreshStaleTime', opts.refreshStaleTime]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new SpeakerError('bgp-invalid-timer', `${name} ${v} must be a number of seconds, 0 or more`);
    }
    this.rib = new Rib({ localAsn: opts.localAsn, routerId: id, clusterId, clusterRanges: opts.clusterRanges, nextHopReachable: opts.nextHopReachable, sharedSubnet: opts.sharedSubnet });
    this.rib.onBestChange((afi, key, best) => {
      if (this.deferral || this.listenerCount('best') === 0) return;
      this.bestBatch.push(bestPathEvent(afi, key, best));
      if (this.bestBatch.length === 1) setImmediate(() => this.flushBest());
    });
    const gr = opts.gracefulRestart;
    if (gr?.restarting) {
      const seconds = gr.selectionDeferralTime ?? 360;
      this.deferral = {
        timer: this.clock.setTimer(seconds * 1000, () => this.endDeferral(`selection deferral timer (${seconds} s) expired`)),
        checkQueued: false,
      };
    }
  }

  /** RFC 4724 4.1: best paths are being held back until the peers' End-of-RIB (after our restart). */
  get selectionDeferred(): boolean {
    return this.deferral !== null;
  }

  get pool(): AttrPool {
    return this.rib.pool;
  }

  /** Starts listening (when configured). Peers start as they are added. */
  async start(): Promise<void> {
    warmUpReceivePath();
    if (this.opts.listen === false || this.server) return;
    const port = this.opts.listen?.port ?? BGP_PORT;
    const host = this.opts.listen?.host ?? '::';
    const server = net.createServer((socket) => this.onIncoming(socket));
    server.on('error', (e) => this.log.error({ err: e.message }, 'BGP listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    for (const rt of this.peers.values()) {
      if (rt.config.password === undefined) continue;
      try {
        this.setListenerKey(rt.key, rt.config.password);
      } catch (e) {
        rt.lastError = (e as Error).message;
        this.log.error({ peer: rt.key, code: (e as SpeakerError).code }, rt.lastError);
        this.emit('peer-error', { address: rt.key, error: rt.lastError });
      }
    }
  }

  /** RFC 2385: the peer's key on the listener (accepted connections inherit it); null removes it. */
  private setListenerKey(key: string, password: string | null): void {
    if (!this.server) return;
    try {
      loadTcpMd5().setListenerKey(this.server, key, password);
    } catch (e) {
      throw new SpeakerError(e instanceof TcpMd5Error ? e.code : TcpMd5ErrorCode.SetKey, `peer ${key}: ${(e as Error).message}`);
    }
  }

  /** The port we listen on (useful with port 0). */
  get listenPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /**
   * Ends every session with a Cease NOTIFICATION (Peer De-configured unless `cease` names another
   * subcode, e.g. Other Configuration Change when the node's AS changes, RFC 4486 3) and stops listening.
   */
  async stop(cease?: CeaseReason): Promise<void> {
    this.deferral?.timer.cancel();
    this.deferral = null;
    for (const rt of [...this.peers.values()]) this.removePeer(rt.config.address, cease);
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /**
   * Stops for a restart with forwarding kept (RFC 4724 4): every connection is dropped without a
   * NOTIFICATION, so that peers keep our routes as stale until we return, and listening stops.
   */
  async closeForRestart(): Promise<void> {
    this.deferral?.timer.cancel();
    this.deferral = null;
    for (const rt of this.peers.values()) {
      rt.removed = true;
      this.cancelRefreshTimers(rt);
      rt.grTimer?.cancel();
      rt.maxPrefixTimer?.cancel();
      rt.session.abandon();
    }
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  // -------------------------------------------------------------------------------------------
  // Peers

  addPeer(config: PeerConfig): void {
    const key = canonicalAddress(config.address);
    if (this.peers.has(key)) throw new SpeakerError('bgp-peer-exists', `peer ${key} is already configured`);
    if (!Number.isInteger(config.asn) || config.asn < 1 || config.asn > 0xffffffff) {
      throw new SpeakerError('bgp-invalid-asn', `peer ${key}: AS ${config.asn} must be an integer 1-4294967295`);
    }
    const mode = config.mode ?? 'both';
    let passive = mode === 'passive';
    if (mode === 'mesh') {
      if (!config.localAddress) throw new SpeakerError('bgp-mesh-needs-local-address', `peer ${key}: mesh mode needs localAddress to decide who dials`);
      // Calico's rule: the lower address connects, the higher one listens.
      passive = compareAddresses(canonicalAddress(config.localAddress), key) > 0;
    }
    const families = (config.families ?? this.opts.families ?? ['ipv4', 'ipv6']).map(toAfi);
    if (config.password !== undefined) this.checkPassword(key, config.password);
    const rib = this.rib.addPeer(ribPeer(key, config));
    const rt = { config, key, rib, families, flushScheduled: false, eorSent: new Set(), eorReceived: new Set(), refreshing: new Set(), refreshTimers: new Map(), deferralDone: false, lastNegotiated: null, grTimer: null, maxPrefixTimer: null, maxPrefixWarned: false, lastError: null, removed: false } as unknown as PeerRuntime;
    rt.session = new Session(
      {
        peerAddress: key,
        peerPort: config.port,
        localAddress: config.localAddress,
        local: this.localOpen(config, families),
        peerAsn: config.asn,
        passive,
        connectRetryTime: this.opts.connectRetryTime ?? 5,
        idleHold: this.opts.idleHold ?? { initialMs: 1000, maxMs: 60_000 },
        clock: this.clock,
        ...(config.password !== undefined ? { password: config.password } : {}),
      },
      this.handlerFor(rt),
    );
    rib.onPending = () => this.scheduleFlush(rt);
    this.peers.set(key, rt);
    rt.session.start();
    this.queueDeferralCheck();
  }

  /** Stops the peer's session (Cease/Peer De-configured) and withdraws what it gave us. */
  removePeer(address: string, cease: CeaseReason = { subcode: CeaseSubcode.PeerDeconfigured, reason: 'peer de-configured' }): boolean {
    const key = canonicalAddress(address);
    const rt = this.peers.get(key);
    if (!rt) return false;
    rt.removed = true;
    this.cancelRefreshTimers(rt);
    rt.grTimer?.cancel();
    rt.maxPrefixTimer?.cancel();
    rt.session.stop({ code: ErrorCode.Cease, subcode: cease.subcode, data: new Uint8Array(0), reason: cease.reason });
    this.peers.delete(key);
    if (rt.config.password !== undefined) {
      try {
        this.setListenerKey(key, null);
      } catch (e) {
        this.log.warn({ peer: key }, `cannot remove the TCP MD5 key from the listener: ${(e as Error).message}`);
      }
    }
    this.rib.removePeer(rt.rib);
    this.queueDeferralCheck();
    return true;
  }

  /**
   * Applies a changed configuration to a live peer without restarting its session, when only what
   * filters or rewrites routes changed (import/export policy, allowClusterRanges, nextHopSelf,
   * max-prefix, description). Export changes re-derive the Adj-RIB-Out and send the difference;
   * import changes ask the peer for a route refresh (RFC 2918, framed by BoRR/EoRR under RFC 7313)
   * so that its routes pass the new policy, or reset the session when it cannot refresh.
   * Returns false, changing nothing, when anything else changed: then remove and add the peer.
   */
  reconfigurePeer(config: PeerConfig): boolean {
    const key = canonicalAddress(config.address);
    const rt = this.peers.get(key);
    if (!rt) return false;
    if (sessionShape(config) !== sessionShape(rt.config)) return false;
    const { importChanged, exportChanged } = this.rib.setPolicy(rt.rib, ribPeer(key, config));
    rt.config = config;
    if (config.maxPrefixes) this.checkMaxPrefix(rt);
    const n = rt.session.negotiated;
    if (importChanged && n) {
      let asked = true;
      for (const afi of rt.families) {
        if (!n.families.has(afi)) continue;
        asked &&= rt.session.requestRefresh({ type: 'route-refresh', afi, safi: Safi.Unicast, subtype: RouteRefreshSubtype.Normal });
      }
      if (!asked) {
        // RFC 2918 not supported: the only way to see its routes again is a new session.
        this.log.warn({ peer: key }, 'import policy changed and the peer cannot refresh: resetting the session');
        rt.session.reset({ code: ErrorCode.Cease, subcode: CeaseSubcode.OtherConfigurationChange, data: new Uint8Array(0), reason: 'import policy changed; peer does not support route refresh' });
      }
    }
    this.log.info({ peer: key, importChanged, exportChanged }, 'peer reconfigured in place');
    return true;
  }

  /** Asks the peer to send its routes again (RFC 2918); false when it does not support that. */
  refresh(address: string, family: FamilyName = 'ipv4'): boolean {
    const rt = this.peers.get(canonicalAddress(address));
    if (!rt) return false;
    const msg: RouteRefreshMessage = { type: 'route-refresh', afi: toAfi(family), safi: Safi.Unicast, subtype: RouteRefreshSubtype.Normal };
    return rt.session.requestRefresh(msg);
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map((rt) => ({
      address: rt.key,
      asn: rt.config.asn,
      type: rt.rib.kind === 'ibgp' ? 'ibgp' : 'ebgp',
      state: rt.session.state,
      since: new Date(rt.session.sinceWall).toISOString(),
      prefixesReceived: rt.rib.received(),
      prefixesAccepted: rt.rib.accepted(),
      prefixesAdvertised: rt.rib.advertised(),
      lastError: rt.lastError ?? rt.session.lastError,
      updatesReceived: rt.session.counters.updatesIn,
      updatesSent: rt.session.counters.updatesOut,
      ...(rt.config.description ? { description: rt.config.description } : {}),
    }));
  }

  peerStatus(address: string): PeerStatus | undefined {
    const key = canonicalAddress(address);
    return this.status().find((s) => s.address === key);
  }

  /**
   * A peer with a password runs signed or not at all (RFC 2385): the password must fit, TCP MD5
   * must be available, and the listener must take the key, before anything of the peer exists.
   */
  private checkPassword(key: string, password: string): void {
    try {
      md5Key(password).fill(0);
      loadTcpMd5();
    } catch (e) {
      const code = e instanceof TcpMd5Error ? e.code : TcpMd5ErrorCode.Unavailable;
      const why = code === TcpMd5ErrorCode.Unavailable ? `TCP MD5 (RFC 2385) is not available here: ${(e as Error).message}` : (e as Error).message;
      throw new SpeakerError(code, `peer ${key}: a password is configured, but ${why}; the session is not started without it`);
    }
    this.setListenerKey(key, password);
  }

  // -------------------------------------------------------------------------------------------
  // Local routes

  /** Originates a route ("10.244.1.0/26", "fd00::/64"); attributes are optional (ORIGIN IGP). */
  originate(prefix: string, attrs: AttrInput = {}): void {
    this.rib.originate(prefix, attrs);
  }

  withdraw(prefix: string): boolean {
    return this.rib.withdrawLocal(prefix);
  }

  // -------------------------------------------------------------------------------------------

  private localOpen(config: PeerConfig, families: Afi[]): LocalOpenConfig {
    const gr = this.opts.gracefulRestart;
    return {
      localAsn: this.opts.localAsn,
      routerId: this.routerId,
      holdTime: config.holdTime ?? this.opts.holdTime ?? 90,
      ...(config.keepaliveTime !== undefined ? { keepaliveTime: config.keepaliveTime } : {}),
      families,
      ...(gr ? { gracefulRestart: { restartTime: config.gracefulRestartTime ?? gr.restartTime, restarting: !!gr.restarting, forwardingPreserved: !!gr.restarting } } : {}),
    };
  }

  private onIncoming(socket: Socket): void {
    let key: string;
    try {
      key = canonicalAddress(socket.remoteAddress ?? '');
    } catch {
      socket.destroy();
      return;
    }
    const rt = this.peers.get(key);
    if (!rt) {
      // Not a configured peer: refuse without a word (RFC 4271 8: connections from unknown peers).
      socket.destroy();
      return;
    }
    rt.session.acceptIncoming(socket);
  }

  private handlerFor(rt: PeerRuntime): SessionHandler {
    return {
      stateChanged: (from, to) => {
        this.log.info({ peer: rt.key, from, to }, 'BGP session state');
        this.emit('peer-state', { address: rt.key, from, to });
      },
      established: (n) => this.onEstablished(rt, n),
      down: (info) => {
        if (!info.wasEstablished) return;
        rt.lastError = info.reason;
        this.emit('peer-error', { address: rt.key, error: info.reason, ...(info.received ? { received: { code: info.received.code, subcode: info.received.subcode } } : {}) });
        const n = rt.lastNegotiated;
        const graceful = info.graceful && !!n?.peerGracefulRestart && !rt.removed;
        const refreshing = rt.refreshTimers.size > 0;
        this.cancelRefreshTimers(rt);
        rt.refreshing.clear();
        this.rib.peerDown(rt.rib, { keepStale: graceful });
        // Routes marked stale by an unfinished enhanced refresh (RFC 7313) go with the session.
        if (!graceful && refreshing) this.rib.purgeStale(rt.rib);
        if (graceful) {
          // RFC 4724 4.2: keep the routes for the peer's restart time; purge if it does not return.
          rt.grTimer?.cancel();
          rt.grTimer = this.clock.setTimer(n!.peerGracefulRestart!.restartTime * 1000, () => {
            rt.grTimer = null;
            const purged = this.rib.purgeStale(rt.rib);
            this.log.info({ peer: rt.key, purged }, 'graceful restart: peer did not return in time, stale routes purged');
          });
        }
      },
      update: (msg, outcome) => this.onUpdate(rt, msg, outcome),
      routeRefresh: (msg) => this.onRouteRefresh(rt, msg),
      writable: () => this.scheduleFlush(rt),
    };
  }

  private onEstablished(rt: PeerRuntime, n: Negotiated): void {
    rt.lastNegotiated = n;
    rt.lastError = null;
    rt.maxPrefixWarned = false;
    rt.eorSent.clear();
    rt.eorReceived.clear();
    rt.refreshing.clear();
    // The R bit belongs only to the first OPEN after our restart (RFC 4724 3).
    const local = rt.session.options.local;
    if (local.gracefulRestart?.restarting) rt.session.setLocalOpen({ ...local, gracefulRestart: { ...local.gracefulRestart, restarting: false } });
    const own = rt.session.localAddress;
    const localAddress: { v4?: string; v6?: string } = { v4: this.opts.nextHops?.ipv4, v6: this.opts.nextHops?.ipv6 };
    if (own?.includes(':')) localAddress.v6 = own;
    else if (own) localAddress.v4 = own;
    rt.grTimer?.cancel();
    rt.grTimer = null;
    if (rt.rib.stale) {
      // RFC 4724 4.2: families the peer did not keep forwarding for (no F bit) are purged now; the
      // rest wait for its End-of-RIB or the stale timer.
      for (const afi of AFIS) {
        if (!n.peerGracefulRestart?.families.get(afi) || !n.families.has(afi)) this.rib.purgeStale(rt.rib, afi);
      }
      if (rt.rib.stale) {
        rt.grTimer = this.clock.setTimer((this.opts.gracefulRestart?.staleTime ?? 360) * 1000, () => {
          rt.grTimer = null;
          this.rib.purgeStale(rt.rib);
        });
      }
    }
    this.rib.peerUp(rt.rib, { bgpId: n.peerBgpId, families: n.families, localAddress });
    // RFC 4724 4.1: peers without graceful restart, or restarting themselves, are not waited for.
    if (this.deferral && !rt.deferralDone && (!n.peerGracefulRestart || n.peerGracefulRestart.restarting)) {
      rt.deferralDone = true;
      this.queueDeferralCheck();
    }
    this.scheduleFlush(rt);
  }

  // -------------------------------------------------------------------------------------------
  // RFC 4724 4.1: selection deferral after our own restart

  private queueDeferralCheck(): void {
    const d = this.deferral;
    if (!d || d.checkQueued) return;
    d.checkQueued = true;
    // Deferred a turn, so that peers added together (the agent adds all at once) are counted.
    setImmediate(() => {
      d.checkQueued = false;
      if (this.deferral !== d) return;
      const waiting = [...this.peers.values()].filter((rt) => !rt.deferralDone);
      if (waiting.length === 0) this.endDeferral(this.peers.size ? 'End-of-RIB from every graceful restart peer' : 'no peers');
    });
  }

  private endDeferral(reason: string): void {
    const d = this.deferral;
    if (!d) return;
    this.deferral = null;
    d.timer.cancel();
    this.log.info({ reason, ipv4: this.rib.locRibSize(Afi.IPv4), ipv6: this.rib.locRibSize(Afi.IPv6) }, 'graceful restart: route selection deferral ended');
    // Listeners hear every best path once; prefixes that came and went meanwhile were never told.
    if (this.listenerCount('best') > 0) {
      for (const afi of AFIS) {
        // A copy of the keys: a listener may originate or withdraw while we walk.
        for (const key of [...this.rib.locRibKeys(afi)]) this.bestBatch.push(bestPathEvent(afi, key, this.rib.best(afi, key)));
      }
      this.flushBest();
    }
    this.emit('selection-deferral-end', { reason });
    for (const rt of this.peers.values()) this.scheduleFlush(rt);
  }

  /** Emits the best-path changes gathered so far, in the order they happened, as one `best` event. */
  private flushBest(): void {
    if (this.bestBatch.length === 0) return;
    const batch = this.bestBatch;
    this.bestBatch = [];
    this.emit('best', batch);
  }

  // -------------------------------------------------------------------------------------------
  // Route refresh (RFC 2918) and enhanced route refresh (RFC 7313)

  private onRouteRefresh(rt: PeerRuntime, msg: RouteRefreshMessage): void {
    const n = rt.session.negotiated;
    // RFC 2918 4 / RFC 7313 5: families not negotiated and unknown subtypes are ignored.
    if (!n || msg.safi !== Safi.Unicast || !n.families.has(msg.afi)) return;
    const afi = msg.afi;
    const family: FamilyName = afi === Afi.IPv4 ? 'ipv4' : 'ipv6';
    switch (msg.subtype) {
      case RouteRefreshSubtype.Normal:
        // RFC 7313 4: our answer is framed by BoRR ... EoRR, so that the peer can purge what we no
        // longer send. Without the capability, the old behaviour: End-of-RIB again when drained.
        if (n.enhancedRouteRefresh) {
          rt.session.requestRefresh({ type: 'route-refresh', afi, safi: Safi.Unicast, subtype: RouteRefreshSubtype.BeginningOfRouteRefresh });
          rt.refreshing.add(afi);
        } else {
          rt.eorSent.delete(afi);
        }
        this.rib.resend(rt.rib, afi, { full: true });
        return;
      case RouteRefreshSubtype.BeginningOfRouteRefresh: {
        if (!n.enhancedRouteRefresh) return;
        // Still in the graceful restart's own stale phase: its End-of-RIB does the purging (as FRR).
        if (!rt.refreshTimers.has(afi) && rt.rib.stale?.get(afi)?.size) return;
        const routes = this.rib.markStale(rt.rib, afi);
        rt.refreshTimers.get(afi)?.cancel();
        const seconds = this.opts.refreshStaleTime ?? 360;
        rt.refreshTimers.set(
          afi,
          this.clock.setTimer(seconds * 1000, () => {
            rt.refreshTimers.delete(afi);
            const purged = this.rib.purgeStale(rt.rib, afi);
            this.log.warn({ peer: rt.key, family, purged }, `enhanced route refresh: no EoRR within ${seconds} s, stale routes purged`);
            this.emit('enhanced-refresh', { address: rt.key, family, marker: 'timeout', routes: purged });
          }),
        );
        this.emit('enhanced-refresh', { address: rt.key, family, marker: 'begin', routes });
        return;
      }
      case RouteRefreshSubtype.EndOfRouteRefresh: {
        const timer = rt.refreshTimers.get(afi);
        // RFC 7313 4: an EoRR without a BoRR before it is ignored.
        if (!timer) return;
        timer.cancel();
        rt.refreshTimers.delete(afi);
        const purged = this.rib.purgeStale(rt.rib, afi);
        if (purged) this.log.info({ peer: rt.key, family, purged }, 'enhanced route refresh: routes not re-sent before EoRR purged');
        this.emit('enhanced-refresh', { address: rt.key, family, marker: 'end', routes: purged });
        return;
      }
    }
  }

  private cancelRefreshTimers(rt: PeerRuntime): void {
    for (const t of rt.refreshTimers.values()) t.cancel();
    rt.refreshTimers.clear();
  }

  private onUpdate(rt: PeerRuntime, msg: UpdateMessage, outcome: UpdateDecodeResult | undefined): void {
    if (outcome?.errors.length) {
      // RFC 7606: the session stays up; say what was wrong so that an operator can find out.
      const e = outcome.errors[0];
      rt.lastError = `UPDATE error (${outcome.action}): ${e.reason}`;
      this.log.warn({ peer: rt.key, action: outcome.action, errors: outcome.errors.map((x) => x.reason) }, 'malformed UPDATE handled per RFC 7606');
    }
    if (outcome?.action === 'afi-safi-disable') {
      // RFC 7606 2 allows disabling the family; tortie does not run families half-way, so the
      // session is reset instead (RFC 4760 7 permits either) and comes back after the idle hold.
      const e = outcome.errors.find((x) => x.action === 'afi-safi-disable') ?? outcome.errors[0];
      rt.session.reset(e);
      return;
    }
    const eor = endOfRibFamily(msg);
    if (eor) {
      const purged = this.rib.purgeStale(rt.rib, eor.afi);
      if (purged) this.log.info({ peer: rt.key, family: afiName(eor.afi), purged }, 'End-of-RIB: stale routes purged');
      rt.eorReceived.add(eor.afi);
      const n = rt.session.negotiated;
      if (this.deferral && !rt.deferralDone && n && [...n.families].every((f) => rt.eorReceived.has(f))) {
        rt.deferralDone = true;
        this.queueDeferralCheck();
      }
      this.emit('end-of-rib', { address: rt.key, family: eor.afi === Afi.IPv4 ? 'ipv4' : 'ipv6' });
      return;
    }
    const n = rt.session.negotiated;
    if (!n) return;
    const { mpReach, mpUnreach, nextHop, ...rest } = msg.attrs;
    if (msg.withdrawn.count && n.families.has(Afi.IPv4)) this.rib.withdraw(rt.rib, msg.withdrawn);
    if (mpUnreach && mpUnreach.safi === Safi.Unicast && n.families.has(mpUnreach.afi) && mpUnreach.withdrawn.count) this.rib.withdraw(rt.rib, mpUnreach.withdrawn);
    if (msg.nlri.count && n.families.has(Afi.IPv4) && nextHop !== undefined) this.rib.announce(rt.rib, msg.nlri, { ...rest, nextHop });
    if (mpReach && mpReach.safi === Safi.Unicast && n.families.has(mpReach.afi) && mpReach.nlri.count) {
      this.rib.announce(rt.rib, mpReach.nlri, { ...rest, nextHop: mpReach.nextHop, linkLocalNextHop: mpReach.linkLocalNextHop });
    }
    this.checkMaxPrefix(rt);
  }

  /** Per-peer max-prefix (RFC 4486): warn once, or tear down and retry after a while. */
  private checkMaxPrefix(rt: PeerRuntime): void {
    const mp = rt.config.maxPrefixes;
    if (!mp) return;
    const count = rt.rib.accepted();
    if (count <= mp.limit) return;
    if (mp.action === 'warn') {
      if (!rt.maxPrefixWarned) {
        rt.maxPrefixWarned = true;
        rt.lastError = `max-prefix: ${count} prefixes accepted, limit ${mp.limit}`;
        this.log.warn({ peer: rt.key, count, limit: mp.limit }, 'peer exceeded its prefix limit');
        this.emit('peer-error', { address: rt.key, error: rt.lastError });
      }
      return;
    }
    const data = new Uint8Array(7);
    const v = new DataView(data.buffer);
    v.setUint16(0, Afi.IPv4);
    v.setUint8(2, Safi.Unicast);
    v.setUint32(3, Math.min(mp.limit, 0xffffffff));
    const err: BgpError = { code: ErrorCode.Cease, subcode: CeaseSubcode.MaximumPrefixesReached, data, reason: `max-prefix: ${count} prefixes accepted, limit ${mp.limit}` };
    rt.session.stop(err);
    rt.lastError = err.reason;
    this.emit('peer-error', { address: rt.key, error: err.reason });
    rt.maxPrefixTimer?.cancel();
    rt.maxPrefixTimer = this.clock.setTimer((mp.restartAfter ?? 60) * 1000, () => {
      rt.maxPrefixTimer = null;
      if (!rt.removed) rt.session.start();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private scheduleFlush(rt: PeerRuntime): void {
    if (rt.flushScheduled || rt.removed) return;
    rt.flushScheduled = true;
    setImmediate(() => {
      rt.flushScheduled = false;
      this.flush(rt);
    });
  }

  /** Prefixes per batch taken from the Adj-RIB-Out before checking the socket again. */
  private static readonly BATCH = 2048;
  /** Batches per turn of the event loop, so that other peers and timers get their turn. */
  private static readonly BATCHES_PER_TURN = 8;

  private flush(rt: PeerRuntime): void {
    const s = rt.session;
    const n = s.negotiated;
    // RFC 4724 4.1: nothing goes out, End-of-RIB included, until route selection is complete.
    if (!n || rt.removed || this.deferral) return;
    let batches = 0;
    for (const afi of rt.families) {
      if (!n.families.has(afi)) continue;
      while (s.canWrite) {
        if (batches >= Speaker.BATCHES_PER_TURN) {
          this.scheduleFlush(rt);
          return;
        }
        const batch = this.rib.takePending(rt.rib, afi, Speaker.BATCH);
        batches++;
        if (batch.withdrawn.length) {
          for (const m of encodeWithdrawals(keysToList(afi, batch.withdrawn), n.codec)) s.write(m);
        }
        for (const [attrs, keys] of batch.announced) this.writeAnnouncements(rt, afi, attrs, keys, n);
        if (batch.drained) {
          if (!rt.eorSent.has(afi)) {
            // RFC 4724 2: End-of-RIB once the initial table is sent (for every family, GR or not).
            rt.eorSent.add(afi);
            s.write(encodeEndOfRib({ afi, safi: Safi.Unicast }));
          }
          if (rt.refreshing.delete(afi)) {
            // RFC 7313 4: the refresh we answered is complete.
            s.requestRefresh({ type: 'route-refresh', afi, safi: Safi.Unicast, subtype: RouteRefreshSubtype.EndOfRouteRefresh });
          }
          break;
        }
      }
      // Socket full: the session's `writable` resumes us on drain.
      if (!s.canWrite) return;
    }
  }

  private writeAnnouncements(rt: PeerRuntime, afi: Afi, attrs: AttrSet, keys: RouteKey[], n: Negotiated): void {
    try {
      for (const m of encodeAnnouncements(this.toWire(attrs, afi), keysToList(afi, keys), n.codec)) rt.session.write(m);
    } catch (e) {
      // An attribute set that cannot be encoded (too large for one message): never advertised.
      const msg = e instanceof EncodeError ? e.message : String(e);
      this.log.error({ peer: rt.key, err: msg, prefixes: keys.length }, 'cannot encode UPDATE; prefixes not advertised');
      const out = rt.rib.adjOut.get(afi)!;
      for (const k of keys) out.delete(k);
      rt.lastError = `cannot encode UPDATE: ${msg}`;
    }
  }

  /** An interned set as the encoder wants it: next hop in NEXT_HOP (IPv4) or MP_REACH (IPv6). */
  private toWire(attrs: AttrSet, afi: Afi): PathAttributes {
    const memo = this.wireAttrs[afi === Afi.IPv4 ? 0 : 1];
    let w = memo.get(attrs);
    if (w) return w;
    const { id: _id, nextHop, linkLocalNextHop, ...rest } = attrs;
    const base = rest as PathAttributes;
    if (afi === Afi.IPv4) w = { ...base, nextHop };
    else {
      w = {
        ...base,
        mpReach: {
          afi: Afi.IPv6,
          safi: Safi.Unicast,
          nextHop: nextHop ?? '::',
          ...(linkLocalNextHop ? { linkLocalNextHop } : {}),
          nlri: { afi: Afi.IPv6, count: 0, addrs: new Uint32Array(0), lens: new Uint8Array(0), pathIds: null },
        },
      };
    }
    memo.set(attrs, w);
    return w;
  }
}
