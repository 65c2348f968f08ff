/**
 * tortie against BIRD 2, over eBGP and iBGP, IPv4 and IPv6, in namespaces on one bridge:
 * sessions, routes with attributes both ways, withdrawals, hold timer expiry on a frozen peer,
 * and re-establishment after a restart.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, uniqueName } from '../../src/netns/netns.ts';
import { Bird } from '../../src/lab/peers/bird.ts';
import { SpeakerProcess, eventually } from './harness/speaker-process.ts';
import { AsPathSegmentType } from '../../src/bgp/wire/constants.ts';

const T = { v4: '198.51.100.1', v6: '2001:db8::1' };
const E = { v4: '198.51.100.10', v6: '2001:db8::10', asn: 65010 }; // eBGP BIRD
const I = { v4: '198.51.100.11', v6: '2001:db8::11' }; // iBGP BIRD
const LOCAL_AS = 64512;

describe('interop: BIRD 2', () => {
  let sw: Switch;
  let nsT: Netns;
  let nsE: Netns;
  let nsI: Netns;
  let tortie: SpeakerProcess;
  let ebgp: Bird;
  let ibgp: Bird;

  beforeAll(async () => {
    sw = await Switch.create(uniqueName('tsw'));
    nsT = await Netns.create(uniqueName('tst'));
    nsE = await Netns.create(uniqueName('tse'));
    nsI = await Netns.create(uniqueName('tsi'));
    await sw.connect(nsT, 'eth0', [`${T.v4}/24`, `${T.v6}/64`]);
    await sw.connect(nsE, 'eth0', [`${E.v4}/24`, `${E.v6}/64`]);
    await sw.connect(nsI, 'eth0', [`${I.v4}/24`, `${I.v6}/64`]);
    ebgp = await Bird.start({
      ns: nsE,
      routerId: E.v4,
      asn: E.asn,
      neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: E.v4, nextHopV6: E.v6 }],
      routes: [
        { prefix: '203.0.113.0/24', med: 30, communities: ['65010:1'], largeCommunities: ['65010:1:2'] },
        { prefix: '2001:db8:e00::/48', communities: ['65010:6'] },
      ],
    });
    ibgp = await Bird.start({
      ns: nsI,
      routerId: I.v4,
      asn: LOCAL_AS,
      neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: I.v4, nextHopV6: I.v6 }],
      routes: [{ prefix: '192.0.2.0/25', localPref: 250, med: 70, communities: ['64512:9'] }, { prefix: '2001:db8:a00::/48', localPref: 150 }],
    });
    tortie = await SpeakerProcess.start(nsT, {
      localAsn: LOCAL_AS,
      routerId: T.v4,
      holdTime: 6,
      connectRetryTime: 2,
      idleHold: { initialMs: 500, maxMs: 4000 },
      nextHops: { ipv6: T.v6 },
    });
    await tortie.originate('10.244.1.0/26', { med: 40, communities: [((64512 << 16) | 100) >>> 0], largeCommunities: [[64512, 7, 8]] });
    await tortie.originate('fd00:10:244:1::/64', { largeCommunities: [[64512, 6, 6]] });
    await tortie.addPeer({ address: E.v4, asn: E.asn, localAddress: T.v4 });
    await tortie.addPeer({ address: I.v4, asn: LOCAL_AS, localAddress: T.v4 });
  });

  afterAll(async () => {
    await tortie?.stop().catch(() => undefined);
    await ebgp?.stop().catch(() => undefined);
    await ibgp?.stop().catch(() => undefined);
    await Promise.all([nsT, nsE, nsI].map((n) => n?.destroy()));
    await sw?.destroy();
  });

  it('the launcher reports a config BIRD refuses, and leaves no directory or process behind', async () => {
    const marker = `this is not bird config ${process.pid};`;
    await expect(Bird.start({ ns: nsE, routerId: E.v4, asn: E.asn, neighbors: [], extra: marker })).rejects.toThrow(/syntax error/);
    // Other projects may run BIRD at the same time: look for our config only.
    const ours = [];
    for (const d of (await readdir(tmpdir())).filter((f) => f.startsWith('tortie-bird-'))) {
      const conf = await readFile(path.join(tmpdir(), d, 'bird.conf'), 'utf8').catch(() => '');
      if (conf.includes(marker)) ours.push(d);
    }
    expect(ours).toEqual([]);
  });

  it('reaches Established with both, over eBGP and iBGP', async () => {
    await eventually(() => ebgp.sessionState('tortie'), (s) => s === 'Established', 'BIRD eBGP Established');
    await eventually(() => ibgp.sessionState('tortie'), (s) => s === 'Established', 'BIRD iBGP Established');
    const st = await tortie.status();
    expect(st.map((s) => [s.address, s.type, s.state]).sort()).toEqual([
      [E.v4, 'ebgp', 'Established'],
      [I.v4, 'ibgp', 'Established'],
    ]);
  });

  it('receives BIRD\'s IPv4 and IPv6 routes with attributes intact', async () => {
    const r = await eventually(() => tortie.route('203.0.113.0/24'), (x) => !!x, 'eBGP IPv4 route at tortie');
    // (BIRD sends no MED to eBGP peers, even for its own routes: MED is checked on iBGP below.)
    expect(r).toMatchObject({ peer: E.v4, nextHop: E.v4, communities: [((65010 << 16) | 1) >>> 0], largeCommunities: [[65010, 1, 2]] });
    expect(r!.asPath).toEqual([{ type: AsPathSegmentType.AsSequence, asns: [E.asn] }]);
    expect(r!.localPref).toBeUndefined();
    const r6 = await eventually(() => tortie.route('2001:db8:e00::/48'), (x) => !!x, 'eBGP IPv6 route at tortie');
    expect(r6).toMatchObject({ nextHop: E.v6, communities: [((65010 << 16) | 6) >>> 0] });
    const i4 = await eventually(() => tortie.route('192.0.2.0/25'), (x) => !!x, 'iBGP IPv4 route at tortie');
    expect(i4).toMatchObject({ peer: I.v4, nextHop: I.v4, localPref: 250, med: 70, communities: [((64512 << 16) | 9) >>> 0] });
    const i6 = await eventually(() => tortie.route('2001:db8:a00::/48'), (x) => !!x, 'iBGP IPv6 route at tortie');
    expect(i6).toMatchObject({ nextHop: I.v6, localPref: 150 });
  });

  it('sends tortie\'s IPv4 and IPv6 routes to BIRD with attributes intact', async () => {
    const e4 = await eventually(() => ebgp.route('10.244.1.0/26'), (x) => !!x, 'tortie route at eBGP BIRD');
    expect(e4).toMatchObject({ nextHop: T.v4, asPath: [LOCAL_AS], med: 40, communities: ['64512:100'], largeCommunities: ['64512:7:8'] });
    const e6 = await eventually(() => ebgp.route('fd00:10:244:1::/64'), (x) => !!x, 'tortie IPv6 route at eBGP BIRD');
    expect(e6).toMatchObject({ nextHop: T.v6, asPath: [LOCAL_AS], largeCommunities: ['64512:6:6'] });
    const i4 = await eventually(() => ibgp.route('10.244.1.0/26'), (x) => !!x, 'tortie route at iBGP BIRD');
    expect(i4).toMatchObject({ nextHop: T.v4, asPath: [], localPref: 100, med: 40 });
    // eBGP-learned routes go on to the iBGP peer (with their AS path, LOCAL_PREF added), and
    // iBGP-learned ones to the eBGP peer (our AS prepended); never iBGP to iBGP.
    const passed = await eventually(() => ibgp.route('203.0.113.0/24', 'tortie'), (x) => !!x, 'eBGP route passed to iBGP BIRD');
    expect(passed).toMatchObject({ asPath: [E.asn], localPref: 100 });
    const out = await eventually(() => ebgp.route('192.0.2.0/25', 'tortie'), (x) => !!x, 'iBGP route passed to eBGP BIRD');
    // BIRD gives eBGP-learned routes its own default LOCAL_PREF, so only the path is telling here;
    // that tortie sends no LOCAL_PREF to eBGP peers is checked by the RIB's unit tests.
    expect(out!.asPath).toEqual([LOCAL_AS]);
    // MED learned over iBGP may go to a neighbouring AS (RFC 4271 5.1.4 forbids only passing on
    // one received from another AS).
    expect(out!.med).toBe(70);
  });

  it('withdraws both ways', async () => {
    await tortie.withdraw('10.244.1.0/26');
    await eventually(() => ebgp.route('10.244.1.0/26'), (x) => !x, 'withdrawal at eBGP BIRD');
    await eventually(() => ibgp.route('10.244.1.0/26'), (x) => !x, 'withdrawal at iBGP BIRD');
    await ebgp.birdc('disable', 'static_ipv4');
    await eventually(() => tortie.route('203.0.113.0/24'), (x) => !x, 'BIRD withdrawal at tortie');
    await eventually(() => ibgp.route('203.0.113.0/24', 'tortie'), (x) => !x, 'withdrawal passed on to iBGP BIRD');
    await ebgp.birdc('enable', 'static_ipv4');
    await eventually(() => tortie.route('203.0.113.0/24'), (x) => !!x, 'route back at tortie');
    await tortie.originate('10.244.1.0/26');
  });

  it('a frozen peer makes tortie\'s hold timer expire, its routes go, and the session comes back after', async () => {
    ebgp.pause();
    try {
      const st = await eventually(() => tortie.peer(E.v4), (s) => s?.state !== 'Established', 'hold timer expiry', 30_000);
      expect(st!.lastError).toMatch(/hold timer expired/);
      await eventually(() => tortie.route('203.0.113.0/24'), (x) => !x, 'frozen peer\'s routes withdrawn');
      // The iBGP session never noticed.
      expect((await tortie.peer(I.v4))!.state).toBe('Established');
      expect(await tortie.route('192.0.2.0/25')).toBeTruthy();
    } finally {
      ebgp.resume();
    }
    await eventually(() => tortie.peer(E.v4), (s) => s?.state === 'Established', 're-established after thaw', 60_000);
    await eventually(() => tortie.route('203.0.113.0/24'), (x) => !!x, 'routes back after thaw');
  });

  it('a restarted BIRD is re-established and its routes come back', async () => {
    await ibgp.restart();
    await eventually(() => ibgp.sessionState('tortie'), (s) => s === 'Established', 'iBGP re-established after restart', 60_000);
    await eventually(() => tortie.route('192.0.2.0/25'), (x) => !!x, 'iBGP routes back');
    await eventually(() => ibgp.route('10.244.1.0/26'), (x) => !!x, 'tortie routes re-sent to restarted BIRD');
  });
});
