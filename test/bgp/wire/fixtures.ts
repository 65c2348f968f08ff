/**
 * Golden messages: hex written by hand from the RFCs' field layouts (not produced by our encoder),
 * each with the message it must decode to. `golden.test.ts` checks every one three ways: decode,
 * encode, and decode(encode(x)) == x. Between them they carry every message type, capability and
 * path attribute the codec knows.
 */
import { prefixListFromText } from '../../../src/bgp/wire/prefix.ts';
import { defaultCodecContext } from '../../../src/bgp/wire/message.ts';
import { encodeEndOfRib } from '../../../src/bgp/wire/update.ts';
import type { Safi } from '../../../src/bgp/wire/constants.ts';
import type { Capability, CodecContext, Message, PathAttributes } from '../../../src/bgp/wire/types.ts';

/** Bytes of hex text; spaces and `|` are for reading only. */
export function hex(s: string): Uint8Array {
  const t = s.replace(/[\s|]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(t)) throw new Error(`bad hex: ${s}`);
  return Uint8Array.from(Buffer.from(t, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

/** A whole message: the 16-octet marker, the length (computed), the type, then `body`. */
export function message(type: number, body: string): string {
  const b = body.replace(/[\s|]/g, '');
  const length = 19 + b.length / 2;
  return `${'ff'.repeat(16)} ${length.toString(16).padStart(4, '0')} ${type.toString(16).padStart(2, '0')} ${b}`;
}

export interface Fixture {
  name: string;
  hex: string;
  ctx: CodecContext;
  message: Message;
  /** How to encode `message` back to `hex` when encodeMessage is not the way. */
  encode?: () => Uint8Array;
}

const v4 = (...p: string[]) => prefixListFromText(p);
const v6 = (...p: string[]) => prefixListFromText(p, undefined, 2);
const none4 = v4();
const ibgp4 = defaultCodecContext({ fourOctetAs: true });
const old2 = defaultCodecContext({ fourOctetAs: false });
const addPath = defaultCodecContext({ fourOctetAs: true, addPathReceive: new Set(['1/1']), addPathSend: new Set(['1/1']) });

export const FIXTURES: Fixture[] = [
  { name: 'KEEPALIVE', hex: message(4, ''), ctx: ibgp4, message: { type: 'keepalive' } },
  {
    name: 'OPEN with every capability',
    hex: message(
      1,
      `04 fde9 005a c0000201 3f
       02 3d
         01 04 0001 00 01
         01 04 0002 00 01
         02 00
         46 00
         06 00
         41 04 fa56ea00
         40 0a c078 0001 01 80 0002 01 00
         45 08 0001 01 03 0002 01 01
         05 06 0001 0001 0002
         49 05 03666f6f00`,
    ),
    ctx: ibgp4,
    message: {
      type: 'open',
      version: 4,
      myAsn: 65001,
      holdTime: 90,
      bgpId: 0xc0000201,
      capabilities: [
        { kind: 'multiprotocol', afi: 1, safi: 1 },
        { kind: 'multiprotocol', afi: 2, safi: 1 },
        { kind: 'route-refresh' },
        { kind: 'enhanced-route-refresh' },
        { kind: 'extended-message' },
        { kind: 'four-octet-as', asn: 4200000000 },
        {
          kind: 'graceful-restart',
          restarting: true,
          notification: true,
          restartTime: 120,
          families: [
            { afi: 1, safi: 1, forwardingPreserved: true },
            { afi: 2, safi: 1, forwardingPreserved: false },
          ],
        },
        {
          kind: 'add-path',
          families: [
            { afi: 1, safi: 1, sendReceive: 3 },
            { afi: 2, safi: 1, sendReceive: 1 },
          ],
        },
        { kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
        { kind: 'unknown', code: 73, value: hex('03666f6f00') },
      ],
    },
  },
  {
    name: 'OPEN with another optional parameter',
    hex: message(1, '04 fde9 00b4 0a000001 0c  02 06 41 04 0000fde9  01 02 abcd'),
    ctx: ibgp4,
    message: {
      type: 'open',
      version: 4,
      myAsn: 65001,
      holdTime: 180,
      bgpId: 0x0a000001,
      capabilities: [{ kind: 'four-octet-as', asn: 65001 }],
      otherParams: [{ type: 1, value: hex('abcd') }],
    },
  },
  {
    name: 'OPEN with RFC 9072 extended optional parameters length',
    hex: message(1, '04 5ba0 00f0 0a000002 ff ff 000b  02 0008 41 04 00010000 02 00'),
    ctx: ibgp4,
    message: {
      type: 'open',
      version: 4,
      myAsn: 23456,
      holdTime: 240,
      bgpId: 0x0a000002,
      capabilities: [{ kind: 'four-octet-as', asn: 65536 }, { kind: 'route-refresh' }],
      extendedOptionalParameters: true,
    },
  },
  {
    name: 'OPEN without optional parameters, hold time 0',
    hex: message(1, '04 0001 0000 01010101 00'),
    ctx: ibgp4,
    message: { type: 'open', version: 4, myAsn: 1, holdTime: 0, bgpId: 0x01010101, capabilities: [] },
  },
  {
    name: 'NOTIFICATION Hold Timer Expired',
    hex: message(3, '04 00'),
    ctx: ibgp4,
    message: { type: 'notification', code: 4, subcode: 0, data: hex('') },
  },
  {
    name: 'NOTIFICATION Cease/Administrative Shutdown with an RFC 9003 communication',
    hex: message(3, '06 02 0b 6d61696e74656e616e6365'),
    ctx: ibgp4,
    message: { type: 'notification', code: 6, subcode: 2, data: hex('0b6d61696e74656e616e6365'), communication: 'maintenance' },
  },
  {
    name: 'NOTIFICATION UPDATE error with the offending attribute as data',
    hex: message(3, '03 0b 40020401fde9'),
    ctx: ibgp4,
    message: { type: 'notification', code: 3, subcode: 11, data: hex('40020401fde9') },
  },
  {
    name: 'NOTIFICATION Cease/Hard Reset (RFC 8538) wrapping Cease/Administrative Reset',
    hex: message(3, '06 09 0604'),
    ctx: ibgp4,
    message: { type: 'notification', code: 6, subcode: 9, data: hex('0604') },
  },
  { name: 'ROUTE-REFRESH IPv4 unicast', hex: message(5, '0001 00 01'), ctx: ibgp4, message: { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 } },
  { name: 'ROUTE-REFRESH BoRR IPv6 unicast', hex: message(5, '0002 01 01'), ctx: ibgp4, message: { type: 'route-refresh', afi: 2, safi: 1, subtype: 1 } },
  { name: 'ROUTE-REFRESH EoRR IPv6 unicast', hex: message(5, '0002 02 01'), ctx: ibgp4, message: { type: 'route-refresh', afi: 2, safi: 1, subtype: 2 } },
  {
    name: 'UPDATE IPv4 with every attribute, withdrawals and NLRI',
    hex: message(
      2,
      `0007 18 0a0100 10 ac10
       0077
         40 01 01 00
         40 02 10 02 01 fa56ea01 01 02 0000fde9 0000fdea
         40 03 04 c0000201
         80 04 04 00000064
         40 05 04 000000c8
         40 06 00
         c0 07 08 0000fde9 c0000202
         c0 08 08 fde80001 fde80002
         80 09 04 c0000203
         80 0a 08 c0000204 c0000205
         c0 10 08 0002fde900000064
         c0 20 0c 0000fde9 00000001 00000002
         e0 63 03 010203
       18 0a0000 20 c0000264 00`,
    ),
    ctx: ibgp4,
    message: {
      type: 'update',
      withdrawn: v4('10.1.0.0/24', '172.16.0.0/16'),
      attrs: {
        origin: 0,
        asPath: [
          { type: 2, asns: [4200000001] },
          { type: 1, asns: [65001, 65002] },
        ],
        nextHop: '192.0.2.1',
        med: 100,
        localPref: 200,
        atomicAggregate: true,
        aggregator: { asn: 65001, address: '192.0.2.2' },
        communities: [0xfde80001, 0xfde80002],
        originatorId: 0xc0000203,
        clusterList: [0xc0000204, 0xc0000205],
        extendedCommunities: [hex('0002fde900000064')],
        largeCommunities: [[65001, 1, 2]],
        unknown: [{ flags: 0xe0, type: 99, value: hex('010203') }],
      },
      nlri: v4('10.0.0.0/24', '192.0.2.100/32', '0.0.0.0/0'),
    },
  },
  {
    name: 'UPDATE to a 2-octet-AS peer: AS_TRANS with AS4_PATH and AS4_AGGREGATOR (RFC 6793)',
    hex: message(
      2,
      `0000 003b
         40 01 01 02
         40 02 08 02 03 fde9 5ba0 fdea
         40 03 04 0a000001
         c0 07 06 5ba0 c0000202
         c0 11 0e 02 03 0000fde9 fa56ea01 0000fdea
         c0 12 08 fa56ea02 c0000202
       16 c63364`,
    ),
    ctx: old2,
    message: {
      type: 'update',
      withdrawn: none4,
      attrs: {
        origin: 2,
        asPath: [{ type: 2, asns: [65001, 4200000001, 65002] }],
        nextHop: '10.0.0.1',
        aggregator: { asn: 4200000002, address: '192.0.2.2' },
      },
      nlri: v4('198.51.100.0/22'),
    },
  },
  {
    name: 'UPDATE IPv6: MP_UNREACH_NLRI and MP_REACH_NLRI with a link-local next hop',
    hex: message(
      2,
      `0000 0059
         90 0f 000f 0002 01 20 20010db8 30 20010db8ffff
         90 0e 0035 0002 01 20 20010db8000000000000000000000001 fe800000000000000000000000000001 00
                    30 20010db80001 40 20010db800020000
         40 01 01 00
         40 02 06 02 01 0000fde9`,
    ),
    ctx: ibgp4,
    message: {
      type: 'update',
      withdrawn: none4,
      attrs: {
        mpUnreach: { afi: 2, safi: 1, withdrawn: v6('2001:db8::/32', '2001:db8:ffff::/48') },
        mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', nlri: v6('2001:db8:1::/48', '2001:db8:2::/64') },
        origin: 0,
        asPath: [{ type: 2, asns: [65001] }],
      },
      nlri: none4,
    },
  },
  {
    name: 'UPDATE IPv4 with add-path path identifiers (RFC 7911)',
    hex: message(2, '0008 00000001 18 0a0100  000e 40 01 01 00 40 02 00 40 03 04 0a000001  00000002 18 0a0000 00000003 18 0a0000'),
    ctx: addPath,
    message: {
      type: 'update',
      withdrawn: prefixListFromText(['10.1.0.0/24'], [1]),
      attrs: { origin: 0, asPath: [], nextHop: '10.0.0.1' },
      nlri: prefixListFromText(['10.0.0.0/24', '10.0.0.0/24'], [2, 3]),
    },
  },
  {
    name: 'UPDATE with confederation segments (RFC 5065) from an internal peer',
    hex: message(2, '0000 0020 40 01 01 00 40 02 12 03 01 0000fdf2 04 01 0000fdf3 02 01 0000fde9 40 03 04 0a000001 18 0a0000'),
    ctx: ibgp4,
    message: {
      type: 'update',
      withdrawn: none4,
      attrs: {
        origin: 0,
        asPath: [
          { type: 3, asns: [65010] },
          { type: 4, asns: [65011] },
          { type: 2, asns: [65001] },
        ],
        nextHop: '10.0.0.1',
      },
      nlri: v4('10.0.0.0/24'),
    },
  },
  {
    name: 'UPDATE End-of-RIB IPv4 unicast (RFC 4724)',
    hex: message(2, '0000 0000'),
    ctx: ibgp4,
    message: { type: 'update', withdrawn: none4, attrs: {}, nlri: none4 },
    encode: () => encodeEndOfRib({ afi: 1, safi: 1 }),
  },
  {
    name: 'UPDATE End-of-RIB IPv6 unicast (RFC 4724)',
    hex: message(2, '0000 0006 80 0f 03 0002 01'),
    ctx: ibgp4,
    message: { type: 'update', withdrawn: none4, attrs: { mpUnreach: { afi: 2, safi: 1, withdrawn: v6() } }, nlri: none4 },
    encode: () => encodeEndOfRib({ afi: 2, safi: 1 }),
  },
];

// ---------------------------------------------------------------------------------------------
// One fixture per capability and per path attribute, so that a failure names the one at fault.

const NH6 = '20010db8000000000000000000000001';

function len8(h: string): string {
  return (h.replace(/[\s|]/g, '').length / 2).toString(16).padStart(2, '0');
}

/** An OPEN carrying one capability (code, value hex) in one Capabilities parameter. */
function capabilityFixture(name: string, code: number, value: string, cap: Capability): Fixture {
  const c = `${code.toString(16).padStart(2, '0')} ${len8(value)} ${value}`;
  const param = `02 ${len8(c)} ${c}`;
  return {
    name: `capability ${name}`,
    hex: message(1, `04 fde9 005a c0000201 ${len8(param)} ${param}`),
    ctx: ibgp4,
    message: { type: 'open', version: 4, myAsn: 65001, holdTime: 90, bgpId: 0xc0000201, capabilities: [cap] },
  };
}

/** An UPDATE without NLRI carrying the attributes `attrHex` (flags, type, length, value). */
function attributeFixture(name: string, attrHex: string, attrs: PathAttributes, ctx: CodecContext = ibgp4): Fixture {
  const a = attrHex.replace(/[\s|]/g, '');
  return { name: `attribute ${name}`, hex: message(2, `0000 ${(a.length / 2).toString(16).padStart(4, '0')} ${a}`), ctx, message: { type: 'update', withdrawn: none4, attrs, nlri: none4 } };
}

const ORIGIN_AS_PATH = { hex: '40 01 01 00 40 02 00', attrs: { origin: 0 as const, asPath: [] } };

FIXTURES.push(
  capabilityFixture('multiprotocol IPv4 unicast (RFC 4760)', 1, '0001 00 01', { kind: 'multiprotocol', afi: 1, safi: 1 }),
  capabilityFixture('multiprotocol IPv6 unicast (RFC 4760)', 1, '0002 00 01', { kind: 'multiprotocol', afi: 2, safi: 1 }),
  capabilityFixture('multiprotocol of another family, kept raw', 1, '0001 00 80', { kind: 'unknown', code: 1, value: hex('00010080') }),
  capabilityFixture('route refresh (RFC 2918)', 2, '', { kind: 'route-refresh' }),
  capabilityFixture('enhanced route refresh (RFC 7313)', 70, '', { kind: 'enhanced-route-refresh' }),
  capabilityFixture('extended message (RFC 8654)', 6, '', { kind: 'extended-message' }),
  capabilityFixture('4-octet AS (RFC 6793)', 65, 'fa56ea00', { kind: 'four-octet-as', asn: 4200000000 }),
  capabilityFixture('graceful restart, no families (RFC 4724)', 64, '00b4', { kind: 'graceful-restart', restarting: false, notification: false, restartTime: 180, families: [] }),
  capabilityFixture('graceful restart with R and N bits (RFC 4724, RFC 8538)', 64, 'cfff 0002 01 80', {
    kind: 'graceful-restart',
    restarting: true,
    notification: true,
    restartTime: 4095,
    families: [{ afi: 2, safi: 1, forwardingPreserved: true }],
  }),
  capabilityFixture('add-path (RFC 7911)', 69, '0001 01 02', { kind: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 2 }] }),
  capabilityFixture('extended next hop (RFC 8950)', 5, '0001 0001 0002 0001 0080 0002', {
    kind: 'extended-next-hop',
    entries: [
      { afi: 1, safi: 1, nextHopAfi: 2 },
      { afi: 1, safi: 128 as number as Safi, nextHopAfi: 2 },
    ],
  }),
  capabilityFixture('unknown, kept raw (FQDN, code 73)', 73, '04 686f7374 00', { kind: 'unknown', code: 73, value: hex('04686f737400') }),

  attributeFixture('ORIGIN IGP', '40 01 01 00', { origin: 0 }),
  attributeFixture('ORIGIN EGP', '40 01 01 01', { origin: 1 }),
  attributeFixture('ORIGIN INCOMPLETE', '40 01 01 02', { origin: 2 }),
  attributeFixture('AS_PATH empty', '40 02 00', { asPath: [] }),
  attributeFixture('AS_PATH AS_SEQUENCE, 4-octet', '40 02 0a 02 02 0000fde9 fa56ea00', { asPath: [{ type: 2, asns: [65001, 4200000000] }] }),
  attributeFixture('AS_PATH AS_SET, 4-octet', '40 02 0a 01 02 0000fde9 0000fdea', { asPath: [{ type: 1, asns: [65001, 65002] }] }),
  attributeFixture('AS_PATH AS_SEQUENCE, 2-octet', '40 02 06 02 02 fde9 fdea', { asPath: [{ type: 2, asns: [65001, 65002] }] }, old2),
  attributeFixture('AS_PATH AS_CONFED_SEQUENCE and AS_CONFED_SET', '40 02 0c 03 01 0000fdf2 04 01 0000fdf3', {
    asPath: [
      { type: 3, asns: [65010] },
      { type: 4, asns: [65011] },
    ],
  }),
  attributeFixture('NEXT_HOP', '40 03 04 c0000201', { nextHop: '192.0.2.1' }),
  attributeFixture('MULTI_EXIT_DISC', '80 04 04 ffffffff', { med: 0xffffffff }),
  attributeFixture('LOCAL_PREF', '40 05 04 00000064', { localPref: 100 }),
  attributeFixture('ATOMIC_AGGREGATE', '40 06 00', { atomicAggregate: true }),
  attributeFixture('AGGREGATOR, 4-octet', 'c0 07 08 fa56ea00 c0000202', { aggregator: { asn: 4200000000, address: '192.0.2.2' } }),
  attributeFixture('AGGREGATOR, 2-octet', 'c0 07 06 fde9 c0000202', { aggregator: { asn: 65001, address: '192.0.2.2' } }, old2),
  attributeFixture('COMMUNITIES (RFC 1997), well-known NO_EXPORT', 'c0 08 04 ffffff01', { communities: [0xffffff01] }),
  attributeFixture('ORIGINATOR_ID (RFC 4456)', '80 09 04 0a000001', { originatorId: 0x0a000001 }),
  attributeFixture('CLUSTER_LIST (RFC 4456)', '80 0a 04 0a000002', { clusterList: [0x0a000002] }),
  attributeFixture('MP_REACH_NLRI IPv4 unicast (RFC 4760)', `90 0e 000d 0001 01 04 0a000001 00 18 0a0000 ${ORIGIN_AS_PATH.hex}`, {
    mpReach: { afi: 1, safi: 1, nextHop: '10.0.0.1', nlri: v4('10.0.0.0/24') },
    ...ORIGIN_AS_PATH.attrs,
  }),
  attributeFixture('MP_REACH_NLRI IPv6 unicast, global next hop only', `90 0e 001a 0002 01 10 ${NH6} 00 20 20010db8 ${ORIGIN_AS_PATH.hex}`, {
    mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', nlri: v6('2001:db8::/32') },
    ...ORIGIN_AS_PATH.attrs,
  }),
  attributeFixture(
    'MP_REACH_NLRI IPv4 with an IPv6 next hop (RFC 8950)',
    `90 0e 0019 0001 01 10 ${NH6} 00 18 0a0000 ${ORIGIN_AS_PATH.hex}`,
    { mpReach: { afi: 1, safi: 1, nextHop: '2001:db8::1', nlri: v4('10.0.0.0/24') }, ...ORIGIN_AS_PATH.attrs },
    defaultCodecContext({ fourOctetAs: true, extendedNextHop: new Set(['1/1']) }),
  ),
  attributeFixture(
    'MP_REACH_NLRI IPv6 with add-path (RFC 7911)',
    `90 0e 001e 0002 01 10 ${NH6} 00 00000005 20 20010db8 ${ORIGIN_AS_PATH.hex}`,
    { mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', nlri: prefixListFromText(['2001:db8::/32'], [5]) }, ...ORIGIN_AS_PATH.attrs },
    defaultCodecContext({ fourOctetAs: true, addPathReceive: new Set(['2/1']), addPathSend: new Set(['2/1']) }),
  ),
  attributeFixture('MP_UNREACH_NLRI IPv4 unicast (RFC 4760)', '90 0f 0007 0001 01 18 0a0000', { mpUnreach: { afi: 1, safi: 1, withdrawn: v4('10.0.0.0/24') } }),
  attributeFixture('EXTENDED_COMMUNITIES (RFC 4360)', 'c0 10 10 0002fde900000064 0102c0000201fde9', { extendedCommunities: [hex('0002fde900000064'), hex('0102c0000201fde9')] }),
  attributeFixture(
    'AS4_PATH and AS4_AGGREGATOR (RFC 6793)',
    '40 02 04 02 01 5ba0  c0 07 06 5ba0 0a000001  c0 11 06 02 01 fa56ea00  c0 12 08 fa56ea00 0a000001',
    { asPath: [{ type: 2, asns: [4200000000] }], aggregator: { asn: 4200000000, address: '10.0.0.1' } },
    old2,
  ),
  attributeFixture('LARGE_COMMUNITY (RFC 8092)', 'c0 20 18 fa56ea00 00000001 00000002 00000001 ffffffff 00000000', {
    largeCommunities: [
      [4200000000, 1, 2],
      [1, 0xffffffff, 0],
    ],
  }),
  attributeFixture('unknown optional transitive, passed on with Partial', 'e0 fe 02 abcd', { unknown: [{ flags: 0xe0, type: 254, value: hex('abcd') }] }),
);
