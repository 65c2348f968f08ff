/**
 * Malformed input: every RFC 4271 6.1-6.3 error the bytes alone decide, the RFC 7606 cases per
 * attribute, and the shapes of parser bugs published against other speakers. Each case checks the
 * NOTIFICATION code/subcode or the RFC 7606 action, and that the rest of the message still decodes
 * where the RFC says it should.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, defaultCodecContext } from '../../../src/bgp/wire/message.ts';
import { decodeUpdate, withdrawAll } from '../../../src/bgp/wire/update.ts';
import { prefixListToText } from '../../../src/bgp/wire/prefix.ts';
import type { CodecContext, UpdateDecodeResult } from '../../../src/bgp/wire/types.ts';
import { hex, message } from './fixtures.ts';

const clean = (s: string) => s.replace(/[\s|]/g, '');
const h16 = (n: number) => n.toString(16).padStart(4, '0');

/** An UPDATE from its three fields in hex; the two length fields are computed. */
function upd(withdrawn: string, attrs: string, nlri: string): Uint8Array {
  const w = clean(withdrawn);
  const a = clean(attrs);
  return hex(message(2, h16(w.length / 2) + w + h16(a.length / 2) + a + clean(nlri)));
}

const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fde9';
const NEXT_HOP = '40 03 04 0a000001';
const MANDATORY = ORIGIN + AS_PATH + NEXT_HOP;
const NLRI = '18 0a0000';

const ibgp = defaultCodecContext({ fourOctetAs: true });
const ebgp = defaultCodecContext({ fourOctetAs: true, ebgp: true });

function decode(msg: Uint8Array, ctx: CodecContext = ibgp): UpdateDecodeResult {
  return decodeUpdate(msg, ctx);
}

function outcome(r: UpdateDecodeResult) {
  return { action: r.action, first: r.errors.length ? { code: r.errors[0].code, subcode: r.errors[0].subcode } : null };
}

describe('RFC 4271 6.1: message header', () => {
  it('rejects a slice whose length disagrees with its header', () => {
    const ka = hex(message(4, ''));
    expect(decodeMessage(ka.subarray(0, 18), ibgp)).toMatchObject({ ok: false, error: { code: 1, subcode: 2 } });
    const twoKa = Uint8Array.from([...ka, ...ka]);
    expect(decodeMessage(twoKa, ibgp)).toMatchObject({ ok: false, error: { code: 1, subcode: 2 } });
  });

  it('rejects an OPEN shorter than 29 octets as Bad Message Length', () => {
    expect(decodeMessage(hex(message(1, '04 fde9 005a c0000201')), ibgp)).toMatchObject({ ok: false, error: { code: 1, subcode: 2 } });
  });
});

describe('RFC 4271 6.2: OPEN', () => {
  const open = (body: string) => decodeMessage(hex(message(1, body)), ibgp);

  it('rejects version 3 with the highest supported version as data', () => {
    expect(open('03 fde9 005a c0000201 00')).toMatchObject({ ok: false, error: { code: 2, subcode: 1, data: Uint8Array.of(0, 4) } });
  });

  it.each([1, 2])('rejects hold time %i as Unacceptable Hold Time', (t) => {
    expect(open(`04 fde9 ${h16(t)} c0000201 00`)).toMatchObject({ ok: false, error: { code: 2, subcode: 6 } });
  });

  it('rejects BGP identifier 0 (RFC 6286)', () => {
    expect(open('04 fde9 005a 00000000 00')).toMatchObject({ ok: false, error: { code: 2, subcode: 3 } });
  });

  it('keeps an optional parameter other than capabilities for the session to refuse (subcode 4)', () => {
    const r = open('04 fde9 005a c0000201 03 07 01 00');
    expect(r.ok && r.value.type === 'open' && r.value.otherParams).toEqual([{ type: 7, value: Uint8Array.of(0) }]);
  });

  it.each([
    ['an Optional Parameters Length longer than what follows (published parser bug)', '04 fde9 005a c0000201 08 02 02 02 00'],
    ['an Optional Parameters Length shorter than what follows', '04 fde9 005a c0000201 02 02 02 02 00'],
    ['a parameter that overruns the OPEN', '04 fde9 005a c0000201 04 02 09 02 00'],
    ['a capability that overruns its parameter', '04 fde9 005a c0000201 04 02 02 41 04'],
    ['a 4-octet AS capability of 2 octets', '04 fde9 005a c0000201 06 02 04 41 02 fde9'],
    ['a 4-octet AS capability of 0 octets', '04 fde9 005a c0000201 04 02 02 41 00'],
    ['a multiprotocol capability of 3 octets', '04 fde9 005a c0000201 07 02 05 01 03 000101'],
    ['an add-path Send/Receive value of 4', '04 fde9 005a c0000201 08 02 06 45 04 00010104'],
    ['an RFC 9072 length that disagrees with what follows', '04 fde9 005a c0000201 ff ff 0009 02 0002 02 00'],
  ])('rejects %s as OPEN Message Error', (_name, body) => {
    expect(open(body)).toMatchObject({ ok: false, error: { code: 2, subcode: 0 } });
  });
});

describe('RFC 4271 6.3 and RFC 7606: UPDATE', () => {
  it('resets the session when Withdrawn Routes Length runs past the message', () => {
    const m = hex(message(2, '0010 0000'));
    expect(outcome(decode(m))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 1 } });
  });

  it('resets the session when Total Path Attribute Length runs past the message', () => {
    const m = hex(message(2, '0000 0020 40010100'));
    expect(outcome(decode(m))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 1 } });
  });

  it('resets the session on an unrecognized well-known attribute', () => {
    expect(outcome(decode(upd('', MANDATORY + '40 30 01 00', NLRI)))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 2 } });
  });

  it.each([
    ['ORIGIN', AS_PATH + NEXT_HOP, 1],
    ['AS_PATH', ORIGIN + NEXT_HOP, 2],
    ['NEXT_HOP', ORIGIN + AS_PATH, 3],
  ])('treats a missing %s as withdraw when NLRI is present (RFC 7606 3d)', (_n, attrs, type) => {
    const r = decode(upd('', attrs, NLRI));
    expect(outcome(r)).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 3 } });
    expect(r.errors[0].data).toEqual(Uint8Array.of(type));
  });

  it('does not ask for NEXT_HOP when the routes come in MP_REACH_NLRI', () => {
    const mp = '90 0e 001a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8';
    expect(decode(upd('', ORIGIN + AS_PATH + mp, '')).errors).toEqual([]);
  });

  it('asks for nothing in an UPDATE that only withdraws', () => {
    expect(decode(upd('18 0a0000', '', '')).errors).toEqual([]);
  });

  it('treats an invalid ORIGIN value as withdraw (subcode 6)', () => {
    expect(outcome(decode(upd('', '40 01 01 03' + AS_PATH + NEXT_HOP, NLRI)))).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 6 } });
  });

  it.each(['00000000', 'e0000001', 'ffffffff'])('treats NEXT_HOP %s as withdraw (Invalid NEXT_HOP Attribute)', (nh) => {
    expect(outcome(decode(upd('', ORIGIN + AS_PATH + '40 03 04' + nh, NLRI)))).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 8 } });
  });

  it('resets the session on an NLRI prefix length over 32 (Invalid Network Field)', () => {
    expect(outcome(decode(upd('', MANDATORY, '21 0a000000 00')))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 10 } });
  });

  it('resets the session on a withdrawn prefix cut short', () => {
    expect(outcome(decode(upd('18 0a00', '', '')))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 10 } });
  });

  it('resets the session on trailing octets after the last NLRI prefix', () => {
    expect(outcome(decode(upd('', MANDATORY, NLRI + '18')))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 10 } });
  });

  it.each([
    ['a segment overrunning the attribute', '40 02 06 02 02 0000fde9'],
    ['an unknown segment type', '40 02 06 05 01 0000fde9'],
    ['a segment with no AS numbers', '40 02 02 02 00'],
    ['a trailing octet after the last segment', '40 02 07 02 01 0000fde9 02'],
  ])('treats an AS_PATH with %s as withdraw (Malformed AS_PATH)', (_n, asPath) => {
    expect(outcome(decode(upd('', ORIGIN + asPath + NEXT_HOP, NLRI)))).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 11 } });
  });

  it('reads AS_PATH with 2-octet ASNs on a session without the 4-octet AS capability', () => {
    const r = decode(upd('', ORIGIN + '40 02 06 02 02 fde9 fdea' + NEXT_HOP, NLRI), defaultCodecContext());
    expect(r.errors).toEqual([]);
    expect(r.update.attrs.asPath).toEqual([{ type: 2, asns: [65001, 65002] }]);
  });

  // RFC 7606 7: one row per attribute, a value of the wrong length, and the outcome it must have.
  it.each([
    ['ORIGIN', '40 01 02 0000', 'treat-as-withdraw', 5, AS_PATH + NEXT_HOP],
    ['NEXT_HOP', '40 03 05 0a00000100', 'treat-as-withdraw', 5, ORIGIN + AS_PATH],
    ['MULTI_EXIT_DISC', '80 04 03 000064', 'treat-as-withdraw', 5],
    ['LOCAL_PREF', '40 05 02 0064', 'treat-as-withdraw', 5],
    ['ATOMIC_AGGREGATE', '40 06 01 00', 'attribute-discard', 5],
    ['AGGREGATOR', 'c0 07 06 fde9 0a000001', 'attribute-discard', 5],
    ['COMMUNITIES', 'c0 08 05 fde8000100', 'treat-as-withdraw', 9],
    ['COMMUNITIES (empty)', 'c0 08 00', 'treat-as-withdraw', 9],
    ['ORIGINATOR_ID', '80 09 03 0a0000', 'treat-as-withdraw', 5],
    ['CLUSTER_LIST', '80 0a 06 0a0000010a00', 'treat-as-withdraw', 9],
    ['MP_REACH_NLRI (too short)', '80 0e 03 000201', 'session-reset', 9],
    ['MP_UNREACH_NLRI (too short)', '80 0f 02 0002', 'session-reset', 9],
    ['EXTENDED_COMMUNITIES', 'c0 10 07 0002fde9000000', 'treat-as-withdraw', 9],
    ['LARGE_COMMUNITY', 'c0 20 08 0000fde900000001', 'treat-as-withdraw', 9],
  ] as Array<[string, string, string, number, string?]>)('%s with a wrong length: %s', (_n, attr, action, subcode, others = MANDATORY) => {
    const r = decode(upd('', others + attr, NLRI));
    expect(outcome(r)).toEqual({ action, first: { code: 3, subcode } });
    expect(r.errors[0].data).toEqual(hex(attr)); // RFC 4271 6.3: the attribute is the data
  });

  it('discards a malformed AS4_PATH and AS4_AGGREGATOR and keeps AS_PATH (RFC 6793 6)', () => {
    const ctx = defaultCodecContext();
    const r = decode(upd('', ORIGIN + '40 02 04 02 01 5ba0' + NEXT_HOP + 'c0 11 05 02 01 0000fd' + 'c0 12 05 0000fde9 00', NLRI), ctx);
    expect(r.action).toBe('attribute-discard');
    expect(r.errors.map((e) => e.attrType)).toEqual([17, 18]);
    expect(r.update.attrs.asPath).toEqual([{ type: 2, asns: [23456] }]);
  });

  it('ignores an AS4_PATH longer than AS_PATH (RFC 6793 4.2.3)', () => {
    const r = decode(upd('', ORIGIN + '40 02 04 02 01 fde9' + NEXT_HOP + 'c0 11 0a 02 02 0000fde9 0000fdea', NLRI), defaultCodecContext());
    expect(r.update.attrs.asPath).toEqual([{ type: 2, asns: [65001] }]);
  });

  it('keeps the first of duplicate attributes and drops the rest (RFC 7606 3g)', () => {
    const r = decode(upd('', MANDATORY + '40 01 01 02', NLRI));
    expect(r.action).toBe('attribute-discard');
    expect(r.update.attrs.origin).toBe(0);
  });

  it('resets the session on a duplicate MP_REACH_NLRI (RFC 7606 3g)', () => {
    const mp = '90 0e 001a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8';
    expect(outcome(decode(upd('', ORIGIN + AS_PATH + mp + mp, '')))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 1 } });
  });

  it.each([
    ['an IPv6 next hop of 4 octets', '90 0e 000d 0002 01 04 0a000001 00 20 20010db8'],
    ['an IPv4 next hop of 16 octets without extended next hop', '90 0e 0019 0001 01 10 20010db8000000000000000000000001 00 18 0a0000'],
    ['a next hop length overrunning the attribute', '90 0e 0008 0002 01 20 20010db8'],
    ['a next hop length of 0', '90 0e 0009 0002 01 00 00 20 20010db8'],
    ['an NLRI prefix length of 129', '90 0e 0016 0002 01 10 20010db8000000000000000000000001 00 81'],
  ])('resets the session on MP_REACH_NLRI with %s (RFC 7606 7.11)', (_n, mp) => {
    expect(outcome(decode(upd('', ORIGIN + AS_PATH + mp, '')))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 9 } });
  });

  it('accepts an IPv6 next hop for IPv4 routes with RFC 8950 extended next hop', () => {
    const ctx = defaultCodecContext({ fourOctetAs: true, extendedNextHop: new Set(['1/1']) });
    const mp = '90 0e 0019 0001 01 10 20010db8000000000000000000000001 00 18 0a0000';
    const r = decode(upd('', ORIGIN + AS_PATH + mp, ''), ctx);
    expect(r.errors).toEqual([]);
    expect(r.update.attrs.mpReach?.nextHop).toBe('2001:db8::1');
  });

  it('ignores MP_REACH_NLRI of a family it does not speak, recording why', () => {
    const r = decode(upd('', ORIGIN + AS_PATH + '90 0e 0009 0001 80 04 0a000001 00', ''));
    expect(r.action).toBe('attribute-discard');
    expect(r.update.attrs.mpReach).toBeUndefined();
  });

  it('treats an attribute overrunning the attribute area as withdraw and still finds the NLRI (RFC 7606 4)', () => {
    const attrs = clean(MANDATORY + 'c0 08 08 fde80001');
    const r = decode(upd('', attrs, NLRI));
    expect(outcome(r)).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 5 } });
    expect(prefixListToText(withdrawAll(r.update).withdrawn)).toEqual(['10.0.0.0/24']);
  });

  it('treats fewer than three octets left in the attribute area as withdraw (RFC 7606 4)', () => {
    expect(outcome(decode(upd('', MANDATORY + '40 01', NLRI)))).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 1 } });
  });

  it('ignores the reserved flag bits (RFC 7606 3c)', () => {
    expect(decode(upd('', '4f 01 01 00' + AS_PATH + NEXT_HOP, NLRI)).errors).toEqual([]);
  });

  it('reads an attribute sent with the Extended Length bit though short', () => {
    const r = decode(upd('', '50 01 0001 00' + AS_PATH + NEXT_HOP, NLRI));
    expect(r.errors).toEqual([]);
    expect(r.update.attrs.origin).toBe(0);
  });

  it.each([
    ['MULTI_EXIT_DISC flagged transitive', 'c0 04 04 00000064', 'treat-as-withdraw'],
    ['ATOMIC_AGGREGATE flagged optional', 'c0 06 00', 'attribute-discard'],
    ['COMMUNITIES flagged non-transitive', '80 08 04 fde80001', 'treat-as-withdraw'],
    ['MP_UNREACH_NLRI flagged transitive', 'c0 0f 03 000201', 'session-reset'],
  ])('treats %s as an Attribute Flags Error with the attribute’s outcome', (_n, attr, action) => {
    expect(outcome(decode(upd('', MANDATORY + attr, NLRI)))).toEqual({ action, first: { code: 3, subcode: 4 } });
  });

  it('passes unknown optional transitive attributes on and drops unknown non-transitive ones (RFC 4271 5)', () => {
    const r = decode(upd('', MANDATORY + 'c0 63 02 abcd' + '80 64 02 abcd', NLRI));
    expect(r.errors).toEqual([]);
    expect(r.update.attrs.unknown).toEqual([{ flags: 0xc0, type: 99, value: hex('abcd') }]);
  });
});

describe('RFC 7606 7: rules for external peers', () => {
  it.each([
    ['LOCAL_PREF', '40 05 04 00000064', 'localPref'],
    ['ORIGINATOR_ID', '80 09 04 0a000001', 'originatorId'],
    ['CLUSTER_LIST', '80 0a 04 0a000001', 'clusterList'],
  ] as const)('discards %s from an external peer and keeps the route', (_n, attr, field) => {
    const r = decode(upd('', MANDATORY + attr, NLRI), ebgp);
    expect(r.action).toBe('attribute-discard');
    expect(r.update.attrs[field]).toBeUndefined();
    expect(decode(upd('', MANDATORY + attr, NLRI), ibgp).update.attrs[field]).toBeDefined();
  });

  it('treats confederation segments from an external peer as withdraw', () => {
    const asPath = '40 02 0c 03 01 0000fdf2 02 01 0000fde9';
    expect(decode(upd('', ORIGIN + asPath + NEXT_HOP, NLRI), ebgp).action).toBe('treat-as-withdraw');
    expect(decode(upd('', ORIGIN + asPath + NEXT_HOP, NLRI), ibgp).action).toBeNull();
  });
});

describe('shapes of published parser bugs in other speakers', () => {
  it('passes a corrupt tunnel encapsulation attribute (type 23) through opaque, decoding the rest', () => {
    // TLV type 7 claiming 255 octets of sub-TLVs with 2 present: a speaker that parses it may crash.
    const r = decode(upd('', MANDATORY + 'c0 17 06 0007 00ff 0102', NLRI));
    expect(r.errors).toEqual([]);
    expect(r.update.attrs.unknown).toEqual([{ flags: 0xc0, type: 23, value: hex('000700ff0102') }]);
    expect(prefixListToText(r.update.nlri)).toEqual(['10.0.0.0/24']);
  });

  it('treats a tunnel encapsulation attribute overrunning the attribute area as withdraw', () => {
    expect(decode(upd('', MANDATORY + 'd0 17 0100 0007', NLRI)).action).toBe('treat-as-withdraw');
  });

  it('treats Total Path Attribute Length 0 with NLRI present as withdraw, every prefix withdrawn', () => {
    const m = upd('', '', NLRI + '10 ac10');
    const r = decodeMessage(m, ibgp);
    expect(r.ok && r.update?.action).toBe('treat-as-withdraw');
    expect(r.ok && r.value.type === 'update' && [prefixListToText(r.value.withdrawn), r.value.nlri.count, r.value.attrs]).toEqual([['10.0.0.0/24', '172.16.0.0/16'], 0, {}]);
  });

  it('discards AS4_PATH sent without the Optional flag, keeping the route', () => {
    const r = decode(upd('', ORIGIN + '40 02 04 02 01 5ba0' + NEXT_HOP + '40 11 06 02 01 fa56ea01', NLRI), defaultCodecContext());
    expect(outcome(r)).toEqual({ action: 'attribute-discard', first: { code: 3, subcode: 4 } });
    expect(r.update.attrs.asPath).toEqual([{ type: 2, asns: [23456] }]);
  });

  it('treats ORIGIN flagged optional as withdraw', () => {
    expect(outcome(decode(upd('', 'c0 01 01 00' + AS_PATH + NEXT_HOP, NLRI)))).toEqual({ action: 'treat-as-withdraw', first: { code: 3, subcode: 4 } });
  });

  it('treats MP_UNREACH_NLRI with extra IPv4 NLRI and no mandatory attributes as withdraw of everything', () => {
    const m = upd('', '90 0f 0008 0002 01 20 20010db8', NLRI);
    const r = decodeMessage(m, ibgp);
    expect(r.ok && r.update?.action).toBe('treat-as-withdraw');
    if (!r.ok || r.value.type !== 'update') throw new Error('expected an UPDATE');
    expect(prefixListToText(r.value.withdrawn)).toEqual(['10.0.0.0/24']);
    expect(prefixListToText(r.value.attrs.mpUnreach!.withdrawn)).toEqual(['2001:db8::/32']);
  });

  it('resets the session on MP_UNREACH_NLRI whose withdrawn field ends in a stray octet', () => {
    expect(outcome(decode(upd('', '90 0f 0009 0002 01 20 20010db8 30', '')))).toEqual({ action: 'session-reset', first: { code: 3, subcode: 9 } });
  });
});

describe('NOTIFICATION and ROUTE-REFRESH', () => {
  it('keeps a NOTIFICATION whose shutdown communication length is wrong, without a communication', () => {
    const r = decodeMessage(hex(message(3, '06 02 0a 6869')), ibgp);
    expect(r).toMatchObject({ ok: true, value: { code: 6, subcode: 2, data: hex('0a6869') } });
    expect(r.ok && r.value.type === 'notification' && r.value.communication).toBeUndefined();
  });

  it('keeps a NOTIFICATION whose shutdown communication is not UTF-8, without a communication', () => {
    const r = decodeMessage(hex(message(3, '06 04 02 c328')), ibgp);
    expect(r.ok && r.value.type === 'notification' && r.value.communication).toBeUndefined();
  });

  it('rejects a ROUTE-REFRESH of 24 octets with the whole message as data (RFC 7313 5)', () => {
    const m = hex(message(5, '0001 01 01 00'));
    expect(decodeMessage(m, ibgp)).toMatchObject({ ok: false, error: { code: 7, subcode: 1, data: m } });
  });
});
