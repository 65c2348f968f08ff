/**
 * ExaBGP sends hand-crafted malformed UPDATEs (raw attributes) to tortie. tortie must apply the
 * RFC 7606 outcome for each (treat-as-withdraw, attribute discard, pass-through), keep the session
 * up where the RFC says so, and its other session (to BIRD) must never notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, uniqueName } from '../../src/netns/netns.ts';
import { Bird } from '../../src/lab/peers/bird.ts';
import { Exabgp } from '../../src/lab/peers/exabgp.ts';
import { SpeakerProcess, eventually } from './harness/speaker-process.ts';

const T = { v4: '198.51.100.1', v6: '2001:db8::1' };
const X = { v4: '198.51.100.40', asn: 65040 };
const B = { v4: '198.51.100.10', v6: '2001:db8::10', asn: 65010 };
const LOCAL_AS = 64512;

describe('interop: malformed UPDATEs from ExaBGP (RFC 7606)', () => {
  let sw: Switch;
  let nsT: Netns;
  let nsX: Netns;
  let nsB: Netns;
  let tortie: SpeakerProcess;
  let exa: Exabgp;
  let bird: Bird;
  let sinceX = '';
  let sinceB = '';
  let marker = 0;

  /** Announces a fresh, clean marker route and waits for it: everything sent before is processed. */
  async function sync(): Promise<void> {
    marker++;
    const p = `198.19.${marker}.0/24`;
    await exa.send(`announce route ${p} next-hop self`);
    await eventually(() => tortie.route(p), (r) => !!r, `marker ${p}`);
  }

  beforeAll(async () => {
    sw = await Switch.create(uniqueName('tsw'));
    nsT = await Netns.create(uniqueName('tst'));
    nsX = await Netns.create(uniqueName('tsx'));
    nsB = await Netns.create(uniqueName('tsb'));
    await sw.connect(nsT, 'eth0', [`${T.v4}/24`, `${T.v6}/64`]);
    await sw.connect(nsX, 'eth0', [`${X.v4}/24`]);
    await sw.connect(nsB, 'eth0', [`${B.v4}/24`, `${B.v6}/64`]);
    bird = await Bird.start({ ns: nsB, routerId: B.v4, asn: B.asn, neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: B.v4, families: ['ipv4'] }] });
    exa = await Exabgp.start({ ns: nsX, routerId: X.v4, asn: X.asn, neighbors: [{ name: 'tortie', address: T.v4, asn: LOCAL_AS, localAddress: X.v4, families: ['ipv4'] }] });
    tortie = await SpeakerProcess.start(nsT, { localAsn: LOCAL_AS, routerId: T.v4, holdTime: 9, connectRetryTime: 2, idleHold: { initialMs: 500, maxMs: 4000 } });
    await tortie.addPeer({ address: X.v4, asn: X.asn, localAddress: T.v4, mode: 'passive', families: ['ipv4'] });
    await tortie.addPeer({ address: B.v4, asn: B.asn, localAddress: T.v4, families: ['ipv4'] });
    const x = await eventually(() => tortie.peer(X.v4), (s) => s?.state === 'Established', 'ExaBGP Established', 60_000);
    const b = await eventually(() => tortie.peer(B.v4), (s) => s?.state === 'Established', 'BIRD Established', 60_000);
    sinceX = x!.since;
    sinceB = b!.since;
  });

  afterAll(async () => {
    await tortie?.stop().catch(() => undefined);
    await exa?.stop().catch(() => undefined);
    await bird?.stop().catch(() => undefined);
    await Promise.all([nsT, nsX, nsB].map((n) => n?.destroy()));
    await sw?.destroy();
  });

  it('accepts a clean route and passes it to BIRD', async () => {
    await exa.send('announce route 198.18.1.0/24 next-hop self community [65040:1]');
    await eventually(() => tortie.route('198.18.1.0/24'), (r) => !!r, 'clean route');
    await eventually(() => bird.route('198.18.1.0/24'), (r) => !!r, 'clean route at BIRD');
  });

  it('COMMUNITIES of a length not a multiple of 4: treat-as-withdraw (RFC 7606 7.8), session stays', async () => {
    await exa.send('announce route 198.18.1.0/24 next-hop self attribute [ 0x08 0xc0 0x000102 ]');
    await eventually(() => tortie.route('198.18.1.0/24'), (r) => !r, 'treat-as-withdraw');
    await sync();
    await eventually(() => bird.route('198.18.1.0/24'), (r) => !r, 'withdrawal passed on to BIRD');
    expect((await tortie.peer(X.v4))!.lastError).toMatch(/treat-as-withdraw/);
  });

  it('MULTI_EXIT_DISC of the wrong length: treat-as-withdraw (RFC 7606 7.4)', async () => {
    await exa.send('announce route 198.18.2.0/24 next-hop self');
    await eventually(() => tortie.route('198.18.2.0/24'), (r) => !!r, 'route before');
    await exa.send('announce route 198.18.2.0/24 next-hop self attribute [ 0x04 0x80 0x0001 ]');
    await eventually(() => tortie.route('198.18.2.0/24'), (r) => !r, 'treat-as-withdraw');
  });

  it('AS4_PATH without the Optional flag: the attribute is discarded, the route kept (RFC 7606 7.1, RFC 6793)', async () => {
    await exa.send('announce route 198.18.3.0/24 next-hop self attribute [ 0x11 0x40 0x02010000FDE8 ]');
    await sync();
    const r = await tortie.route('198.18.3.0/24');
    expect(r).toBeTruthy();
    expect(r!.asPath).toEqual([{ type: 2, asns: [X.asn] }]);
  });

  it('an unknown optional transitive attribute passes through to other peers (RFC 4271 5)', async () => {
    await exa.send('announce route 198.18.4.0/24 next-hop self attribute [ 0x63 0xc0 0xdeadbeef ]');
    await eventually(() => tortie.route('198.18.4.0/24'), (r) => !!r, 'route with unknown attribute');
    const out = await bird.birdc('show', 'route', 'all', '198.18.4.0/24');
    expect(out).toMatch(/198\.18\.4\.0\/24/);
    // BIRD shows it as "BGP.63 [t]: de ad be ef" (type 0x63, transitive).
    expect(out).toMatch(/BGP\.63 \[t[^\]]*\]: de ad be ef/);
  });

  it('a corrupt tunnel encapsulation attribute (type 23) resets no session anywhere', async () => {
    await exa.send('announce route 198.18.6.0/24 next-hop self attribute [ 0x17 0xc0 0x0007ffff01 ]');
    await sync();
    expect((await tortie.peer(X.v4))!.state).toBe('Established');
    await eventually(() => bird.route('198.18.6.0/24'), (r) => !!r, 'route at BIRD');
    expect(await bird.sessionState('tortie')).toBe('Established');
  });

  it('LOCAL_PREF from an external peer is discarded (RFC 7606 7.5)', async () => {
    await exa.send('announce route 198.18.5.0/24 next-hop self local-preference 900');
    await eventually(() => tortie.route('198.18.5.0/24'), (r) => !!r, 'route');
    expect((await tortie.route('198.18.5.0/24'))!.localPref).toBeUndefined();
  });

  it('neither session ever went down', async () => {
    await sync();
    const x = await tortie.peer(X.v4);
    const b = await tortie.peer(B.v4);
    expect(x).toMatchObject({ state: 'Established', since: sinceX });
    expect(b).toMatchObject({ state: 'Established', since: sinceB });
    expect(await bird.sessionState('tortie')).toBe('Established');
    expect(exa.running).toBe(true);
  });
});
