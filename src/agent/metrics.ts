/**
 * The agent's Prometheus metrics. Two ways in:
 * - events, counted as they happen through the small methods below (state transitions, datastore
 *   events, pod-route propagation);
 * - state and cumulative counters, read from the sources at scrape time (session states, prefix
 *   counts, message counts, table sizes, the dataplane's counters), so a gauge can never disagree with `tortie status` and a removed peer
 *   disappears from the output.
 *
 * Every name starts with `tortie_`; `dashboards/tortie.json` uses them, and a test checks that it
 * uses only names that exist here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DataplaneRouteKind, SESSION_STATE_CODE, type DataplaneStats, type DataplaneStatsSource, type PeerCounters, type LocRibSizeSource, type SessionState, type StatusSource, type SyncSource } from './sources.ts';

export interface MetricsSources {
  status?: StatusSource;
  locRib?: LocRibSizeSource;
  dataplane?: DataplaneStatsSource;
  datastore?: SyncSource;
}


/** Names of every tortie metric, for the dashboard check and documentation. */
export const METRIC_NAMES = [
  'tortie_build_info',
  'tortie_bgp_session_state',
  'tortie_bgp_session_transitions_total',
  'tortie_bgp_messages_received_total',
  'tortie_bgp_messages_sent_total',
  'tortie_bgp_prefix_updates_received_total',
  'tortie_bgp_prefix_updates_sent_total',
  'tortie_bgp_prefixes_received',
  'tortie_bgp_prefixes_accepted',
  'tortie_bgp_prefixes_advertised',
  'tortie_bgp_loc_rib_routes',
  'tortie_dataplane_routes',
  'tortie_dataplane_resyncs_total',
  'tortie_dataplane_resync_seconds_total',
  'tortie_dataplane_last_resync_seconds',
  'tortie_dataplane_failures_total',
  'tortie_dataplane_repairs_total',
  'tortie_dataplane_conflicts',
  'tortie_dataplane_pending_interface',
  'tortie_datastore_synced',
  'tortie_datastore_events_total',
  'tortie_datastore_resyncs_total',
  'tortie_pod_route_propagation_seconds',
] as const;

export class AgentMetrics {
  readonly registry = new Registry();
  private sources: MetricsSources;

  private readonly transitions: Counter<'peer' | 'from' | 'to'>;
  private readonly datastoreEvents: Counter<'resource' | 'type'>;
  private readonly datastoreResyncs: Counter<'reason'>;
  private readonly propagation: Histogram;
  /** peer -> counter -> label-set key -> labels */
  private readonly peerSeries = new Map<string, Map<Counter<string>, Map<string, Record<string, string>>>>();

  constructor(opts: { sources?: MetricsSources; version: string; node: string; processMetrics?: boolean }) {
    this.sources = opts.sources ?? {};
    const registers = [this.registry];
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    new Gauge({ name: 'tortie_build_info', help: 'Always 1; labels carry the version and node', labelNames: ['version', 'node'], registers }).set({ version: opts.version, node: opts.node }, 1);

    // collect() runs with `this` bound to the metric; read the sources through a closure.
    const sources = () => this.sources;
    new Gauge({
      name: 'tortie_bgp_session_state',
      help: 'BGP session state per peer (RFC 4271 8.2.2): 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established',
      labelNames: ['peer', 'peer_as', 'type'],
      registers,
      collect() {
        this.reset();
        for (const p of sources().status?.peers() ?? []) this.set({ peer: p.address, peer_as: String(p.asNumber), type: p.type }, SESSION_STATE_CODE[p.state]);
      },
    });
    for (const [name, field, help] of [
      ['tortie_bgp_prefixes_received', 'prefixesReceived', "Prefixes in the peer's Adj-RIB-In"],
      ['tortie_bgp_prefixes_accepted', 'prefixesAccepted', "Prefixes from the peer that import policy accepted"],
      ['tortie_bgp_prefixes_advertised', 'prefixesAdvertised', "Prefixes in the peer's Adj-RIB-Out"],
    ] as const) {
      new Gauge({
        name,
        help,
        labelNames: ['peer', 'peer_as', 'type'],
        registers,
        collect() {
          this.reset();
          for (const p of sources().status?.peers() ?? []) this.set({ peer: p.address, peer_as: String(p.asNumber), type: p.type }, p[field]);
        },
      });
    }
    new Gauge({
      name: 'tortie_bgp_loc_rib_routes',
      help: 'Prefixes in the Loc-RIB per address family',
      labelNames: ['family'],
      registers,
      collect() {
        this.reset();
        const size = sources().locRib?.locRibSize();
        if (!size) return;
        this.set({ family: 'ipv4' }, size.ipv4);
        this.set({ family: 'ipv6' }, size.ipv6);
      },
    });
    new Gauge({
      name: 'tortie_dataplane_routes',
      help: "Kernel routes tortie wants, by kind: workload (a pod's /32 to its veth), blackhole (this node's blocks), learned (from BGP peers)",
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        const stats = sources().dataplane?.stats();
        if (!stats) return;
        for (const kind of Object.values(DataplaneRouteKind)) this.set({ kind }, stats.routes[kind] ?? 0);
      },
    });
    // The dataplane keeps cumulative totals; a counter read from a total is reset and set to it.
    const fromStats = (name: string, help: string, field: Exclude<keyof DataplaneStats, 'routes'>, type: 'counter' | 'gauge') => {
      const collect = function (this: Counter | Gauge) {
        const stats = sources().dataplane?.stats();
        this.reset();
        if (stats) this.inc(stats[field]);
      };
      if (type === 'counter') new Counter({ name, help, registers, collect });
      else new Gauge({ name, help, registers, collect });
    };
    fromStats('tortie_dataplane_resyncs_total', 'Full passes comparing the kernel routes with the desired ones (at start, periodically, after errors)', 'resyncs', 'counter');
    fromStats('tortie_dataplane_resync_seconds_total', 'Seconds spent in full resyncs; divided by the resyncs, their mean duration', 'resyncSecondsTotal', 'counter');
    fromStats('tortie_dataplane_last_resync_seconds', 'Duration of the last full resync', 'lastResyncSeconds', 'gauge');
    fromStats('tortie_dataplane_failures_total', 'Kernel operations that failed, failed dumps and lost notification streams (each followed by a full resync)', 'failures', 'counter');
    fromStats('tortie_dataplane_repairs_total', 'Routes put right after something outside tortie changed or removed them', 'repairs', 'counter');
    fromStats('tortie_dataplane_conflicts', 'Desired routes blocked by a foreign route', 'conflicts', 'gauge');
    fromStats('tortie_dataplane_pending_interface', 'Pod routes waiting for their interface to exist and be up', 'pendingInterface', 'gauge');
    new Gauge({
      name: 'tortie_datastore_synced',
      help: '1 once the datastore has delivered a complete view of the cluster',
      registers,
      collect() {
        this.set(sources().datastore?.synced() ? 1 : 0);
      },
    });

    this.transitions = new Counter({ name: 'tortie_bgp_session_transitions_total', help: 'BGP state machine transitions per peer', labelNames: ['peer', 'from', 'to'], registers });
    // Per-peer counters kept by the speaker, read at scrape time: a removed peer's series end.
    const peerCounter = (name: string, help: string, label: 'type' | 'action', values: (c: PeerCounters) => [string, number | undefined][]) =>
      new Counter({
        name,
        help,
        labelNames: ['peer', label],
        registers,
        collect() {
          this.reset();
          for (const p of sources().status?.peers() ?? []) {
            if (!p.counters) continue;
            for (const [v, n] of values(p.counters)) if (n) this.inc({ peer: p.address, [label]: v }, n);
          }
        },
      });
    peerCounter('tortie_bgp_messages_received_total', 'BGP messages received per peer and type', 'type', (c) => Object.entries(c.messagesReceived));
    peerCounter('tortie_bgp_messages_sent_total', 'BGP messages sent per peer and type', 'type', (c) => Object.entries(c.messagesSent));
    peerCounter('tortie_bgp_prefix_updates_received_total', 'Prefixes announced or withdrawn by the peer, counted per prefix', 'action', (c) => [['announce', c.prefixesAnnouncedIn], ['withdraw', c.prefixesWithdrawnIn]]);
    peerCounter('tortie_bgp_prefix_updates_sent_total', 'Prefixes announced or withdrawn to the peer, counted per prefix', 'action', (c) => [['announce', c.prefixesAnnouncedOut], ['withdraw', c.prefixesWithdrawnOut]]);
    this.datastoreEvents = new Counter({ name: 'tortie_datastore_events_total', help: 'Changes delivered by the datastore per resource and type', labelNames: ['resource', 'type'], registers });
    this.datastoreResyncs = new Counter({ name: 'tortie_datastore_resyncs_total', help: 'Full relists of the datastore, by reason', labelNames: ['reason'], registers });
    this.propagation = new Histogram({
      name: 'tortie_pod_route_propagation_seconds',
      help: "From a pod's creation on another node to its route in this node's kernel (where both times are known)",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
  }

  /** Attach sources after construction (the wiring creates the speaker after the metrics). */
  setSources(sources: MetricsSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** From the speaker's `peer-state` event. */
  sessionTransition(peer: string, from: SessionState, to: SessionState): void {
    this.countPeer(this.transitions, { peer, from, to });
  }

  /** From the datastore's `change` event: the object's kind and the change type. */
  datastoreEvent(resource: string, type: 'added' | 'updated' | 'deleted'): void {
    this.datastoreEvents.inc({ resource, type });
  }

  /** A full relist (410 Gone, a watch restarted by the watchdog, the file replaced). */
  datastoreResync(reason: string): void {
    this.datastoreResyncs.inc({ reason });
  }

  /**
   * A remote pod's route reached this node's kernel: seconds from the pod's creation (its
   * creationTimestamp, as the datastore delivered it) to the dataplane confirming the route. Clocks of
   * different nodes differ; negative values are dropped.
   */
  podRoutePropagated(seconds: number): void {
    if (seconds >= 0) this.propagation.observe(seconds);
  }

  /** Drops a removed peer's series so that they end instead of lingering until restart. */
  forgetPeer(peer: string): void {
    const series = this.peerSeries.get(peer);
    if (!series) return;
    for (const [counter, labelSets] of series) for (const labels of labelSets.values()) counter.remove(labels);
    this.peerSeries.delete(peer);
  }

  private countPeer(counter: Counter<string>, labels: Record<string, string> & { peer: string }, n = 1): void {
    counter.inc(labels, n);
    this.track(counter, labels);
  }

  /** Remembers which label sets a peer has used, so that `forgetPeer` can remove them exactly. */
  private track(counter: Counter<string>, labels: Record<string, string>): void {
    let series = this.peerSeries.get(labels.peer);
    if (!series) this.peerSeries.set(labels.peer, (series = new Map()));
    let labelSets = series.get(counter);
    if (!labelSets) series.set(counter, (labelSets = new Map()));
    const key = Object.values(labels).join('|');
    if (!labelSets.has(key)) labelSets.set(key, labels);
  }

  /** HTTP handler for GET /metrics. */
  handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    const body = await this.registry.metrics();
    res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
  };
}
