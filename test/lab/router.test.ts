import { describe, expect, it } from 'vitest';
import { planLab } from '../../src/lab/plan.ts';
import { parseBirdProtocols, routerNeighbors } from '../../src/lab/router.ts';

describe('lab router', () => {
  it("reads each BGP protocol's session state from birdc show protocols", () => {
    const out = [
      'BIRD 2.0.12 ready.',
      'Name       Proto      Table      State  Since         Info',
      'device1    Device     ---        up     02:51:16.118  ',
      'node1      BGP        ---        up     02:51:20.001  Established   ',
      'node2      BGP        ---        start  02:51:16.118  Active        Socket: Connection refused',
      'node3      BGP        ---        start  2026-11-26 02:51:16  Connect',
      'node4      BGP        ---        down   02:51:16.118  ',
      'kernel4    Kernel     master4    up     02:51:16.118  ',
    ].join('\n');
    expect([...parseBirdProtocols(out)]).toEqual([
      ['node1', 'Established'],
      ['node2', 'Active'],
      ['node3', 'Connect'],
      ['node4', 'down'],
    ]);
  });

  it('peers with every node over eBGP, one session per family, with graceful restart', () => {
    const plan = planLab({ prefix: 'tl', nodes: 2, ipv6: true, holdTime: 9 });
    expect(routerNeighbors(plan).map((n) => [n.name, n.address, n.localAddress, n.asn, n.families])).toEqual([
      ['node1', '198.51.100.11', '198.51.100.1', 64512, ['ipv4']],
      ['node1_v6', '2001:db8::11', '2001:db8::1', 64512, ['ipv6']],
      ['node2', '198.51.100.12', '198.51.100.1', 64512, ['ipv4']],
      ['node2_v6', '2001:db8::12', '2001:db8::1', 64512, ['ipv6']],
    ]);
    expect(routerNeighbors(plan).every((n) => n.gracefulRestart && n.holdTime === 9)).toBe(true);
  });
});
