/** NodeRoutes: local over learned over adopted, and adopted routes swept only when nobody re-announced them. */
import { describe, expect, it } from 'vitest';
import { NodeRoutes } from '../../src/agent/node-routes.ts';
import type { RouteController, RouteTarget } from '../../src/dataplane/index.ts';
import { RouteType } from '../../src/dataplane/netlink.ts';

function recorder() {
  const ops: string[] = [];
  const routes = new Map<string, RouteTarget>();
  const dp = {
    setRoute(prefix: string, target: RouteTarget) {
      if (target.kind === 'learned' && target.nextHops[0] === 'bad') throw Object.assign(new Error('bad next hop'), { code: 'TORTIE_BAD_ROUTE' });
      routes.set(prefix, target);
      ops.push(`set ${prefix} ${JSON.stringify(target)}`);
    },
    deleteRoute(prefix: string) {
      routes.delete(prefix);
      ops.push(`del ${prefix}`);
    },
  } as unknown as RouteController;
  const warnings: string[] = [];
  const log = { warn: (o: object, m?: string) => warnings.push(`${m} ${JSON.stringify(o)}`), info: () => undefined, debug: () => undefined };
  return { nr: new NodeRoutes(dp, log), ops, routes, warnings };
}

const kernelRoute = (dst: string, gateway: string) => ({ family: 4 as const, dst, table: 254, protocol: 116, type: RouteType.UNICAST, scope: 0, priority: 0, nexthops: [{ gateway, ifindex: 2, onlink: true }] });

describe('NodeRoutes', () => {
  it('holds learned routes through a session restart: withdrawals leave the kernel alone until the sweep', () => {
    const { nr, ops, routes } = recorder();
    nr.setLearned('10.0.2.0/24', '198.51.100.2');
    nr.setLearned('10.0.3.0/24', '198.51.100.3');
    ops.length = 0;
    expect(nr.holdLearned()).toBe(2);
    // The old speaker's withdrawals, then the new one re-learning one prefix (another next hop).
    nr.setLearned('10.0.2.0/24', null);
    nr.setLearned('10.0.3.0/24', null);
    expect(ops).toEqual([]);
    nr.setLearned('10.0.2.0/24', '198.51.100.9');
    expect(ops).toEqual(['set 10.0.2.0/24 {"kind":"learned","nextHops":["198.51.100.9"]}']);
    expect(nr.sweepAdopted()).toBe(1);
    expect([...routes.keys()]).toEqual(['10.0.2.0/24']);
  });

  it('keeps adopted routes until the sweep, which removes only those nobody re-announced', () => {
    const { nr, ops, routes } = recorder();
    expect(nr.adopt([kernelRoute('10.0.2.0/24', '198.51.100.2'), kernelRoute('10.0.3.0/24', '198.51.100.3'), { ...kernelRoute('10.0.1.0/24', ''), type: RouteType.BLACKHOLE, nexthops: [] }])).toBe(2);
    expect([...routes.keys()].sort()).toEqual(['10.0.2.0/24', '10.0.3.0/24']);
    // Re-announced with the same next hop: nothing to do.
    ops.length = 0;
    nr.setLearned('10.0.2.0/24', '198.51.100.2');
    expect(ops).toEqual([]);
    expect(nr.sweepAdopted()).toBe(1);
    expect(ops).toEqual(['del 10.0.3.0/24']);
    expect(routes.get('10.0.2.0/24')).toEqual({ kind: 'learned', nextHops: ['198.51.100.2'] });
  });

  it('puts local routes above learned ones, and falls back when the local one goes', () => {
    const { nr, routes } = recorder();
    nr.setLearned('10.0.9.5/32', '198.51.100.2');
    nr.setLocal(new Map([['10.0.9.5/32', 'tor0123456789a']]), new Set(['10.0.1.0/24']));
    expect(routes.get('10.0.9.5/32')).toEqual({ kind: 'workload', ifname: 'tor0123456789a' });
    expect(routes.get('10.0.1.0/24')).toEqual({ kind: 'blackhole' });
    nr.setLocal(new Map(), new Set(['10.0.1.0/24']));
    expect(routes.get('10.0.9.5/32')).toEqual({ kind: 'learned', nextHops: ['198.51.100.2'] });
    nr.setLearned('10.0.9.5/32', null);
    expect(routes.has('10.0.9.5/32')).toBe(false);
  });

  it('logs a route the dataplane refuses and carries on', () => {
    const { nr, routes, warnings } = recorder();
    nr.setLearned('10.0.8.0/24', 'bad');
    nr.setLearned('10.0.7.0/24', '198.51.100.7');
    expect(warnings[0]).toContain('route refused by the dataplane');
    expect(routes.has('10.0.7.0/24')).toBe(true);
  });

  it('hands the controller one shared target per next hop, and nothing for a repeated best path', () => {
    const { nr, ops, routes } = recorder();
    nr.setLearned('10.0.4.0/24', '198.51.100.4');
    nr.setLearned('10.0.5.0/24', '198.51.100.4');
    nr.setLearned('10.0.5.0/24', '198.51.100.4');
    expect(ops).toHaveLength(2);
    expect(routes.get('10.0.4.0/24')).toBe(routes.get('10.0.5.0/24'));
    expect(Object.isFrozen(routes.get('10.0.4.0/24'))).toBe(true);
    nr.setLearned('10.0.5.0/24', '198.51.100.5');
    expect(routes.get('10.0.5.0/24')).toEqual({ kind: 'learned', nextHops: ['198.51.100.5'] });
    // A pod moved to another veth is a change; the same pod again is not.
    nr.setLocal(new Map([['10.0.9.1/32', 'tor0000000000a']]), new Set());
    nr.setLocal(new Map([['10.0.9.1/32', 'tor0000000000a']]), new Set());
    nr.setLocal(new Map([['10.0.9.1/32', 'tor0000000000b']]), new Set());
    expect(ops.filter((o) => o.startsWith('set 10.0.9.1/32'))).toHaveLength(2);
  });
});
