/**
 * BGP session passwords (RFC 2385 TCP MD5) against BIRD 2 and FRR: signed sessions reach
 * Established whichever side dials, IPv4 and IPv6; a wrong password never does; a peer without a
 * password runs beside them untouched; and a speaker without the addon refuses the password peer
 * with a clear error instead of running it unsigned, while its other peers come up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, Switch, uniqueName } from '../../src/netns/netns.ts';
import { Bird } from '../../src/lab/peers/bird.ts';
import { Frr } from '../../src/lab/peers/frr.ts';
import type { SpeakerOptions } from '../../src/bgp/speaker.ts';
import { SpeakerProcess, eventually } from './harness/speaker-process.ts';

const LOCAL_AS = 64512;
/** tortie: one address per BIRD session, so that every key is per peer address on both sides. */
const T = { signed: '198.51.100.1', plain: '198.51.100.2', wrong: '198.51.100.3', v6: '2001:db8::1' };
/** A second tortie, whose TCP MD5 addon is missing. */
const N = '198.51.100.4';
const B = { signed: '198.51.100.30', plain: '198.51.100.31', wrong: '198.51.100.32', v6: '2001:db8::30', asn: 65020 };
const F = { v4: '198.51.100.40', asn: 65021 };
const PW = { v4: 'tortie-md5-v4', v6: 'tortie-md5-v6', frr: 'tortie-md5-frr' };

const speakerOptions = (routerId: string): SpeakerOptions => ({ localAsn: LOCAL_AS, routerId, holdTime: 9, connectRetryTime: 2, idleHold: { initialMs: 500, maxMs: 4000 } });

describe('interop: BGP passwords (TCP MD5)', () => {
  let sw: Switch;
  let nsT: Netns, nsN: Netns, nsB: Netns, nsF: Netns;
  let bird: Bird | undefined;
  let frr: Frr | undefined;
  let tortie: SpeakerProcess | undefined;
  let noAddon: SpeakerProcess | undefined;

  beforeAll(async () => {
    sw = await Switch.create(uniqueName('md'));
    [nsT, nsN, nsB, nsF] = await Promise.all([1, 2, 3, 4].map(() => Netns.create(uniqueName('md'))));
    await sw.connect(nsT, 'eth0', [`${T.signed}/24`, `${T.plain}/24`, `${T.wrong}/24`, `${T.v6}/64`]);
    await sw.connect(nsN, 'eth0', [`${N}/24`]);
    await sw.connect(nsB, 'eth0', [`${B.signed}/24`, `${B.plain}/24`, `${B.wrong}/24`, `${B.v6}/64`]);
    await sw.connect(nsF, 'eth0', [`${F.v4}/24`]);
    [bird, frr] = await Promise.all([
      Bird.start({
        ns: nsB,
        routerId: B.signed,
        asn: B.asn,
        neighbors: [
          // BIRD dials this one: tortie's listener must hold the key.
          { name: 'md5v4', address: T.signed, asn: LOCAL_AS, localAddress: B.signed, families: ['ipv4'], password: PW.v4 },
          // tortie dials this one: its own socket must be signed from the SYN on.
          { name: 'md5v6', address: T.v6, asn: LOCAL_AS, localAddress: B.v6, families: ['ipv6'], passive: true, password: PW.v6 },
          { name: 'plain', address: T.plain, asn: LOCAL_AS, localAddress: B.plain, families: ['ipv4'] },
          { name: 'wrong', address: T.wrong, asn: LOCAL_AS, localAddress: B.wrong, families: ['ipv4'], password: 'bird-has-this-one' },
          { name: 'plainN', address: N, asn: LOCAL_AS, localAddress: B.plain, families: ['ipv4'] },
        ],
      }),
      Frr.start({ ns: nsF, routerId: F.v4, asn: F.asn, neighbors: [{ name: 'tortie', address: T.signed, asn: LOCAL_AS, localAddress: F.v4, families: ['ipv4'], password: PW.frr }] }),
    ]);
    tortie = await SpeakerProcess.start(nsT, speakerOptions(T.signed));
    await tortie.originate('10.244.7.0/24');
    await tortie.addPeer({ address: B.signed, asn: B.asn, localAddress: T.signed, families: ['ipv4'], mode: 'passive', password: PW.v4 });
    await tortie.addPeer({ address: B.v6, asn: B.asn, localAddress: T.v6, families: ['ipv6'], mode: 'active', password: PW.v6 });
    await tortie.addPeer({ address: B.plain, asn: B.asn, localAddress: T.plain, families: ['ipv4'] });
    await tortie.addPeer({ address: B.wrong, asn: B.asn, localAddress: T.wrong, families: ['ipv4'], password: 'tortie-has-another' });
    await tortie.addPeer({ address: F.v4, asn: F.asn, localAddress: T.signed, families: ['ipv4'], password: PW.frr });
  });

  afterAll(async () => {
    await Promise.all([tortie?.stop(), noAddon?.stop()].map((p) => p?.catch(() => undefined)));
    await Promise.all([bird?.stop(), frr?.stop()].map((p) => p?.catch(() => undefined)));
    await Promise.all([nsT, nsN, nsB, nsF].map((n) => n?.destroy()));
    await sw?.destroy();
  });

  it('reaches Established with the same password, IPv4 and IPv6, whichever side dials, with BIRD and FRR; the unsigned peer too', async () => {
    for (const name of ['md5v4', 'md5v6', 'plain']) await eventually(() => bird!.sessionState(name), (s) => s === 'Established', `BIRD ${name} Established`);
    await eventually(() => frr!.sessionState(T.signed), (s) => s === 'Established', 'FRR Established');
    const st = await tortie!.status();
    const state = (a: string) => st.find((s) => s.address === a)?.state;
    expect([state(B.signed), state(B.v6), state(B.plain), state(F.v4)]).toEqual(['Established', 'Established', 'Established', 'Established']);
    // Routes flow over the signed sessions.
    await eventually(() => bird!.route('10.244.7.0/24', 'md5v4'), (r) => !!r, 'tortie route at BIRD over the signed session');
    await eventually(() => frr!.route('10.244.7.0/24'), (r) => !!r, 'tortie route at FRR over the signed session');
  });

  it('never establishes with a wrong password, and the other sessions stay up', async () => {
    // Both sides keep trying (connect retry 2-3 s); the kernels drop every badly signed segment.
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline) {
      expect((await tortie!.peer(B.wrong))?.state).not.toBe('Established');
      expect(await bird!.sessionState('wrong')).not.toBe('Established');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await tortie!.peer(B.wrong))!.updatesReceived).toBe(0);
    expect(await bird!.sessionState('md5v4')).toBe('Established');
    expect((await tortie!.peer(F.v4))!.state).toBe('Established');
  });

  it('without the addon, refuses the password peer with a clear error instead of running it unsigned; its other peers are unaffected', async () => {
    noAddon = await SpeakerProcess.start(nsN, speakerOptions(N), [], { TORTIE_MD5_ADDON: '/nonexistent/tortie-md5.node' });
    const refused = noAddon.addPeer({ address: B.signed, asn: B.asn, localAddress: N, families: ['ipv4'], password: 'never-shown-anywhere' });
    await expect(refused).rejects.toThrow(/peer 198\.51\.100\.30: a password is configured, but TCP MD5 \(RFC 2385\) is not available here: could not load \/nonexistent\/tortie-md5\.node/);
    await refused.catch((e: Error) => expect(e.message).not.toContain('never-shown-anywhere'));
    await noAddon.addPeer({ address: B.plain, asn: B.asn, localAddress: N, families: ['ipv4'] });
    await eventually(() => bird!.sessionState('plainN'), (s) => s === 'Established', 'BIRD plainN Established');
    expect((await noAddon.status()).map((s) => [s.address, s.state])).toEqual([[B.plain, 'Established']]);
  });
});
