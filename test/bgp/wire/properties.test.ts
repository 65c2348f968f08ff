/**
 * Property tests (fast-check): random valid messages survive encode then decode unchanged, and no
 * byte string, random or mutated from a valid message, makes the decoders or the framer throw or
 * return anything but a typed outcome. (Termination is structural: every decoder loop advances.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Framer } from '../../../src/bgp/wire/framer.ts';
import { decodeMessage, defaultCodecContext, encodeMessage } from '../../../src/bgp/wire/message.ts';
import { decodeUpdate } from '../../../src/bgp/wire/update.ts';
import { attributeRow } from '../../../src/bgp/wire/attributes.ts';
import { ipv6BytesToString } from '../../../src/bgp/wire/address.ts';
import type { AsPathSegment, Capability, CodecContext, Message, PathAttributes, PrefixList } from '../../../src/bgp/wire/types.ts';
import { FIXTURES, hex } from './fixtures.ts';

/** FC_SCALE=20 runs every property twenty times as often, for a longer hunt than CI affords. */
const SCALE = Number(process.env.FC_SCALE ?? 1);
const runs = (n: number) => ({ numRuns: Math.round(n * SCALE) });

const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const asn4 = fc.oneof(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0x10000, max: 0xffffffff }));

function prefixList(afi: 1 | 2, addPath: boolean, maxCount = 40): fc.Arbitrary<PrefixList> {
  const words = afi === 1 ? 1 : 4;
  const max = afi === 1 ? 32 : 128;
  return fc
    .array(fc.tuple(fc.array(u32, { minLength: words, maxLength: words }), fc.integer({ min: 0, max }), u32), { maxLength: maxCount })
    .map((items) => {
      const addrs = new Uint32Array(items.length * words);
      const lens = new Uint8Array(items.length);
      items.forEach(([ws, len], i) => {
        lens[i] = len;
        ws.forEach((w, k) => {
          // Clear bits past the length, as the decoder does.
          const keep = Math.max(0, Math.min(32, len - 32 * k));
          addrs[i * words + k] = keep === 0 ? 0 : (w & (-1 << (32 - keep))) >>> 0;
        });
      });
      return { afi, count: items.length, addrs, lens, pathIds: addPath ? Uint32Array.from(items, (x) => x[2]) : null };
    });
}

const ipv4 = u32.map((n) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
/** A unicast host address, as NEXT_HOP must be (RFC 4271 6.3). */
const unicast4 = fc.integer({ min: 1, max: 0xdfffffff }).map((n) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
// In RFC 5952 form, as the decoder writes it.
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipv6BytesToString(b));

function segments(confed: boolean): fc.Arbitrary<AsPathSegment[]> {
  const types = confed ? ([1, 2, 3, 4] as const) : ([1, 2] as const);
  return fc.array(fc.record({ type: fc.constantFrom(...types), asns: fc.array(asn4, { minLength: 1, maxLength: 8 }) }), { maxLength: 4 });
}

function attributes(fourOctetAs: boolean, addPath: boolean): fc.Arbitrary<PathAttributes> {
  // A 2-octet session only gets 4-octet aggregators: a receiver ignores AS4_PATH when AGGREGATOR
  // names a real 2-octet AS (RFC 6793 4.2.3), which would not round-trip.
  return fc.record(
      {
        origin: fc.constantFrom(0, 1, 2),
        asPath: segments(fourOctetAs),
        nextHop: unicast4,
        med: u32,
        localPref: u32,
        atomicAggregate: fc.constant(true),
        aggregator: fc.record({ asn: fourOctetAs ? asn4 : fc.integer({ min: 0x10000, max: 0xffffffff }), address: ipv4 }),
        communities: fc.array(u32, { minLength: 1, maxLength: 10 }),
        originatorId: u32,
        clusterList: fc.array(u32, { minLength: 1, maxLength: 5 }),
        extendedCommunities: fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        largeCommunities: fc.array(fc.tuple(u32, u32, u32), { minLength: 1, maxLength: 4 }),
        mpReach: fc.record({ afi: fc.constant(2 as const), safi: fc.constant(1 as const), nextHop: ipv6, nlri: prefixList(2, addPath) }),
        mpUnreach: fc.record({ afi: fc.constant(2 as const), safi: fc.constant(1 as const), withdrawn: prefixList(2, addPath) }),
        unknown: fc.uniqueArray(
          fc.record({ flags: fc.constant(0xe0), type: fc.integer({ min: 0, max: 255 }).filter((t) => attributeRow(t) === undefined), value: fc.uint8Array({ maxLength: 300 }) }),
          { selector: (u) => u.type, minLength: 1, maxLength: 3 },
        ),
      },
      { requiredKeys: ['origin', 'asPath', 'nextHop'] },
    );
}

const capability: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ kind: fc.constant('multiprotocol' as const), afi: fc.constantFrom(1 as const, 2 as const), safi: fc.constant(1 as const) }),
  fc.constantFrom({ kind: 'route-refresh' as const }, { kind: 'enhanced-route-refresh' as const }, { kind: 'extended-message' as const }),
  fc.record({ kind: fc.constant('four-octet-as' as const), asn: u32 }),
  fc.record({
    kind: fc.constant('graceful-restart' as const),
    restarting: fc.boolean(),
    notification: fc.boolean(),
    restartTime: fc.nat({ max: 4095 }),
    families: fc.array(fc.record({ afi: fc.constantFrom(1 as const, 2 as const), safi: fc.constant(1 as const), forwardingPreserved: fc.boolean() }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('add-path' as const),
    families: fc.array(fc.record({ afi: fc.constantFrom(1 as const, 2 as const), safi: fc.constant(1 as const), sendReceive: fc.constantFrom(1 as const, 2 as const, 3 as const) }), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('extended-next-hop' as const),
    entries: fc.array(fc.record({ afi: fc.constant(1 as const), safi: fc.constant(1 as const), nextHopAfi: fc.constant(2 as const) }), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ kind: fc.constant('unknown' as const), code: fc.constantFrom(0, 3, 4, 71, 73, 128, 255), value: fc.uint8Array({ maxLength: 20 }) }),
);

function message(fourOctetAs: boolean, addPath: boolean): fc.Arbitrary<Message> {
  return fc.oneof(
    fc.constant({ type: 'keepalive' as const }),
    fc.record(
      {
        type: fc.constant('open' as const),
        version: fc.constant(4),
        myAsn: u16,
        holdTime: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
        bgpId: fc.integer({ min: 1, max: 0xffffffff }),
        capabilities: fc.array(capability, { maxLength: 12 }),
        extendedOptionalParameters: fc.constant(true),
      },
      { requiredKeys: ['type', 'version', 'myAsn', 'holdTime', 'bgpId', 'capabilities'] },
    ),
    fc.record({ type: fc.constant('update' as const), withdrawn: prefixList(1, addPath), attrs: attributes(fourOctetAs, addPath), nlri: prefixList(1, addPath) }),
    fc.record({ type: fc.constant('notification' as const), code: fc.integer({ min: 1, max: 7 }), subcode: fc.integer({ min: 0, max: 11 }), data: fc.uint8Array({ maxLength: 40 }) }).map((n) => {
      const msg: Message = n;
      // Cease 2/4 data that happens to be a valid RFC 9003 communication decodes with it.
      if (n.code === 6 && (n.subcode === 2 || n.subcode === 4)) return { ...n, data: new Uint8Array(0) };
      return msg;
    }),
    fc.record({ type: fc.constant('route-refresh' as const), afi: fc.constantFrom(1 as const, 2 as const), safi: fc.constant(1 as const), subtype: fc.constantFrom(0 as const, 1 as const, 2 as const) }),
  );
}

function context(fourOctetAs: boolean, addPath: boolean): CodecContext {
  const fams = new Set(addPath ? (['1/1', '2/1'] as const) : []);
  return defaultCodecContext({ fourOctetAs, extendedMessage: true, addPathReceive: fams, addPathSend: fams });
}

describe('round trip of random valid messages', () => {
  it.each([
    [true, false],
    [false, false],
    [true, true],
  ])('decode(encode(x)) == x (4-octet AS %s, add-path %s)', (fourOctetAs, addPath) => {
    const ctx = context(fourOctetAs, addPath);
    fc.assert(
      fc.property(message(fourOctetAs, addPath), (msg) => {
        const bytes = encodeMessage(msg, ctx);
        const r = decodeMessage(bytes, ctx);
        expect(r.ok ? null : r.error).toBeNull();
        expect(r.update?.errors ?? []).toEqual([]);
        expect(r.ok && r.value).toEqual(msg);
      }),
      runs(150),
    );
  });
});

function checkOutcome(bytes: Uint8Array, ctx: CodecContext): void {
  const r = decodeMessage(bytes, ctx);
  if (!r.ok) {
    expect(r.error.code).toBeGreaterThanOrEqual(1);
    expect(r.error.code).toBeLessThanOrEqual(7);
    expect(typeof r.error.reason).toBe('string');
    expect(r.error.data).toBeInstanceOf(Uint8Array);
  }
  for (const e of r.update?.errors ?? []) expect(['attribute-discard', 'treat-as-withdraw', 'afi-safi-disable', 'session-reset']).toContain(e.action);
  if (r.ok && r.value.type === 'update') {
    for (const l of r.value.nlri.lens) expect(l).toBeLessThanOrEqual(32);
  }
}

const contexts = [context(true, false), context(false, true), defaultCodecContext({ ebgp: true })];
const golden = FIXTURES.map((f) => hex(f.hex));

describe('hostile bytes', () => {
  it('random bytes behind a valid header give a typed outcome, never an exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 4, 5), fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...contexts), (type, body, ctx) => {
        const msg = new Uint8Array(19 + body.length);
        msg.fill(0xff, 0, 16);
        msg[16] = msg.length >> 8;
        msg[17] = msg.length & 255;
        msg[18] = type;
        msg.set(body, 19);
        checkOutcome(msg, ctx);
        decodeUpdate(msg, ctx); // even on a non-UPDATE
      }),
      runs(1500),
    );
  });

  it('golden messages with bytes flipped, cut or inserted give a typed outcome', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...golden),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...contexts),
        (base, edits, ctx) => {
          let b = Array.from(base);
          for (const [pos, val, op] of edits) {
            const at = 19 + (pos % Math.max(1, b.length - 19));
            if (op === 'flip') b[at] = val;
            else if (op === 'cut') b = b.slice(0, at);
            else b.splice(at, 0, val);
          }
          const msg = Uint8Array.from(b);
          if (msg.length >= 19) {
            msg[16] = msg.length >> 8;
            msg[17] = msg.length & 255;
          }
          checkOutcome(msg, ctx);
        },
      ),
      runs(2000),
    );
  });

  it('the framer takes any chunks of random bytes without throwing, and stops at the first bad header', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const f = new Framer();
        let failed = false;
        for (const c of chunks) {
          const r = f.push(c);
          if (failed) expect(r.messages).toEqual([]);
          if (r.error) failed = true;
        }
      }),
      runs(500),
    );
  });

  it('the framer yields the same messages however the stream is cut', () => {
    const stream = Uint8Array.from(golden.flatMap((g) => Array.from(g)));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 30 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const f = new Framer();
        const out: Uint8Array[] = [];
        for (let i = 1; i < points.length; i++) {
          const r = f.push(stream.slice(points[i - 1], points[i]));
          expect(r.error).toBeNull();
          out.push(...r.messages);
        }
        expect(out).toEqual(golden);
      }),
      runs(200),
    );
  });
});
