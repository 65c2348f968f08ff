import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../helpers/fake-apiserver.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.ts';
import type { DatastoreError } from '../../src/datastore/errors.ts';
import { resolvePassword, resolvePeerPassword } from '../../src/datastore/peers.ts';
import { CONFIGS, NODES, PEERS, PODS, bgpConfig, describeEvent, node, peer, pod, secret, secretsPath } from './fixtures.ts';

const THIS_NODE = 'n1';
const PW = { secretKeyRef: { name: 'bgp', key: 'tor' } };

describe('Kubernetes datastore against a list/watch API server', () => {
  let server: FakeApiServer;
  let ds: KubernetesDatastore;
  let events: string[];
  let problems: DatastoreError[];
  let logLines: string[] = [];
  let resyncs: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => logLines.push(JSON.stringify({ level, ...obj, msg }));

  beforeEach(async () => {
    server = new FakeApiServer();
    await server.start();
    server.apply(NODES, node('n1', '192.0.2.1'));
    server.apply(NODES, node('n2', '192.0.2.2'));
    server.apply(PODS, pod('default', 'web-1', 'n1', '10.244.0.5'));
    server.apply(PODS, pod('default', 'web-2', 'n2', '10.244.1.5'));
    server.apply(CONFIGS, bgpConfig({ asNumber: 65001 }));
    server.apply(PEERS, peer('tor', { peerIP: '192.0.2.254', asNumber: 65000, password: PW }));
    server.apply(secretsPath('tortie-system'), secret('tortie-system', 'bgp', { tor: 's3cret-pw' }));
    ds = new KubernetesDatastore({
      kubeConfig: server.kubeConfig(),
      nodeName: THIS_NODE,
      silenceTimeoutMs: 1_000,
      backoff: { initialMs: 50, maxMs: 400 },
      statusMinIntervalMs: 200,
      secretRefreshMs: 200,
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    });
    events = [];
    problems = [];
    logLines = [];
    resyncs = [];
    ds.on('resync', (r) => resyncs.push(`${r.kind} ${r.reason}`));
    ds.on('change', (e) => events.push(describeEvent(e)));
    ds.on('problem', (p) => problems.push(p));
    await ds.start();
    await ds.synced;
    await waitFor('all four watches open', () => server.openWatchCount() === 4);
    events.length = 0;
  });

  afterEach(async () => {
    await ds.stop();
    await server.stop();
  });

  /** Adds a sentinel node and waits for it: every Node event before it has been delivered. */
  async function settleNodes(tag: string): Promise<void> {
    server.apply(NODES, node(`sentinel-${tag}`, '198.51.100.1'));
    await waitFor(`sentinel ${tag}`, () => events.some((e) => e.startsWith(`added Node sentinel-${tag} `)));
  }

  it('reads every kind at start, only this node\'s pods, with bookmarks requested', async () => {
    const snap = ds.snapshot();
    expect([...snap.nodes.keys()].sort()).toEqual(['n1', 'n2']);
    expect(snap.nodes.get('n1')!.internalIPs).toEqual(['192.0.2.1']);
    expect([...snap.pods.keys()]).toEqual(['default/web-1']);
    expect(snap.bgpConfiguration.asNumber).toBe(65001);
    expect(snap.bgpPeers.get('tor')!.peerIP).toBe('192.0.2.254');
    expect(snap.secrets.get('tortie-system/bgp')!.data.tor.reveal()).toBe('s3cret-pw');
    const watches = server.requests.filter((r) => r.query.watch === 'true');
    expect(watches.map((w) => w.path).sort()).toEqual([
      '/api/v1/nodes', '/api/v1/pods', '/apis/tortie.dev/v1alpha1/bgpconfigurations', '/apis/tortie.dev/v1alpha1/bgppeers']);
    // Secrets: read by name only (the Role grants get, not list or watch).
    const secretRequests = server.requests.filter((r) => r.path.includes('/secrets')).map((r) => `${r.method} ${r.path}`);
    expect(secretRequests.length).toBeGreaterThan(0);
    expect(new Set(secretRequests)).toEqual(new Set(['GET /api/v1/namespaces/tortie-system/secrets/bgp']));
    expect(watches.every((w) => w.query.allowWatchBookmarks === 'true')).toBe(true);
    expect(watches.find((w) => w.path === '/api/v1/pods')!.query.fieldSelector).toBe('spec.nodeName=n1');
    expect(ds.isSynced).toBe(true);
  });

  it('delivers every change exactly once and in order', async () => {
    server.apply(NODES, node('n3', '192.0.2.3'));
    server.apply(NODES, node('n3', '192.0.2.3', { labels: { rack: 'a' } }));
    server.apply(NODES, node('n3', '192.0.2.3', { labels: { rack: 'b' } }));
    server.apply(NODES, node('n2', '192.0.2.2')); // new resourceVersion, same content: no event
    server.remove(NODES, 'n3');
    server.apply(PODS, pod('default', 'web-3', 'n1', null, 'Pending'));
    server.apply(PODS, pod('default', 'web-3', 'n1', '10.244.0.6'));
    server.apply(PODS, pod('default', 'other', 'n2', '10.244.1.9')); // another node's pod: never seen
    server.remove(PODS, 'web-1', 'default');
    server.apply(PEERS, peer('tor', { peerIP: '192.0.2.253:1179', asNumber: 65000, password: PW }));
    server.apply(CONFIGS, bgpConfig({ asNumber: 65002, nodeToNodeMeshEnabled: false }));
    await settleNodes('a');
    await waitFor('config change', () => events.some((e) => e.includes('BGPConfiguration')));
    await waitFor('pod delete', () => events.includes('deleted Pod default/web-1'));
    const byKind = (k: string) => events.filter((e) => e.includes(` ${k} `));
    expect(byKind('Node')).toEqual([
      'added Node n3 192.0.2.3 {}',
      'updated Node n3 192.0.2.3 {"rack":"a"}',
      'updated Node n3 192.0.2.3 {"rack":"b"}',
      'deleted Node n3',
      'added Node sentinel-a 198.51.100.1 {}',
    ]);
    expect(byKind('Pod')).toEqual([
      'added Pod default/web-3  Pending',
      'updated Pod default/web-3 10.244.0.6 Running',
      'deleted Pod default/web-1',
    ]);
    expect(byKind('BGPPeer')).toEqual(['updated BGPPeer tor 192.0.2.253 as65000']);
    expect(byKind('BGPConfiguration')).toEqual(['updated BGPConfiguration default as65002 mesh=false']);
    expect(ds.snapshot().bgpPeers.get('tor')!.port).toBe(1179);
  });

  it('loses nothing and duplicates nothing across dropped connections', async () => {
    server.apply(NODES, node('n3', '192.0.2.3'));
    await waitFor('n3', () => events.includes('added Node n3 192.0.2.3 {}'));
    server.dropWatches();
    // Changes while the informers reconnect and relist.
    server.apply(NODES, node('n4', '192.0.2.4'));
    server.apply(NODES, node('n3', '192.0.2.3', { labels: { rack: 'a' } }));
    server.dropWatches();
    server.remove(NODES, 'n2');
    await settleNodes('b');
    server.dropWatches();
    server.apply(NODES, node('n5', '192.0.2.5'));
    await settleNodes('c');
    const nodeEvents = events.filter((e) => e.includes(' Node '));
    // Each change once; n1 and n3/n4 never deleted; n2 deleted once.
    expect(nodeEvents.filter((e) => e.startsWith('added Node n4')).length).toBe(1);
    expect(nodeEvents.filter((e) => e === 'updated Node n3 192.0.2.3 {"rack":"a"}').length).toBe(1);
    expect(nodeEvents.filter((e) => e === 'deleted Node n2').length).toBe(1);
    expect(nodeEvents.filter((e) => e.startsWith('deleted') && e !== 'deleted Node n2')).toEqual([]);
    expect(new Set(nodeEvents).size).toBe(nodeEvents.length);
    expect(nodeEvents.indexOf('added Node sentinel-b 198.51.100.1 {}')).toBeLessThan(nodeEvents.indexOf('added Node n5 192.0.2.5 {}'));
    expect([...ds.snapshot().nodes.keys()].sort()).toEqual(['n1', 'n3', 'n4', 'n5', 'sentinel-b', 'sentinel-c']);
    // Pods and peers were untouched by all this: no event at all.
    expect(events.filter((e) => !e.includes(' Node '))).toEqual([]);
  });

  it('relists on 410 Gone mid-stream without deleting objects that still exist', async () => {
    server.compact();
    server.sendGone();
    server.apply(NODES, node('n3', '192.0.2.3'));
    server.remove(PODS, 'web-1', 'default');
    server.apply(PODS, pod('default', 'web-4', 'n1', '10.244.0.8'));
    await settleNodes('d');
    await waitFor('pod changes', () => events.includes('deleted Pod default/web-1') && events.some((e) => e.startsWith('added Pod default/web-4')));
    // A second 410, this time with nothing changed: the relist must be silent.
    const before = events.length;
    await waitFor('all watches back', () => server.openWatchCount() === 4);
    server.compact();
    server.sendGone();
    await settleNodes('e');
    expect(events.slice(before)).toEqual(['added Node sentinel-e 198.51.100.1 {}']);
    expect(events.filter((e) => e.startsWith('deleted'))).toEqual(['deleted Pod default/web-1']);
    expect(events.filter((e) => e.startsWith('added Node n3')).length).toBe(1);
    // Two 410s, four informers each: eight relists.
    await waitFor('eight relists', () => ds.stats().resyncs >= 8);
    expect(new Set(resyncs)).toEqual(new Set(['Node expired', 'Pod expired', 'BGPConfiguration expired', 'BGPPeer expired']));
    expect(ds.snapshot().bgpPeers.has('tor')).toBe(true);
  });

  it('relists when a watch is refused with HTTP 410', async () => {
    server.goneMode = 'http';
    server.compact();
    server.apply(NODES, node('n3', '192.0.2.3'));
    // The open watch still delivers n3; cut it so that the re-watch from its old version is refused.
    await waitFor('n3', () => events.includes('added Node n3 192.0.2.3 {}'));
    server.compact();
    server.remove(NODES, 'n2');
    server.closeWatches();
    await waitFor('n2 deleted', () => events.includes('deleted Node n2'));
    await settleNodes('f');
    expect(events.filter((e) => e.includes(' Node '))).toEqual([
      'added Node n3 192.0.2.3 {}', 'deleted Node n2', 'added Node sentinel-f 198.51.100.1 {}',
    ]);
  });

  it('resumes from its resourceVersion after a clean close, replaying missed events in order', async () => {
    server.bookmark();
    server.closeWatches();
    server.apply(NODES, node('n3', '192.0.2.3'));
    server.apply(NODES, node('n3', '192.0.2.3', { labels: { v: '2' } }));
    server.remove(NODES, 'n3');
    await settleNodes('g');
    expect(events.filter((e) => e.includes(' Node '))).toEqual([
      'added Node n3 192.0.2.3 {}', 'updated Node n3 192.0.2.3 {"v":"2"}', 'deleted Node n3', 'added Node sentinel-g 198.51.100.1 {}',
    ]);
  });

  it('recovers from a stalled watch', async () => {
    server.stallWatches();
    server.apply(NODES, node('n3', '192.0.2.3'));
    server.apply(PEERS, peer('tor2', { peerIP: '2001:db8::1', asNumber: 65010 }));
    await waitFor('n3 after stall', () => events.includes('added Node n3 192.0.2.3 {}'));
    await waitFor('tor2 after stall', () => events.some((e) => e.startsWith('added BGPPeer tor2 2001:db8::1')));
    await settleNodes('h');
    expect(events.filter((e) => e.startsWith('added Node n3')).length).toBe(1);
    expect(events.filter((e) => e.startsWith('deleted'))).toEqual([]);
  });

  it('serves the last known state while the API server is away, and catches up after', async () => {
    const snapBefore = ds.snapshot();
    await server.stop();
    // Long enough for several failed reconnects and watchdog periods.
    await waitFor('reconnect failures', () => problems.filter((p) => p.code === 'TK_DS_WATCH_FAILED').length >= 5);
    const snapDuring = ds.snapshot();
    expect([...snapDuring.nodes.keys()]).toEqual([...snapBefore.nodes.keys()]);
    expect([...snapDuring.pods.keys()]).toEqual([...snapBefore.pods.keys()]);
    expect(snapDuring.bgpPeers.get('tor')).toBe(snapBefore.bgpPeers.get('tor'));
    expect(events).toEqual([]);
    // Changes made while the agent could not see them.
    server.apply(NODES, node('n3', '192.0.2.3'));
    server.remove(NODES, 'n2');
    server.compact();
    await server.start();
    await settleNodes('i');
    await waitFor('n2 deleted', () => events.includes('deleted Node n2'));
    expect(events.filter((e) => e.includes(' Node '))).toEqual(['deleted Node n2', 'added Node n3 192.0.2.3 {}', 'added Node sentinel-i 198.51.100.1 {}']);
    expect(events.filter((e) => !e.includes(' Node '))).toEqual([]);
  });

  it('restarts an informer whose list fails or never answers', async () => {
    const starts = ds.informerStarts().Node;
    server.failLists(2);
    server.hangLists(1);
    // 410 makes ListWatch relist by itself; that list fails, and the supervisor takes over.
    server.compact();
    server.sendGone(NODES);
    server.apply(NODES, node('n3', '192.0.2.3'));
    await waitFor('n3 after failed lists', () => events.includes('added Node n3 192.0.2.3 {}'), 20_000);
    expect(ds.informerStarts().Node).toBeGreaterThan(starts);
    expect(resyncs).toContain('Node restart');
    expect(problems.some((p) => p.code === 'TK_DS_WATCH_FAILED')).toBe(true);
    // The hung list: only the watchdog notices it.
    expect(problems.some((p) => p.code === 'TK_DS_WATCH_SILENT')).toBe(true);
    expect(events.filter((e) => e.startsWith('deleted'))).toEqual([]);
  }, 40_000);

  it('refuses an invalid object naming the field, keeping its last valid version', async () => {
    server.apply(PEERS, peer('tor', { peerIP: '192.0.2.300', asNumber: 65000, password: PW }));
    const p = await waitFor('invalid peer problem', () => problems.find((x) => x.code === 'TK_DS_INVALID_OBJECT'));
    expect(p.subject).toBe('BGPPeer tor');
    expect(p.issues.map((i) => i.path.join('.'))).toEqual(['spec.peerIP']);
    expect(p.message).toContain('192.0.2.300');
    expect(ds.snapshot().bgpPeers.get('tor')!.peerIP).toBe('192.0.2.254');
    server.apply(PEERS, peer('tor', { peerIP: '192.0.2.250', asNumber: 65000, password: PW }));
    await waitFor('fixed peer', () => events.includes('updated BGPPeer tor 192.0.2.250 as65000'));
    // A relist while the peer is invalid keeps it, reporting the bad version once.
    server.apply(PEERS, peer('tor', { peerIP: 'nope', asNumber: 65000, password: PW }));
    await waitFor('second problem', () => problems.filter((x) => x.code === 'TK_DS_INVALID_OBJECT').length === 2);
    server.compact();
    server.sendGone();
    await settleNodes('j');
    await waitFor('peers relisted', () => server.requests.filter((r) => r.path === PEERS && r.query.watch !== 'true').length >= 2);
    expect(ds.snapshot().bgpPeers.get('tor')!.peerIP).toBe('192.0.2.250');
    expect(events.filter((e) => e.startsWith('deleted'))).toEqual([]);
  });

  it('writes BGPStatus through the status subresource, coalescing bursts', async () => {
    const status = (n: number) => ({
      established: n, total: 2, updated: '',
      peers: [{ address: '192.0.2.254', asNumber: 65000, type: 'global', state: n > 0 ? 'Established' : 'Active', since: '2026-01-01T00:00:00Z', lastError: '' }],
    });
    ds.writeStatus('n1', status(0));
    ds.writeStatus('n1', status(1));
    ds.writeStatus('n1', status(2));
    await waitFor('status written', () => (server.get('/apis/tortie.dev/v1alpha1/bgpstatuses', 'n1')?.status as { established?: number } | undefined)?.established === 2);
    const obj = server.get('/apis/tortie.dev/v1alpha1/bgpstatuses', 'n1')!;
    expect(obj.kind).toBe('BGPStatus');
    expect((obj.status as { peers: unknown[] }).peers).toHaveLength(1);
    expect(typeof (obj.status as { updated: string }).updated).toBe('string');
    const puts = server.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/bgpstatuses/n1/status'));
    expect(puts.length).toBeLessThanOrEqual(2);
    // Server away: the failure is reported, never thrown.
    await server.stop();
    ds.writeStatus('n1', status(0));
    await waitFor('status write failure', () => problems.some((p) => p.code === 'TK_DS_STATUS_WRITE_FAILED'));
  });

  it('reads the Secret BGPConfiguration nodeMeshPassword names, and drops it when no longer named', async () => {
    server.apply(secretsPath('tortie-system'), secret('tortie-system', 'mesh', { pw: 'm3sh-pw' }));
    server.apply(CONFIGS, bgpConfig({ asNumber: 65001, nodeMeshPassword: { secretKeyRef: { name: 'mesh', key: 'pw' } } }));
    await waitFor('mesh secret read', () => events.includes('added Secret tortie-system/mesh pw'));
    const snap = ds.snapshot();
    expect(resolvePassword(snap, snap.bgpConfiguration.nodeMeshPassword)).toEqual({ ok: true, password: 'm3sh-pw' });
    server.apply(CONFIGS, bgpConfig({ asNumber: 65001 }));
    await waitFor('mesh secret dropped', () => events.includes('deleted Secret tortie-system/mesh'));
    // The BGPPeer's Secret is still named and stays.
    expect([...ds.snapshot().secrets.keys()]).toEqual(['tortie-system/bgp']);
  });

  it('reads BGP passwords by name, follows rotation and reports a missing Secret without the value', async () => {
    server.apply(secretsPath('tortie-system'), secret('tortie-system', 'bgp', { tor: 'r0tated-pw' }));
    await waitFor('rotated', () => events.includes('updated Secret tortie-system/bgp tor'));
    expect(resolvePeerPassword(ds.snapshot(), ds.snapshot().bgpPeers.get('tor')!)).toEqual({ ok: true, password: 'r0tated-pw' });
    // A new peer naming a Secret that does not exist (yet).
    server.apply(PEERS, peer('tor2', { peerIP: '192.0.2.253', asNumber: 65000, password: { secretKeyRef: { name: 'bgp2', key: 'x' } } }));
    const missing = await waitFor('missing secret', () => problems.find((p) => p.code === 'TK_DS_SECRET_MISSING'));
    expect(missing.message).toContain('tortie-system/bgp2');
    expect(missing.message).toContain('tor2');
    expect(resolvePeerPassword(ds.snapshot(), ds.snapshot().bgpPeers.get('tor2')!)).toEqual({ ok: false, reason: 'Secret tortie-system/bgp2 not found' });
    server.apply(secretsPath('tortie-system'), secret('tortie-system', 'bgp2', { x: 'an0ther-pw' }));
    await waitFor('bgp2 read', () => events.includes('added Secret tortie-system/bgp2 x'));
    expect(problems.filter((p) => p.code === 'TK_DS_SECRET_MISSING')).toHaveLength(1);
    // Unreferenced Secrets leave the model.
    server.remove(PEERS, 'tor2');
    await waitFor('bgp2 dropped', () => events.includes('deleted Secret tortie-system/bgp2'));
    // While the API server is away the password stays.
    await server.stop();
    await waitFor('secret read failure', () => problems.some((p) => p.subject === 'Secret tortie-system/bgp' && p.code === 'TK_DS_WATCH_FAILED'));
    expect(ds.snapshot().secrets.get('tortie-system/bgp')!.data.tor.reveal()).toBe('r0tated-pw');
    const shown = [logLines.join('\n'), problems.map((p) => p.message).join('\n'), JSON.stringify([...ds.snapshot().secrets.values()])].join('\n');
    expect(shown).not.toMatch(/s3cret|r0tated|an0ther/);
    expect(logLines.length).toBeGreaterThan(0);
  });
});
