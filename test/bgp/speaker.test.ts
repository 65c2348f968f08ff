import { afterEach, describe, expect, it } from 'vitest';
import { Speaker, type BestPathEvent } from '../../src/bgp/speaker.ts';
import { FakeClock } from '../../src/bgp/session/clock.ts';
import { Afi, CeaseSubcode, ErrorCode, Origin, AsPathSegmentType } from '../../src/bgp/wire/constants.ts';
import { prefixListFromText, emptyPrefixList } from '../../src/bgp/wire/index.ts';
import type { UpdateMessage } from '../../src/bgp/wire/types.ts';
import { FakePeer, waitFor } from './fake-peer.ts';

// Loopback only: 127.0.0.0/8 is all loopback on Linux, so each speaker gets an address of its own.
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function speaker(opts: Partial<ConstructorParameters<typeof Speaker>[0]> & { host: string; routerId: string; localAsn: number }): Speaker {
  const { host, ...rest } = opts;
  const s = new Speaker({ listen: { host, port: 0 }, holdTime: 9, connectRetryTime: 1, idleHold: { initialMs: 100, maxMs: 1000 }, ...rest });
  cleanups.push(() => s.stop());
  return s;
}

function update(prefixes: string[], attrs: Partial<UpdateMessage['attrs']> = {}, withdrawn: string[] = []): UpdateMessage {
  return {
    type: 'update',
    withdrawn: withdrawn.length ? prefixListFromText(withdrawn) : emptyPrefixList(Afi.IPv4),
    attrs: prefixes.length ? { origin: Origin.Igp, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001] }], nextHop: '127.0.0.9', ...attrs } : attrs,
    nlri: prefixes.length ? prefixListFromText(prefixes) : emptyPrefixList(Afi.IPv4),
  };
}

describe('Speaker best-path events', () => {
  it('reports the changes of one event-loop turn as one event, in order, the last entry per prefix holding', async () => {
    const s = speaker({ host: '127.0.0.4', routerId: '10.0.0.4', localAsn: 64512, listen: false });
    const batches: BestPathEvent[][] = [];
    s.on('best', (events) => batches.push(events));
    s.originate('10.1.0.0/24');
    s.originate('10.2.0.0/24');
    s.withdraw('10.1.0.0/24');
    expect(batches).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => b.map((e) => `${e.prefix} ${e.route ? 'up' : 'gone'}`))).toEqual([['10.1.0.0/24 up', '10.2.0.0/24 up', '10.1.0.0/24 gone']]);
    s.originate('10.3.0.0/24');
    await new Promise((r) => setImmediate(r));
    expect(batches.length).toBe(2);
    expect(batches[1]).toMatchObject([{ family: 'ipv4', prefix: '10.3.0.0/24', route: { peer: null } }]);
  });
});

describe('Speaker between two tortie speakers on loopback', () => {
  it('peers over eBGP, exchanges IPv4 and IPv6 routes with attributes, withdraws, and reports status', async () => {
    const a = speaker({ host: '127.0.0.2', routerId: '10.0.0.2', localAsn: 64512, nextHops: { ipv6: '2001:db8::2' } });
    const b = speaker({ host: '127.0.0.3', routerId: '10.0.0.3', localAsn: 65001, nextHops: { ipv6: '2001:db8::3' } });
    await a.start();
    await b.start();
    const seenByB: BestPathEvent[] = [];
    b.on('best', (events) => seenByB.push(...events));
    a.originate('10.1.0.0/24', { communities: [(64512 * 65536 + 7) >>> 0], largeCommunities: [[64512, 1, 2]], med: 50 });
    a.originate('2001:db8:100::/48');
    // Mesh rule: the lower address (a) dials; b only listens.
    a.addPeer({ address: '127.0.0.3', port: b.listenPort, asn: 65001, localAddress: '127.0.0.2', mode: 'mesh' });
    b.addPeer({ address: '127.0.0.2', port: a.listenPort, asn: 64512, localAddress: '127.0.0.3', mode: 'mesh' });
    await waitFor(() => seenByB.length >= 2, 10_000, 'routes at b');
    const v4 = seenByB.find((e) => e.prefix === '10.1.0.0/24')!;
    expect(v4.route!.nextHop).toBe('127.0.0.2');
    expect(v4.route!.peer).toBe('127.0.0.2');
    expect(v4.route!.attrs.asPath).toEqual([{ type: AsPathSegmentType.AsSequence, asns: [64512] }]);
    expect(v4.route!.attrs.communities).toEqual([(64512 * 65536 + 7) >>> 0]);
    expect(v4.route!.attrs.largeCommunities).toEqual([[64512, 1, 2]]);
    expect(v4.route!.attrs.med).toBe(50);
    const v6 = seenByB.find((e) => e.prefix === '2001:db8:100::/48')!;
    expect(v6.route!.nextHop).toBe('2001:db8::2');

    b.originate('10.2.0.0/24');
    await waitFor(() => a.rib.bestOf('10.2.0.0/24') !== null, 10_000, 'route at a');
    expect(a.peerStatus('127.0.0.3')).toMatchObject({ state: 'Established', type: 'ebgp', asn: 65001, prefixesReceived: 1, prefixesAccepted: 1, prefixesAdvertised: 2 });

    a.withdraw('10.1.0.0/24');
    await waitFor(() => b.rib.bestOf('10.1.0.0/24') === null, 10_000, 'withdrawal at b');
    expect(seenByB.at(-1)).toMatchObject({ prefix: '10.1.0.0/24', route: null });

    // Removing a peer at run time takes its routes away and leaves the speaker running.
    a.removePeer('127.0.0.3');
    await waitFor(() => b.rib.bestOf('2001:db8:100::/48') === null, 10_000, 'routes gone at b');
    expect(b.peerStatus('127.0.0.2')!.state).not.toBe('Established');
    expect(a.status()).toEqual([]);
  });

  it('resolves a connection collision (RFC 4271 6.8) when both sides dial', async () => {
    const a = speaker({ host: '127.0.0.4', routerId: '10.0.0.4', localAsn: 64512 });
    const b = speaker({ host: '127.0.0.5', routerId: '10.0.0.5', localAsn: 64512 });
    await a.start();
    await b.start();
    a.addPeer({ address: '127.0.0.5', port: b.listenPort, asn: 64512, localAddress: '127.0.0.4', mode: 'both' });
    b.addPeer({ address: '127.0.0.4', port: a.listenPort, asn: 64512, localAddress: '127.0.0.5', mode: 'both' });
    a.originate('10.4.0.0/24');
    await waitFor(() => b.rib.bestOf('10.4.0.0/24') !== null, 15_000, 'iBGP route at b');
    expect(a.peerStatus('127.0.0.5')!.state).toBe('Established');
    expect(b.peerStatus('127.0.0.4')!.type).toBe('ibgp');
    expect(b.rib.bestOf('10.4.0.0/24')!.attrs.localPref).toBe(100);
  });
});

describe('Speaker against a scripted peer', () => {
  async function setup(opts: { maxPrefixes?: { limit: number; action: 'warn' | 'teardown'; restartAfter?: number }; gr?: boolean } = {}) {
    const clock = new FakeClock();
    const peer = new FakePeer('127.0.0.7');
    await peer.listen();
    cleanups.push(() => peer.close());
    const s = speaker({ host: '127.0.0.6', routerId: '10.0.0.6', localAsn: 64512, clock, listen: false, ...(opts.gr ? { gracefulRestart: { restartTime: 30 } } : {}) });
    s.addPeer({ address: '127.0.0.7', port: peer.port, asn: 65001, localAddress: '127.0.0.6', mode: 'active', holdTime: 3, maxPrefixes: opts.maxPrefixes });
    await waitFor(() => peer.ofType('open').length === 1, 10_000, 'OPEN from speaker');
    peer.handshake({ asn: 65001, bgpId: 0x0a000007, holdTime: 3 });
    await waitFor(() => s.peerStatus('127.0.0.7')!.state === 'Established', 10_000, 'Established');
    return { clock, peer, s };
  }

  it('expires the hold timer when the peer goes silent: NOTIFICATION 4, routes withdrawn', async () => {
    const { clock, peer, s } = await setup();
    peer.send(update(['192.0.2.0/24']));
    await waitFor(() => s.rib.bestOf('192.0.2.0/24') !== null, 10_000, 'route learned');
    // Our keepalives go out every hold/3 while the peer says nothing.
    clock.advance(1000);
    await waitFor(() => peer.ofType('keepalive').length >= 2, 10_000, 'keepalive');
    clock.advance(2100);
    await waitFor(() => peer.ofType('notification').length === 1, 10_000, 'NOTIFICATION');
    expect(peer.ofType('notification')[0]).toMatchObject({ code: ErrorCode.HoldTimerExpired });
    expect(s.rib.bestOf('192.0.2.0/24')).toBeNull();
    expect(s.peerStatus('127.0.0.7')!.lastError).toMatch(/hold timer expired/);
  });

  it('stops with the Cease subcode it is given (Other Configuration Change, RFC 4486 3), Peer De-configured by default', async () => {
    const { peer, s } = await setup();
    peer.send(update(['192.0.2.0/24']));
    await waitFor(() => s.rib.bestOf('192.0.2.0/24') !== null, 10_000, 'route learned');
    await s.stop({ subcode: CeaseSubcode.OtherConfigurationChange, reason: 'local AS changed' });
    await waitFor(() => peer.ofType('notification').length === 1, 10_000, 'Cease');
    expect(peer.ofType('notification')[0]).toMatchObject({ code: ErrorCode.Cease, subcode: CeaseSubcode.OtherConfigurationChange });
    expect(s.rib.bestOf('192.0.2.0/24')).toBeNull();
  });

  it('keeps the session up on an UPDATE RFC 7606 treats as withdraw, and withdraws those prefixes', async () => {
    const { peer, s } = await setup();
    peer.send(update(['192.0.2.0/24', '198.51.100.0/24']));
    await waitFor(() => s.rib.bestOf('198.51.100.0/24') !== null, 10_000, 'routes learned');
    // ORIGIN with value 7: RFC 7606 7.1, treat-as-withdraw.
    const bad = update(['198.51.100.0/24'], { origin: 7 as 0 });
    peer.send(bad);
    await waitFor(() => s.rib.bestOf('198.51.100.0/24') === null, 10_000, 'treat-as-withdraw');
    expect(s.rib.bestOf('192.0.2.0/24')).not.toBeNull();
    expect(s.peerStatus('127.0.0.7')!.state).toBe('Established');
    expect(peer.ofType('notification')).toEqual([]);
  });

  it('tears the session down past max-prefix with Cease/1 and comes back after the idle time', async () => {
    const { clock, peer, s } = await setup({ maxPrefixes: { limit: 2, action: 'teardown', restartAfter: 30 } });
    peer.send(update(['192.0.2.0/24', '192.0.2.128/25', '203.0.113.0/24']));
    await waitFor(() => peer.ofType('notification').length === 1, 10_000, 'Cease');
    const n = peer.ofType('notification')[0];
    expect(n).toMatchObject({ code: ErrorCode.Cease, subcode: CeaseSubcode.MaximumPrefixesReached });
    expect([...n.data]).toEqual([0, 1, 1, 0, 0, 0, 2]);
    expect(s.rib.bestOf('192.0.2.0/24')).toBeNull();
    const opensBefore = peer.ofType('open').length;
    clock.advance(29_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.ofType('open').length).toBe(opensBefore);
    clock.advance(1_000);
    await waitFor(() => peer.ofType('open').length === opensBefore + 1, 10_000, 'reconnect after idle time');
  });

  it('warns past max-prefix without tearing down when told to', async () => {
    const { peer, s } = await setup({ maxPrefixes: { limit: 1, action: 'warn' } });
    peer.send(update(['192.0.2.0/24', '203.0.113.0/24']));
    await waitFor(() => s.rib.bestOf('203.0.113.0/24') !== null, 10_000, 'routes');
    expect(s.peerStatus('127.0.0.7')).toMatchObject({ state: 'Established', lastError: expect.stringMatching(/max-prefix/) });
  });

  it('keeps a restarting peer\'s routes as stale and purges the ones it does not re-send after End-of-RIB (GR helper)', async () => {
    const { clock, peer, s } = await setup({ gr: true });
    // setup's handshake sent no GR capability; redo the session with one.
    await peer.close();
    await waitFor(() => s.peerStatus('127.0.0.7')!.state !== 'Established', 10_000, 'down');
    const peer2 = new FakePeer('127.0.0.7');
    cleanups.push(() => peer2.close());
    // Re-listen on a new port is not possible for the same peer config: re-add the peer instead.
    s.removePeer('127.0.0.7');
    await peer2.listen();
    s.addPeer({ address: '127.0.0.7', port: peer2.port, asn: 65001, localAddress: '127.0.0.6', mode: 'active', holdTime: 3 });
    await waitFor(() => peer2.ofType('open').length === 1, 10_000, 'OPEN');
    const grOpen = () => {
      peer2.send({
        type: 'open',
        version: 4,
        myAsn: 65001,
        holdTime: 3,
        bgpId: 0x0a000007,
        capabilities: [
          { kind: 'multiprotocol', afi: 1, safi: 1 },
          { kind: 'four-octet-as', asn: 65001 },
          { kind: 'graceful-restart', restarting: false, notification: false, restartTime: 20, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
        ],
      });
      peer2.send({ type: 'keepalive' });
    };
    grOpen();
    await waitFor(() => s.peerStatus('127.0.0.7')!.state === 'Established', 10_000, 'Established with GR');
    peer2.send(update(['192.0.2.0/24', '203.0.113.0/24']));
    await waitFor(() => s.rib.bestOf('203.0.113.0/24') !== null, 10_000, 'routes');
    // The peer's TCP connection drops without NOTIFICATION: a restart.
    peer2.socket!.destroy();
    await waitFor(() => s.peerStatus('127.0.0.7')!.state !== 'Established', 10_000, 'down');
    expect(s.rib.bestOf('203.0.113.0/24')).not.toBeNull();
    // It comes back within its restart time and re-sends one of the two, then End-of-RIB.
    clock.advance(1500);
    await waitFor(() => peer2.ofType('open').length === 2, 10_000, 'second OPEN');
    grOpen();
    await waitFor(() => s.peerStatus('127.0.0.7')!.state === 'Established', 10_000, 'back');
    expect(s.rib.bestOf('203.0.113.0/24')).not.toBeNull();
    peer2.send(update(['192.0.2.0/24']));
    peer2.send(update([]));
    await waitFor(() => s.rib.bestOf('203.0.113.0/24') === null, 10_000, 'stale purged');
    expect(s.rib.bestOf('192.0.2.0/24')).not.toBeNull();
  });

  it('offers a peer its own graceful restart time when it has one, the speaker\'s otherwise (RFC 4724 3)', async () => {
    const s = speaker({ host: '127.0.0.10', routerId: '10.0.0.10', localAsn: 64512, gracefulRestart: { restartTime: 30 } });
    await s.start();
    s.addPeer({ address: '127.0.0.11', asn: 65001, localAddress: '127.0.0.10', mode: 'passive', gracefulRestartTime: 200 });
    s.addPeer({ address: '127.0.0.12', asn: 65001, localAddress: '127.0.0.10', mode: 'passive' });
    const offered = async (from: string) => {
      const p = new FakePeer(from);
      cleanups.push(() => p.close());
      await p.dial('127.0.0.10', s.listenPort!);
      await waitFor(() => p.ofType('open').length === 1, 10_000, `OPEN to ${from}`);
      const cap = p.ofType('open')[0].capabilities.find((c) => c.kind === 'graceful-restart');
      return cap?.kind === 'graceful-restart' ? cap.restartTime : null;
    };
    expect(await offered('127.0.0.11')).toBe(200);
    expect(await offered('127.0.0.12')).toBe(30);
  });

  it('takes a new connection from an Established peer with graceful restart as its restart, keeping its routes (RFC 4724 4.2)', async () => {
    const s = speaker({ host: '127.0.0.8', routerId: '10.0.0.8', localAsn: 64512, gracefulRestart: { restartTime: 30 } });
    await s.start();
    s.addPeer({ address: '127.0.0.9', asn: 65001, localAddress: '127.0.0.8', mode: 'passive', holdTime: 30 });
    const grOpen = (p: FakePeer) => {
      p.send({
        type: 'open',
        version: 4,
        myAsn: 65001,
        holdTime: 30,
        bgpId: 0x0a000009,
        capabilities: [
          { kind: 'multiprotocol', afi: 1, safi: 1 },
          { kind: 'four-octet-as', asn: 65001 },
          { kind: 'graceful-restart', restarting: false, notification: false, restartTime: 20, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
        ],
      });
      p.send({ type: 'keepalive' });
    };
    const first = new FakePeer('127.0.0.9');
    cleanups.push(() => first.close());
    await first.dial('127.0.0.8', s.listenPort!);
    grOpen(first);
    await waitFor(() => s.peerStatus('127.0.0.9')!.state === 'Established', 10_000, 'Established');
    first.send(update(['192.0.2.0/24', '203.0.113.0/24']));
    await waitFor(() => s.rib.bestOf('203.0.113.0/24') !== null, 10_000, 'routes');
    // The peer restarts: a new connection arrives while the old one still looks alive.
    const second = new FakePeer('127.0.0.9');
    cleanups.push(() => second.close());
    await second.dial('127.0.0.8', s.listenPort!);
    await waitFor(() => second.ofType('open').length === 1, 10_000, 'OPEN on the new connection');
    await waitFor(() => first.closed, 10_000, 'old connection dropped');
    expect(s.rib.bestOf('203.0.113.0/24')).not.toBeNull();
    grOpen(second);
    await waitFor(() => s.peerStatus('127.0.0.9')!.state === 'Established', 10_000, 'back');
    second.send(update(['192.0.2.0/24']));
    second.send(update([]));
    await waitFor(() => s.rib.bestOf('203.0.113.0/24') === null, 10_000, 'stale purged after End-of-RIB');
    expect(s.rib.bestOf('192.0.2.0/24')).not.toBeNull();
  });
});
