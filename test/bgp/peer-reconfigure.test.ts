/**
 * Soft reconfiguration of a live peer (`Speaker.reconfigurePeer`): an export policy change sends
 * only the difference; an import policy change asks the peer for a route refresh; anything else
 * is refused so that the caller restarts the session. The session is never torn down for policy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerConfig } from '../../src/bgp/speaker.ts';
import { CeaseSubcode, ErrorCode, RouteRefreshSubtype } from '../../src/bgp/wire/constants.ts';
import { FakePeer, waitFor } from './fake-peer.ts';
import { announcedTo, kindOf, makeSpeaker, openFrom, update, withdrawnFrom, type Cleanup } from './speaker-helpers.ts';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(opts: { routeRefresh?: boolean } = {}) {
  const s = makeSpeaker(cleanups, { routerId: '10.0.3.1', localAsn: 64512 });
  s.originate('10.244.1.0/26');
  s.originate('10.244.2.0/26');
  const peer = new FakePeer('127.0.3.2');
  await peer.listen();
  cleanups.push(() => peer.close());
  const config: PeerConfig = { address: peer.address, port: peer.port, asn: 65001, localAddress: '127.0.3.1', mode: 'active' };
  s.addPeer(config);
  await waitFor(() => peer.ofType('open').length === 1, 10_000, 'OPEN');
  openFrom(peer, { asn: 65001, bgpId: 0x0a000302, routeRefresh: opts.routeRefresh });
  await waitFor(() => peer.ofType('update').some((u) => kindOf(u) === 'eor'), 10_000, 'initial table');
  expect(announcedTo(peer).sort()).toEqual(['10.244.1.0/26', '10.244.2.0/26']);
  peer.send(update(['192.0.2.0/24', '203.0.113.0/24']));
  await waitFor(() => s.rib.bestOf('203.0.113.0/24') !== null, 10_000, 'routes learned');
  return { s, peer, config };
}

const rejectPrefix = (prefix: string) => ({ rules: [{ match: { prefixes: [{ prefix }] }, action: 'reject' as const }], defaultAction: 'accept' as const });

describe('policy change on a live peer', () => {
  it('export policy: withdraws what is now rejected and announces what is now accepted, on the same session', async () => {
    const { s, peer, config } = await setup();
    const updatesBefore = peer.ofType('update').length;
    expect(s.reconfigurePeer({ ...config, exportPolicy: rejectPrefix('10.244.2.0/26') })).toBe(true);
    await waitFor(() => withdrawnFrom(peer).includes('10.244.2.0/26'), 10_000, 'withdrawal');
    // Only the difference: one UPDATE, nothing re-announced.
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.ofType('update').length).toBe(updatesBefore + 1);
    expect(s.reconfigurePeer({ ...config, exportPolicy: { rules: [], defaultAction: 'accept' } })).toBe(true);
    await waitFor(() => announcedTo(peer).filter((p) => p === '10.244.2.0/26').length === 2, 10_000, 'announced again');
    expect(announcedTo(peer).filter((p) => p === '10.244.1.0/26')).toHaveLength(1);
    expect(peer.ofType('open')).toHaveLength(1);
    expect(peer.ofType('notification')).toEqual([]);
    expect(s.peerStatus(peer.address)!.state).toBe('Established');
  });

  it('import policy: asks the peer for a route refresh, and its re-sent routes pass the new policy', async () => {
    const { s, peer, config } = await setup();
    expect(s.reconfigurePeer({ ...config, importPolicy: rejectPrefix('203.0.113.0/24') })).toBe(true);
    await waitFor(() => peer.ofType('route-refresh').some((m) => m.subtype === RouteRefreshSubtype.Normal), 10_000, 'ROUTE-REFRESH');
    peer.send(update(['192.0.2.0/24', '203.0.113.0/24']));
    await waitFor(() => s.rib.bestOf('203.0.113.0/24') === null, 10_000, 'rejected on re-send');
    expect(s.rib.bestOf('192.0.2.0/24')).not.toBeNull();
    expect(s.peerStatus(peer.address)).toMatchObject({ state: 'Established', prefixesReceived: 2, prefixesAccepted: 1 });
    expect(peer.ofType('open')).toHaveLength(1);
  });

  it('import policy towards a peer that cannot refresh: resets the session (Cease, Other Configuration Change)', async () => {
    const { s, peer, config } = await setup({ routeRefresh: false });
    expect(s.reconfigurePeer({ ...config, importPolicy: rejectPrefix('203.0.113.0/24') })).toBe(true);
    await waitFor(() => peer.ofType('notification').length === 1, 10_000, 'NOTIFICATION');
    expect(peer.ofType('notification')[0]).toMatchObject({ code: ErrorCode.Cease, subcode: CeaseSubcode.OtherConfigurationChange });
  });

  it('refuses anything but policy (the caller restarts the session) and bad policies, changing nothing', async () => {
    const { s, peer, config } = await setup();
    expect(s.reconfigurePeer({ ...config, holdTime: 10 })).toBe(false);
    expect(s.reconfigurePeer({ ...config, asn: 65002 })).toBe(false);
    expect(s.reconfigurePeer({ ...config, address: '127.0.3.9' })).toBe(false);
    expect(() => s.reconfigurePeer({ ...config, exportPolicy: rejectPrefix('10.244.2.0/33') })).toThrow(expect.objectContaining({ code: 'bgp-invalid-policy' }));
    await new Promise((r) => setTimeout(r, 50));
    expect(withdrawnFrom(peer)).toEqual([]);
    expect(s.peerStatus(peer.address)!.state).toBe('Established');
  });
});
