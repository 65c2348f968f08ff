import { describe, expect, it } from 'vitest';
import { RouteConfigError, RouteController, type RouteControllerOptions } from '../../src/dataplane/route-controller.ts';
import { DEFAULT_PROTOCOL } from '../../src/dataplane/ownership.ts';
import type { KernelRoute } from '../../src/dataplane/kernel.ts';
import { EEXIST, FakeClock, FakeKernel } from './fake-kernel.ts';

const MAIN = 254;

function setup(opts: Partial<RouteControllerOptions> = {}) {
  const kernel = new FakeKernel();
  const clock = new FakeClock();
  const c = new RouteController({ kernel, clock, ...opts });
  return { kernel, clock, c };
}

function podRoute(dst: string, ifindex: number, protocol = DEFAULT_PROTOCOL): KernelRoute {
  return { family: 4, dst, table: MAIN, protocol, type: 1, scope: 253, priority: 0, nexthops: [{ ifindex, onlink: false }] };
}

describe('RouteController: programming routes', () => {
  it('installs pod, blackhole and learned routes with our protocol in our table', async () => {
    const { kernel, c } = setup({ nodeSubnets: [{ cidr: '198.51.100.0/24', ifname: 'eth0' }] });
    const veth = kernel.addLink('tor0123456789a', true, false);
    const eth0 = kernel.addLink('eth0', true, false);
    c.setWorkload('10.65.0.5', 'tor0123456789a');
    c.setWorkload('fd00:65::5', 'tor0123456789a');
    c.setBlackhole('10.65.0.0/26');
    c.setLearned('10.65.1.0/26', ['198.51.100.7']);
    c.setLearned('10.66.0.0/16', ['192.0.2.1']);
    await c.start();
    await c.idle();
    expect(kernel.find('10.65.0.5/32')).toEqual([podRoute('10.65.0.5/32', veth.index)]);
    expect(kernel.find('fd00:65::5/128')).toEqual([
      { family: 6, dst: 'fd00:65::5/128', table: MAIN, protocol: 116, type: 1, scope: 0, priority: 1024, nexthops: [{ ifindex: veth.index, onlink: false }] },
    ]);
    expect(kernel.find('10.65.0.0/26')[0]).toMatchObject({ type: 6, protocol: 116, nexthops: [] });
    // On the node subnet: onlink through the node interface; elsewhere: a plain gateway.
    expect(kernel.find('10.65.1.0/26')[0].nexthops).toEqual([{ gateway: '198.51.100.7', ifindex: eth0.index, onlink: true }]);
    expect(kernel.find('10.66.0.0/16')[0].nexthops).toEqual([{ gateway: '192.0.2.1', ifindex: 0, onlink: false }]);
    expect(c.counters).toMatchObject({ routes: { workload: 2, blackhole: 1, learned: 2 }, programmed: 5, pendingInterface: 0, failures: 0 });
  });

  it('coalesces changes made in one turn into one batch and applies later deltas only', async () => {
    const { kernel, c } = setup();
    kernel.addLink('tor1', true, false);
    await c.start();
    let applies = 0;
    const apply = kernel.apply.bind(kernel);
    kernel.apply = async (ops) => (applies++, apply(ops));
    for (let i = 0; i < 100; i++) c.setWorkload(`10.0.0.${i}`, 'tor1');
    await c.idle();
    expect(applies).toBe(1);
    expect(kernel.routes).toHaveLength(100);
    c.deleteRoute('10.0.0.7/32');
    await c.idle();
    expect(kernel.log.at(-1)).toMatchObject({ op: 'delete', route: { dst: '10.0.0.7/32' } });
    expect(kernel.routes).toHaveLength(99);
  });

  it('uses every next hop with ECMP on, and only the first with it off', async () => {
    for (const ecmp of [true, false]) {
      const { kernel, c } = setup({ ecmp });
      c.setLearned('10.70.0.0/26', ['192.0.2.1', '192.0.2.2']);
      await c.start();
      await c.idle();
      expect(kernel.find('10.70.0.0/26')[0].nexthops.map((n) => n.gateway)).toEqual(ecmp ? ['192.0.2.1', '192.0.2.2'] : ['192.0.2.1']);
    }
  });

  it('writes the workload interface sysctls and turns on forwarding', async () => {
    const { kernel, c } = setup();
    kernel.addLink('tor0a', true, false);
    kernel.addLink('eth0', true, false);
    await c.start();
    kernel.addLink('tor0b');
    await c.idle();
    for (const name of ['tor0a', 'tor0b']) {
      expect(kernel.sysctls.get(`net/ipv4/conf/${name}/proxy_arp`)).toBe('1');
      expect(kernel.sysctls.get(`net/ipv4/neigh/${name}/proxy_delay`)).toBe('0');
      expect(kernel.sysctls.get(`net/ipv4/conf/${name}/forwarding`)).toBe('1');
      expect(kernel.sysctls.get(`net/ipv4/conf/${name}/route_localnet`)).toBe('1');
      expect(kernel.sysctls.get(`net/ipv6/conf/${name}/proxy_ndp`)).toBe('1');
      expect(kernel.sysctls.get(`net/ipv6/conf/${name}/accept_ra`)).toBe('0');
    }
    expect([...kernel.sysctls.keys()].some((k) => k.includes('/eth0/'))).toBe(false);
    expect(kernel.sysctls.get('net/ipv4/ip_forward')).toBe('1');
    expect(kernel.sysctls.get('net/ipv6/conf/all/forwarding')).toBe('1');
  });
});

describe('RouteController: ownership', () => {
  it('adopts routes of ours that are already right without touching them, and fixes or removes the rest', async () => {
    const { kernel, c } = setup();
    const veth = kernel.addLink('tor1', true, false);
    const other = kernel.addLink('tor2', true, false);
    kernel.routes.push(podRoute('10.0.0.1/32', veth.index), podRoute('10.0.0.2/32', other.index), podRoute('10.0.0.3/32', veth.index));
    c.setWorkload('10.0.0.1', 'tor1');
    c.setWorkload('10.0.0.2', 'tor1');
    await c.start();
    await c.idle();
    expect(kernel.log.map((o) => `${o.op} ${o.route.dst}`).sort()).toEqual(['delete 10.0.0.3/32', 'replace 10.0.0.2/32']);
    expect(kernel.find('10.0.0.2/32')[0].nexthops[0].ifindex).toBe(veth.index);
  });

  it('never touches foreign routes, and reports one that holds a slot we want', async () => {
    const conflicts: string[] = [];
    const { kernel, c } = setup({ onConflict: (x) => conflicts.push(x.prefix) });
    const veth = kernel.addLink('tor1', true, false);
    const foreignSame = podRoute('10.0.0.1/32', veth.index, 4);
    const foreignElse = podRoute('10.0.9.9/32', veth.index, 3);
    const foreignOtherTable = { ...podRoute('10.0.0.2/32', veth.index), table: 100 };
    kernel.routes.push(foreignSame, foreignElse, foreignOtherTable);
    c.setWorkload('10.0.0.1', 'tor1');
    c.setWorkload('10.0.0.2', 'tor1');
    await c.start();
    await c.idle();
    expect(kernel.log.map((o) => `${o.op} ${o.route.dst}`)).toEqual(['add 10.0.0.2/32']);
    expect(kernel.routes).toContainEqual(foreignSame);
    expect(kernel.routes).toContainEqual(foreignElse);
    expect(kernel.routes).toContainEqual(foreignOtherTable);
    expect(conflicts).toEqual(['10.0.0.1/32']);
    expect(c.counters.conflicts).toBe(1);
    // The conflict ends when its owner removes the route: ours goes in.
    kernel.foreignDelete('10.0.0.1/32');
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([podRoute('10.0.0.1/32', veth.index)]);
    expect(c.counters.conflicts).toBe(0);
  });

  it('takes over a conflicting slot when configured to', async () => {
    const { kernel, c } = setup({ takeOverConflicts: true });
    const veth = kernel.addLink('tor1', true, false);
    kernel.routes.push(podRoute('10.0.0.1/32', veth.index, 4));
    c.setWorkload('10.0.0.1', 'tor1');
    await c.start();
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([podRoute('10.0.0.1/32', veth.index)]);
  });

  it('rejects bad input with typed errors', () => {
    const { c } = setup();
    const bad = [
      () => c.setWorkload('10.0.0.300', 'tor1'),
      () => c.setWorkload('10.0.0.1', 'eth0'),
      () => c.setBlackhole('10.0.0.1/24'),
      () => c.setLearned('10.0.0.0/24', []),
      () => c.setLearned('10.0.0.0/24', ['2001:db8::1']),
      // A next hop already known good (shared between routes) is still checked against the prefix.
      () => (c.setLearned('10.1.0.0/24', ['192.0.2.1']), c.setLearned('2001:db8:1::/64', ['192.0.2.1'])),
      () => c.setRoute('10.0.0.0/24', { kind: 'teleport' } as never),
    ];
    for (const f of bad) expect(f).toThrow(RouteConfigError);
    try {
      c.setWorkload('10.0.0.1', 'eth0');
    } catch (e) {
      expect((e as RouteConfigError).code).toBe('TORTIE_BAD_ROUTE');
      expect((e as Error).message).toContain('eth0');
    }
    expect(() => new RouteController({ kernel: new FakeKernel(), protocol: 2 })).toThrow(/protocol 2/);
  });
});

describe('RouteController: drift and failures', () => {
  it('puts back a route someone deleted, and counts the repair', async () => {
    const { kernel, c } = setup();
    const veth = kernel.addLink('tor1', true, false);
    c.setWorkload('10.0.0.1', 'tor1');
    await c.start();
    await c.idle();
    kernel.foreignDelete('10.0.0.1/32');
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([podRoute('10.0.0.1/32', veth.index)]);
    expect(c.counters.repairs).toBe(1);
  });

  it('removes a stray route of ours that someone added, and leaves theirs', async () => {
    const { kernel, c } = setup();
    const veth = kernel.addLink('tor1', true, false);
    await c.start();
    kernel.foreignAdd(podRoute('10.0.0.8/32', veth.index));
    kernel.foreignAdd(podRoute('10.0.0.9/32', veth.index, 4));
    await c.idle();
    expect(kernel.find('10.0.0.8/32')).toEqual([]);
    expect(kernel.find('10.0.0.9/32')).toHaveLength(1);
  });

  it("leaves a new pod interface's route of ours (the CNI plugin's) alone for the grace period, then removes it unless desired", async () => {
    const { kernel, clock, c } = setup({ workloadRouteGraceMs: 10_000 });
    await c.start();
    await c.idle();
    // The CNI plugin wires two pods: veth and /32 with our protocol, before the datastore knows them.
    const a = kernel.addLink('tor-a');
    const b = kernel.addLink('tor-b');
    kernel.foreignAdd(podRoute('10.0.0.10/32', a.index));
    kernel.foreignAdd(podRoute('10.0.0.11/32', b.index));
    await c.idle();
    expect(kernel.find('10.0.0.10/32')).toHaveLength(1);
    expect(kernel.find('10.0.0.11/32')).toHaveLength(1);
    // One pod reaches the datastore; the other never does.
    c.setWorkload('10.0.0.10', 'tor-a');
    clock.advance(9_000);
    await c.idle();
    expect(kernel.find('10.0.0.11/32')).toHaveLength(1);
    clock.advance(1_100);
    await c.idle();
    expect(kernel.find('10.0.0.10/32')).toEqual([podRoute('10.0.0.10/32', a.index)]);
    expect(kernel.find('10.0.0.11/32')).toEqual([]);
    // A route the desired state lets go of goes at once, grace or not.
    const d = kernel.addLink('tor-d');
    c.setWorkload('10.0.0.12', 'tor-d');
    await c.idle();
    expect(kernel.find('10.0.0.12/32')).toEqual([podRoute('10.0.0.12/32', d.index)]);
    c.deleteRoute('10.0.0.12/32');
    await c.idle();
    expect(kernel.find('10.0.0.12/32')).toEqual([]);
  });

  it('drops the route of a deleted interface and restores it when the interface returns', async () => {
    const { kernel, c } = setup();
    kernel.addLink('tor1', true, false);
    c.setWorkload('10.0.0.1', 'tor1');
    await c.start();
    await c.idle();
    kernel.deleteLink('tor1');
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([]);
    expect(c.counters).toMatchObject({ pendingInterface: 1, programmed: 0, failures: 0 });
    const again = kernel.addLink('tor1');
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([podRoute('10.0.0.1/32', again.index)]);
  });

  it('moves learned routes on the node subnet to a node interface that returns with a new index', async () => {
    const { kernel, c } = setup({ nodeSubnets: [{ cidr: '198.51.100.0/24', ifname: 'eth0' }] });
    kernel.addLink('eth0', true, false);
    for (let i = 0; i < 3; i++) c.setLearned(`10.70.${i}.0/24`, ['198.51.100.7']);
    c.setLearned('10.71.0.0/24', ['192.0.2.1']);
    await c.start();
    await c.idle();
    kernel.deleteLink('eth0');
    await c.idle();
    expect(kernel.find('10.70.1.0/24')).toEqual([]);
    expect(kernel.find('10.71.0.0/24')).toHaveLength(1); // not through eth0: untouched
    expect(c.counters).toMatchObject({ pendingInterface: 3, failures: 0 });
    const again = kernel.addLink('eth0');
    await c.idle();
    for (let i = 0; i < 3; i++) expect(kernel.find(`10.70.${i}.0/24`)[0].nexthops).toEqual([{ gateway: '198.51.100.7', ifindex: again.index, onlink: true }]);
    expect(c.counters).toMatchObject({ programmed: 4, pendingInterface: 0, failures: 0 });
  });

  it('treats a downed interface like a missing one, and reprograms it when it comes back up', async () => {
    const { kernel, c } = setup();
    const veth = kernel.addLink('tor1', true, false);
    c.setWorkload('10.0.0.1', 'tor1');
    await c.start();
    await c.idle();
    kernel.setLinkUp('tor1', false);
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([]);
    expect(c.counters).toMatchObject({ pendingInterface: 1, failures: 0 });
    kernel.setLinkUp('tor1', true);
    await c.idle();
    expect(kernel.find('10.0.0.1/32')).toEqual([podRoute('10.0.0.1/32', veth.index)]);
    expect(c.counters.programmed).toBe(1);
  });

  it('does a full resync after lost notifications, once the storm has passed', async () => {
    const { kernel, clock, c } = setup({ minBackoffMs: 200 });
    const veth = kernel.addLink('tor1', true, false);
    c.setWorkload('10.0.0.1', 'tor1');
    await c.start();
    await c.idle();
    kernel.foreignDelete('10.0.0.1/32', false); // unseen: the notification was lost
    const dumps = kernel.dumps;
    kernel.loseNotifications();
    kernel.loseNotifications();
    await c.idle();
    expect(kernel.dumps).toBe(dumps);
    clock.advance(200);
    await c.idle();
    expect(kernel.dumps).toBe(dumps + 1);
    expect(kernel.find('10.0.0.1/32')).toEqual([podRoute('10.0.0.1/32', veth.index)]);
    expect(c.counters.lostNotifications).toBe(2);
  });

  it('a resync finds a route changed in place without any notification', async () => {
    const { kernel, clock, c } = setup();
    const a = kernel.addLink('tor1', true, false);
    const b = kernel.addLink('tor2', true, false);
    for (let i = 0; i < 20; i++) c.setWorkload(`10.0.0.${i}`, 'tor1');
    await c.start();
    await c.idle();
    // Same number of routes, one of them now elsewhere: only a field-by-field check can tell.
    kernel.find('10.0.0.7/32')[0].nexthops = [{ ifindex: b.index, onlink: false }];
    clock.advance(90_000);
    await c.idle();
    expect(kernel.find('10.0.0.7/32')[0].nexthops).toEqual([{ ifindex: a.index, onlink: false }]);
    expect(c.counters.repairs).toBe(1);
  });

  it('resyncs after a kernel error, backing off while errors repeat', async () => {
    const { kernel, clock, c } = setup({ minBackoffMs: 100 });
    kernel.addLink('tor1', true, false);
    await c.start();
    kernel.routes.push(podRoute('10.0.0.1/32', kernel.link('tor1').index, 4));
    // Our view missed the foreign route: the add fails with EEXIST, then a resync sees it.
    kernel.failNext = [EEXIST];
    c.setWorkload('10.0.0.2', 'tor1');
    await c.idle();
    expect(c.counters.failures).toBe(1);
    expect(c.synced).toBe(false);
    expect(clock.pending()).toContain(100);
    const dumps = kernel.dumps;
    clock.advance(100);
    await c.idle();
    expect(kernel.dumps).toBe(dumps + 1);
    expect(c.synced).toBe(true);
    expect(kernel.find('10.0.0.2/32')).toHaveLength(1);
    // Two failures in a row: the second retry waits twice as long.
    kernel.failNext = [EEXIST];
    c.setWorkload('10.0.0.3', 'tor1');
    await c.idle();
    kernel.failNext = [EEXIST];
    clock.advance(100);
    await c.idle();
    expect(clock.pending()).toContain(200);
  });

  it('resyncs every 90 s by default, and a clean resync changes nothing', async () => {
    const { kernel, clock, c } = setup();
    kernel.addLink('tor1', true, false);
    c.setWorkload('10.0.0.1', 'tor1');
    await c.start();
    await c.idle();
    const ops = kernel.log.length;
    clock.advance(89_999);
    await c.idle();
    expect(kernel.dumps).toBe(1);
    clock.advance(1);
    await c.idle();
    expect(kernel.dumps).toBe(2);
    expect(kernel.log.length).toBe(ops);
    expect(c.counters.resyncs).toBe(2);
  });

  it('restarting adopts every route: no operation at all', async () => {
    const { kernel, c } = setup();
    kernel.addLink('tor1', true, false);
    for (let i = 0; i < 50; i++) c.setWorkload(`10.0.0.${i}`, 'tor1');
    c.setBlackhole('10.0.1.0/26');
    await c.start();
    await c.idle();
    await c.stop();
    const clock2 = new FakeClock();
    const c2 = new RouteController({ kernel, clock: clock2 });
    for (let i = 0; i < 50; i++) c2.setWorkload(`10.0.0.${i}`, 'tor1');
    c2.setBlackhole('10.0.1.0/26');
    const before = kernel.log.length;
    await c2.start();
    await c2.idle();
    expect(kernel.log.length).toBe(before);
    expect(c2.counters.programmed).toBe(51);
  });
});
