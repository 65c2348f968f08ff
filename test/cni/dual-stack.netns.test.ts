import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../src/netns/netns.ts';
import { builtinConfig, CniNode, HOST_ADDRESS } from './harness.ts';

// IPv6 the Calico way: a /128 in the pod and the default route via the host side's link-local
// fe80::ecee:eeff:feee:eeee (the EUI-64 of ee:ee:ee:ee:ee:ee), which the host side owns.
describe('dual-stack ADD', () => {
  let node: CniNode;
  let pod: Netns;

  beforeAll(async () => {
    node = await CniNode.create();
    pod = await node.pod();
    await node.host.ip('-6', 'addr', 'add', 'fd00:200::1/128', 'dev', 'lo');
  });

  afterAll(async () => {
    await node?.destroy();
  });

  it('gives the pod one address per family, reachable both ways, and removes both on DEL', async () => {
    const conf = builtinConfig(node, {}, { blocks: ['10.77.2.0/24', 'fd00:77:2::/120'] });
    const call = { command: 'ADD', containerId: 'ctr-v6', netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', config: conf };
    const r = await node.call(call);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const res = r.json as { ips: Array<{ address: string; gateway: string }>; routes: Array<{ dst: string; gw: string }> };
    expect(res.ips).toEqual([
      { address: '10.77.2.1/32', gateway: '169.254.1.1', interface: 1 },
      { address: 'fd00:77:2::1/128', gateway: 'fe80::ecee:eeff:feee:eeee', interface: 1 },
    ]);
    expect(res.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '169.254.1.1' },
      { dst: '::/0', gw: 'fe80::ecee:eeff:feee:eeee' },
    ]);
    const { stdout: routes } = await pod.ip('-6', 'route', 'show');
    expect(routes).toMatch(/^default via fe80::ecee:eeff:feee:eeee dev eth0/m);
    expect((await node.host.ip('-6', 'route', 'show', 'exact', 'fd00:77:2::1/128')).stdout).toContain('dev tor');

    expect(await pod.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);
    expect(await pod.ping('fd00:200::1', { count: 1, timeoutS: 3 })).toBe(true);
    expect(await node.host.ping('fd00:77:2::1', { count: 1, timeoutS: 3 })).toBe(true);

    const check = await node.call({ ...call, command: 'CHECK', config: { ...conf, prevResult: r.json } });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect((await node.call({ ...call, command: 'DEL' })).exitCode).toBe(0);
    expect(node.allocations('tnet')).toEqual([]);
    expect(await node.extraHostLinks()).toEqual([]);
  });
});
