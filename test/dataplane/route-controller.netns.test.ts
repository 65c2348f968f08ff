/**
 * The route controller against a real kernel, in a namespace made for the test (never the root
 * namespace): the relay enters it with setns, and `ip -n` is the independent judge.
 * Stand-ins for pod veths are veth pairs kept inside the namespace (no dummy driver here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Netns, uniqueName } from '../../src/netns/netns.ts';
import { NetlinkKernel } from '../../src/dataplane/kernel-netlink.ts';
import { RouteController, type Conflict } from '../../src/dataplane/route-controller.ts';

interface IpRoute {
  dst: string;
  dev?: string;
  type?: string;
  protocol?: string;
  gateway?: string;
  flags?: string[];
}

const VETHS = 10;
const PER_VETH = 1000;
const podIp = (v: number, i: number) => `10.65.${v * 4 + (i >> 8)}.${i & 255}`;
const vethName = (v: number) => `tor0000000000${v.toString(16)}`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, deadlineMs: number): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('route controller in a network namespace', () => {
  let ns: Netns;
  let kernel: NetlinkKernel;
  let controller: RouteController;
  const conflicts: Conflict[] = [];

  const routes = async (...filter: string[]): Promise<IpRoute[]> => JSON.parse((await ns.ip('-json', 'route', 'show', 'table', 'main', ...filter)).stdout || '[]');
  const ours = () => routes('proto', '116');
  const ours6 = async (): Promise<IpRoute[]> => JSON.parse((await ns.ip('-6', '-json', 'route', 'show', 'table', 'main', 'proto', '116')).stdout || '[]');

  function desire(c: RouteController): void {
    for (let v = 0; v < VETHS; v++) for (let i = 0; i < PER_VETH; i++) c.setWorkload(podIp(v, i), vethName(v));
    c.setWorkload('fd00:65::5', vethName(0));
    c.setBlackhole('10.65.0.0/16');
    c.setLearned('10.80.0.0/24', ['198.51.100.9']);
    c.setLearned('10.81.0.0/24', ['198.51.100.10', '198.51.100.11']);
    // Wanted, but a foreign route holds the slot: reported, never overwritten.
    c.setWorkload('10.90.0.1', vethName(1));
  }

  function newController(k: NetlinkKernel): RouteController {
    const c = new RouteController({ kernel: k, ecmp: true, nodeSubnets: [{ cidr: '198.51.100.0/24', ifname: 'eth0' }], onConflict: (x) => conflicts.push(x) });
    desire(c);
    return c;
  }

  beforeAll(async () => {
    ns = await Netns.create(uniqueName('td'));
    const lines: string[] = [];
    for (let v = 0; v < VETHS; v++) lines.push(`link add ${vethName(v)} type veth peer name tdp${v}`, `link set ${vethName(v)} up`, `link set tdp${v} up`);
    lines.push('link add eth0 type veth peer name tdup', 'link set eth0 up', 'link set tdup up', 'addr add 198.51.100.2/24 dev eth0');
    // Foreign routes: one elsewhere, one in the slot we want, one with our prefix in another table.
    lines.push('route add 192.0.2.0/24 dev tdup', 'route add 10.90.0.1/32 dev tdp1 proto static', 'route add 10.65.0.7/32 dev tdp0 table 100');
    await ns.ipBatch(lines);
    kernel = new NetlinkKernel({ netns: ns.name });
    controller = newController(kernel);
    await controller.start();
    await controller.idle();
  });

  afterAll(async () => {
    await controller?.stop();
    await kernel?.close();
    await ns?.destroy();
  });

  it('programs 10k pod routes, blackholes and learned routes', async () => {
    const list = await ours();
    const pods = list.filter((r) => r.dev?.startsWith('tor') && !r.gateway);
    expect(pods).toHaveLength(VETHS * PER_VETH);
    const byDst = new Map(list.map((r) => [r.dst, r]));
    for (const [v, i] of [
      [0, 0],
      [3, 517],
      [9, 999],
    ]) {
      // `ip` prints host routes without "/32".
      expect(byDst.get(podIp(v, i))).toMatchObject({ dev: vethName(v), scope: 'link' });
    }
    expect(byDst.get('10.65.0.0/16')).toMatchObject({ type: 'blackhole' });
    expect(byDst.get('10.80.0.0/24')).toMatchObject({ gateway: '198.51.100.9', dev: 'eth0', flags: ['onlink'] });
    expect((byDst.get('10.81.0.0/24') as { nexthops?: unknown[] }).nexthops).toHaveLength(2);
    expect(await ours6()).toEqual([expect.objectContaining({ dst: 'fd00:65::5', dev: vethName(0) })]);
    expect(controller.counters).toMatchObject({ programmed: VETHS * PER_VETH + 4, conflicts: 1, failures: 0 });
  });

  it('sets the workload interface sysctls and host forwarding', async () => {
    const read = async (p: string) => (await ns.exec('cat', [`/proc/sys/${p}`])).stdout.trim();
    const v = vethName(3);
    expect(await read(`net/ipv4/conf/${v}/proxy_arp`)).toBe('1');
    expect(await read(`net/ipv4/neigh/${v}/proxy_delay`)).toBe('0');
    expect(await read(`net/ipv4/conf/${v}/forwarding`)).toBe('1');
    expect(await read(`net/ipv4/conf/${v}/route_localnet`)).toBe('1');
    expect(await read(`net/ipv6/conf/${v}/proxy_ndp`)).toBe('1');
    expect(await read(`net/ipv6/conf/${v}/accept_ra`)).toBe('0');
    expect(await read('net/ipv4/ip_forward')).toBe('1');
    expect(await read('net/ipv4/conf/tdp3/proxy_arp')).toBe('0');
  });

  it('leaves foreign routes untouched and reports the conflicting one', async () => {
    expect(await routes('192.0.2.0/24')).toEqual([expect.objectContaining({ dev: 'tdup' })]);
    expect(await routes('10.90.0.1/32')).toEqual([expect.objectContaining({ dev: 'tdp1', protocol: 'static' })]);
    expect(JSON.parse((await ns.ip('-json', 'route', 'show', 'table', '100')).stdout)).toEqual([expect.objectContaining({ dst: '10.65.0.7', dev: 'tdp0' })]);
    expect(conflicts.map((c) => c.prefix)).toEqual(['10.90.0.1/32']);
  });

  it('puts back routes deleted by hand within a second', async () => {
    const victims = [podIp(2, 10), podIp(7, 300), '10.80.0.0/24'];
    await ns.ipBatch(victims.map((d) => `route del ${d}`));
    await waitFor(
      'the deleted routes to come back',
      async () => {
        const have = new Set((await ours()).map((r) => r.dst));
        return victims.every((d) => have.has(d));
      },
      // The controller reacts to the notification at once; the margin is for a loaded machine.
      3000,
    );
    expect(controller.counters.repairs).toBeGreaterThanOrEqual(3);
  });

  it('removes the routes of a deleted interface and does not try to re-add them', async () => {
    const gone = vethName(5);
    await ns.ip('link', 'del', gone);
    await waitFor('the interface to be noticed', async () => controller.counters.pendingInterface === PER_VETH, 3000);
    await controller.idle();
    expect((await ours()).filter((r) => r.dev === gone)).toEqual([]);
    expect(controller.counters.failures).toBe(0);
    // Our own stray route on a live interface goes too: someone adds one with our protocol.
    await ns.ip('route', 'add', '10.99.0.1/32', 'dev', vethName(4), 'proto', '116');
    await waitFor('the stray route of ours to go', async () => (await routes('10.99.0.1/32')).length === 0, 3000);
  });

  it('recovers when the netlink relay dies: restarts it, resyncs, and repairs what changed meanwhile', async () => {
    const pid = kernel.helperPid;
    expect(pid).toBeGreaterThan(0);
    const resyncs = controller.counters.resyncs;
    process.kill(pid!, 'SIGKILL');
    await ns.ip('route', 'del', podIp(3, 3));
    await waitFor('a resync with a new relay', async () => controller.counters.resyncs > resyncs && kernel.helperPid !== pid, 5000);
    await waitFor('the route deleted while the relay was down to come back', async () => (await routes(podIp(3, 3))).length === 1, 5000);
    expect(controller.counters.failures).toBeGreaterThan(0);
  });

  it('survives a burst of 100k foreign route notifications that overflows the socket, then resyncs', async () => {
    // A small notification buffer makes the overflow certain; the default is 32 MiB.
    const k2 = new NetlinkKernel({ netns: ns.name, monitorBufferBytes: 64 * 1024 });
    const failures: string[] = [];
    const c2 = new RouteController({ kernel: k2, ecmp: true, nodeSubnets: [{ cidr: '198.51.100.0/24', ifname: 'eth0' }], onFailure: (f) => failures.push(f.code) });
    desire(c2);
    await controller.stop();
    await kernel.close();
    try {
      await c2.start();
      await c2.idle();
      const lines: string[] = [];
      for (let i = 0; i < 100_000; i++) lines.push(`route add 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 dev tdp0 proto static`);
      // The relay is frozen while the burst lands, so its 64 KiB socket must overflow: a relay that
      // keeps up with `ip -batch` on a quiet machine would otherwise lose nothing.
      const relay = k2.helperPid!;
      process.kill(relay, 'SIGSTOP');
      try {
        await ns.ipBatch(lines);
        await ns.ip('route', 'del', podIp(1, 1));
      } finally {
        process.kill(relay, 'SIGCONT');
      }
      await waitFor('a resync after lost notifications', async () => c2.counters.lostNotifications > 0 && c2.counters.resyncs >= 2, 30_000);
      await waitFor('the deleted route to come back', async () => (await routes(podIp(1, 1))).length === 1, 10_000);
      expect(failures).toContain('TORTIE_NOTIFICATIONS_LOST');
      const foreign = (await routes('proto', 'static')).length;
      expect(foreign).toBe(100_001);
    } finally {
      await c2.stop();
      await k2.close();
    }
  });

  it('restarts without removing or re-adding any route that should stay', async () => {
    const before = (await ours()).map((r) => JSON.stringify(r)).sort();
    const monitor: ChildProcess = ns.spawn('ip', ['monitor', 'route']);
    let seen = '';
    monitor.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    try {
      // Let `ip monitor` subscribe before anything can happen.
      await new Promise((r) => setTimeout(r, 300));
      const k3 = new NetlinkKernel({ netns: ns.name });
      const c3 = newController(k3);
      try {
        await c3.start();
        await c3.idle();
        expect(c3.counters.operations).toEqual({ add: 0, replace: 0, delete: 0 });
        expect(c3.counters.programmed).toBe(VETHS * PER_VETH - PER_VETH + 4);
      } finally {
        await c3.stop();
        await k3.close();
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toBe('');
      expect((await ours()).map((r) => JSON.stringify(r)).sort()).toEqual(before);
    } finally {
      monitor.kill();
    }
  });
});
