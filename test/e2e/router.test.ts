// Issue 8, e2e: the lab's router, as each of the real daemons the lab can run (BIRD, FRR, GoBGP).
// It learns every node's pod block (and, with --advertise-pod-routes, every pod's /32) with the
// node as next hop; the client reaches a pod on every node through it; pods added and deleted
// show in and leave its table; a node agent's graceful restart keeps its routes there; it
// restarts itself; and a default route it sends is accepted while a route overlapping a pod block
// is refused, as the BGPPeer's import policy says.
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { LearnedRoute } from '../../src/lab/peers/common.ts';
import type { Lab } from '../../src/lab/lab.ts';
import type { NodePlan } from '../../src/lab/plan.ts';
import { Netns } from '../../src/netns/netns.ts';
import { useLab, waitFor, waitForAllSessions } from './harness.ts';

const ROUTERS = ['bird', 'frr', 'gobgp'] as const;

function routeVia(routes: readonly LearnedRoute[], prefix: string): string | undefined {
  return routes.find((r) => r.prefix === prefix)?.nextHop;
}

/** Waits until the router has `prefix` via `node`'s address. */
async function waitForRouterRoute(l: Lab, prefix: string, node: NodePlan, timeoutMs = 30_000): Promise<void> {
  await waitFor(`the router learns ${prefix} via ${node.ipv4}`, async () => routeVia(await l.routerView!.routes('ipv4'), prefix) === node.ipv4, timeoutMs, 300);
}

/**
 * The client's packets follow the router's kernel: BIRD and FRR (zebra) install their routes
 * there; for GoBGP, which has no FIB, the lab copies them (syncKernel) as `up` does. So for GoBGP
 * the graceful restart test's pings prove the node's side only; its table is checked by polling.
 */
async function clientReaches(l: Lab, address: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`the client reaches ${address} through the router`, async () => {
    await l.routerView!.syncKernel();
    return l.clientPing(address, 1);
  }, timeoutMs, 300);
}

function pingStats(output: string): { sent: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  if (!m) throw new Error(`no ping summary in: ${output}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

describe.each(ROUTERS)('the router (%s)', (router) => {
  const { lab } = useLab({ nodes: 2, router, ipv6: true, agentArgs: ['--advertise-pod-routes'] });

  it('learns every pod block and every pod with its node as next hop (both families); the client reaches a pod on every node', async () => {
    const l = lab();
    await waitForAllSessions(l);
    expect(await l.waitForRouterRoutes(30_000)).toBe(true);
    for (const n of l.plan.nodes) {
      for (const pod of l.pods(n)) await waitForRouterRoute(l, `${pod.ips[0]}/32`, n);
      const v6 = l.pods(n)[0].ips.find((ip) => ip.includes(':'))!;
      await waitFor(`the router learns ${v6}/128 via ${n.ipv6}`, async () => routeVia(await l.routerView!.routes('ipv6'), `${v6}/128`) === n.ipv6, 30_000, 300);
    }
    for (const n of l.plan.nodes) for (const address of l.pods(n)[0].ips) await clientReaches(l, address);
  });

  it('a pod added shows in its table via its node, a deleted one leaves it', async () => {
    const l = lab();
    const n2 = l.plan.nodes[1];
    const added = await l.addPod(n2);
    await waitForRouterRoute(l, `${added.ips[0]}/32`, n2);
    await clientReaches(l, added.ips[0]);
    await l.deletePod(added);
    await waitFor(`the router forgets ${added.ips[0]}/32`, async () => routeVia(await l.routerView!.routes('ipv4'), `${added.ips[0]}/32`) === undefined, 30_000, 300);
    // The block stays: other pods live in it.
    expect(routeVia(await l.routerView!.routes('ipv4'), n2.podCIDRs[0])).toBe(n2.ipv4);
  });

  it("keeps a node's routes while its agent restarts (graceful restart): the client loses no ping", async () => {
    const l = lab();
    await waitForAllSessions(l);
    const n1 = l.plan.nodes[0];
    const target = l.pods(n1)[0];
    const watched = [n1.podCIDRs[0], `${target.ips[0]}/32`];
    for (const p of watched) await waitForRouterRoute(l, p, n1);
    await clientReaches(l, target.ips[0]);

    const client = await Netns.attach(l.plan.client.netns);
    const ping: ChildProcess = client.spawn('ping', ['-n', '-i', '0.2', target.ips[0]]);
    let out = '';
    ping.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    // 'close', not 'exit': the summary ping prints on SIGINT may still be in the pipe at exit.
    const summary = new Promise<string>((r) => ping.on('close', () => r(out)));
    const missing: string[] = [];
    let sessionDropped = false;
    let polling = true;
    // The router's table, read again and again while the agent is away and back.
    const poller = (async () => {
      while (polling) {
        const [routes, sessions] = await Promise.all([l.routerView!.routes('ipv4'), l.routerView!.sessions()]);
        if (sessions.some((s) => s.peer === n1.ipv4 && s.state !== 'Established')) sessionDropped = true;
        for (const p of watched) if (routeVia(routes, p) !== n1.ipv4) missing.push(`${p} at ${new Date().toISOString()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await l.restartAgent(n1);
      await l.waitForAgents();
      await waitForAllSessions(l);
      // Past the restart: the router has had the new session's End-of-RIB and swept stale routes.
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      polling = false;
      await poller;
      ping.kill('SIGINT');
    }
    // The session did go down (else this would prove nothing), and the routes stayed all along.
    expect(sessionDropped).toBe(true);
    expect(missing).toEqual([]);
    const stats = pingStats(await summary);
    expect(stats.sent).toBeGreaterThan(5);
    expect(stats.received).toBe(stats.sent);
  });

  it('restarts: sessions and routes come back, the client reaches the pods again', async () => {
    const l = lab();
    await waitForAllSessions(l);
    await l.restartRouter();
    await waitForAllSessions(l);
    for (const n of l.plan.nodes) {
      await waitForRouterRoute(l, n.podCIDRs[0], n, 60_000);
      await clientReaches(l, l.pods(n)[0].ips[0]);
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
