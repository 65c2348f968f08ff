/**
 * The real `tortie agent`: the parts factory that ties the datastore, the BGP speaker and the
 * dataplane together (issue 7). Data flows one way, and every step is an event, never a poll:
 *
 *   datastore 'change' --(coalesced per event-loop turn)--> reconcile():
 *       desired.ts computes peers, originated prefixes and local routes from the snapshot
 *       -> speaker.addPeer/removePeer, originate/withdraw   (-> UPDATEs to the other nodes)
 *       -> NodeRoutes.setLocal                              (-> route controller -> netlink)
 *       -> the CNI's node-state file
 *   speaker 'best' (a turn's changes in one array) -> NodeRoutes.setLearned -> route controller -> netlink
 *   speaker 'peer-state' -> metrics, BGPStatus through the datastore
 *
 * Start: datastore first (its first sync), then the node's addresses (annotation, InternalIP,
 * autodetection: logged with the reason), then the dataplane with our routes found in the kernel
 * adopted (no flap), then the speaker with local routes originated before any peer is added (so
 * the first UPDATEs and End-of-RIB carry the complete table, RFC 4724 4.1).
 * A new AS, listen port, cluster ID or cluster ranges replaces the speaker at run time (Cease/Other
 * Configuration Change to every peer), the kernel's learned routes held until the new sessions'
 * End-of-RIB.
 * Stop (SIGTERM): the speaker drops its sessions without a NOTIFICATION (peers keep our routes as
 * graceful restart helpers), the dataplane stops with every kernel route left in place, the
 * datastore stops; runAgent then removes the control socket.
 */
import { dirname, join } from 'node:path';
import { Speaker, type BestPathEvent, type PeerStatus as SpeakerPeerStatus } from '../bgp/speaker.ts';
import { Afi, CeaseSubcode, ErrorCode } from '../bgp/wire/constants.ts';
import { formatKey, parsePrefix as ribPrefix } from '../bgp/rib/prefix.ts';
import { hostVethName } from '../cni/veth-name.ts';
import { writeNodeState } from '../cni/node-state.ts';
import { NetlinkKernel, RouteController, type NodeSubnet } from '../dataplane/index.ts';
import { openDatastore, FileDatastore, type Datastore, type Snapshot, type DatastoreError } from '../datastore/index.ts';
import { formatIssue } from '../datastore/errors.ts';
import { IprouteHost, type HostNetwork } from './autodetect.ts';
import { AgentError, AgentErrorCode } from './errors.ts';
import { desiredBgp, desiredLocalRoutes, nodeBlocks, samePeerConfig, type DesiredBgp, type DesiredPeer, type DesiredProblem, type Self } from './desired.ts';
import { readKernelRoutes } from './kernel-routes.ts';
import { sharedSubnetTest } from './shared-subnet.ts';
import { NodeRoutes } from './node-routes.ts';
import { ribRoutes } from './rib-view.ts';
import type { AgentContext, AgentParts, PartsFactory } from './run.ts';
import { PeerType, type DataplaneStats, type NodeStatus, type PeerStatus, type SessionState } from './sources.ts';
import { VERSION } from '../version.ts';

/** How long the node-state file may grow old before it is rewritten (the plugin may check age). */
const NODE_STATE_REFRESH_MS = 60_000;
/** At most this many refused configurations are shown by `tortie status`. */
const MAX_CONFIG_ERRORS = 10;

export interface WiringOptions {
  /** The host autodetection and the node-subnet lookup read; the kernel via `ip` by default. */
  host?: HostNetwork;
}

interface ConfigErrorEntry {
  code: string;
  subject: string;
  message: string;
  since: string;
}

/** The parts factory `tortie agent` runs with. */
export function wiredParts(options: WiringOptions = {}): PartsFactory {
  return async (ctx) => new Wiring(ctx, options.host ?? new IprouteHost()).start();
}

class Wiring {
  private readonly ctx: AgentContext;
  private readonly host: HostNetwork;
  private datastore!: Datastore;
  private speaker!: Speaker;
  private controller!: RouteController;
  private kernel!: NetlinkKernel;
  private routes!: NodeRoutes;
  private self!: Self;
  private bgp!: DesiredBgp;
  /** Peers applied to the speaker, by key. */
  private readonly peers = new Map<string, DesiredPeer>();
  private originated = new Set<string>();
  private nodeStateText = '';
  private readonly nodeStateFile: string;
  private reconcileQueued = false;
  private stopped = false;
  /** Refused datastore edits; cleared by the next change the datastore accepts. */
  private datastoreErrors: ConfigErrorEntry[] = [];
  /** What the model asks that cannot be applied, as of the last reconcile (key -> entry). */
  private modelErrors = new Map<string, ConfigErrorEntry>();
  /** Peers whose End-of-RIB ends the adoption of kernel routes found at start. */
  /** Kernel routes from before a restart are kept until the speaker's selection deferral ends. */
  private adopting = false;
  /** Ends a hold of learned routes that no selection deferral ends (a peer's configuration change). */
  private holdTimer: NodeJS.Timeout | null = null;
  /** While routes are held: the peers (and their families) whose End-of-RIB ends the hold. */
  private readonly awaitingEor = new Map<string, Set<string>>();
  /** A speaker replacement in progress: reconciles wait for it. */
  private replacing = false;
  private speakerStopRegistered = false;
  private nodeStateTimer: NodeJS.Timeout | null = null;

  constructor(ctx: AgentContext, host: HostNetwork) {
    this.ctx = ctx;
    this.host = host;
    this.nodeStateFile = ctx.config.nodeStateFile ?? join(dirname(ctx.config.controlSocket), 'node.json');
  }

  private get log() {
    return this.ctx.log;
  }

  async start(): Promise<AgentParts> {
    const { config } = this.ctx;
    await this.startDatastore();
    const snap = this.datastore.snapshot();
    const me = snap.nodes.get(config.nodeName);
    if (!me) {
      throw new AgentError(AgentErrorCode.NodeNotFound, `the datastore has no Node named '${config.nodeName}' (--node-name / TORTIE_NODE_NAME); known: ${[...snap.nodes.keys()].join(', ') || 'none'}`);
    }
    const addresses = await this.ctx.resolveNodeAddresses({
      ipv4: { annotation: me.bgp.ipv4Address, internalIPs: [...me.internalIPs] },
      ipv6: { annotation: me.bgp.ipv6Address, internalIPs: [...me.internalIPs] },
    });
    this.self = { name: config.nodeName, ipv4: addresses.ipv4.address, ipv6: addresses.ipv6.address };

    await this.startDataplane(snap);
    await this.startSpeaker(snap);
    this.reconcile();

    this.ctx.onReload('datastore and dataplane', async () => {
      if (this.datastore instanceof FileDatastore) await this.datastore.reload();
      this.controller.requestResync();
      this.reconcile();
    });
    this.nodeStateTimer = setInterval(() => this.writeNodeState(true), NODE_STATE_REFRESH_MS);
    this.nodeStateTimer.unref();
    this.ctx.onStop({
      name: 'wiring timers',
      stop: () => {
        this.stopped = true;
        if (this.nodeStateTimer) clearInterval(this.nodeStateTimer);
        if (this.holdTimer) clearTimeout(this.holdTimer);
      },
    });
    return this.parts();
  }

  // ---- start -----------------------------------------------------------------------------

  private async startDatastore(): Promise<void> {
    const { config, log, metrics } = this.ctx;
    this.datastore = await openDatastore(config.datastore, { nodeName: config.nodeName, logger: log.child({ component: 'datastore' }) });
    let resyncs = 0;
    this.datastore.on('change', (e) => {
      metrics.datastoreEvent(e.kind, e.type);
      // Relists (Kubernetes) and re-read files, counted by the datastore: carried into the metric.
      const now = this.datastore.stats().resyncs;
      if (now > resyncs) metrics.datastoreResync(this.datastore.type === 'file' ? 'file re-read' : 'relist', now - resyncs);
      resyncs = now;
      // A change only follows an edit the datastore accepted: earlier refusals are history.
      this.datastoreErrors = [];
      this.scheduleReconcile();
    });
    this.datastore.on('problem', (err) => this.datastoreProblem(err));
    try {
      await this.datastore.start();
    } catch (e) {
      const err = e as DatastoreError;
      const issues = err.issues?.length ? `:\n  ${err.issues.map(formatIssue).join('\n  ')}` : '';
      throw new AgentError(AgentErrorCode.DatastoreFailed, `datastore ${config.datastore.type === 'file' ? `file:${config.datastore.path}` : 'kubernetes'}: ${err.message}${issues}`, { cause: e });
    }
    this.ctx.onStop({ name: 'datastore', stop: () => this.datastore.stop() });
    await this.datastore.synced;
    log.info({ type: this.datastore.type }, 'datastore synced');
  }

  private datastoreProblem(err: DatastoreError): void {
    const issues = (err.issues ?? []).map(formatIssue);
    this.log.error({ code: err.code, subject: err.subject, issues }, `configuration refused, running state kept: ${err.message}`);
    this.datastoreErrors.push({ code: err.code, subject: err.subject, message: [err.message, ...issues].join('; '), since: new Date().toISOString() });
    if (this.datastoreErrors.length > MAX_CONFIG_ERRORS) this.datastoreErrors.shift();
  }

  /** The node's subnets for on-link next hops: the prefix of the node's address on its interface. */
  private async nodeSubnets(): Promise<NodeSubnet[]> {
    const out: NodeSubnet[] = [];
    const ifaces = await this.host.interfaces().catch(() => []);
    for (const addr of [this.self.ipv4, this.self.ipv6]) {
      if (!addr) continue;
      for (const i of ifaces) {
        const a = i.addresses.find((x) => x.address === addr);
        if (a) out.push({ cidr: formatKey(ribPrefix(`${addr}/${a.prefixLength}`, { allowHostBits: true }).key), ifname: i.name });
      }
    }
    return out;
  }

  private async startDataplane(snap: Snapshot): Promise<void> {
    const { log } = this.ctx;
    const subnets = await this.nodeSubnets();
    this.subnets = subnets;
    this.kernel = new NetlinkKernel();
    const dlog = log.child({ component: 'dataplane' });
    try {
      this.controller = this.makeController(subnets, dlog);
    } catch (e) {
      throw new AgentError(AgentErrorCode.StartFailed, `dataplane: ${(e as Error).message}`, { cause: e });
    }
    this.routes = new NodeRoutes(this.controller, dlog);
    await this.adoptAndStart(snap, subnets);
  }

  private makeController(subnets: NodeSubnet[], dlog: AgentContext['log']): RouteController {
    const { config } = this.ctx;
    return new RouteController({
      kernel: this.kernel,
      protocol: config.routeProtocol,
      table: config.routeTable,
      resyncIntervalMs: config.routeResyncInterval,
      takeOverConflicts: config.routeTakeover,
      ecmp: config.ecmp,
      nodeSubnets: subnets,
      onConflict: (c) => dlog.warn({ prefix: c.prefix, foreign: c.foreign.map((r) => ({ protocol: r.protocol, type: r.type })) }, 'a foreign route holds a prefix tortie wants; left alone (see --route-takeover)'),
      onFailure: (f) => dlog.warn({ code: f.code, prefix: f.prefix }, `dataplane: ${f.message}`),
    });
  }

  private async adoptAndStart(snap: Snapshot, subnets: NodeSubnet[]): Promise<void> {
    const { config, log } = this.ctx;
    // Our routes from before a restart: learned ones are adopted until the peers have spoken.
    let ours;
    try {
      ours = (await this.kernel.dumpRoutes(config.routeTable)).filter((r) => r.protocol === config.routeProtocol);
    } catch (e) {
      await this.kernel.close();
      throw new AgentError(AgentErrorCode.StartFailed, `dataplane: cannot read the kernel's routes: ${(e as Error).message}`, { cause: e });
    }
    const adopted = this.routes.adopt(ours);
    this.forwardingPreserved = ours.length > 0;
    const local = desiredLocalRoutes(snap, config.nodeName, hostVethName);
    this.routes.setLocal(local.workloads, local.blackholes);
    await this.controller.start();
    this.ctx.onStop({
      name: 'dataplane',
      stop: async () => {
        await this.controller.stop();
        await this.kernel.close();
      },
    });
    log.info({ subnets, found: ours.length, adopted, workloads: local.workloads.size, blackholes: local.blackholes.size }, `dataplane started: ${ours.length} routes of ours found in the kernel, kept in place`);
  }

  private forwardingPreserved = false;
  /** The node's own subnets, found when the dataplane starts. */
  private subnets: NodeSubnet[] = [];

  /** `replacing`: the node's BGP configuration changed at run time; the wiring holds the routes itself. */
  private async startSpeaker(snap: Snapshot, replacing = false): Promise<void> {
    const { config, log, metrics } = this.ctx;
    const bgp = desiredBgp(snap, this.self, { advertisePodRoutes: config.advertisePodRoutes, listenPort: config.listenPort });
    if (!this.self.ipv4) throw new AgentError(AgentErrorCode.NodeAddress, `node ${this.self.name} has no IPv4 address: the BGP identifier needs one`);
    const blog = log.child({ component: 'bgp' });
    // A replacement is no restart of ours: its peers were told (Cease), and the wiring holds routes.
    const restarting = this.forwardingPreserved && !replacing;
    try {
      this.speaker = new Speaker({
        localAsn: bgp.localAsn,
        routerId: bgp.routerId,
        ...(bgp.clusterId ? { clusterId: bgp.clusterId } : {}),
        clusterRanges: bgp.clusterRanges,
        listen: { port: bgp.listenPort },
        // With forwarding kept, the speaker defers selection (RFC 4724 4.1) until the peers' End-of-RIB,
        // bounded by our restart time as the adoption wait was (peers' stale timers are longer).
        gracefulRestart: { restartTime: config.gracefulRestartTime, restarting, selectionDeferralTime: Math.max(1, config.gracefulRestartTime) },
        holdTime: config.holdTime,
        // Third-party next hops towards eBGP peers on the node's subnet (RFC 4271 5.1.3).
        sharedSubnet: sharedSubnetTest(this.subnets.map((s) => s.cidr)),
        nextHops: { ...(this.self.ipv4 ? { ipv4: this.self.ipv4 } : {}), ...(this.self.ipv6 ? { ipv6: this.self.ipv6 } : {}) },
        logger: blog,
      });
    } catch (e) {
      throw new AgentError(AgentErrorCode.StartFailed, `BGP: ${(e as Error).message}`, { cause: e });
    }
    this.speaker.on('best', (e) => this.onBest(e));
    this.speaker.on('peer-state', (e) => {
      const p = this.peers.get(e.address);
      blog.info({ peer: e.address, asn: p?.config.asn, type: p?.type, from: e.from, to: e.to }, `BGP peer ${e.address} ${e.from} -> ${e.to}`);
      metrics.sessionTransition(e.address, e.from as SessionState, e.to as SessionState);
      this.writeStatus();
    });
    this.speaker.on('peer-error', (e) => {
      const p = this.peers.get(e.address);
      blog.warn({ peer: e.address, asn: p?.config.asn, err: e.error }, 'BGP peer error');
      // The peer restarts its sessions for a new AS or cluster configuration (as we do, below):
      // its routes come back shortly, so the kernel keeps them meanwhile. Emitted before the
      // speaker drops the peer's routes, whose withdrawals reach `onBest` a turn later.
      if (e.received?.code === ErrorCode.Cease && e.received.subcode === CeaseSubcode.OtherConfigurationChange) {
        const p = this.peers.get(e.address);
        this.holdRoutes(`peer ${e.address} restarted its session after a configuration change`, p ? [[e.address, p]] : []);
      }
    });
    // Emitted after the held-back best paths, so the sweep sees every route re-learned.
    this.speaker.on('selection-deferral-end', (e) => this.endAdoption(e.reason));
    this.speaker.on('end-of-rib', (e) => this.onEndOfRib(e.address, e.family));
    try {
      await this.speaker.start();
    } catch (e) {
      throw new AgentError(AgentErrorCode.StartFailed, `BGP: cannot listen on port ${bgp.listenPort}: ${(e as Error).message}`, { cause: e });
    }
    // Set once running: a speaker that failed to start leaves the old values, so the next change retries.
    this.bgp = bgp;
    if (!this.speakerStopRegistered) {
      // `this.speaker` read at stop time: a replaced speaker is the one stopped.
      this.ctx.onStop({ name: 'BGP speaker', stop: () => this.speaker.closeForRestart() });
      this.speakerStopRegistered = true;
    }
    log.info({ asn: bgp.localAsn, routerId: bgp.routerId, listenPort: bgp.listenPort, clusterRanges: bgp.clusterRanges, restarting }, 'BGP speaker started');

    // Originate first, peers second: the first table each peer gets is complete.
    this.applyOriginated(bgp.originated);
    if (replacing) return;
    if (this.routes.adoptedCount > 0) {
      this.adopting = true;
      // Learned routes reach the kernel only when the speaker's selection deferral ends (the
      // peers' End-of-RIB or its timer); until then the adopted routes keep forwarding.
      if (bgp.peers.size === 0) this.endAdoption('no peers');
      else if (!this.speaker.selectionDeferred) this.endAdoption('no selection deferral');
    }
  }

  /**
   * Keeps the kernel's learned routes while sessions restart: they are held as adopted until the
   * awaited peers' End-of-RIB (`onEndOfRib`), or the graceful restart time.
   */
  private holdRoutes(why: string, until: [string, DesiredPeer][]): void {
    const held = this.routes.holdLearned();
    if (held === 0) return;
    this.adopting = true;
    for (const [key, p] of until) this.awaitingEor.set(key, new Set(p.config.families ?? ['ipv4', 'ipv6']));
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.endAdoption(`routes held for ${this.ctx.config.gracefulRestartTime} s`), Math.max(1, this.ctx.config.gracefulRestartTime) * 1000);
    this.holdTimer.unref();
    this.log.info({ held, why }, `${held} learned routes kept in the kernel while sessions restart: ${why}`);
  }

  private onEndOfRib(address: string, family: string): void {
    const waiting = this.awaitingEor.get(address);
    if (!waiting) return;
    waiting.delete(family);
    if (waiting.size === 0) this.awaitingEor.delete(address);
    if (this.awaitingEor.size === 0) this.endAdoption('End-of-RIB from every peer whose session restarted');
  }

  private endAdoption(why: string): void {
    if (!this.adopting) return;
    this.adopting = false;
    this.awaitingEor.clear();
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    const removed = this.routes.sweepAdopted();
    this.log.info({ removed, why }, `routes kept from before the restart reconciled: ${removed} no longer announced were removed`);
  }

  private onBest(events: BestPathEvent[]): void {
    for (const e of events) {
      // Originated routes are programmed from the model (local routes); learned ones via their next hop.
      const learned = e.route && e.route.peer !== null ? (e.route.nextHop ?? null) : null;
      this.routes.setLearned(e.prefix, learned);
    }
  }

  // ---- reconcile ---------------------------------------------------------------------------

  private scheduleReconcile(): void {
    if (this.reconcileQueued || this.stopped) return;
    this.reconcileQueued = true;
    setImmediate(() => {
      this.reconcileQueued = false;
      if (this.stopped) return;
      try {
        this.reconcile();
      } catch (e) {
        // A model the wiring cannot digest must not take the node's routing down with the process.
        this.log.error({ err: e }, 'reconcile failed; the running state is kept until the next change');
      }
    });
  }

  /** Brings the speaker, the local routes and the node-state file in line with the model. */
  private reconcile(): void {
    if (!this.speaker) return;
    // The replacement reconciles when the new speaker runs.
    if (this.replacing) return;
    const { config } = this.ctx;
    const snap = this.datastore.snapshot();
    const local = desiredLocalRoutes(snap, config.nodeName, hostVethName);
    this.routes.setLocal(local.workloads, local.blackholes);
    const bgp = desiredBgp(snap, this.self, { advertisePodRoutes: config.advertisePodRoutes, listenPort: config.listenPort });
    const before = this.bgp;
    const changes: string[] = [];
    for (const [what, a, b] of [
      ['AS number', before.localAsn, bgp.localAsn],
      ['listen port', before.listenPort, bgp.listenPort],
      ['route reflector cluster ID', before.clusterId ?? 'none', bgp.clusterId ?? 'none'],
      ['cluster ranges', before.clusterRanges.join(',') || 'none', bgp.clusterRanges.join(',') || 'none'],
    ] as const) {
      if (a !== b) changes.push(`${what} ${a} -> ${b}`);
    }
    if (changes.length > 0) {
      // The RIB and every OPEN carry these: a new speaker takes them (Calico's BIRD reconfigures).
      void this.replaceSpeaker(changes);
      return;
    }
    this.bgp = bgp;
    this.applyOriginated(bgp.originated);
    this.applyPeers(bgp);
    this.reportProblems(bgp.problems);
    this.writeNodeState(false);
    this.writeStatus();
  }

  /**
   * Replaces the speaker for a new AS, listen port, cluster ID or cluster ranges: the old one ends
   * its sessions with Cease/Other Configuration Change (RFC 4486 3), so peers drop them cleanly;
   * the new one takes the peers and originated routes anew, without the R bit (every peer restarts
   * too, so RFC 4724 4.1 would wait for none of them); the kernel's learned routes are held until
   * each session that was up has sent End-of-RIB again, or the graceful restart time passes.
   */
  private async replaceSpeaker(changes: string[]): Promise<void> {
    this.replacing = true;
    const old = this.speaker;
    // Only sessions that were up (or are awaited after the peer's own restart) gave us routes:
    // those are the ones worth waiting for.
    const established = new Set([...old.status().filter((p) => p.state === 'Established').map((p) => p.address), ...this.awaitingEor.keys()]);
    try {
      this.log.info({ changes }, `BGP configuration changed (${changes.join('; ')}): every BGP session restarts with the new values`);
      this.holdRoutes('the BGP speaker is replaced', []);
      old.removeAllListeners();
      await old.stop({ subcode: CeaseSubcode.OtherConfigurationChange, reason: `local configuration changed: ${changes.join('; ')}` });
      for (const key of this.peers.keys()) this.ctx.metrics.forgetPeer(key);
      this.peers.clear();
      this.originated = new Set();
      if (this.stopped) return;
      try {
        await this.startSpeaker(this.datastore.snapshot(), true);
      } catch (e) {
        // The old one is gone: keep the node's kernel routes, report, and retry on the next change.
        this.log.error({ err: (e as Error).message }, 'BGP speaker could not be restarted with the new configuration; kernel routes kept');
        this.modelErrors.set('TORTIE_SPEAKER_RESTART', { code: 'TORTIE_SPEAKER_RESTART', subject: 'BGPConfiguration default', message: (e as Error).message, since: new Date().toISOString() });
        return;
      }
    } finally {
      this.replacing = false;
    }
    // The held routes go once every peer of the new speaker has sent its table (or the hold time passes).
    this.awaitingEor.clear();
    for (const [key, p] of this.bgp.peers) if (established.has(key)) this.awaitingEor.set(key, new Set(p.config.families ?? ['ipv4', 'ipv6']));
    if (this.awaitingEor.size === 0) this.endAdoption('no peer was up');
    this.scheduleReconcile();
  }

  /** Logs each problem once, when it appears; `tortie status` shows those still present. */
  private reportProblems(problems: DesiredProblem[]): void {
    const next = new Map<string, ConfigErrorEntry>();
    for (const p of problems) {
      const key = `${p.code}|${p.subject}|${p.message}`;
      const known = this.modelErrors.get(key);
      if (!known) this.log.error({ code: p.code, subject: p.subject, peer: p.peer }, `configuration refused: ${p.subject}: ${p.message}`);
      next.set(key, known ?? { code: p.code, subject: p.subject, message: p.message, since: new Date().toISOString() });
    }
    this.modelErrors = next;
  }

  private applyOriginated(next: Set<string>): void {
    for (const p of this.originated) if (!next.has(p)) this.speaker.withdraw(p);
    for (const p of next) if (!this.originated.has(p)) this.speaker.originate(p);
    this.originated = new Set(next);
  }

  private applyPeers(bgp: DesiredBgp): void {
    const refused = new Set(bgp.problems.map((p) => p.peer).filter((p): p is string => !!p));
    for (const [key, applied] of this.peers) {
      const want = bgp.peers.get(key);
      if (want && samePeerConfig(want.config, applied.config)) {
        this.peers.set(key, want);
        continue;
      }
      // Only policy changed (filters, communities, next-hop-self, max-prefix): the live session is
      // updated in place (soft reconfiguration, route refresh) instead of being restarted.
      if (want && this.reconfigureInPlace(key, want, applied, bgp)) continue;
      // A peer whose new configuration was refused keeps running as it was.
      if (!want && refused.has(key)) continue;
      this.speaker.removePeer(key);
      this.peers.delete(key);
      this.ctx.metrics.forgetPeer(key);
      if (!want) this.log.info({ peer: key, asn: applied.config.asn, type: applied.type, origin: applied.origin }, `BGP peer ${key} removed`);
    }
    for (const [key, want] of bgp.peers) {
      if (this.peers.has(key)) continue;
      try {
        this.speaker.addPeer(want.config);
      } catch (e) {
        bgp.problems.push({ subject: want.origin, peer: key, code: (e as { code?: string }).code ?? 'TORTIE_PEER_REFUSED', message: (e as Error).message });
        continue;
      }
      this.peers.set(key, want);
      this.log.info({ peer: key, asn: want.config.asn, type: want.type, origin: want.origin, port: want.config.port, mode: want.config.mode }, `BGP peer ${key} added (${want.type})`);
    }
  }

  /** True when the speaker took the change on the live peer (or refused it, keeping the old one). */
  private reconfigureInPlace(key: string, want: DesiredPeer, applied: DesiredPeer, bgp: DesiredBgp): boolean {
    try {
      if (!this.speaker.reconfigurePeer(want.config)) return false;
    } catch (e) {
      bgp.problems.push({ subject: want.origin, peer: key, code: (e as { code?: string }).code ?? 'TORTIE_PEER_REFUSED', message: (e as Error).message });
      return true;
    }
    this.peers.set(key, want);
    this.log.info({ peer: key, asn: want.config.asn, type: want.type, origin: want.origin, was: applied.origin }, `BGP peer ${key} reconfigured in place (policy only)`);
    return true;
  }

  private writeNodeState(refresh: boolean): void {
    const snap = this.datastore.snapshot();
    const podCIDRs = nodeBlocks(snap, this.self.name);
    const text = JSON.stringify(podCIDRs);
    if (!refresh && text === this.nodeStateText) return;
    if (podCIDRs.length === 0) return;
    try {
      writeNodeState(this.nodeStateFile, { nodeName: this.self.name, podCIDRs });
      if (text !== this.nodeStateText) this.log.info({ file: this.nodeStateFile, podCIDRs }, 'node state written for the CNI plugin');
      this.nodeStateText = text;
    } catch (e) {
      this.log.error({ file: this.nodeStateFile, err: (e as Error).message }, 'cannot write the node state file for the CNI plugin');
    }
  }

  private writeStatus(): void {
    if (this.stopped || !this.speaker) return;
    const peers = this.peerStatus();
    this.datastore.writeStatus(this.self.name, {
      established: peers.filter((p) => p.state === 'Established').length,
      total: peers.length,
      peers: peers.map((p) => ({ address: p.address, asNumber: p.asNumber, type: p.type, state: p.state, since: p.since, lastError: p.lastError ?? '' })),
      updated: '',
    });
  }

  // ---- sources -------------------------------------------------------------------------------

  private peerStatus(): PeerStatus[] {
    return this.speaker.status().map((s: SpeakerPeerStatus) => {
      const p = this.peers.get(s.address);
      return {
        address: s.address,
        ...(p?.config.port && p.config.port !== 179 ? { port: p.config.port } : {}),
        asNumber: s.asn,
        type: p?.type ?? PeerType.Global,
        state: s.state as SessionState,
        since: s.since,
        prefixesReceived: s.prefixesReceived,
        prefixesAccepted: s.prefixesAccepted,
        prefixesAdvertised: s.prefixesAdvertised,
        lastError: s.lastError,
        counters: { messagesReceived: { UPDATE: s.updatesReceived }, messagesSent: { UPDATE: s.updatesSent } },
      };
    });
  }

  private nodeStatus(): NodeStatus {
    return {
      name: this.self.name,
      asNumber: this.bgp.localAsn,
      routerId: this.bgp.routerId,
      ipv4Address: this.self.ipv4,
      ipv6Address: this.self.ipv6,
      startedAt: this.ctx.startedAt,
      version: VERSION,
      configErrors: [...this.datastoreErrors, ...this.modelErrors.values()],
    };
  }

  private dataplaneStats(): DataplaneStats {
    const c = this.controller.counters;
    return {
      routes: c.routes,
      resyncs: c.resyncs,
      resyncSecondsTotal: c.resyncSecondsTotal,
      lastResyncSeconds: c.lastResyncSeconds,
      failures: c.failures,
      repairs: c.repairs,
      conflicts: c.conflicts,
      pendingInterface: c.pendingInterface,
    };
  }

  private parts(): AgentParts {
    const { config } = this.ctx;
    return {
      status: { node: () => this.nodeStatus(), peers: () => this.peerStatus() },
      routes: { routes: (q) => ribRoutes(this.speaker.rib, q) },
      kernel: { kernelRoutes: (prefixes) => readKernelRoutes(prefixes, { protocol: config.routeProtocol, table: config.routeTable }) },
      sync: { synced: () => this.datastore.isSynced },
      locRib: { locRibSize: () => ({ ipv4: this.speaker.rib.locRibSize(Afi.IPv4), ipv6: this.speaker.rib.locRibSize(Afi.IPv6) }) },
      dataplane: { stats: () => this.dataplaneStats() },
    };
  }
}
