/**
 * The interop suite every reference daemon runs (BIRD, FRR, GoBGP): tortie and two instances of
 * the daemon, one eBGP and one iBGP, in namespaces on one bridge. Sessions, routes with attributes
 * both ways, withdrawals, hold timer expiry on a frozen peer, and re-establishment after a restart.
 * Each test file calls `peerSuite` with its launcher and the few ways its daemon differs, and adds
 * its daemon-specific tests through `extraTests`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, uniqueName } from '../../../src/netns/netns.ts';
import type { DaemonNeighbor, DaemonRoute, LearnedRoute } from '../../../src/lab/peers/common.ts';
import { SpeakerProcess, eventually } from './speaker-process.ts';
import { AsPathSegmentType } from '../../../src/bgp/wire/constants.ts';

export const T = { v4: '198.51.100.1', v6: '2001:db8::1' };
export const LOCAL_AS = 64512;

export interface PeerDaemon {
  sessionState(key: string): Promise<string>;
  /** `protocol` is BIRD's: the others keep one route per prefix and ignore it. */
  route(prefix: string, protocol?: string): Promise<LearnedRoute | undefined>;
  pause(): void;
  resume(): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  ns: Netns;
  routerId: string;
  asn: number;
  neighbors: DaemonNeighbor[];
  routes: DaemonRoute[];
}

export interface PeerLauncher<P extends PeerDaemon> {
  /** In the describe title ('BIRD 2'). */
  title: string;
  /** In test names and wait labels ('BIRD'). */
  name: string;
  start(o: StartOptions): Promise<P>;
  /** The daemons' own addresses (each file its own, so that a leftover never answers another). */
  ebgp: { v4: string; v6: string; asn: number };
  ibgp: { v4: string; v6: string };
  /** How the daemon names its session with tortie: BIRD by protocol name, the others by address. */
  sessionBy: 'name' | 'address';
  /** BIRD keeps one route per protocol: routes tortie passed on are asked for by its protocol. */
  passedRouteProtocol?: string;
  /** Whether the daemon sends its own MED to eBGP peers (BIRD does not). */
  sendsMedOverEbgp: boolean;
  /** Whether the daemon gives eBGP-learned routes a LOCAL_PREF of its own (BIRD does). */
  setsLocalPrefOnEbgpRoutes: boolean;
  /** Stop and restart originating the eBGP instance's 203.0.113.0/24. */
  withdrawOrigin(ebgp: P): Promise<void>;
  restoreOrigin(ebgp: P): Promise<void>;
}

/** What the suite set up, for a file's own tests (filled in by beforeAll). */
export interface PeerSuiteContext<P extends PeerDaemon> {
  nsT: Netns;
  nsE: Netns;
  nsI: Netns;
  tortie: SpeakerProcess;
  ebgp: P;
  ibgp: P;
}

export function peerSuite<P extends PeerDaemon>(d: PeerLauncher<P>, extraTests?: (ctx: PeerSuiteContext<P>) => void): void {
  const E = d.ebgp;
  const I = d.ibgp;
  const session = d.sessionBy === 'name' ? 'tortie' : T.v4;

  describe(`interop: ${d.title}`, () => {
    let sw: Switch;
    const ctx = {} as PeerSuiteContext<P>;

    beforeAll(async () => {
      sw = await Switch.create(uniqueName('tsw'));
      ctx.nsT = await Netns.create(uniqueName('tst'));
      ctx.nsE = await Netns.create(uniqueName('tse'));
      ctx.nsI = await Netns.create(uniqueName('tsi'));
      await sw.connect(ctx.nsT, 'eth0', [`${T.v4}/24`, `${T.v6}/64`]);
      await sw.connect(ctx.nsE, 'eth0', [`${E.v4}/24`, `${E.v6}/64`]);
      await sw.connect(ctx.nsI, 'eth0', [`${I.v4}/24`, `${I.v6}/64`]);
      ctx.ebgp = await d.start({
        ns: ctx.nsE,
        routerId: E.v4,
        asn: E.asn,
        neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: E.v4, nextHopV6: E.v6 }],
        routes: [
          { prefix: '203.0.113.0/24', med: 30, communities: [`${E.asn}:1`], largeCommunities: [`${E.asn}:1:2`] },
          { prefix: '2001:db8:e00::/48', communities: [`${E.asn}:6`] },
        ],
      });
      ctx.ibgp = await d.start({
        ns: ctx.nsI,
        routerId: I.v4,
        asn: LOCAL_AS,
        neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: I.v4, nextHopV6: I.v6 }],
        routes: [{ prefix: '192.0.2.0/25', localPref: 250, med: 70, communities: ['64512:9'] }, { prefix: '2001:db8:a00::/48', localPref: 150 }],
      });
      ctx.tortie = await SpeakerProcess.start(ctx.nsT, {
        localAsn: LOCAL_AS,
        routerId: T.v4,
        holdTime: 6,
        connectRetryTime: 2,
        idleHold: { initialMs: 500, maxMs: 4000 },
        nextHops: { ipv6: T.v6 },
      });
      await ctx.tortie.originate('10.244.1.0/26', { med: 40, communities: [((64512 << 16) | 100) >>> 0], largeCommunities: [[64512, 7, 8]] });
      await ctx.tortie.originate('fd00:10:244:1::/64', { largeCommunities: [[64512, 6, 6]] });
      await ctx.tortie.addPeer({ address: E.v4, asn: E.asn, localAddress: T.v4 });
      await ctx.tortie.addPeer({ address: I.v4, asn: LOCAL_AS, localAddress: T.v4 });
    });

    afterAll(async () => {
      await ctx.tortie?.stop().catch(() => undefined);
      await ctx.ebgp?.stop().catch(() => undefined);
      await ctx.ibgp?.stop().catch(() => undefined);
      await Promise.all([ctx.nsT, ctx.nsE, ctx.nsI].map((n) => n?.destroy()));
      await sw?.destroy();
    });

    it('reaches Established with both, over eBGP and iBGP', async () => {
      await eventually(() => ctx.ebgp.sessionState(session), (s) => s === 'Established', `${d.name} eBGP Established`);
      await eventually(() => ctx.ibgp.sessionState(session), (s) => s === 'Established', `${d.name} iBGP Established`);
      const st = await ctx.tortie.status();
      expect(st.map((s) => [s.address, s.type, s.state]).sort()).toEqual([
        [E.v4, 'ebgp', 'Established'],
        [I.v4, 'ibgp', 'Established'],
      ]);
    });

    it(`receives ${d.name}'s IPv4 and IPv6 routes with attributes intact`, async () => {
      const { tortie } = ctx;
      const r = await eventually(() => tortie.route('203.0.113.0/24'), (x) => !!x, 'eBGP IPv4 route at tortie');
      // (A daemon that sends no MED to eBGP peers has it checked on iBGP below.)
      const med = d.sendsMedOverEbgp ? { med: 30 } : {};
      expect(r).toMatchObject({ peer: E.v4, nextHop: E.v4, ...med, communities: [((E.asn << 16) | 1) >>> 0], largeCommunities: [[E.asn, 1, 2]] });
      expect(r!.asPath).toEqual([{ type: AsPathSegmentType.AsSequence, asns: [E.asn] }]);
      expect(r!.localPref).toBeUndefined();
      const r6 = await eventually(() => tortie.route('2001:db8:e00::/48'), (x) => !!x, 'eBGP IPv6 route at tortie');
      expect(r6).toMatchObject({ nextHop: E.v6, communities: [((E.asn << 16) | 6) >>> 0] });
      const i4 = await eventually(() => tortie.route('192.0.2.0/25'), (x) => !!x, 'iBGP IPv4 route at tortie');
      expect(i4).toMatchObject({ peer: I.v4, nextHop: I.v4, localPref: 250, med: 70, communities: [((64512 << 16) | 9) >>> 0] });
      const i6 = await eventually(() => tortie.route('2001:db8:a00::/48'), (x) => !!x, 'iBGP IPv6 route at tortie');
      expect(i6).toMatchObject({ nextHop: I.v6, localPref: 150 });
    });

    it(`sends tortie's IPv4 and IPv6 routes to ${d.name} with attributes intact`, async () => {
      const { ebgp, ibgp } = ctx;
      const e4 = await eventually(() => ebgp.route('10.244.1.0/26'), (x) => !!x, `tortie route at eBGP ${d.name}`);
      expect(e4).toMatchObject({ nextHop: T.v4, asPath: [LOCAL_AS], med: 40, communities: ['64512:100'], largeCommunities: ['64512:7:8'] });
      const e6 = await eventually(() => ebgp.route('fd00:10:244:1::/64'), (x) => !!x, `tortie IPv6 route at eBGP ${d.name}`);
      expect(e6).toMatchObject({ nextHop: T.v6, asPath: [LOCAL_AS], largeCommunities: ['64512:6:6'] });
      const i4 = await eventually(() => ibgp.route('10.244.1.0/26'), (x) => !!x, `tortie route at iBGP ${d.name}`);
      expect(i4).toMatchObject({ nextHop: T.v4, asPath: [], localPref: 100, med: 40 });
      // eBGP-learned routes go on to the iBGP peer (with their AS path, LOCAL_PREF added), and
      // iBGP-learned ones to the eBGP peer (our AS prepended); never iBGP to iBGP.
      const passed = await eventually(() => ibgp.route('203.0.113.0/24', d.passedRouteProtocol), (x) => !!x, `eBGP route passed to iBGP ${d.name}`);
      expect(passed).toMatchObject({ asPath: [E.asn], localPref: 100 });
      const out = await eventually(() => ebgp.route('192.0.2.0/25', d.passedRouteProtocol), (x) => !!x, `iBGP route passed to eBGP ${d.name}`);
      expect(out!.asPath).toEqual([LOCAL_AS]);
      // A daemon that gives eBGP-learned routes its own default LOCAL_PREF leaves only the path
      // telling here; that tortie sends no LOCAL_PREF to eBGP peers is checked by the RIB's unit tests.
      if (!d.setsLocalPrefOnEbgpRoutes) expect(out!.localPref).toBeUndefined();
      // MED learned over iBGP may go to a neighbouring AS (RFC 4271 5.1.4 forbids only passing on
      // one received from another AS).
      expect(out!.med).toBe(70);
    });

    it('withdraws both ways', async () => {
      const { tortie, ebgp, ibgp } = ctx;
      await tortie.withdraw('10.244.1.0/26');
      await eventually(() => ebgp.route('10.244.1.0/26'), (x) => !x, `withdrawal at eBGP ${d.name}`);
      await eventually(() => ibgp.route('10.244.1.0/26'), (x) => !x, `withdrawal at iBGP ${d.name}`);
      await d.withdrawOrigin(ebgp);
      await eventually(() => tortie.route('203.0.113.0/24'), (x) => !x, `${d.name} withdrawal at tortie`);
      await eventually(() => ibgp.route('203.0.113.0/24', d.passedRouteProtocol), (x) => !x, `withdrawal passed on to iBGP ${d.name}`);
      await d.restoreOrigin(ebgp);
      await eventually(() => tortie.route('203.0.113.0/24'), (x) => !!x, 'route back at tortie');
      await tortie.originate('10.244.1.0/26');
    });

    it('a frozen peer makes tortie\'s hold timer expire, its routes go, and the session comes back after', async () => {
      const { tortie, ebgp } = ctx;
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

    it(`a restarted ${d.name} is re-established and its routes come back`, async () => {
      const { tortie, ibgp } = ctx;
      await ibgp.restart();
      await eventually(() => ibgp.sessionState(session), (s) => s === 'Established', 'iBGP re-established after restart', 60_000);
      await eventually(() => tortie.route('192.0.2.0/25'), (x) => !!x, 'iBGP routes back');
      await eventually(() => ibgp.route('10.244.1.0/26'), (x) => !!x, `tortie routes re-sent to restarted ${d.name}`);
    });

    extraTests?.(ctx);
  });
}
