/**
 * Graceful restart (RFC 4724) and route refresh (RFC 2918) against BIRD and FRR:
 * - helper: BIRD restarts gracefully; tortie keeps its routes meanwhile and purges the ones it
 *   does not re-send once its End-of-RIB arrives;
 * - restarting: tortie dies and comes back with the R and F bits; BIRD and FRR keep its routes
 *   meanwhile and drop the stale one after tortie's End-of-RIB;
 * - route refresh both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bird } from '../../src/lab/peers/bird.ts';
import type { Frr } from '../../src/lab/peers/frr.ts';
import type { Netns } from '../../src/netns/netns.ts';
import { B, F, LOCAL_AS, T, startGrPeers, type GrPeers } from './harness/gr-peers.ts';
import { SpeakerProcess, eventually } from './harness/speaker-process.ts';
import type { SpeakerOptions } from '../../src/bgp/speaker.ts';


describe('interop: graceful restart and route refresh with BIRD and FRR', () => {
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
    gracefulRestart: { restartTime: 60, restarting },
  });

  async function startTortie(restarting: boolean, routes: string[]): Promise<SpeakerProcess> {
    const t = await SpeakerProcess.start(nsT, tortieOptions(restarting));
    for (const r of routes) await t.originate(r);
    await t.addPeer({ address: B.v4, asn: B.asn, localAddress: T.v4 });
    await t.addPeer({ address: F.v4, asn: F.asn, localAddress: T.v4 });
    return t;
  }

  beforeAll(async () => {
    peers = await startGrPeers({ name: 'tgr', birdRestartTime: 60, frrRestartTime: 60 });
    ({ nsT, bird, frr } = peers);
    tortie = await startTortie(false, ['10.244.1.0/26', '10.244.2.0/26']);
    await eventually(() => tortie.status(), (st) => st.length === 2 && st.every((s) => s.state === 'Established'), 'sessions Established', 60_000);
  });

  afterAll(async () => {
    await tortie?.stop().catch(() => undefined);
    await peers?.destroy();
  });

  it('helper: keeps a gracefully restarting BIRD\'s routes, then purges what it did not re-send after End-of-RIB', async () => {
    await eventually(() => tortie.route('203.0.113.128/25'), (r) => !!r, 'BIRD routes at tortie');
    // BIRD comes back without the second route.
    await bird.reconfigure({ routes: [{ prefix: '203.0.113.0/25' }] });
    await bird.gracefulStop();
    await eventually(() => tortie.peer(B.v4), (s) => s?.state !== 'Established', 'session down');
    // Down, yet both routes are still in use.
    expect(await tortie.route('203.0.113.0/25')).toBeTruthy();
    expect(await tortie.route('203.0.113.128/25')).toBeTruthy();
    await bird.startAgain({ recovery: true });
    await eventually(() => tortie.peer(B.v4), (s) => s?.state === 'Established', 'BIRD back', 60_000);
    await eventually(() => tortie.route('203.0.113.128/25'), (r) => !r, 'stale route purged after End-of-RIB', 60_000);
    expect(await tortie.route('203.0.113.0/25')).toBeTruthy();
  });

  it('restarting: BIRD and FRR keep tortie\'s routes while it restarts, and purge the stale one after its End-of-RIB', async () => {
    await eventually(() => bird.route('10.244.2.0/26'), (r) => !!r, 'tortie routes at BIRD');
    await eventually(() => frr.route('10.244.2.0/26'), (r) => !!r, 'tortie routes at FRR');
    await tortie.kill();
    await eventually(() => bird.sessionState('tortie'), (s) => s !== 'Established', 'BIRD notices');
    await eventually(() => frr.sessionState(T.v4), (s) => s !== 'Established', 'FRR notices');
    expect(await bird.route('10.244.1.0/26')).toBeTruthy();
    expect(await bird.route('10.244.2.0/26')).toBeTruthy();
    expect(await frr.route('10.244.1.0/26')).toBeTruthy();
    expect(await frr.route('10.244.2.0/26')).toBeTruthy();
    // Back, with the R and F bits, and without the second route.
    tortie = await startTortie(true, ['10.244.1.0/26']);
    await eventually(() => tortie.status(), (st) => st.length === 2 && st.every((s) => s.state === 'Established'), 're-established', 60_000);
    await eventually(() => bird.route('10.244.2.0/26'), (r) => !r, 'stale route purged at BIRD', 60_000);
    await eventually(() => frr.route('10.244.2.0/26'), (r) => !r, 'stale route purged at FRR', 60_000);
    expect(await bird.route('10.244.1.0/26')).toBeTruthy();
    expect(await frr.route('10.244.1.0/26')).toBeTruthy();
  });

  it('route refresh: tortie asks and the peers re-send; the peers ask and tortie re-sends', async () => {
    await eventually(() => tortie.route('192.0.2.0/24'), (r) => !!r, 'FRR route at tortie');
    await eventually(() => tortie.route('203.0.113.0/25'), (r) => !!r, 'BIRD route at tortie');
    const before = await tortie.status();
    const inB = before.find((s) => s.address === B.v4)!.updatesReceived;
    const inF = before.find((s) => s.address === F.v4)!.updatesReceived;
    expect(await tortie.refresh(B.v4, 'ipv4')).toBe(true);
    expect(await tortie.refresh(F.v4, 'ipv4')).toBe(true);
    await eventually(() => tortie.peer(B.v4), (s) => s!.updatesReceived > inB, 'BIRD re-sent');
    await eventually(() => tortie.peer(F.v4), (s) => s!.updatesReceived > inF, 'FRR re-sent');

    const outB = (await tortie.peer(B.v4))!.updatesSent;
    const outF = (await tortie.peer(F.v4))!.updatesSent;
    await bird.birdc('reload', 'out', 'tortie').catch(() => undefined);
    await bird.birdc('reload', 'in', 'tortie');
    await frr.vtysh(`clear bgp ipv4 unicast ${T.v4} soft in`);
    await eventually(() => tortie.peer(B.v4), (s) => s!.updatesSent > outB, 'tortie re-sent to BIRD');
    await eventually(() => tortie.peer(F.v4), (s) => s!.updatesSent > outF, 'tortie re-sent to FRR');
    expect((await tortie.status()).every((s) => s.state === 'Established')).toBe(true);
    expect(await bird.route('10.244.1.0/26')).toBeTruthy();
  });
});
