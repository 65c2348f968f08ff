import { describe, expect, it } from 'vitest';
import { decodeMessage, defaultCodecContext } from '../../../src/bgp/wire/message.ts';
import { encodeAnnouncements, encodeEndOfRib, encodeUpdate, encodeWithdrawals, endOfRibFamily, decodeUpdate } from '../../../src/bgp/wire/update.ts';
import { EncodeError } from '../../../src/bgp/wire/errors.ts';
import { prefixListToText } from '../../../src/bgp/wire/prefix.ts';
import type { CodecContext, PathAttributes, PrefixList, UpdateMessage } from '../../../src/bgp/wire/types.ts';

function slash24s(count: number, pathIds = false): PrefixList {
  const addrs = new Uint32Array(count);
  for (let i = 0; i < count; i++) addrs[i] = (0x0a000000 + i * 256) >>> 0;
  return { afi: 1, count, addrs, lens: new Uint8Array(count).fill(24), pathIds: pathIds ? Uint32Array.from({ length: count }, (_, i) => i + 1) : null };
}

function slash48s(count: number): PrefixList {
  const addrs = new Uint32Array(4 * count);
  for (let i = 0; i < count; i++) {
    addrs[4 * i] = 0x20010db8;
    addrs[4 * i + 1] = i << 16;
  }
  return { afi: 2, count, addrs, lens: new Uint8Array(count).fill(48), pathIds: null };
}

const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '192.0.2.1', communities: [1, 2, 3] };
const ctx = defaultCodecContext({ fourOctetAs: true });

function decodeAll(msgs: Uint8Array[], c: CodecContext): UpdateMessage[] {
  return msgs.map((m) => {
    const r = decodeMessage(m, c);
    if (!r.ok || r.value.type !== 'update' || r.update?.errors.length) throw new Error(`bad packed message: ${JSON.stringify(r)}`);
    return r.value;
  });
}

describe('encodeAnnouncements', () => {
  it('packs IPv4 prefixes into full 4096-octet UPDATEs, every prefix exactly once, in order', () => {
    const list = slash24s(3000);
    const msgs = encodeAnnouncements(attrs, list, ctx);
    expect(msgs.length).toBeGreaterThan(1);
    for (const m of msgs.slice(0, -1)) expect(m.length).toBeGreaterThan(4096 - 4); // a /24 takes 4 octets
    for (const m of msgs) expect(m.length).toBeLessThanOrEqual(4096);
    const got = decodeAll(msgs, ctx).flatMap((u) => {
      expect(u.attrs).toEqual(attrs);
      return prefixListToText(u.nlri);
    });
    expect(got).toEqual(prefixListToText(list));
  });

  it('packs up to 65535 octets once extended message is negotiated (RFC 8654)', () => {
    const ext = defaultCodecContext({ fourOctetAs: true, extendedMessage: true });
    const msgs = encodeAnnouncements(attrs, slash24s(20000), ext);
    expect(msgs[0].length).toBeGreaterThan(65535 - 4);
    expect(Math.max(...msgs.map((m) => m.length))).toBeLessThanOrEqual(65535);
    expect(decodeAll(msgs, ext).reduce((n, u) => n + u.nlri.count, 0)).toBe(20000);
  });

  it('packs IPv6 prefixes into MP_REACH_NLRI with the next hop of attrs.mpReach', () => {
    const list = slash48s(2000);
    const a: PathAttributes = { origin: 0, asPath: [], mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', nlri: slash48s(0) } };
    const msgs = encodeAnnouncements(a, list, ctx);
    for (const m of msgs) expect(m.length).toBeLessThanOrEqual(4096);
    expect(msgs[0].length).toBeGreaterThan(4096 - 7);
    const updates = decodeAll(msgs, ctx);
    expect(updates.every((u) => u.attrs.mpReach?.nextHop === '2001:db8::1' && u.nlri.count === 0)).toBe(true);
    expect(updates.flatMap((u) => prefixListToText(u.attrs.mpReach!.nlri))).toEqual(prefixListToText(list));
  });

  it('does not pin a 64 KiB buffer behind a short message', () => {
    const ext = defaultCodecContext({ fourOctetAs: true, extendedMessage: true });
    const [one] = encodeAnnouncements(attrs, slash24s(3), ext);
    expect(one.buffer.byteLength).toBe(one.length);
  });

  it('sends path identifiers where add-path send applies (RFC 7911)', () => {
    const ap = defaultCodecContext({ fourOctetAs: true, addPathSend: new Set(['1/1']), addPathReceive: new Set(['1/1']) });
    const list = slash24s(1500, true);
    const updates = decodeAll(encodeAnnouncements(attrs, list, ap), ap);
    expect(updates.flatMap((u) => Array.from(u.nlri.pathIds!))).toEqual(Array.from(list.pathIds!));
  });

  it('refuses IPv6 prefixes without a next hop', () => {
    expect(() => encodeAnnouncements(attrs, slash48s(1), ctx)).toThrow(EncodeError);
  });

  it('refuses an attribute set too large for one prefix to fit', () => {
    const huge: PathAttributes = { ...attrs, communities: Array.from({ length: 1100 }, (_, i) => i) };
    expect(() => encodeAnnouncements(huge, slash24s(1), ctx)).toThrow(/does not fit/);
  });
});

describe('encodeWithdrawals', () => {
  it('batches IPv4 withdrawals into the Withdrawn Routes field', () => {
    const list = slash24s(2500);
    const msgs = encodeWithdrawals(list, ctx);
    expect(msgs.length).toBe(3);
    for (const m of msgs) expect(m.length).toBeLessThanOrEqual(4096);
    expect(decodeAll(msgs, ctx).flatMap((u) => prefixListToText(u.withdrawn))).toEqual(prefixListToText(list));
  });

  it('batches IPv6 withdrawals into MP_UNREACH_NLRI', () => {
    const list = slash48s(1000);
    const msgs = encodeWithdrawals(list, ctx);
    for (const m of msgs) expect(m.length).toBeLessThanOrEqual(4096);
    expect(decodeAll(msgs, ctx).flatMap((u) => prefixListToText(u.attrs.mpUnreach!.withdrawn))).toEqual(prefixListToText(list));
  });
});

describe('End-of-RIB (RFC 4724 2)', () => {
  it.each([
    [1, 1],
    [2, 1],
  ] as const)('recognizes its own marker for AFI %i SAFI %i', (afi, safi) => {
    const r = decodeUpdate(encodeEndOfRib({ afi, safi }), ctx);
    expect(endOfRibFamily(r.update)).toEqual({ afi, safi });
  });

  it('does not take an UPDATE with routes for an End-of-RIB', () => {
    const m = encodeAnnouncements(attrs, slash24s(1), ctx)[0];
    expect(endOfRibFamily(decodeUpdate(m, ctx).update)).toBeNull();
    const w = encodeWithdrawals(slash48s(1), ctx)[0];
    expect(endOfRibFamily(decodeUpdate(w, ctx).update)).toBeNull();
  });
});

describe('encodeUpdate', () => {
  it('throws message-too-long rather than sending an oversized UPDATE', () => {
    const msg: UpdateMessage = { type: 'update', withdrawn: slash24s(0), attrs, nlri: slash24s(1200) };
    expect(() => encodeUpdate(msg, ctx)).toThrow(expect.objectContaining({ code: 'message-too-long' }));
  });

  it('sends AS_TRANS with AS4_PATH and AS4_AGGREGATOR to a 2-octet peer, and the peer rebuilds the path (RFC 6793)', () => {
    const old = defaultCodecContext();
    const a: PathAttributes = {
      origin: 0,
      asPath: [
        { type: 2, asns: [65001, 4200000001] },
        { type: 1, asns: [4200000002, 65002] },
      ],
      nextHop: '10.0.0.1',
      aggregator: { asn: 4200000003, address: '10.0.0.2' },
    };
    const m = encodeUpdate({ type: 'update', withdrawn: slash24s(0), attrs: a, nlri: slash24s(1) }, old);
    const r = decodeUpdate(m, old);
    expect(r.errors).toEqual([]);
    expect(r.update.attrs).toEqual(a);
  });

  it('splits AS_PATH segments longer than 255 ASNs', () => {
    const long = Array.from({ length: 300 }, (_, i) => 64512 + i);
    const m = encodeUpdate({ type: 'update', withdrawn: slash24s(0), attrs: { ...attrs, asPath: [{ type: 2, asns: long }] }, nlri: slash24s(1) }, ctx);
    const r = decodeUpdate(m, ctx);
    expect(r.update.attrs.asPath?.map((s) => s.asns.length)).toEqual([255, 45]);
    expect(r.update.attrs.asPath?.flatMap((s) => s.asns)).toEqual(long);
  });
});
