/**
 * Against BIRD and FRR (both graceful restart helpers, both with enhanced route refresh):
 * - RFC 7313: the capability is negotiated; FRR answers our refresh request with BoRR ... EoRR and
 *   its routes survive it; tortie answers FRR's request (`clear ... soft in`) the same way;
 * - policy changes on live peers: export and import policy changed without a new session (the
 *   import side through a route refresh BIRD answers with BoRR ... EoRR);
 * - RFC 4724 4.1: a restarted tortie defers selection until both peers' End-of-RIB, then sends its
 *   table and End-of-RIB, and the peers purge the route it no longer has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bird } from '../../src/lab/peers/bird.ts';
import type { Frr } from '../../src/lab/peers/frr.ts';
import type { Netns } from '../../src/netns/netns.ts';
import { B, F, LOCAL_AS, T, startGrPeers, type GrPeers } from './harness/gr-peers.ts';
import { SpeakerProcess, eventually } from './harness/speaker-process.ts';
import type { PeerConfig, SpeakerOptions } from '../../src/bgp/speaker.ts';

const toBird: PeerConfig = { address: B.v4, asn: B.asn, localAddress: T.v4 };
const toFrr: PeerConfig = { address: F.v4, asn: F.asn, localAddress: T.v4 };
const rejectPrefix = (prefix: string) => ({ rules: [{ match: { prefixes: [{ prefix }] }, action: 'reject' as const }], defaultAction: 'accept' as const });

describe('interop: enhanced route refresh, live policy changes and selection deferral with BIRD and FRR', () => {
  let peers: GrPeers;
  let nsT: Netns;
  let tortie: SpeakerProcess;
  let bird: Bird;
  let frr: Frr;

  const tortieOptions = (restarting: boolean): SpeakerOptions => ({
    localAsn: LOCAL_AS,
    routerId: T.v4,
    holdTime: 9,
    connectRetryTime: 1,
    idleHold: { initialMs: 300, maxMs: 2000 },
    families: ['ipv4'],
    // A deferral far longer than the test waits: it can only end through the peers' End-of-RIB.
    gracefulRestart: { restartTime: 120, restarting, selectionDeferralTime: 600 },
  });

  async function startTortie(restarting: boolean, routes: string[]): Promise<SpeakerProcess> {
    const t = await SpeakerProcess.start(nsT, tortieOptions(restarting));
    for (const r of routes) await t.originate(r);
    await t.addPeer(toBird);
    await t.addPeer(toFrr);
    return t;
  }

  const frrNeighbor = async () => (JSON.parse(await frr.vtysh(`show bgp neighbors ${T.v4} json`)) as Record<string, Record<string, unknown>>)[T.v4];

  beforeAll(async () => {
    // FRR's restart time is short: FRR 8.4 set the R bit in every OPEN here anyway (so it is never
    // waited for, RFC 4724 4.1: see the restart test). How long FRR keeps our routes is the restart
    // time we advertise (120 s).
    peers = await startGrPeers({ name: 'bf', birdRestartTime: 120, frrRestartTime: 2 });
    ({ nsT, bird, frr } = peers);
    tortie = await startTortie(false, ['10.244.1.0/26', '10.244.2.0/26']);
    await eventually(() => tortie.status(), (st) => st.length === 2 && st.every((s) => s.state === 'Established'), 'sessions Established', 60_000);
  });

  afterAll(async () => {
    await tortie?.stop().catch(() => undefined);
    await peers?.destroy();
  });

  it('enhanced route refresh with FRR: negotiated; FRR\'s BoRR/EoRR keep its routes; tortie answers with BoRR/EoRR', async () => {
    await eventually(() => tortie.route('192.0.2.0/24'), (r) => !!r, 'FRR route at tortie');
    await eventually(() => frr.route('10.244.1.0/26'), (r) => !!r, 'tortie route at FRR');
    const caps = (await frrNeighbor()).neighborCapabilities as Record<string, unknown>;
    expect(caps.enhancedRouteRefresh).toBe('advertisedAndReceived');

    // We ask; FRR answers with BoRR, its table, EoRR (RFC 7313 4). Its route stays throughout.
    expect(await tortie.refresh(F.v4, 'ipv4')).toBe(true);
    const seen = await eventually(
      () => tortie.events(),
      (e) => e.events.some((x) => x.event === 'enhanced-refresh' && x.address === F.v4 && x.marker === 'end'),
      'BoRR and EoRR from FRR',
    );
    const fromFrr = seen.events.filter((x) => x.event === 'enhanced-refresh' && x.address === F.v4);
    expect(fromFrr.map((x) => x.marker)).toEqual(['begin', 'end']);
    expect(fromFrr[0].routes).toBe(1);
    // Everything was re-announced before EoRR: nothing purged.
    expect(fromFrr[1].routes).toBe(0);
    expect(await tortie.route('192.0.2.0/24')).toBeTruthy();

    // FRR asks us: our answer is two markers (ROUTE-REFRESH messages to FRR) around the table.
    const stats = async () => (await frrNeighbor()).messageStats as { routeRefreshRecv: number; routeRefreshSent: number };
    const before = await stats();
    expect(before.routeRefreshRecv).toBe(1);
    await frr.vtysh(`clear bgp ipv4 unicast ${T.v4} soft in`);
    const after = await eventually(stats, (m) => m.routeRefreshRecv >= before.routeRefreshRecv + 2, 'BoRR and EoRR at FRR');
    expect(after.routeRefreshSent).toBe(before.routeRefreshSent + 1);
    expect(await frr.route('10.244.1.0/26')).toBeTruthy();
    expect(await frr.route('10.244.2.0/26')).toBeTruthy();
    expect((await frrNeighbor()).connectionsDropped).toBe(0);
  });

  it('policy changes on live peers: export to FRR and import from BIRD change without a new session', async () => {
    await eventually(() => tortie.route('203.0.113.128/25'), (r) => !!r, 'BIRD routes at tortie');
    await eventually(() => frr.route('10.244.2.0/26'), (r) => !!r, 'tortie routes at FRR');
    const since = Object.fromEntries((await tortie.status()).map((s) => [s.address, s.since]));

    expect(await tortie.reconfigurePeer({ ...toFrr, exportPolicy: rejectPrefix('10.244.2.0/26') })).toBe(true);
    await eventually(() => frr.route('10.244.2.0/26'), (r) => !r, 'route withdrawn from FRR');
    expect(await frr.route('10.244.1.0/26')).toBeTruthy();

    // Import: tortie asks BIRD for a route refresh, and what BIRD re-sends meets the new policy.
    expect(await tortie.reconfigurePeer({ ...toBird, importPolicy: rejectPrefix('203.0.113.128/25') })).toBe(true);
    await eventually(() => tortie.route('203.0.113.128/25'), (r) => !r, 'BIRD route rejected after the refresh');
    expect(await tortie.route('203.0.113.0/25')).toBeTruthy();
    // BIRD answered with enhanced route refresh too: BoRR (its two routes marked stale), EoRR.
    const fromBird = (await tortie.events()).events.filter((x) => x.event === 'enhanced-refresh' && x.address === B.v4);
    expect(fromBird.map((x) => [x.marker, x.routes])).toEqual([['begin', 2], ['end', 0]]);

    // And back.
    expect(await tortie.reconfigurePeer(toFrr)).toBe(true);
    expect(await tortie.reconfigurePeer(toBird)).toBe(true);
    await eventually(() => frr.route('10.244.2.0/26'), (r) => !!r, 'route announced to FRR again');
    await eventually(() => tortie.route('203.0.113.128/25'), (r) => !!r, 'BIRD route accepted again');

    const st = await tortie.status();
    expect(st.every((s) => s.state === 'Established' && s.since === since[s.address])).toBe(true);
    expect((await frrNeighbor()).connectionsDropped).toBe(0);
    expect(await bird.sessionState('tortie')).toBe('Established');
  });

  it('restarting: selection deferred until BIRD\'s and FRR\'s End-of-RIB, then tortie\'s table and End-of-RIB; the stale route is purged', async () => {
    await eventually(() => bird.route('10.244.2.0/26'), (r) => !!r, 'tortie routes at BIRD');
    await tortie.kill();
    await eventually(() => frr.sessionState(T.v4), (s) => s !== 'Established', 'FRR notices');
    await eventually(() => bird.sessionState('tortie'), (s) => s !== 'Established', 'BIRD notices');
    expect(await frr.route('10.244.2.0/26')).toBeTruthy();

    tortie = await startTortie(true, ['10.244.1.0/26']);
    expect((await tortie.events()).deferred).toBe(true);
    const done = await eventually(() => tortie.events(), (e) => !e.deferred, 'selection deferral ended', 60_000);
    // Ended by the peers' End-of-RIB, not by the (600 s) timer.
    expect(done.events.find((x) => x.event === 'selection-deferral-end')).toMatchObject({ reason: expect.stringMatching(/End-of-RIB/) });
    // BIRD's routes were selected before the deferral ended (its End-of-RIB was waited for). FRR 8.4,
    // configured for graceful restart, sets the Restart State bit in every OPEN it sends here (seen on
    // each connection), and RFC 4724 4.1 excludes such peers from the wait: its route may come after.
    expect(await tortie.route('203.0.113.0/25')).toBeTruthy();
    await eventually(() => tortie.route('192.0.2.0/24'), (r) => !!r, 'FRR route at tortie');
    // Ours went out with End-of-RIB: the stale one is purged.
    await eventually(() => frr.route('10.244.2.0/26'), (r) => !r, 'stale route purged at FRR', 60_000);
    await eventually(() => bird.route('10.244.2.0/26'), (r) => !r, 'stale route purged at BIRD', 60_000);
    expect(await frr.route('10.244.1.0/26')).toBeTruthy();
    expect(await bird.route('10.244.1.0/26')).toBeTruthy();
    const gr = ((await frrNeighbor()).gracefulRestartInfo as { endOfRibRecv: Record<string, boolean> }).endOfRibRecv;
    expect(gr.ipv4Unicast).toBe(true);
  });
});
