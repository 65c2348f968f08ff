// Issue 8, e2e: dual stack. IPv6 pods reach each other across nodes, and the client reaches
// them through the router over IPv6.
import { describe, expect, it } from 'vitest';
import { useLab, waitForAllSessions } from './harness.ts';

describe('dual stack', () => {
  const { lab } = useLab({ nodes: 2, router: 'bird', ipv6: true });

  it('IPv6 pods reach each other across nodes, and the client reaches them', async () => {
    const l = lab();
    await waitForAllSessions(l);
    const results = await l.pingMatrixUntilFull(60_000);
    const v6 = results.filter((r) => r.address.includes(':'));
    expect(v6).toHaveLength(4 * 3);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    for (const n of l.plan.nodes) {
      const pod = l.pods(n)[0];
      expect(await l.clientPing(pod.ips[1], 3)).toBe(true);
      const routes = await l.nodeRoutes(n, 6);
      for (const other of l.plan.nodes.filter((o) => o !== n)) expect(routes.some((r) => r.startsWith(`${other.podCIDRs[1]} via ${other.ipv6} `))).toBe(true);
    }
    // The router reaches each node's IPv6 block at that node (third-party next hop), not through another.
    const routerV6 = await l.routerView!.routes('ipv6');
    for (const n of l.plan.nodes) expect(routerV6.find((r) => r.prefix === n.podCIDRs[1])).toMatchObject({ nextHop: n.ipv6, asPath: [64512] });
  });
});
