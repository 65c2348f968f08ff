import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AddressError, formatAddress, parseAddress, parsePrefix } from '../../src/dataplane/address.ts';
import { decodeMessages, encodeLinkSet, encodeRouteOp, encodeRouteOpGeneral, encodeVethCreate, Flag, IFF_UP, LinkAttr, MsgType, NlWriter, type KernelRoute } from '../../src/dataplane/netlink.ts';

describe('addresses', () => {
  it('prints IPv6 in RFC 5952 form', () => {
    expect(parsePrefix('2001:0db8:0:0:0:0:0:1/128').text).toBe('2001:db8::1/128');
    expect(parsePrefix('2001:db8:0:0:1:0:0:1').text).toBe('2001:db8::1:0:0:1/128');
    expect(parsePrefix('::/0').text).toBe('::/0');
    expect(parsePrefix('fe80::/64').text).toBe('fe80::/64');
    expect(parsePrefix('::ffff:192.0.2.1').text).toBe('::ffff:c000:201/128');
    expect(parsePrefix('10.1.2.3').text).toBe('10.1.2.3/32');
  });

  it('rejects malformed input with a typed error naming it', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.1/33', '10.0.0.1/24', '1::2::3', 'fe80::g', '', '2001:db8::/129']) {
      expect(() => parsePrefix(bad), bad).toThrow(AddressError);
    }
    expect(() => parsePrefix('10.0.0.1/24')).toThrow(/host bits/);
  });

  it('round-trips any IPv6 address through bytes and text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect(parseAddress(formatAddress(bytes)).bytes).toEqual(bytes);
      }),
    );
  });
});

describe('netlink route messages', () => {
  const cases: KernelRoute[] = [
    { family: 4, dst: '10.65.0.5/32', table: 254, protocol: 116, type: 1, scope: 253, priority: 0, nexthops: [{ ifindex: 7, onlink: false }] },
    { family: 4, dst: '10.65.0.0/26', table: 254, protocol: 116, type: 6, scope: 0, priority: 0, nexthops: [] },
    { family: 4, dst: '10.66.0.0/16', table: 1000, protocol: 116, type: 1, scope: 0, priority: 20, nexthops: [{ gateway: '198.51.100.7', ifindex: 3, onlink: true }] },
    {
      family: 6,
      dst: '2001:db8:1::/48',
      table: 254,
      protocol: 116,
      type: 1,
      scope: 0,
      priority: 1024,
      nexthops: [
        { gateway: 'fe80::1', ifindex: 3, onlink: false },
        { gateway: 'fe80::2', ifindex: 4, onlink: true },
      ],
    },
  ];

  it('decodes what it encodes (the kernel answers dumps in the same layout)', () => {
    for (const r of cases) {
      const w = new NlWriter(16);
      encodeRouteOp(w, 'add', r, 42);
      const [m] = decodeMessages(w.take());
      expect(m).toMatchObject({ kind: 'route', type: MsgType.NEWROUTE, seq: 42 });
      expect(m.kind === 'route' && m.route).toEqual(r);
    }
  });

  it('writes IPv4 device, blackhole and gateway routes through its shortcut byte for byte as the general encoder does', () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
      const masked = len === 0 ? 0 : (a >>> (32 - len)) * 2 ** (32 - len);
      return `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`;
    });
    const route = fc.record({
      family: fc.constant(4 as const),
      dst: v4,
      table: fc.oneof(fc.constant(254), fc.integer({ min: 1, max: 0xffffffff })),
      protocol: fc.integer({ min: 0, max: 255 }),
      type: fc.constantFrom(1, 6),
      scope: fc.constantFrom(0, 253),
      priority: fc.integer({ min: 0, max: 0xffffffff }),
      nexthops: fc.array(
        fc.record(
          { gateway: fc.ipV4(), ifindex: fc.integer({ min: 0, max: 0x7fffffff }), onlink: fc.boolean() },
          { requiredKeys: ['ifindex', 'onlink'] },
        ),
        { maxLength: 1 },
      ),
    });
    fc.assert(
      fc.property(route, fc.constantFrom('add' as const, 'replace' as const, 'delete' as const), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (r, op, seq, ack) => {
        const fast = new NlWriter(8);
        const general = new NlWriter(8);
        encodeRouteOp(fast, op, r, seq, ack);
        encodeRouteOpGeneral(general, op, r, seq, undefined, ack);
        expect(fast.take()).toEqual(general.take());
      }),
      { numRuns: 2000 },
    );
  });

  it('asks for an exclusive create on add, a replace on replace, and names our protocol on delete', () => {
    const w = new NlWriter(16);
    encodeRouteOp(w, 'add', cases[0], 1);
    encodeRouteOp(w, 'replace', cases[0], 2);
    encodeRouteOp(w, 'delete', cases[0], 3);
    const b = w.take();
    const msgs = decodeMessages(b);
    expect(msgs.map((m) => m.kind === 'route' && m.type)).toEqual([MsgType.NEWROUTE, MsgType.NEWROUTE, MsgType.DELROUTE]);
    const flags = msgs.map((m) => (m.kind === 'route' ? m.flags : 0));
    expect(flags[0] & (Flag.CREATE | Flag.EXCL | Flag.ACK)).toBe(Flag.CREATE | Flag.EXCL | Flag.ACK);
    expect(flags[1] & (Flag.REPLACE | Flag.EXCL)).toBe(Flag.REPLACE);
    const del = msgs[2].kind === 'route' ? msgs[2].route : null;
    expect(del?.protocol).toBe(116);
  });

  it('decodes an extended ack with the kernel message, and ignores a truncated tail', () => {
    const msg = Buffer.from('Nexthop has invalid gateway\0');
    const tlvLen = 4 + msg.length;
    const b = Buffer.alloc(16 + 4 + 16 + ((tlvLen + 3) & ~3) + 7);
    b.writeUInt32LE(b.length - 7, 0);
    b.writeUInt16LE(MsgType.ERROR, 4);
    b.writeUInt16LE(Flag.CAPPED | Flag.ACK_TLVS, 6);
    b.writeUInt32LE(99, 8);
    b.writeInt32LE(-22, 16);
    b.writeUInt16LE(tlvLen, 36);
    b.writeUInt16LE(1, 38);
    msg.copy(b, 40);
    expect(decodeMessages(b)).toEqual([{ kind: 'error', seq: 99, errno: 22, message: 'Nexthop has invalid gateway' }]);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeMessages(Buffer.from(bytes));
      }),
    );
    // Well-formed headers around random bodies reach the attribute parsers.
    fc.assert(
      fc.property(fc.constantFrom(2, 3, 16, 17, 24, 25), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 120 }), (type, flags, body) => {
        const b = Buffer.alloc(16 + body.length);
        b.writeUInt32LE(b.length, 0);
        b.writeUInt16LE(type, 4);
        b.writeUInt16LE(flags, 6);
        Buffer.from(body).copy(b, 16);
        decodeMessages(b);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('IPv4 fast path', () => {
  it('agrees with the careful parser on any IPv4 prefix text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), fc.boolean(), (b, len, bare) => {
        const addr = formatAddress(b);
        const text = bare ? addr : `${addr}/${len}`;
        let viaFast: string | Error;
        try {
          viaFast = parsePrefix(text).text;
        } catch (e) {
          viaFast = e as Error;
        }
        // The careful path alone: a leading "0" on the length makes the fast path step aside.
        let careful: string | Error;
        try {
          careful = parsePrefix(bare ? `${addr}/032` : `${addr}/0${len}`).text;
        } catch (e) {
          careful = e as Error;
        }
        if (typeof careful === 'string') expect(viaFast).toBe(careful);
        else expect(viaFast).toBeInstanceOf(AddressError);
      }),
      { numRuns: 2000 },
    );
  });
});

/** Attributes of a TLV run as [type, payload] pairs (nested runs parsed again by the caller). */
function attrs(b: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let a = 0; a + 4 <= b.length; ) {
    const len = b.readUInt16LE(a);
    if (len < 4) break;
    out.push([b.readUInt16LE(a + 2), b.subarray(a + 4, a + len)]);
    a += (len + 3) & ~3;
  }
  return out;
}
const attr = (b: Buffer, type: number) => attrs(b).find(([t]) => t === type)?.[1];

describe('netlink link and address messages', () => {
  it('creates a veth whose peer is born in another namespace (IFLA_NET_NS_FD inside VETH_INFO_PEER)', () => {
    const w = new NlWriter(256);
    encodeVethCreate(w, { name: 'tor0123456789a', mac: 'ee:ee:ee:ee:ee:ee', mtu: 1400, peerName: 'eth0', peerMtu: 1400, peerNetnsFd: 7 }, 9);
    const m = w.take();
    expect(m.readUInt32LE(0)).toBe(m.length);
    expect(m.readUInt16LE(4)).toBe(MsgType.NEWLINK);
    expect(m.readUInt16LE(6)).toBe(Flag.REQUEST | Flag.ACK | Flag.CREATE | Flag.EXCL);
    const top = m.subarray(16 + 16);
    expect(attr(top, LinkAttr.IFNAME)?.toString('latin1')).toBe('tor0123456789a\0');
    expect([...attr(top, LinkAttr.ADDRESS)!]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
    expect(attr(top, LinkAttr.MTU)?.readUInt32LE(0)).toBe(1400);
    const info = attr(top, LinkAttr.LINKINFO)!;
    expect(attr(info, 1)?.toString('latin1')).toBe('veth\0');
    const peer = attr(attr(info, 2)!, 1)!;
    const peerAttrs = peer.subarray(16); // after the peer's own ifinfomsg
    expect(attr(peerAttrs, LinkAttr.IFNAME)?.toString('latin1')).toBe('eth0\0');
    expect(attr(peerAttrs, LinkAttr.NET_NS_FD)?.readUInt32LE(0)).toBe(7);
  });

  it('sets addrgenmode none as a one-byte IFLA_INET6_ADDR_GEN_MODE, and up through the flags', () => {
    const w = new NlWriter(64);
    encodeLinkSet(w, { index: 42, noLinkLocal: true }, 1);
    encodeLinkSet(w, { index: 42, up: true }, 2);
    const b = w.take();
    const first = b.subarray(0, b.readUInt32LE(0));
    expect(first.readInt32LE(16 + 4)).toBe(42);
    const inet6 = attr(attr(first.subarray(32), LinkAttr.AF_SPEC)!, 10)!;
    expect(inet6.readUInt16LE(0)).toBe(5);
    expect(attr(inet6, 8)).toEqual(Buffer.from([1]));
    const second = b.subarray(first.length);
    expect(second.readUInt32LE(16 + 8) & IFF_UP).toBe(IFF_UP);
    expect(second.readUInt32LE(16 + 12) & IFF_UP).toBe(IFF_UP);
  });

  it('decodes the MAC address of a link', () => {
    const w = new NlWriter(64);
    const at = w.begin(MsgType.NEWLINK, 0, 3);
    w.u8s(0, 0, 0, 0);
    w.i32(5);
    w.u32(IFF_UP);
    w.u32(0);
    w.attrBytes(LinkAttr.IFNAME, Buffer.from('eth0\0'));
    w.attrBytes(LinkAttr.ADDRESS, Uint8Array.of(0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f));
    w.end(at);
    expect(decodeMessages(w.take())).toEqual([{ kind: 'link', type: MsgType.NEWLINK, seq: 3, link: { index: 5, name: 'eth0', up: true, mac: '0a:1b:2c:3d:4e:5f' } }]);
  });
});
