/** `tortie routes` reasons: the decision replayed over a real RIB, each loser told why. */
import { describe, expect, it } from 'vitest';
import { formatAsPath, ribRoutes } from '../../src/agent/rib-view.ts';
import { parseIPv4, parsePrefix, keysToList } from '../../src/bgp/rib/prefix.ts';
import { Rib } from '../../src/bgp/rib/rib.ts';
import { Afi, AsPathSegmentType } from '../../src/bgp/wire/constants.ts';
import type { AttrInput } from '../../src/bgp/rib/attrs.ts';

function ribWith(paths: { peer: string; asn: number; attrs: AttrInput }[], prefix = '10.5.0.0/24'): Rib {
  const rib = new Rib({ localAsn: 64512, routerId: parseIPv4('198.51.100.1')! });
  for (const p of paths) {
    const peer = rib.addPeer({ id: p.peer, address: p.peer, asn: p.asn });
    rib.peerUp(peer, { bgpId: parseIPv4(p.peer)!, families: [Afi.IPv4], localAddress: { v4: '198.51.100.1' } });
    rib.announce(peer, keysToList(Afi.IPv4, [parsePrefix(prefix).key]), { origin: 0, asPath: [], ...p.attrs });
  }
  return rib;
}

describe('routes with reasons', () => {
  it('says "only path" for a single path, with next hop, peer and AS path', () => {
    const rib = ribWith([{ peer: '198.51.100.2', asn: 65002, attrs: { nextHop: '198.51.100.2', asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65002, 65010] }] } }]);
    expect(ribRoutes(rib, { match: 'all' })).toEqual([{ prefix: '10.5.0.0/24', nextHop: '198.51.100.2', peer: '198.51.100.2', asPath: '65002 65010', best: true, reason: 'only path' }]);
  });

  it('names the step each loser lost on: LOCAL_PREF, then BGP identifier', () => {
    const rib = ribWith([
      { peer: '198.51.100.3', asn: 64512, attrs: { nextHop: '198.51.100.3', localPref: 100 } },
      { peer: '198.51.100.2', asn: 64512, attrs: { nextHop: '198.51.100.2', localPref: 100 } },
      { peer: '198.51.100.4', asn: 64512, attrs: { nextHop: '198.51.100.4', localPref: 50 } },
    ]);
    const routes = ribRoutes(rib, { match: 'exact', prefix: '10.5.0.0/24' });
    expect(routes[0]).toMatchObject({ peer: '198.51.100.2', best: true, reason: expect.stringMatching(/^best: /) });
    const byPeer = Object.fromEntries(routes.map((r) => [r.peer, r.reason]));
    expect(byPeer['198.51.100.4']).toBe('lost to 198.51.100.2: higher LOCAL_PREF (100 > 50)');
    expect(byPeer['198.51.100.3']).toBe('lost to 198.51.100.2: lower BGP identifier (198.51.100.2 < 198.51.100.3)');
  });

  it('prefers eBGP over iBGP, and finds the longest prefix covering an address', () => {
    const rib = ribWith([
      { peer: '198.51.100.2', asn: 64512, attrs: { nextHop: '198.51.100.2', asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65010] }] } },
      { peer: '198.51.100.3', asn: 65003, attrs: { nextHop: '198.51.100.3', asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65003] }] } },
    ]);
    rib.originate('10.5.0.0/16');
    const routes = ribRoutes(rib, { match: 'longest', address: '10.5.0.9' });
    expect(routes.map((r) => r.prefix)).toEqual(['10.5.0.0/24', '10.5.0.0/24']);
    expect(routes.find((r) => r.peer === '198.51.100.2')!.reason).toBe('lost to 198.51.100.3: eBGP-learned over iBGP-learned');
    const local = ribRoutes(rib, { match: 'exact', prefix: '10.5.0.0/16' });
    expect(local).toEqual([{ prefix: '10.5.0.0/16', nextHop: null, peer: null, asPath: '', best: true, reason: 'only path' }]);
  });

  it('prints AS_SETs in braces', () => {
    expect(formatAsPath([{ type: AsPathSegmentType.AsSequence, asns: [1, 2] }, { type: AsPathSegmentType.AsSet, asns: [3, 4] }])).toBe('1 2 {3,4}');
  });
});
