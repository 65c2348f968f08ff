import { describe, expect, it } from 'vitest';
import { LabOptionError, planLab, planNamespaces } from '../../src/lab/plan.ts';

describe('lab plan', () => {
  it('numbers nodes, addresses and pod CIDRs from 1, IPv4 only by default', () => {
    const plan = planLab({ prefix: 'tortie' });
    expect(plan.nodes.map((n) => [n.name, n.ipv4, n.ipv6, n.podCIDRs])).toEqual([
      ['tortie-node1', '198.51.100.11', null, ['10.244.1.0/24']],
      ['tortie-node2', '198.51.100.12', null, ['10.244.2.0/24']],
      ['tortie-node3', '198.51.100.13', null, ['10.244.3.0/24']],
    ]);
    expect(plan.router).toMatchObject({ netns: 'tortie-router', kind: 'bird', ipv4: '198.51.100.1', ipv6: null, clientSideIpv4: '203.0.113.1' });
    expect(plan.client).toEqual({ netns: 'tortie-client', ipv4: '203.0.113.10', ipv6: null });
    expect(plan.nodes[0].pods.map((p) => [p.name, p.netns])).toEqual([
      ['pod-1-a', 'tortie-node1-pod-a'],
      ['pod-1-b', 'tortie-node1-pod-b'],
    ]);
  });

  it('adds IPv6 underlay, client and pod CIDRs with --ipv6', () => {
    const plan = planLab({ prefix: 'tl1', nodes: 2, ipv6: true });
    expect(plan.nodes[1]).toMatchObject({ ipv6: '2001:db8::12', podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'] });
    expect(plan.router.ipv6).toBe('2001:db8::1');
    expect(plan.client.ipv6).toBe('2001:db8:ff::10');
  });

  it('lists every namespace once, pods before their nodes and the switch last', () => {
    const plan = planLab({ prefix: 'tl2', nodes: 2, podsPerNode: 1 });
    const names = planNamespaces(plan);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(['tl2-node1-pod-a', 'tl2-node2-pod-a', 'tl2-node1', 'tl2-node2', 'tl2-client', 'tl2-router', 'tl2-switch']);
  });

  it('refuses bad options with an error naming the option', () => {
    const bad = (o: Parameters<typeof planLab>[0], option: string) => {
      try {
        planLab(o);
      } catch (e) {
        expect(e).toBeInstanceOf(LabOptionError);
        expect((e as LabOptionError).code).toBe('TK_LAB_BAD_OPTION');
        expect((e as LabOptionError).option).toBe(option);
        return;
      }
      throw new Error(`accepted ${JSON.stringify(o)}`);
    };
    bad({ nodes: 0 }, 'nodes');
    bad({ nodes: 51 }, 'nodes');
    bad({ nodes: 1.5 }, 'nodes');
    bad({ router: 'quagga' as never }, 'router');
    bad({ prefix: 'Bad Name' }, 'prefix');
    bad({ holdTime: 2 }, 'hold-time');
    bad({ podsPerNode: 27 }, 'pods');
  });
});
