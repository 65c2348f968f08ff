// Issue 8, e2e: a node fails hard. Frozen, it stops sending keepalives: its peers withdraw its
// routes when their hold timers run out. Killed and started again, it rejoins.
import { describe, expect, it } from 'vitest';
import { useLab, waitFor, waitForAllSessions } from './harness.ts';

describe('node failure', () => {
  const { lab } = useLab({ nodes: 3, router: 'bird', holdTime: 9 });

  it("peers withdraw a silent node's routes once the hold time runs out", async () => {
    const l = lab();
    await waitForAllSessions(l);
    const [n1, n2, n3] = l.plan.nodes;
    const block = n3.podCIDRs[0];
    for (const n of [n1, n2]) expect((await l.nodeRoutes(n)).some((r) => r.startsWith(`${block} via ${n3.ipv4}`))).toBe(true);
    l.pauseAgent(n3);
    // Hold time 9 s; allow for a loaded machine.
    for (const n of [n1, n2]) {
      await waitFor(`${n.name} withdraws ${block}`, async () => !(await l.nodeRoutes(n)).some((r) => r.startsWith(`${block} via`)), 60_000, 500);
      const s = await l.agentStatus(n);
      expect(s.peers.find((p) => p.address === n3.ipv4)?.state).not.toBe('Established');
    }
    await waitFor('the router drops the node', async () => (await l.routerView!.sessions()).find((s) => s.peer === n3.ipv4)?.state !== 'Established', 60_000, 500);
  });

  it('killed and started again, the node rejoins: sessions, routes and pings come back', async () => {
    const l = lab();
    const n3 = l.node(3);
    await l.killAgent(n3);
    await l.startAgent(n3);
    await waitForAllSessions(l);
    for (const n of l.plan.nodes.filter((x) => x !== n3)) {
      await waitFor(`${n.name} learns ${n3.podCIDRs[0]} again`, async () => (await l.nodeRoutes(n)).some((r) => r.startsWith(`${n3.podCIDRs[0]} via ${n3.ipv4}`)), 60_000, 500);
    }
    const results = await l.pingMatrixUntilFull(30_000);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });
});
