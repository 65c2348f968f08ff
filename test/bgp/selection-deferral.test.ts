/**
 * RFC 4724 4.1, restarting speaker: after a restart with forwarding kept, best paths are neither
 * advertised nor reported until every graceful-restart peer has sent End-of-RIB (or the selection
 * deferral timer fires); then the held-back `best` events come out, followed by our UPDATEs and
 * End-of-RIB.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BestPathEvent } from '../../src/bgp/speaker.ts';
import { FakeClock } from '../../src/bgp/session/clock.ts';
import { FakePeer, waitFor } from './fake-peer.ts';
import { announcedTo, kindOf, makeSpeaker, openFrom, update, type Cleanup } from './speaker-helpers.ts';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const HOST = '127.0.1.1';

async function setup(deferralSeconds = 360) {
  const clock = new FakeClock();
  // Hold time 0: the fake clock runs far ahead and the scripted peers send no keepalives.
  const s = makeSpeaker(cleanups, { routerId: '10.0.1.1', localAsn: 64512, clock, holdTime: 0, gracefulRestart: { restartTime: 60, restarting: true, selectionDeferralTime: deferralSeconds } });
  const log: Array<{ event: string; prefix?: string; peer?: string | null }> = [];
  s.on('best', (e: BestPathEvent) => log.push({ event: 'best', prefix: e.prefix, peer: e.route?.peer ?? null }));
  s.on('selection-deferral-end', () => log.push({ event: 'end' }));
  s.originate('10.244.1.0/26');
  const peers: FakePeer[] = [];
  for (const [i, addr] of ['127.0.1.2', '127.0.1.3'].entries()) {
    const p = new FakePeer(addr);
    await p.listen();
    cleanups.push(() => p.close());
    s.addPeer({ address: addr, port: p.port, asn: 65001 + i, localAddress: HOST, mode: 'active' });
    peers.push(p);
  }
  for (const p of peers) await waitFor(() => p.ofType('open').length === 1, 10_000, `OPEN to ${p.address}`);
  return { clock, s, peers, log };
}

describe('selection deferral after our restart (RFC 4724 4.1)', () => {
  it('holds back UPDATEs and best events until every GR peer sent End-of-RIB, then sends routes and End-of-RIB', async () => {
    const { s, peers, log } = await setup();
    const [a, b] = peers;
    // Our OPEN carries the R bit.
    expect(a.ofType('open')[0].capabilities.find((c) => c.kind === 'graceful-restart')).toMatchObject({ restarting: true });
    openFrom(a, { asn: 65001, bgpId: 0x0a000102, gr: { restarting: false } });
    openFrom(b, { asn: 65002, bgpId: 0x0a000103, gr: { restarting: false } });
    await waitFor(() => s.status().every((p) => p.state === 'Established'), 10_000, 'Established');
    a.send(update(['192.0.2.0/24', '198.51.100.0/24']));
    a.send(update([], ['198.51.100.0/24']));
    a.send(update([]));
    await waitFor(() => s.rib.bestOf('192.0.2.0/24') !== null, 10_000, 'route in the Loc-RIB');
    // a is done, b is not: still deferring. Nothing went out, nothing was reported.
    await new Promise((r) => setTimeout(r, 100));
    expect(s.selectionDeferred).toBe(true);
    expect(log).toEqual([]);
    expect(a.ofType('update')).toEqual([]);
    expect(b.ofType('update')).toEqual([]);

    b.send(update([]));
    await waitFor(() => log.some((e) => e.event === 'end'), 10_000, 'deferral end');
    expect(s.selectionDeferred).toBe(false);
    // The held-back outcomes first (one per prefix), then the end.
    expect(log.slice(0, -1)).toEqual(expect.arrayContaining([{ event: 'best', prefix: '192.0.2.0/24', peer: '127.0.1.2' }, { event: 'best', prefix: '10.244.1.0/26', peer: null }]));
    expect(log.at(-1)).toEqual({ event: 'end' });
    // Came and went during the deferral: never reported, never sent.
    expect(log.some((e) => e.prefix === '198.51.100.0/24')).toBe(false);
    await waitFor(() => b.ofType('update').some((u) => kindOf(u) === 'eor'), 10_000, 'End-of-RIB to b');
    expect(announcedTo(b).sort()).toEqual(['10.244.1.0/26', '192.0.2.0/24']);
    expect(kindOf(b.ofType('update').at(-1)!)).toBe('eor');
    await waitFor(() => a.ofType('update').some((u) => kindOf(u) === 'eor'), 10_000, 'End-of-RIB to a');
    expect(announcedTo(a)).toEqual(['10.244.1.0/26']);
  });

  it('ends at the selection deferral timer when a GR peer never sends End-of-RIB', async () => {
    const { clock, s, peers, log } = await setup(30);
    const [a, b] = peers;
    openFrom(a, { asn: 65001, bgpId: 0x0a000102, gr: { restarting: false } });
    openFrom(b, { asn: 65002, bgpId: 0x0a000103, gr: { restarting: false } });
    await waitFor(() => s.status().every((p) => p.state === 'Established'), 10_000, 'Established');
    a.send(update(['192.0.2.0/24']));
    a.send(update([]));
    await waitFor(() => s.rib.bestOf('192.0.2.0/24') !== null, 10_000, 'route in the Loc-RIB');
    clock.advance(29_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.selectionDeferred).toBe(true);
    clock.advance(1_000);
    await waitFor(() => log.some((e) => e.event === 'end'), 10_000, 'deferral end by timer');
    await waitFor(() => announcedTo(b).length === 2, 10_000, 'routes to b');
  });

  it('does not wait for peers without graceful restart, or restarting themselves (R bit)', async () => {
    const { peers, log } = await setup();
    const [a, b] = peers;
    openFrom(a, { asn: 65001, bgpId: 0x0a000102 });
    openFrom(b, { asn: 65002, bgpId: 0x0a000103, gr: { restarting: true } });
    await waitFor(() => log.some((e) => e.event === 'end'), 10_000, 'deferral end');
    await waitFor(() => announcedTo(a).length === 1 && announcedTo(b).length === 1, 10_000, 'our route to both');
  });

  it('stops waiting for a peer that is removed', async () => {
    const { s, peers, log } = await setup();
    const [a, b] = peers;
    openFrom(a, { asn: 65001, bgpId: 0x0a000102, gr: { restarting: false } });
    openFrom(b, { asn: 65002, bgpId: 0x0a000103, gr: { restarting: false } });
    await waitFor(() => s.status().every((p) => p.state === 'Established'), 10_000, 'Established');
    a.send(update([]));
    await new Promise((r) => setTimeout(r, 50));
    expect(s.selectionDeferred).toBe(true);
    s.removePeer(b.address);
    await waitFor(() => log.some((e) => e.event === 'end'), 10_000, 'deferral end');
    await waitFor(() => announcedTo(a).length === 1, 10_000, 'our route to a');
  });

  it('refuses a deferral or refresh stale time that is not a number of seconds, with a typed error', () => {
    expect(() => makeSpeaker(cleanups, { routerId: '10.0.1.1', localAsn: 64512, gracefulRestart: { restartTime: 60, restarting: true, selectionDeferralTime: -1 } })).toThrow(
      expect.objectContaining({ code: 'bgp-invalid-timer', message: expect.stringMatching(/selectionDeferralTime -1/) }),
    );
    expect(() => makeSpeaker(cleanups, { routerId: '10.0.1.1', localAsn: 64512, refreshStaleTime: Number.NaN })).toThrow(expect.objectContaining({ code: 'bgp-invalid-timer' }));
  });
});
