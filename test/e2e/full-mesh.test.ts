// Issue 8, e2e: three nodes in a full mesh plus the router. Pings across every node pair, each
// node's kernel table as expected, and the client reaching pods on every node through the router.
import { describe, expect, it } from 'vitest';
import { useLab, waitForAllSessions } from './harness.ts';

describe('full mesh, three nodes and BIRD', () => {
  const { lab } = useLab({ nodes: 3, router: 'bird' });

  it('brings every session up: the mesh between nodes and every node with the router', async () => {
    await waitForAllSessions(lab());
    for (const n of lab().plan.nodes) {
      const s = await lab().agentStatus(n);
      const mesh = s.peers.filter((p) => p.type === 'mesh').map((p) => p.address).sort();
      expect(mesh).toEqual(lab().plan.nodes.filter((o) => o !== n).map((o) => o.ipv4).sort());
      expect(s.peers.find((p) => p.address === lab().plan.router.ipv4)).toMatchObject({ type: 'global', state: 'Established', asNumber: 64600 });
    }
  });

  it('every pod pings every other pod, across every node pair', async () => {
    const results = await lab().pingMatrixUntilFull(60_000);
    expect(results).toHaveLength(6 * 5);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it("each node's table: /32s to its pods' veths, other blocks via their node, a blackhole for its own block", async () => {
    const l = lab();
    for (const n of l.plan.nodes) {
      const routes = await l.nodeRoutes(n);
      for (const pod of l.pods(n)) expect(routes.some((r) => new RegExp(`^${pod.ips[0].replace(/\./g, '\\.')} dev tor\\w+ `).test(r))).toBe(true);
      expect(routes.some((r) => r.startsWith(`blackhole ${n.podCIDRs[0]}`))).toBe(true);
      for (const other of l.plan.nodes.filter((o) => o !== n)) {
        expect(routes.some((r) => r.startsWith(`${other.podCIDRs[0]} via ${other.ipv4} `))).toBe(true);
      }
    }
  });

  it('the client reaches a pod on every node through the router', async () => {
    const l = lab();
    for (const n of l.plan.nodes) {
      const pod = l.pods(n)[0];
      expect(await l.clientPing(pod.ips[0], 3)).toBe(true);
    }
    const routes = await l.routerView!.routes('ipv4');
    for (const n of l.plan.nodes) expect(routes.find((r) => r.prefix === n.podCIDRs[0])).toMatchObject({ nextHop: n.ipv4, asPath: [64512] });
  });
});
