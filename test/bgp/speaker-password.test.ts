/**
 * The speaker's BGP passwords (RFC 2385 TCP MD5) between tortie speakers on loopback: signed
 * sessions come up, a wrong password never does, a bad password is refused before anything of the
 * peer exists, and removing a peer takes its key off the listener.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Speaker, SpeakerError } from '../../src/bgp/speaker.ts';
import { TcpMd5ErrorCode } from '../../src/bgp/session/tcp-md5.ts';
import { waitFor } from './fake-peer.ts';

// Loopback only: 127.0.0.0/8 is all loopback on Linux, so each speaker gets an address of its own.
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function speaker(host: string, asn: number): Speaker {
  const s = new Speaker({ localAsn: asn, routerId: host.replace(/^127\./, '10.'), listen: { host, port: 0 }, holdTime: 9, connectRetryTime: 1, idleHold: { initialMs: 100, maxMs: 1000 } });
  cleanups.push(() => s.stop());
  return s;
}

/** Whether an unsigned TCP handshake from `from` to the port completes within `ms`. */
function handshake(port: number, host: string, from: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: from });
    const t = setTimeout(() => (s.destroy(), resolve(false)), ms);
    s.on('error', () => undefined);
    s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
  });
}

describe('Speaker with BGP passwords', () => {
  it('establishes with the same password, never with a wrong one, and the good session is not disturbed', async () => {
    const a = speaker('127.0.0.12', 64512);
    const b = speaker('127.0.0.13', 64512);
    const c = speaker('127.0.0.14', 64512);
    await Promise.all([a.start(), b.start(), c.start()]);
    // a dials b (mesh rule: the lower address), so a's own socket and b's listener are both keyed.
    a.addPeer({ address: '127.0.0.13', port: b.listenPort, asn: 64512, localAddress: '127.0.0.12', mode: 'mesh', password: 'same-on-both' });
    b.addPeer({ address: '127.0.0.12', port: a.listenPort, asn: 64512, localAddress: '127.0.0.13', mode: 'mesh', password: 'same-on-both' });
    c.addPeer({ address: '127.0.0.13', port: b.listenPort, asn: 64512, localAddress: '127.0.0.14', mode: 'mesh', password: 'what-c-thinks' });
    b.addPeer({ address: '127.0.0.14', port: c.listenPort, asn: 64512, localAddress: '127.0.0.13', mode: 'mesh', password: 'what-b-thinks' });
    await waitFor(() => a.peerStatus('127.0.0.13')?.state === 'Established' && b.peerStatus('127.0.0.12')?.state === 'Established', 15_000, 'a-b Established');
    // c keeps dialling (connect retry 1 s); b's kernel drops every badly signed SYN.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      expect(c.peerStatus('127.0.0.13')!.state).not.toBe('Established');
      expect(b.peerStatus('127.0.0.14')!.state).not.toBe('Established');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(a.peerStatus('127.0.0.13')!.state).toBe('Established');
  });

  it('refuses a password longer than 80 bytes without showing it, and adds nothing of the peer', async () => {
    const a = speaker('127.0.0.15', 64512);
    const long = 'p'.repeat(81);
    let err: unknown;
    try {
      a.addPeer({ address: '127.0.0.16', asn: 64512, password: long });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpeakerError);
    expect(err).toMatchObject({ code: TcpMd5ErrorCode.BadKey, message: expect.stringMatching(/^peer 127\.0\.0\.16: a password is configured, but the BGP password is 81 bytes long/) });
    expect((err as Error).message).not.toContain(long);
    expect(a.status()).toEqual([]);
    // Nothing was left behind: the same peer can be added (here without a password).
    a.addPeer({ address: '127.0.0.16', asn: 64512, mode: 'passive' });
    expect(a.status().map((s) => s.address)).toEqual(['127.0.0.16']);
  });

  it('takes the key off the listener when the peer is removed; peers without a password are never affected', async () => {
    const b = speaker('127.0.0.17', 64512);
    await b.start();
    b.addPeer({ address: '127.0.0.18', asn: 64512, mode: 'passive', password: 'only-signed' });
    const port = b.listenPort!;
    // An unsigned handshake from the password peer's address goes unanswered; from another address it completes.
    expect(await handshake(port, '127.0.0.17', '127.0.0.18', 1500)).toBe(false);
    expect(await handshake(port, '127.0.0.17', '127.0.0.19', 10_000)).toBe(true);
    b.removePeer('127.0.0.18');
    expect(await handshake(port, '127.0.0.17', '127.0.0.18', 10_000)).toBe(true);
  });
});
