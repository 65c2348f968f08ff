/**
 * The netlink kernel channel against a real kernel, in a namespace made for the test: a pipelined
 * batch asks for an ack on the last request of each sendmsg only, so every failure must still be
 * reported at its own place; and our own changes must not come back as notifications.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, uniqueName } from '../../src/netns/netns.ts';
import { NetlinkKernel } from '../../src/dataplane/kernel-netlink.ts';
import type { KernelEvent, KernelRoute, RouteOps } from '../../src/dataplane/kernel.ts';
import { RouteType, Scope } from '../../src/dataplane/netlink.ts';

const VETH = 'tor0000000000a';
const EEXIST = 17;
const dst = (i: number) => `10.66.${i >> 8}.${i & 255}/32`;

async function waitFor(what: string, probe: () => boolean, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('netlink kernel channel in a network namespace', () => {
  let ns: Netns;
  let kernel: NetlinkKernel;
  let ifindex = 0;
  const events: KernelEvent[] = [];

  beforeAll(async () => {
    ns = await Netns.create(uniqueName('dp'));
    await ns.ipBatch([`link add ${VETH} type veth peer name dpkpeer`, `link set ${VETH} up`, 'link set dpkpeer up']);
    kernel = new NetlinkKernel({ netns: ns.name });
    kernel.onEvent((e) => events.push(e));
    ifindex = (await kernel.dumpLinks()).find((l) => l.name === VETH)!.index;
  });

  afterAll(async () => {
    await kernel?.close();
    await ns?.destroy();
  });

  const route = (i: number): KernelRoute => ({
    family: 4,
    dst: dst(i),
    table: 254,
    protocol: 116,
    type: RouteType.UNICAST,
    scope: Scope.LINK,
    priority: 0,
    nexthops: [{ ifindex, onlink: false }],
  });

  it('reports each failed request of a pipelined batch at its place, acks or not', async () => {
    // Occupied slots: inside a sendmsg, the last of one, the first of the next, the last of all.
    const n = 600;
    const taken = [3, 255, 256, n - 1];
    await ns.ipBatch(taken.map((i) => `route add ${dst(i)} dev ${VETH} proto static`));
    const ops: RouteOps = { kinds: [], routes: [] };
    for (let i = 0; i < n; i++) {
      ops.kinds.push('add');
      ops.routes.push(route(i));
    }
    const results = await kernel.apply(ops);
    expect(results).toHaveLength(n);
    const failed = results.flatMap((r, i) => (r.errno ? [i] : []));
    expect(failed).toEqual(taken);
    for (const i of taken) expect(results[i].errno).toBe(EEXIST);
    const ours = (await kernel.dumpRoutes(254)).filter((r) => r.protocol === 116);
    expect(ours).toHaveLength(n - taken.length);

    // A second batch right behind it, all deletes of what the first put in.
    const del: RouteOps = { kinds: [], routes: [] };
    for (let i = 0; i < n; i++) {
      if (taken.includes(i)) continue;
      del.kinds.push('delete');
      del.routes.push(route(i));
    }
    expect((await kernel.apply(del)).every((r) => r.errno === 0)).toBe(true);
    expect((await kernel.dumpRoutes(254)).filter((r) => r.protocol === 116)).toHaveLength(0);
  });

  it('does not echo our own changes, and does pass on everyone else’s', async () => {
    events.length = 0;
    await kernel.apply({ kinds: ['add'], routes: [route(1000)] });
    await ns.ip('route', 'add', '10.67.0.1/32', 'dev', VETH, 'proto', 'static');
    await waitFor('the foreign route notification', () => events.some((e) => e.kind === 'route-new' && e.route.dst === '10.67.0.1/32'), 10_000);
    expect(events.filter((e) => e.kind === 'route-new' && e.route.dst === dst(1000))).toEqual([]);
  });
});
