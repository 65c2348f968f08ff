import { describe, expect, it } from 'vitest';
import { buildOpen, negotiateKeepalive, validateOpen, type LocalOpenConfig } from '../../../src/bgp/session/open.ts';
import { AS_TRANS, Afi, OpenSubcode, Safi } from '../../../src/bgp/wire/constants.ts';

const local: LocalOpenConfig = { localAsn: 64512, routerId: 0x0a000001, holdTime: 90, families: [Afi.IPv4, Afi.IPv6], gracefulRestart: { restartTime: 120, restarting: true, forwardingPreserved: true } };

describe('OPEN', () => {
  it('carries our capabilities: families, route refresh (plain and enhanced), 4-octet AS, graceful restart with R and F bits', () => {
    const o = buildOpen({ ...local, localAsn: 4200000001 });
    expect(o.myAsn).toBe(AS_TRANS);
    expect(o.capabilities).toContainEqual({ kind: 'four-octet-as', asn: 4200000001 });
    expect(o.capabilities).toContainEqual({ kind: 'multiprotocol', afi: Afi.IPv6, safi: Safi.Unicast });
    expect(o.capabilities).toContainEqual({ kind: 'route-refresh' });
    expect(o.capabilities).toContainEqual({ kind: 'enhanced-route-refresh' });
    const v = validateOpen(buildOpen({ localAsn: 64513, routerId: 2, holdTime: 30, families: [Afi.IPv4] }), local, { peerAsn: 64513 });
    expect(v.ok && v.negotiated.enhancedRouteRefresh).toBe(true);
    const gr = o.capabilities.find((c) => c.kind === 'graceful-restart');
    expect(gr).toMatchObject({ restarting: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }, { afi: 2, safi: 1, forwardingPreserved: true }] });
  });

  it('keeps a configured keepalive time, but never more than a third of the negotiated hold time', () => {
    const peer = buildOpen({ localAsn: 64513, routerId: 2, holdTime: 9, families: [Afi.IPv4] });
    const at = (keepaliveTime: number | undefined, holdTime = 90) => {
      const v = validateOpen(peer, { ...local, holdTime, ...(keepaliveTime !== undefined ? { keepaliveTime } : {}) }, { peerAsn: 64513 });
      return v.ok ? v.negotiated.keepaliveTime : -1;
    };
    // The peer's 9 s wins the hold time: a third of it is 3 s, whatever we configured above that.
    expect([at(undefined), at(10), at(2), at(1)]).toEqual([3, 3, 2, 1]);
    expect([negotiateKeepalive(90, 5), negotiateKeepalive(90), negotiateKeepalive(0, 5), negotiateKeepalive(3, 0)]).toEqual([5, 30, 0, 1]);
  });

  it('accepts a 4-octet peer AS sent as AS_TRANS plus capability', () => {
    const peer = buildOpen({ localAsn: 4200000002, routerId: 2, holdTime: 30, families: [Afi.IPv4] });
    const v = validateOpen(peer, local, { peerAsn: 4200000002 });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.negotiated.peerAsn).toBe(4200000002);
    expect(v.negotiated.holdTime).toBe(30);
    expect(v.negotiated.keepaliveTime).toBe(10);
    expect([...v.negotiated.families]).toEqual([Afi.IPv4]);
    expect(v.negotiated.codec.ebgp).toBe(true);
    expect(v.negotiated.codec.fourOctetAs).toBe(true);
    expect(v.negotiated.gracefulRestart).toBe(false);
  });

  it('a peer without multiprotocol capabilities speaks IPv4 unicast (RFC 4760)', () => {
    const v = validateOpen({ type: 'open', version: 4, myAsn: 64512, holdTime: 90, bgpId: 2, capabilities: [] }, local, { peerAsn: 64512 });
    expect(v.ok && [...v.negotiated.families]).toEqual([Afi.IPv4]);
    expect(v.ok && v.negotiated.codec.fourOctetAs).toBe(false);
  });

  it('rejects, with the right subcode and data, each broken field', () => {
    const good = buildOpen({ localAsn: 65001, routerId: 2, holdTime: 30, families: [Afi.IPv6] });
    const bad = (o: object, expectAsn = 65001) => validateOpen({ ...good, ...o }, local, { peerAsn: expectAsn });
    const v1 = bad({ version: 5 });
    expect(!v1.ok && v1.error).toMatchObject({ subcode: OpenSubcode.UnsupportedVersionNumber, data: new Uint8Array([0, 4]) });
    expect(!bad({}, 65009).ok && (bad({}, 65009) as { error: { subcode: number } }).error.subcode).toBe(OpenSubcode.BadPeerAs);
    expect((bad({ myAsn: 65005 }) as { error: { subcode: number } }).error.subcode).toBe(OpenSubcode.BadPeerAs);
    expect((bad({ holdTime: 1 }) as { error: { subcode: number } }).error.subcode).toBe(OpenSubcode.UnacceptableHoldTime);
    expect((bad({ otherParams: [{ type: 1, value: new Uint8Array(2) }] }) as { error: { subcode: number } }).error.subcode).toBe(OpenSubcode.UnsupportedOptionalParameter);
    // Same AS, same identifier: RFC 6286.
    const ibgp = validateOpen(buildOpen({ ...local, families: [Afi.IPv4] }), local, { peerAsn: 64512 });
    expect(!ibgp.ok && ibgp.error.subcode).toBe(OpenSubcode.BadBgpIdentifier);
    // No family in common.
    const none = validateOpen(good, { ...local, families: [Afi.IPv4] }, { peerAsn: 65001 });
    expect(!none.ok && none.error.subcode).toBe(OpenSubcode.UnsupportedCapability);
  });

  it('negotiates graceful restart when both sides send it, keeping the peer\'s per-family F bits', () => {
    const peer = buildOpen({ localAsn: 65001, routerId: 2, holdTime: 30, families: [Afi.IPv4, Afi.IPv6], gracefulRestart: { restartTime: 45, restarting: true, forwardingPreserved: false } });
    const v = validateOpen(peer, local, { peerAsn: 65001 });
    expect(v.ok && v.negotiated.gracefulRestart).toBe(true);
    expect(v.ok && v.negotiated.peerGracefulRestart).toMatchObject({ restarting: true, restartTime: 45 });
    expect(v.ok && v.negotiated.peerGracefulRestart!.families.get(Afi.IPv6)).toBe(false);
  });
});
