/**
 * Datastore costs: first sync of a large cluster from a list/watch API server (the test server,
 * on loopback), watch event throughput into the model, and the file datastore's first read and
 * edit-to-event latency. `npm run bench -- datastore [nodes] [fileNodes]` (default 5000 and 1000).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchReport } from './lib/report.ts';
import { FakeApiServer } from '../test/helpers/fake-apiserver.ts';
import { KubernetesDatastore } from '../src/datastore/kubernetes/kubernetes-datastore.ts';
import { FileDatastore } from '../src/datastore/file/file-datastore.ts';

function nodeObject(i: number, rack = 'r1') {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: `node-${i}`, labels: { rack }, annotations: { 'tortie.dev/as-number': String(64512 + (i % 100)) } },
    spec: { podCIDRs: [`10.${(i >> 8) & 255}.${i & 255}.0/24`] },
    status: { addresses: [{ type: 'InternalIP', address: `172.16.${(i >> 8) & 255}.${i & 255}` }, { type: 'Hostname', address: `node-${i}` }] },
  };
}

function podObject(i: number) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name: `pod-${i}` }, spec: { nodeName: 'node-0' }, status: { phase: 'Running', podIPs: [{ ip: `10.0.0.${i + 2}` }] } };
}

async function until(check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`benchmark condition not reached: ${check.toString()}`);
    await new Promise((r) => setImmediate(r));
  }
}

export async function run(args: string[]): Promise<BenchReport> {
  const nodes = Number(args[0] ?? 5000);
  // The file datastore is for labs and small clusters: YAML parsing costs ~1 ms per object.
  const fileNodes = Number(args[1] ?? 1000);
  const pods = 110;
  const updates = 2000;
  const rows: Array<Array<string | number>> = [];

  // --- Kubernetes: first sync, then a burst of watch events.
  const server = new FakeApiServer();
  await server.start();
  for (let i = 0; i < nodes; i++) server.apply('/api/v1/nodes', nodeObject(i));
  for (let i = 0; i < pods; i++) server.apply('/api/v1/pods', podObject(i));
  const ds = new KubernetesDatastore({ kubeConfig: server.kubeConfig(), nodeName: 'node-0' });
  let changes = 0;
  ds.on('change', () => { changes++; });
  let t0 = performance.now();
  await ds.start();
  await ds.synced;
  const syncMs = performance.now() - t0;
  rows.push([`kubernetes: first sync (${nodes} nodes, ${pods} pods)`, syncMs, changes, (changes / syncMs) * 1000]);
  await until(() => server.openWatchCount() === 4);
  const before = changes;
  t0 = performance.now();
  for (let i = 0; i < updates; i++) server.apply('/api/v1/nodes', nodeObject(i % nodes, `u${i}`));
  await until(() => changes - before === updates);
  const burstMs = performance.now() - t0;
  rows.push([`kubernetes: ${updates} node updates over the watch`, burstMs, updates, (updates / burstMs) * 1000]);
  // Relist after 410 with nothing changed: must emit nothing.
  const beforeRelist = changes;
  const lists = () => server.requests.filter((r) => r.path === '/api/v1/nodes' && r.query.watch !== 'true').length;
  const listsBefore = lists();
  t0 = performance.now();
  server.compact();
  server.sendGone('/api/v1/nodes');
  await until(() => lists() > listsBefore && server.openWatchCount() === 4);
  const relistMs = performance.now() - t0;
  rows.push([`kubernetes: relist after 410, nothing changed`, relistMs, changes - beforeRelist, 0]);
  await ds.stop();
  await server.stop();

  // --- File: first read and an edit.
  const dir = await mkdtemp(join(tmpdir(), 'tk-bench-'));
  try {
    const file = join(dir, 'cluster.yaml');
    const { stringify } = await import('yaml');
    const docs = (rack: string) => Array.from({ length: fileNodes }, (_, i) => stringify(nodeObject(i, i === 7 ? rack : 'r1'))).join('---\n');
    await writeFile(file, docs('r1'));
    const fds = new FileDatastore({ path: file, nodeName: 'node-0', debounceMs: 20 });
    let fileChanges = 0;
    fds.on('change', () => { fileChanges++; });
    t0 = performance.now();
    await fds.start();
    const fileStartMs = performance.now() - t0;
    rows.push([`file: first read (${fileNodes} nodes)`, fileStartMs, fileChanges, (fileChanges / fileStartMs) * 1000]);
    const changed = fileChanges;
    const text = docs('r2');
    t0 = performance.now();
    await writeFile(file, text);
    await until(() => fileChanges > changed);
    const editMs = performance.now() - t0;
    rows.push([`file: edit one node in ${fileNodes} to its event`, editMs, fileChanges - changed, 0]);
    await fds.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  return {
    title: `Datastore: sync, watch throughput, relist (${nodes} nodes, loopback test API server); file reads (${fileNodes} nodes)`,
    columns: ['case', 'ms', 'change events', 'events/s'],
    rows,
    notes: [
      'The API server is test/helpers/fake-apiserver.ts on 127.0.0.1, in the same process: its cost is included.',
      'A file edit re-reads the whole file (the yaml package parses ~1 ms per object here): the file datastore suits labs, not thousands of nodes.',
      'The file edit includes the debounce (20 ms) and the quiet-file wait; a 2-core machine shared with other work: numbers are noisy.',
    ],
  };
}
