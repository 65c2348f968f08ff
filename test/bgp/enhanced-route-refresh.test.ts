/**
 * Enhanced route refresh (RFC 7313): the capability is advertised; a refresh we answer is framed by
 * BoRR ... EoRR; a peer's BoRR marks its routes stale, and its EoRR (or the timer) purges the ones
 * it did not re-announce.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/bgp/session/clock.ts';
import { Afi, RouteRefreshSubtype } from '../../src/bgp/wire/constants.ts';
import { FakePeer, waitFor } from './fake-peer.ts';
import { kindOf, makeSpeaker, openFrom, update, type Cleanup } from './speaker-helpers.ts';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const refresh = (subtype: RouteRefreshSubtype) => ({ type: 'route-refresh' as const, afi: Afi.IPv4, safi: 1 as const, subtype });

async function setup(opts: { enhanced?: boolean } = {}) {
  const clock = new FakeClock();
  const s = makeSpeaker(cleanups, { routerId: '10.0.2.1', localAsn: 64512, clock, holdTime: 0, refreshStaleTime: 60 });
  const events: Array<{ address: string; family: string; marker: string; routes: number }> = [];
  s.on('enhanced-refresh', (e) => events.push(e));
  s.originate('10.244.2.0/26');
  const peer = new FakePeer('127.0.2.2');
  await peer.listen();
  cleanups.push(() => peer.close());
  s.addPeer({ address: peer.address, port: peer.port, asn: 65001, localAddress: '127.0.2.1', mode: 'active' });
  await waitFor(() => peer.ofType('open').length === 1, 10_000, 'OPEN');
  expect(peer.ofType('open')[0].capabilities).toContainEqual({ kind: 'enhanced-route-refresh' });
  openFrom(peer, { asn: 65001, bgpId: 0x0a000202, enhanced: opts.enhanced });
  await waitFor(() => peer.ofType('update').some((u) => kindOf(u) === 'eor'), 10_000, 'initial table');
  peer.send(update(['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']));
  await waitFor(() => s.rib.bestOf('203.0.113.0/24') !== null, 10_000, 'routes learned');
  return { clock, s, peer, events };
}

describe('enhanced route refresh (RFC 7313)', () => {
  it('keeps a peer\'s routes through BoRR and purges those it did not re-announce at EoRR', async () => {
    const { s, peer, events } = await setup();
    peer.send(refresh(RouteRefreshSubtype.BeginningOfRouteRefresh));
    await waitFor(() => events.length === 1, 10_000, 'BoRR handled');
    expect(events[0]).toEqual({ address: '127.0.2.2', family: 'ipv4', marker: 'begin', routes: 3 });
    // Stale, still in use.
    expect(s.rib.bestOf('198.51.100.0/24')).not.toBeNull();
    peer.send(update(['192.0.2.0/24', '203.0.113.0/24'], [], { med: 5 }));
    peer.send(refresh(RouteRefreshSubtype.EndOfRouteRefresh));
    await waitFor(() => events.length === 2, 10_000, 'EoRR handled');
    expect(events[1]).toEqual({ address: '127.0.2.2', family: 'ipv4', marker: 'end', routes: 1 });
    expect(s.rib.bestOf('198.51.100.0/24')).toBeNull();
    expect(s.rib.bestOf('192.0.2.0/24')!.attrs.med).toBe(5);
    expect(s.peerStatus('127.0.2.2')).toMatchObject({ state: 'Established', prefixesAccepted: 2 });
  });

  it('purges what is still stale when no EoRR comes within the refresh stale time', async () => {
    const { clock, s, peer, events } = await setup();
    peer.send(refresh(RouteRefreshSubtype.BeginningOfRouteRefresh));
    await waitFor(() => events.length === 1, 10_000, 'BoRR handled');
    peer.send(update(['192.0.2.0/24']));
    await waitFor(() => s.rib.getPeer('127.0.2.2')!.adjIn.get(Afi.IPv4)!.size === 1, 10_000, 're-announced');
    clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.rib.bestOf('203.0.113.0/24')).not.toBeNull();
    clock.advance(1_000);
    await waitFor(() => events.length === 2, 10_000, 'timer');
    expect(events[1]).toMatchObject({ marker: 'timeout', routes: 2 });
    expect(s.rib.bestOf('203.0.113.0/24')).toBeNull();
    expect(s.rib.bestOf('192.0.2.0/24')).not.toBeNull();
    // A late EoRR without its BoRR is ignored (RFC 7313 4).
    peer.send(refresh(RouteRefreshSubtype.EndOfRouteRefresh));
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(2);
    expect(s.rib.bestOf('192.0.2.0/24')).not.toBeNull();
  });

  it('answers a ROUTE-REFRESH with BoRR, the table, then EoRR', async () => {
    const { peer } = await setup();
    const from = peer.received.length;
    peer.send(refresh(RouteRefreshSubtype.Normal));
    await waitFor(() => peer.received.slice(from).some((m) => kindOf(m) === 'eorr'), 10_000, 'EoRR');
    const seq = peer.received.slice(from).map(kindOf).filter((k) => k !== 'keepalive');
    expect(seq).toEqual(['borr', 'update', 'eorr']);
  });

  it('without the capability: no BoRR/EoRR, End-of-RIB after the answer, and a BoRR from the peer is ignored', async () => {
    const { s, peer, events } = await setup({ enhanced: false });
    const from = peer.received.length;
    peer.send(refresh(RouteRefreshSubtype.Normal));
    await waitFor(() => peer.received.slice(from).some((m) => kindOf(m) === 'eor'), 10_000, 'End-of-RIB');
    expect(peer.received.slice(from).map(kindOf).filter((k) => k !== 'keepalive')).toEqual(['update', 'eor']);
    peer.send(refresh(RouteRefreshSubtype.BeginningOfRouteRefresh));
    peer.send(update(['192.0.2.0/24']));
    peer.send(refresh(RouteRefreshSubtype.EndOfRouteRefresh));
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual([]);
    expect(s.rib.bestOf('203.0.113.0/24')).not.toBeNull();
  });
});
