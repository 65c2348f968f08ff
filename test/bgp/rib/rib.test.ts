import { describe, expect, it } from 'vitest';
import { Rib, type RibPeer, type RibPeerConfig } from '../../../src/bgp/rib/rib.ts';
import { Afi, Origin } from '../../../src/bgp/wire/constants.ts';
import { formatKey } from '../../../src/bgp/rib/prefix.ts';
import { PolicyError } from '../../../src/bgp/rib/policy.ts';
import { describe as describeBatch, prefixes, seq } from './helpers.ts';

const LOCAL_AS = 64512;
const ROUTER_ID = 0x0a000001;

function rib(opts: Partial<ConstructorParameters<typeof Rib>[0]> = {}) {
  return new Rib({ localAsn: LOCAL_AS, routerId: ROUTER_ID, ...opts });
}

function up(r: Rib, cfg: RibPeerConfig, bgpId: number): RibPeer {
  const p = r.addPeer(cfg);
  r.peerUp(p, { bgpId, families: [Afi.IPv4, Afi.IPv6], localAddress: { v4: '198.51.100.1', v6: '2001:db8::1' } });
  return p;
}

const base = { origin: Origin.Igp, nextHop: '198.51.100.2' };

describe('Adj-RIB-In and Loc-RIB', () => {
  it('selects, replaces and withdraws routes and emits each best-path change', () => {
    const r = rib();
    const events: string[] = [];
    r.onBestChange((_afi, key, best) => events.push(`${formatKey(key)} ${best ? best.source.id : 'none'}`));
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    const b = up(r, { id: 'b', address: '198.51.100.3', asn: 65002 }, 3);
    r.announce(a, prefixes('203.0.113.0/24'), { ...base, asPath: seq(65001, 1) });
    r.announce(b, prefixes('203.0.113.0/24'), { ...base, asPath: seq(65002) });
    expect(r.bestOf('203.0.113.0/24')?.source.id).toBe('b');
    r.withdraw(b, prefixes('203.0.113.0/24'));
    expect(r.bestOf('203.0.113.0/24')?.source.id).toBe('a');
    r.withdraw(a, prefixes('203.0.113.0/24'));
    expect(r.bestOf('203.0.113.0/24')).toBeNull();
    expect(events).toEqual(['203.0.113.0/24 a', '203.0.113.0/24 b', '203.0.113.0/24 a', '203.0.113.0/24 none']);
  });

  it('shares one interned attribute set among all prefixes of an UPDATE and across identical UPDATEs', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    r.announce(a, prefixes('10.1.0.0/24', '10.1.1.0/24'), { ...base, asPath: seq(65001), communities: [1, 2] });
    r.announce(a, prefixes('10.1.2.0/24'), { ...base, asPath: seq(65001), communities: [1, 2] });
    const x = r.bestOf('10.1.0.0/24')!.attrs;
    expect(r.bestOf('10.1.2.0/24')!.attrs).toBe(x);
    expect(Object.isFrozen(x)).toBe(true);
  });

  it('rejects eBGP routes whose AS_PATH holds our AS (loop) and scrubs iBGP-only attributes', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    expect(r.announce(a, prefixes('10.9.0.0/16'), { ...base, asPath: seq(65001, LOCAL_AS, 7) })).toBe(0);
    expect(r.bestOf('10.9.0.0/16')).toBeNull();
    expect(a.received()).toBe(1);
    expect(a.accepted()).toBe(0);
    r.announce(a, prefixes('10.8.0.0/16'), { ...base, asPath: seq(65001), localPref: 900, originatorId: 5, clusterList: [1] });
    const got = r.bestOf('10.8.0.0/16')!.attrs;
    expect(got.localPref).toBeUndefined();
    expect(got.originatorId).toBeUndefined();
    expect(got.clusterList).toBeUndefined();
  });

  it('rejects reflected routes that carry our ORIGINATOR_ID or CLUSTER_ID (RFC 4456 8)', () => {
    const r = rib();
    const i = up(r, { id: 'i', address: '198.51.100.5', asn: LOCAL_AS }, 5);
    expect(r.announce(i, prefixes('10.7.0.0/16'), { ...base, asPath: [], originatorId: ROUTER_ID })).toBe(0);
    expect(r.announce(i, prefixes('10.7.1.0/24'), { ...base, asPath: [], clusterList: [9, ROUTER_ID] })).toBe(0);
    expect(r.announce(i, prefixes('10.7.2.0/24'), { ...base, asPath: [], clusterList: [9] })).toBe(1);
  });

  it('skips routes whose next hop is unreachable, and revalidates when reachability changes', () => {
    let reachable = false;
    const r = rib({ nextHopReachable: () => reachable });
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    r.announce(a, prefixes('10.6.0.0/16'), { ...base, asPath: seq(65001) });
    expect(r.bestOf('10.6.0.0/16')).toBeNull();
    reachable = true;
    r.revalidate();
    expect(r.bestOf('10.6.0.0/16')?.source.id).toBe('a');
  });

  it('rejects external routes within the cluster ranges unless the peer is allowed; covering routes pass; iBGP peers are allowed', () => {
    const r = rib({ clusterRanges: ['10.244.0.0/16', '10.96.0.0/12', 'fd00:244::/48'] });
    const ext = up(r, { id: 'ext', address: '198.51.100.2', asn: 65001 }, 2);
    const ok = up(r, { id: 'ok', address: '198.51.100.3', asn: 65003, allowClusterRanges: true }, 3);
    const node = up(r, { id: 'node', address: '198.51.100.4', asn: LOCAL_AS }, 4);
    // Within a range (equal or more specific): refused. Covering it (a default, a /8): accepted,
    // since longest-prefix match keeps pod traffic on the blocks.
    expect(r.announce(ext, prefixes('10.244.5.0/24', '10.244.0.0/16', '10.0.0.0/8', '0.0.0.0/0', '192.0.2.0/24'), { ...base, asPath: seq(65001) })).toBe(3);
    expect(r.announce(ext, prefixes('fd00:244:0:1::/64'), { ...base, nextHop: '2001:db8::2', asPath: seq(65001) })).toBe(0);
    expect(r.announce(ext, prefixes('::/0'), { ...base, nextHop: '2001:db8::2', asPath: seq(65001) })).toBe(1);
    expect(r.announce(ok, prefixes('10.244.5.0/24'), { ...base, asPath: seq(65003) })).toBe(1);
    expect(r.announce(node, prefixes('10.244.6.0/26'), { ...base, asPath: [] })).toBe(1);
    expect(ext.received()).toBe(7);
    expect(ext.accepted()).toBe(4);
    expect(r.bestOf('0.0.0.0/0')?.source.id).toBe('ext');
    expect(r.bestOf('10.244.5.0/24')?.source.id).toBe('ok');
  });

  it('applies import policy: prefix lists with length ranges, community matches, set actions', () => {
    const r = rib();
    const a = up(
      r,
      {
        id: 'a',
        address: '198.51.100.2',
        asn: 65001,
        importPolicy: {
          rules: [
            { match: { communities: ['65001:666'] }, action: 'reject' },
            { match: { prefixes: [{ prefix: '203.0.113.0/24', ge: 25, le: 28 }] }, action: 'accept', set: { localPref: 300, addCommunities: ['64512:1'] } },
            { match: { family: 'ipv6', prefixes: [{ prefix: '2001:db8::/32', ge: 48 }] }, action: 'accept' },
          ],
          defaultAction: 'reject',
        },
      },
      2,
    );
    const n = r.announce(a, prefixes('203.0.113.0/24', '203.0.113.0/25', '203.0.113.16/28', '203.0.113.0/29'), { ...base, asPath: seq(65001) });
    expect(n).toBe(2);
    const got = r.bestOf('203.0.113.0/25')!.attrs;
    expect(got.localPref).toBe(300);
    expect(got.communities).toEqual([((64512 << 16) | 1) >>> 0]);
    expect(r.announce(a, prefixes('203.0.113.128/25'), { ...base, asPath: seq(65001), communities: [((65001 << 16) | 666) >>> 0] })).toBe(0);
    expect(r.announce(a, prefixes('2001:db8:1::/48', '2001:db8::/32'), { ...base, nextHop: '2001:db8::2', asPath: seq(65001) })).toBe(1);
  });

  it('refuses invalid policy with a typed error naming the rule', () => {
    const r = rib();
    expect(() => r.addPeer({ id: 'p', address: '198.51.100.2', asn: 1, importPolicy: { rules: [{ name: 'bad', match: { prefixes: [{ prefix: '10.0.0.0/8', ge: 4 }] }, action: 'accept' }], defaultAction: 'accept' } })).toThrow(PolicyError);
    expect(() => r.addPeer({ id: 'q', address: '198.51.100.2', asn: 1, importPolicy: { rules: [{ match: { communities: ['1:99999'] }, action: 'accept' }], defaultAction: 'accept' } })).toThrow(/rule 0.*community/);
  });

  it('keeps a restarting peer\'s routes as stale, refreshes what it re-sends, and purges the rest', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    r.announce(a, prefixes('10.1.0.0/24', '10.1.1.0/24', '10.1.2.0/24'), { ...base, asPath: seq(65001) });
    r.peerDown(a, { keepStale: true });
    expect(r.bestOf('10.1.1.0/24')?.source.id).toBe('a');
    r.peerUp(a, { bgpId: 2, families: [Afi.IPv4], localAddress: { v4: '198.51.100.1' } });
    r.announce(a, prefixes('10.1.0.0/24'), { ...base, asPath: seq(65001) });
    r.withdraw(a, prefixes('10.1.1.0/24'));
    expect(r.bestOf('10.1.1.0/24')).toBeNull();
    expect(r.bestOf('10.1.2.0/24')?.source.id).toBe('a');
    expect(r.purgeStale(a, Afi.IPv4)).toBe(1);
    expect(r.bestOf('10.1.2.0/24')).toBeNull();
    expect(r.bestOf('10.1.0.0/24')?.source.id).toBe('a');
    expect(a.stale).toBeNull();
  });

  it('withdraws all of a peer\'s routes when its session drops without graceful restart', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    r.announce(a, prefixes('10.1.0.0/24', '10.1.1.0/24'), { ...base, asPath: seq(65001) });
    r.peerDown(a, { keepStale: false });
    expect(r.locRibSize(Afi.IPv4)).toBe(0);
  });
});

describe('Adj-RIB-Out', () => {
  it('sends eBGP peers our AS prepended, next hop self, no LOCAL_PREF, and no MED learned from another AS', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    const b = up(r, { id: 'b', address: '198.51.100.3', asn: 65002 }, 3);
    r.takePending(b, Afi.IPv4);
    r.announce(a, prefixes('10.1.0.0/24'), { ...base, asPath: seq(65001), med: 10, communities: [7], largeCommunities: [[1, 2, 3]] });
    r.originate('10.2.0.0/24', { med: 20 });
    const batch = r.takePending(b, Afi.IPv4);
    expect(batch.withdrawn).toEqual([]);
    const sent = [...batch.announced].map(([attrs, keys]) => ({ attrs, prefixes: keys.map(formatKey) }));
    const learned = sent.find((s) => s.prefixes.includes('10.1.0.0/24'))!.attrs;
    expect(learned.asPath).toEqual(seq(LOCAL_AS, 65001));
    expect(learned.nextHop).toBe('198.51.100.1');
    expect(learned.med).toBeUndefined();
    expect(learned.localPref).toBeUndefined();
    expect(learned.communities).toEqual([7]);
    expect(learned.largeCommunities).toEqual([[1, 2, 3]]);
    const own = sent.find((s) => s.prefixes.includes('10.2.0.0/24'))!.attrs;
    expect(own.asPath).toEqual(seq(LOCAL_AS));
    expect(own.med).toBe(20);
    // Never back to the peer it came from.
    expect(describeBatch(r.takePending(a, Afi.IPv4)).announced.flatMap((x) => x.prefixes)).toEqual(['10.2.0.0/24']);
  });

  it('keeps a learned next hop towards an eBGP peer on the same subnet (RFC 4271 5.1.3 third party), else next hop self', () => {
    // Our subnet is 198.51.100.0/24: the router (.9) and the node (.2) are on it; 192.0.2.0/24 is not ours.
    const onOurSubnet = (a: string) => a.startsWith('198.51.100.');
    const r = rib({ sharedSubnet: (a, b) => onOurSubnet(a) && onOurSubnet(b) });
    const node = up(r, { id: 'node', address: '198.51.100.2', asn: LOCAL_AS }, 2);
    const far = up(r, { id: 'far', address: '192.0.2.7', asn: LOCAL_AS }, 7);
    const router = up(r, { id: 'router', address: '198.51.100.9', asn: 65001 }, 9);
    const remote = up(r, { id: 'remote', address: '192.0.2.9', asn: 65002 }, 10);
    r.announce(node, prefixes('10.244.2.0/24'), { ...base, nextHop: '198.51.100.2', asPath: [] });
    r.announce(far, prefixes('10.244.3.0/24'), { ...base, nextHop: '192.0.2.7', asPath: [] });
    r.originate('10.244.1.0/24');
    const nextHops = (peer: RibPeer) => Object.fromEntries([...r.takePending(peer, Afi.IPv4).announced].flatMap(([attrs, keys]) => keys.map((k) => [formatKey(k), attrs.nextHop])));
    // The router shares 198.51.100.0/24 with the node: straight to it. Our own block and a next
    // hop off the subnet: through us.
    expect(nextHops(router)).toEqual({ '10.244.1.0/24': '198.51.100.1', '10.244.2.0/24': '198.51.100.2', '10.244.3.0/24': '198.51.100.1' });
    // A peer off our subnet always gets us.
    expect(nextHops(remote)).toEqual({ '10.244.1.0/24': '198.51.100.1', '10.244.2.0/24': '198.51.100.1', '10.244.3.0/24': '198.51.100.1' });
    // The AS path is ours prepended either way.
    const sent = r.exportFor(router, Afi.IPv4, [...r.locRibKeys(Afi.IPv4)].find((k) => formatKey(k) === '10.244.2.0/24')!)!;
    expect(sent.asPath).toEqual(seq(LOCAL_AS));
  });

  it('does not pass iBGP routes to other iBGP peers without route reflection; adds LOCAL_PREF on iBGP', () => {
    const r = rib();
    const i1 = up(r, { id: 'i1', address: '198.51.100.2', asn: LOCAL_AS }, 2);
    const i2 = up(r, { id: 'i2', address: '198.51.100.3', asn: LOCAL_AS }, 3);
    r.announce(i1, prefixes('10.1.0.0/24'), { ...base, asPath: [] });
    r.originate('10.2.0.0/24');
    const b = describeBatch(r.takePending(i2, Afi.IPv4));
    expect(b.announced.flatMap((x) => x.prefixes)).toEqual(['10.2.0.0/24']);
    const own = r.exportFor(i2, Afi.IPv4, [...r.locRibKeys(Afi.IPv4)].find((k) => formatKey(k) === '10.2.0.0/24')!)!;
    expect(own.localPref).toBe(100);
    expect(own.nextHop).toBe('198.51.100.1');
    expect(own.asPath).toEqual([]);
  });

  it('reflects routes (RFC 4456): client routes to all, non-client routes to clients only, with ORIGINATOR_ID and CLUSTER_LIST', () => {
    const r = rib({ clusterId: 0x01010101 });
    const c1 = up(r, { id: 'c1', address: '198.51.100.2', asn: LOCAL_AS, routeReflectorClient: true }, 2);
    const c2 = up(r, { id: 'c2', address: '198.51.100.3', asn: LOCAL_AS, routeReflectorClient: true }, 3);
    const n1 = up(r, { id: 'n1', address: '198.51.100.4', asn: LOCAL_AS }, 4);
    const n2 = up(r, { id: 'n2', address: '198.51.100.5', asn: LOCAL_AS }, 5);
    r.announce(c1, prefixes('10.1.0.0/24'), { ...base, asPath: [] });
    r.announce(n1, prefixes('10.2.0.0/24'), { ...base, nextHop: '198.51.100.4', asPath: [] });
    const names = (p: RibPeer) => describeBatch(r.takePending(p, Afi.IPv4)).announced.flatMap((x) => x.prefixes).sort();
    expect(names(c2)).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(names(n2)).toEqual(['10.1.0.0/24']);
    expect(names(c1)).toEqual(['10.2.0.0/24']);
    expect(names(n1)).toEqual(['10.1.0.0/24']);
    const reflected = [...c2.adjOut.get(Afi.IPv4)!].find(([k]) => formatKey(k) === '10.1.0.0/24')![1];
    expect(reflected.originatorId).toBe(2);
    expect(reflected.clusterList).toEqual([0x01010101]);
    expect(reflected.nextHop).toBe('198.51.100.2');
  });

  it('collapses a backlog to the latest state: many changes while the peer is busy leave one entry per prefix', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    const slow = up(r, { id: 'slow', address: '198.51.100.3', asn: 65002 }, 3);
    r.takePending(slow, Afi.IPv4);
    for (let i = 0; i < 100; i++) {
      r.announce(a, prefixes('10.1.0.0/24'), { ...base, asPath: seq(65001), med: i });
      r.announce(a, prefixes('10.1.1.0/24'), { ...base, asPath: seq(65001), communities: [i] });
    }
    r.withdraw(a, prefixes('10.1.1.0/24'));
    r.announce(a, prefixes('10.1.2.0/24'), { ...base, asPath: seq(65001) });
    r.withdraw(a, prefixes('10.1.2.0/24'));
    expect(slow.pending.get(Afi.IPv4)!.keys.size).toBe(3);
    const b = r.takePending(slow, Afi.IPv4);
    // 10.1.1.0/24 and 10.1.2.0/24 were never sent: nothing to withdraw. 10.1.0.0/24 once.
    expect(describeBatch(b).withdrawn).toEqual([]);
    expect(describeBatch(b).announced.flatMap((x) => x.prefixes)).toEqual(['10.1.0.0/24']);
    expect(b.drained).toBe(true);
  });

  it('groups announcements by attribute set and honours the batch limit', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    const b = r.addPeer({ id: 'b', address: '198.51.100.3', asn: 65002 });
    const many = Array.from({ length: 10 }, (_, i) => `10.3.${i}.0/24`);
    r.announce(a, prefixes(...many.slice(0, 6)), { ...base, asPath: seq(65001) });
    r.announce(a, prefixes(...many.slice(6)), { ...base, asPath: seq(65001), communities: [1] });
    r.peerUp(b, { bgpId: 3, families: [Afi.IPv4], localAddress: { v4: '198.51.100.1' } });
    const first = r.takePending(b, Afi.IPv4, 4);
    expect(first.drained).toBe(false);
    const rest = r.takePending(b, Afi.IPv4);
    expect(rest.drained).toBe(true);
    const all = [first, rest].flatMap((x) => describeBatch(x).announced);
    expect(all.flatMap((x) => x.prefixes).sort()).toEqual([...many].sort());
    expect(rest.announced.size).toBeLessThanOrEqual(2);
    expect(b.advertised()).toBe(10);
  });

  it('withdraws what export policy stops allowing after a resend, and re-sends everything on refresh', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001, exportPolicy: { rules: [{ match: { prefixes: [{ prefix: '10.0.0.0/8', le: 32 }] }, action: 'accept' }], defaultAction: 'reject' } }, 2);
    r.originate('10.1.0.0/24');
    r.originate('192.0.2.0/24');
    expect(describeBatch(r.takePending(a, Afi.IPv4)).announced.flatMap((x) => x.prefixes)).toEqual(['10.1.0.0/24']);
    r.resend(a, Afi.IPv4, { full: true });
    expect(describeBatch(r.takePending(a, Afi.IPv4)).announced.flatMap((x) => x.prefixes)).toEqual(['10.1.0.0/24']);
    r.withdrawLocal('10.1.0.0/24');
    expect(describeBatch(r.takePending(a, Afi.IPv4)).withdrawn).toEqual(['10.1.0.0/24']);
  });

  it('sends IPv6 routes with our IPv6 address as next hop to eBGP peers', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '2001:db8::2', asn: 65001 }, 2);
    r.originate('2001:db8:100::/48', { largeCommunities: [[64512, 1, 1]] });
    const b = r.takePending(a, Afi.IPv6);
    const [[attrs, keys]] = [...b.announced];
    expect(keys.map(formatKey)).toEqual(['2001:db8:100::/48']);
    expect(attrs.nextHop).toBe('2001:db8::1');
    expect(r.takePending(a, Afi.IPv4).announced.size).toBe(0);
  });

  it('removing a peer withdraws its routes from the others', () => {
    const r = rib();
    const a = up(r, { id: 'a', address: '198.51.100.2', asn: 65001 }, 2);
    const b = up(r, { id: 'b', address: '198.51.100.3', asn: 65002 }, 3);
    r.announce(a, prefixes('10.1.0.0/24'), { ...base, asPath: seq(65001) });
    r.takePending(b, Afi.IPv4);
    r.removePeer(a);
    expect(describeBatch(r.takePending(b, Afi.IPv4)).withdrawn).toEqual(['10.1.0.0/24']);
    expect(r.getPeer('a')).toBeUndefined();
  });
});
