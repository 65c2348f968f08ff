import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../helpers/fake-apiserver.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.ts';
import type { ChangeEvent, Node } from '../../src/datastore/model.ts';
import { NODES, node } from './fixtures.ts';

/** A small seeded PRNG (mulberry32) so that a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Kubernetes datastore under random changes and faults', () => {
  let server: FakeApiServer;
  let ds: KubernetesDatastore;
  afterEach(async () => {
    await ds?.stop();
    await server?.stop();
  });

  it.each((process.env.TK_CHAOS_SEEDS ?? '1,2,3').split(',').map(Number))('seed %i: the model ends equal to the server, deleting only what was deleted', async (seed) => {
    const random = prng(seed);
    server = new FakeApiServer();
    await server.start();
    for (let i = 0; i < 5; i++) server.apply(NODES, node(`n${i}`, `192.0.2.${i + 1}`));
    ds = new KubernetesDatastore({
      kubeConfig: server.kubeConfig(), nodeName: 'n0', silenceTimeoutMs: 400, backoff: { initialMs: 20, maxMs: 200 }, random,
    });
    // The consumer's own copy, built from events alone.
    const mirror = new Map<string, Node>();
    const deletedOnServer = new Set<string>();
    const problems: string[] = [];
    // Checked here, asserted at the end: an exception in a listener would not reach the test.
    const violations: string[] = [];
    ds.on('change', (e: ChangeEvent) => {
      if (e.kind !== 'Node') return;
      if (e.type === 'added' && mirror.has(e.key)) violations.push(`added twice: ${e.key}`);
      if (e.type !== 'added' && !mirror.has(e.key)) violations.push(`${e.type} unknown: ${e.key}`);
      // A delete is only ever for an object that the server really deleted at some point.
      if (e.type === 'deleted' && !deletedOnServer.has(e.key)) violations.push(`spurious delete: ${e.key}`);
      if (e.type === 'deleted') mirror.delete(e.key);
      else mirror.set(e.key, e.object as Node);
    });
    ds.on('problem', (p) => problems.push(p.code));
    await ds.start();
    await ds.synced;

    const step = async () => {
      const r = random();
      const name = `n${Math.floor(random() * 8)}`;
      if (r < 0.45) server.apply(NODES, node(name, `192.0.2.${Math.floor(random() * 250) + 1}`, { labels: { v: String(Math.floor(random() * 3)) } }));
      else if (r < 0.6) { if (server.remove(NODES, name)) deletedOnServer.add(name); }
      else if (r < 0.67) server.dropWatches();
      else if (r < 0.74) server.closeWatches();
      else if (r < 0.8) { server.compact(); server.sendGone(); }
      else if (r < 0.85) server.stallWatches();
      else if (r < 0.9) server.bookmark();
      else if (r < 0.93) server.failLists(1);
      else if (r < 0.96) { await server.stop(); await new Promise((res) => setTimeout(res, 20 + random() * 100)); await server.start(); }
      // Let the client run between steps, as a real cluster would.
      await new Promise((res) => setTimeout(res, random() * 30));
    };
    for (let i = 0; i < 60; i++) await step();

    const serverState = () => {
      const out = new Map<string, string>();
      for (let i = 0; i < 8; i++) {
        const o = server.get(NODES, `n${i}`) as ReturnType<typeof node> | undefined;
        if (o) out.set(`n${i}`, `${o.status.addresses[0].address} ${JSON.stringify(o.metadata.labels)}`);
      }
      return out;
    };
    const mirrorState = () => new Map([...mirror].map(([k, n]) => [k, `${n.internalIPs[0]} ${JSON.stringify(n.labels)}`]));
    await waitFor('model equal to the server', () => {
      const a = serverState();
      const b = mirrorState();
      return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
    }, 30_000);
    expect(violations).toEqual([]);
    // The snapshot agrees with what the events said.
    expect(new Set(ds.snapshot().nodes.keys())).toEqual(new Set(mirror.keys()));
  }, 60_000);
});
