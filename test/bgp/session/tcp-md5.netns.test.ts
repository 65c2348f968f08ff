/**
 * tcp-md5.ts and its addon (native/tortie-md5.c): TCP MD5 keys (RFC 2385) on a listener and on
 * outgoing connections, IPv4 and IPv6, in a namespace of the test's own. The connections run in
 * md5-probe.ts inside the namespace; this file checks what the kernel let through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, uniqueName } from '../../../src/netns/netns.ts';
import { loadTcpMd5, md5Key, MD5_MAX_KEY_BYTES, TcpMd5Error, TcpMd5ErrorCode } from '../../../src/bgp/session/tcp-md5.ts';
import net from 'node:net';

const PROBE = new URL('./md5-probe.ts', import.meta.url).pathname;

describe('TCP MD5 signatures', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await Netns.create(uniqueName('md'));
    await ns.ip('addr', 'add', '::2/128', 'dev', 'lo', 'nodad');
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  it('lets through only connections signed with the peer\'s key, IPv4 and IPv6; others and removed keys are unaffected', async () => {
    const { stdout } = await ns.exec(process.execPath, [PROBE], { timeoutMs: 30_000 });
    const r = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(r).toEqual({
      v4: 'connected',
      v6: 'connected',
      receivedV4: 'hello from 127.0.0.2',
      receivedV6: 'hello from ::2',
      // The listener holds a key for 127.0.0.2 and ::2: a wrong key or none is never answered.
      wrong: 'no-connection',
      unsigned: 'no-connection',
      // A peer without a password is not affected by the others' keys.
      other: 'connected',
      afterRemoval: 'connected',
      signedToUnkeyed: 'no-connection',
    });
  });

  it('refuses an empty password or one longer than 80 bytes, without showing it', () => {
    expect(md5Key('x'.repeat(MD5_MAX_KEY_BYTES))).toHaveLength(80);
    // 27 three-byte characters: 81 bytes, though only 27 characters.
    const long = '\u20ac'.repeat(27);
    const err = (() => {
      try {
        md5Key(long);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TcpMd5Error);
    expect(err).toMatchObject({ code: TcpMd5ErrorCode.BadKey, message: expect.stringContaining('81 bytes') });
    expect((err as Error).message).not.toContain('\u20ac');
    expect(() => md5Key('')).toThrow(expect.objectContaining({ code: TcpMd5ErrorCode.BadKey }));
  });

  it('names what is wrong when the kernel cannot take a key', async () => {
    const md5 = loadTcpMd5();
    const server = net.createServer();
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    try {
      // An IPv6 peer's key on an IPv4 socket.
      expect(() => md5.setListenerKey(server, '2001:db8::1', 'pw')).toThrow(expect.objectContaining({ code: TcpMd5ErrorCode.SetKey, message: expect.stringContaining('2001:db8::1') }));
      expect(() => md5.setListenerKey(server, 'not-an-address', 'pw')).toThrow(expect.objectContaining({ code: TcpMd5ErrorCode.SetKey }));
    } finally {
      server.close();
    }
  });
});
