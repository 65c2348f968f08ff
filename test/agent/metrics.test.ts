import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listenHttp } from '../../src/agent/http.ts';
import { AgentMetrics, METRIC_NAMES } from '../../src/agent/metrics.ts';
import { MemoryStatus, MemorySync } from './fixtures/memory-sources.ts';

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

function setup() {
  const status = new MemoryStatus();
  const sync = new MemorySync();
  const stats = { routes: { workload: 3, blackhole: 1, learned: 7 }, resyncs: 2, resyncSecondsTotal: 0.5, lastResyncSeconds: 0.2, failures: 1, repairs: 4, conflicts: 0, pendingInterface: 1 };
  const metrics = new AgentMetrics({
    version: '0.1.0',
    node: 'node-a',
    sources: { status, datastore: sync, locRib: { locRibSize: () => ({ ipv4: 12, ipv6: 4 }) }, dataplane: { stats: () => stats } },
  });
  return { metrics, status, sync, stats };
}

describe('metrics', () => {
  it('reads session state and prefix counts from the status source at scrape time', async () => {
    const { metrics, status } = setup();
    let text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_bgp_session_state', { peer: '10.0.0.2', peer_as: '64512', type: 'mesh' })).toBe(6);
    expect(sample(text, 'tortie_bgp_session_state', { peer: '10.0.0.254' })).toBe(3);
    expect(sample(text, 'tortie_bgp_session_state', { peer: 'fd00::2' })).toBe(5);
    expect(sample(text, 'tortie_bgp_prefixes_received', { peer: '10.0.0.2' })).toBe(2);
    expect(sample(text, 'tortie_bgp_prefixes_advertised', { peer: '10.0.0.2' })).toBe(1);
    // A peer removed from the speaker disappears from the next scrape.
    status.peerList = status.peerList.filter((p) => p.address !== '10.0.0.254');
    status.peerList[0].state = 'Idle';
    text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_bgp_session_state', { peer: '10.0.0.254' })).toBeUndefined();
    expect(sample(text, 'tortie_bgp_session_state', { peer: '10.0.0.2' })).toBe(1);
  });

  it("reports table sizes, the dataplane's counters and datastore sync", async () => {
    const { metrics, sync, stats } = setup();
    let text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_bgp_loc_rib_routes', { family: 'ipv4' })).toBe(12);
    expect(sample(text, 'tortie_bgp_loc_rib_routes', { family: 'ipv6' })).toBe(4);
    expect(sample(text, 'tortie_dataplane_routes', { kind: 'learned' })).toBe(7);
    expect(sample(text, 'tortie_datastore_synced')).toBe(0);
    expect(sample(text, 'tortie_dataplane_resyncs_total')).toBe(2);
    expect(sample(text, 'tortie_dataplane_resync_seconds_total')).toBe(0.5);
    expect(sample(text, 'tortie_dataplane_failures_total')).toBe(1);
    expect(sample(text, 'tortie_dataplane_pending_interface')).toBe(1);
    sync.done = true;
    stats.routes.learned = 9;
    stats.repairs = 6;
    text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_datastore_synced')).toBe(1);
    expect(sample(text, 'tortie_dataplane_routes', { kind: 'learned' })).toBe(9);
    expect(sample(text, 'tortie_dataplane_repairs_total')).toBe(6);
    expect(sample(text, 'tortie_build_info', { version: '0.1.0', node: 'node-a' })).toBe(1);
  });

  it("reads the speaker's per-peer counters at scrape time", async () => {
    const { metrics, status } = setup();
    status.peerList[0].counters = {
      messagesReceived: { UPDATE: 3, KEEPALIVE: 10 },
      messagesSent: { KEEPALIVE: 11 },
      prefixesAnnouncedIn: 100,
      prefixesWithdrawnIn: 2,
      prefixesAnnouncedOut: 5,
      prefixesWithdrawnOut: 0,
    };
    let text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_bgp_messages_received_total', { peer: '10.0.0.2', type: 'UPDATE' })).toBe(3);
    expect(sample(text, 'tortie_bgp_messages_sent_total', { peer: '10.0.0.2', type: 'KEEPALIVE' })).toBe(11);
    expect(sample(text, 'tortie_bgp_prefix_updates_received_total', { peer: '10.0.0.2', action: 'withdraw' })).toBe(2);
    expect(sample(text, 'tortie_bgp_prefix_updates_sent_total', { peer: '10.0.0.2', action: 'announce' })).toBe(5);
    expect(sample(text, 'tortie_bgp_prefix_updates_sent_total', { peer: '10.0.0.2', action: 'withdraw' })).toBeUndefined();
    expect(sample(text, 'tortie_bgp_messages_received_total', { peer: '10.0.0.254' })).toBeUndefined();
    status.peerList[0].counters.messagesReceived.UPDATE = 4;
    text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_bgp_messages_received_total', { peer: '10.0.0.2', type: 'UPDATE' })).toBe(4);
  });

  it("counts events, and forgets a removed peer's series", async () => {
    const { metrics, status } = setup();
    metrics.sessionTransition('10.0.0.2', 'OpenConfirm', 'Established');
    metrics.sessionTransition('10.0.0.3', 'Idle', 'Connect');
    metrics.datastoreEvent('Pod', 'added');
    metrics.datastoreResync('410 Gone');
    metrics.podRoutePropagated(0.3);
    let text = await metrics.registry.metrics();
    expect(sample(text, 'tortie_bgp_session_transitions_total', { peer: '10.0.0.2', from: 'OpenConfirm', to: 'Established' })).toBe(1);
    expect(sample(text, 'tortie_datastore_events_total', { resource: 'Pod', type: 'added' })).toBe(1);
    expect(sample(text, 'tortie_datastore_resyncs_total', { reason: '410 Gone' })).toBe(1);
    expect(sample(text, 'tortie_pod_route_propagation_seconds_bucket', { le: '0.5' })).toBe(1);
    expect(sample(text, 'tortie_pod_route_propagation_seconds_bucket', { le: '0.25' })).toBe(0);
    status.peerList = status.peerList.filter((p) => p.address !== '10.0.0.2');
    metrics.forgetPeer('10.0.0.2');
    text = await metrics.registry.metrics();
    expect(text).not.toContain('peer="10.0.0.2"');
    expect(sample(text, 'tortie_bgp_session_transitions_total', { peer: '10.0.0.3' })).toBe(1);
  });

  it('serves /metrics over HTTP with the process metrics', async () => {
    const { metrics } = setup();
    const ep = await listenHttp('metrics', { host: '127.0.0.1', port: 0 }, metrics.handle);
    try {
      const res = await fetch(`http://127.0.0.1:${ep.address.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      for (const name of METRIC_NAMES) expect(text).toContain(`# TYPE ${name} `);
      expect((await fetch(`http://127.0.0.1:${ep.address.port}/`)).status).toBe(404);
    } finally {
      await ep.stop();
    }
  });

  it('the Grafana dashboard queries only metrics that exist, and every tortie metric', async () => {
    const { metrics } = setup();
    const text = await metrics.registry.metrics();
    const known = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap((m) => (m[2] === 'histogram' ? [m[1], `${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]])));
    const dashboard = JSON.parse(readFileSync(new URL('../../dashboards/tortie.json', import.meta.url), 'utf8'));
    const exprs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'expr' && typeof x === 'string') exprs.push(x);
          else walk(x);
        }
      }
    };
    walk(dashboard.panels);
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:tortie|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1])));
    for (const name of used) expect(known, `dashboard uses unknown metric ${name}`).toContain(name);
    for (const name of METRIC_NAMES) expect([...used].some((u) => u === name || u === `${name}_bucket`), `dashboard lacks ${name}`).toBe(true);
  });
});
