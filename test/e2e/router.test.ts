// Issue 8, e2e: the router restarts, and then sends a default route and a route overlapping a
// pod block: the default is accepted as the BGPPeer's import policy says, the overlap refused.
import { describe, expect, it } from 'vitest';
import { useLab, waitFor, waitForAllSessions } from './harness.ts';

describe('the router', () => {
  const { lab } = useLab({ nodes: 2, router: 'bird' });

  it('restarts: sessions and routes come back, the client reaches the pods again', async () => {
    const l = lab();
    await waitForAllSessions(l);
    await l.restartRouter();
    await waitForAllSessions(l);
    for (const n of l.plan.nodes) {
      await waitFor(`the router learns ${n.podCIDRs[0]} again`, async () => (await l.routerView!.routes('ipv4')).some((r) => r.prefix === n.podCIDRs[0]), 60_000, 500);
      expect(await l.clientPing(l.pods(n)[0].ips[0], 3)).toBe(true);
    }
  });

  it('a default route is accepted, a route overlapping a pod block refused', async () => {
    const l = lab();
    const overlap = '10.244.2.0/25';
    await l.announceFromRouter(['0.0.0.0/0', overlap]);
    for (const n of l.plan.nodes) {
      await waitFor(`${n.name} accepts the default from the router`, async () => (await l.agentRoutes(n, '0.0.0.0/0')).some((r) => r.prefix === '0.0.0.0/0' && r.peer === l.plan.router.ipv4 && r.best), 30_000, 500);
      const rib = await l.agentRoutes(n);
      expect(rib.some((r) => r.prefix === overlap && r.best)).toBe(false);
      expect((await l.nodeRoutes(n)).some((r) => r.startsWith(`${overlap} `))).toBe(false);
      const s = await l.agentStatus(n);
      const router = s.peers.find((p) => p.address === l.plan.router.ipv4)!;
      expect(router.prefixesReceived).toBeGreaterThan(router.prefixesAccepted);
    }
    // Pod traffic still goes where it belongs.
    const results = await l.pingMatrixUntilFull(30_000);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });
});
