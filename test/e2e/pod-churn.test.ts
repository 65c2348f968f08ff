// Issue 8, e2e: pods deleted and added while the lab runs; every node sees the change. The
// pod-wired -> reachable-from-every-node time is printed (p50, p99), never asserted: speed
// targets live in bench/convergence.ts.
import { describe, expect, it } from 'vitest';
import { Netns } from '../../src/netns/netns.ts';
import { useLab, waitFor, waitForAllSessions } from './harness.ts';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

describe('pods deleted and added', () => {
  const { lab } = useLab({ nodes: 3, router: 'bird' });

  it('a new pod is reachable from every other node, a deleted one from none', async () => {
    const l = lab();
    await waitForAllSessions(l);
    const [n1, n2, n3] = l.plan.nodes;
    const gone = l.pods(n1)[0];
    await l.deletePod(gone);
    const added = await l.addPod(n2);
    const watchers = [l.pods(n1)[0], l.pods(n3)[0]];
    for (const from of watchers) {
      await waitFor(`${added.name} reachable from ${from.name}`, async () => (await l.pingMatrix({ only: (f, t) => f.name === from.name && t.name === added.name, timeoutS: 1 })).every((r) => r.ok), 30_000, 200);
    }
    expect((await l.nodeRoutes(n1)).some((r) => r.startsWith(`${gone.ips[0]} `))).toBe(false);
    for (const n of [n2, n3]) expect(await l.nodePing(n, gone.ips[0], 1)).toBe(false);
    const results = await l.pingMatrixUntilFull(30_000);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it('a pod on a new node-local address shows in the node Loc-RIB as originated, within its block', async () => {
    const l = lab();
    const n2 = l.node(2);
    const routes = await l.agentRoutes(n2);
    const block = routes.find((r) => r.prefix === n2.podCIDRs[0] && r.best);
    expect(block).toMatchObject({ nextHop: null, peer: null });
  });

  it('pods added one after another are reachable from a pod on every other node (time printed)', async () => {
    const l = lab();
    const [n1, n2, n3] = l.plan.nodes;
    const watchers = await Promise.all([l.pods(n1)[0], l.pods(n3)[0]].map((p) => Netns.attach(p.netns)));
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      // Wired: tortie-cni ADD has returned and the Pod is in every node's datastore.
      const pod = await l.addPod(n2);
      const wired = performance.now();
      await Promise.all(watchers.map((ns) => waitFor(`${pod.name} reachable from ${ns.name}`, () => ns.ping(pod.ips[0], { count: 1, timeoutS: 1 }), 30_000, 0)));
      times.push(performance.now() - wired);
    }
    times.sort((a, b) => a - b);
    console.log(`pod-wired -> reachable from every other node, ${times.length} pods: p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms (max ${times.at(-1)!.toFixed(0)} ms)`);
  });
});
