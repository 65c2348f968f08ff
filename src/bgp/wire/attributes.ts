/**
 * Path attributes (RFC 4271 4.3, 5), driven by one table: each row names the attribute, the
 * Optional/Transitive flags it must carry, how to decode and encode its value, and the RFC 7606
 * outcome when it is malformed. The decoder walks the attribute area once, checks flags and
 * duplicates generically, and lets the row do the rest.
 */
import { ipv4BytesOf, ipv4ToString } from './address.ts';
import { decodeAsPath, encodeAsPath, mergeAs4Path } from './as-path.ts';
import { AS_TRANS, AsPathSegmentType, AttrFlag, AttrType, ErrorCode, UpdateSubcode } from './constants.ts';
import { EncodeError, updateError } from './errors.ts';
import { decodeMpReach, decodeMpUnreach } from './mp-nlri.ts';
import type { Writer } from './writer.ts';
import type { AsPathSegment, CodecContext, PathAttributes, UpdateError, UpdateErrorAction } from './types.ts';

/** A row's verdict on a malformed value: the NOTIFICATION subcode and what was wrong. */
export interface Malformed {
  subcode: number;
  reason: string;
  /** A stronger or weaker outcome than the row's usual one, when the RFC asks for it. */
  action?: UpdateErrorAction;
}

/** What decoding the attributes of one UPDATE accumulates. */
export interface AttrDecodeState {
  ctx: CodecContext;
  attrs: PathAttributes;
  errors: UpdateError[];
  /** RFC 6793: AS4_PATH and AS4_AGGREGATOR, held until the whole area is read, then merged. */
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
}

export interface AttributeRow {
  code: number;
  name: string;
  /** The Optional and Transitive bits the attribute must carry (RFC 7606 3c compares only these). */
  flags: number;
  /** RFC 7606 7: what a malformed value (or wrong flags) of this attribute leads to. */
  onError: UpdateErrorAction;
  /** Subcode for wrong flags or length when nothing more specific applies. */
  lengthSubcode: number;
  /** Decodes `value` into st.attrs; returns null, or what is malformed. */
  decode(value: Uint8Array, st: AttrDecodeState): Malformed | null;
  /** Encodes the attribute's value from attrs, or null when it is absent (nothing is written). */
  encode(attrs: PathAttributes, ctx: CodecContext): Uint8Array | null;
}

const OPT = AttrFlag.Optional;
const TRANS = AttrFlag.Transitive;

function len(subcode: number, name: string, got: number, want: string): Malformed {
  return { subcode, reason: `${name}: length ${got}, expected ${want}` };
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function bytesOfU32(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  values.forEach((v, i) => {
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// The table

function fixedU32(code: number, name: string, field: 'med' | 'localPref' | 'originatorId', flags: number, onError: UpdateErrorAction, ebgpDiscard: boolean): AttributeRow {
  return {
    code,
    name,
    flags,
    onError,
    lengthSubcode: UpdateSubcode.AttributeLengthError,
    decode(v, st) {
      if (ebgpDiscard && st.ctx.ebgp) {
        return { subcode: UpdateSubcode.MalformedAttributeList, reason: `${name} from an external peer discarded (RFC 7606 7)`, action: 'attribute-discard' };
      }
      if (v.length !== 4) return len(UpdateSubcode.AttributeLengthError, name, v.length, '4');
      st.attrs[field] = u32(v, 0);
      return null;
    },
    encode(a) {
      const x = a[field];
      return x === undefined ? null : bytesOfU32([x]);
    },
  };
}

function u32List(code: number, name: string, field: 'communities' | 'clusterList', ebgpDiscard: boolean, flags: number): AttributeRow {
  return {
    code,
    name,
    flags,
    onError: 'treat-as-withdraw',
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode(v, st) {
      if (ebgpDiscard && st.ctx.ebgp) {
        return { subcode: UpdateSubcode.MalformedAttributeList, reason: `${name} from an external peer discarded (RFC 7606 7.10)`, action: 'attribute-discard' };
      }
      // RFC 7606 7.8 / 7.10: a non-zero multiple of 4.
      if (v.length === 0 || v.length % 4 !== 0) return len(UpdateSubcode.OptionalAttributeError, name, v.length, 'a non-zero multiple of 4');
      const out: number[] = new Array(v.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = u32(v, 4 * i);
      st.attrs[field] = out;
      return null;
    },
    encode(a) {
      const x = a[field];
      return x === undefined || x.length === 0 ? null : bytesOfU32(x);
    },
  };
}

export const ATTRIBUTES: readonly AttributeRow[] = [
  {
    code: AttrType.Origin,
    name: 'ORIGIN',
    flags: TRANS,
    onError: 'treat-as-withdraw', // RFC 7606 7.1
    lengthSubcode: UpdateSubcode.AttributeLengthError,
    decode(v, st) {
      if (v.length !== 1) return len(UpdateSubcode.AttributeLengthError, 'ORIGIN', v.length, '1');
      if (v[0] > 2) return { subcode: UpdateSubcode.InvalidOriginAttribute, reason: `ORIGIN value ${v[0]} is not IGP, EGP or INCOMPLETE` };
      st.attrs.origin = v[0] as 0 | 1 | 2;
      return null;
    },
    encode: (a) => (a.origin === undefined ? null : Uint8Array.of(a.origin)),
  },
  {
    code: AttrType.AsPath,
    name: 'AS_PATH',
    flags: TRANS,
    onError: 'treat-as-withdraw', // RFC 7606 7.2
    lengthSubcode: UpdateSubcode.AttributeLengthError,
    decode(v, st) {
      // RFC 5065: confederation segments never come from outside the confederation; tortie runs
      // none, so on eBGP they mark the path as malformed.
      const segs = decodeAsPath(v, st.ctx.fourOctetAs ? 4 : 2, !st.ctx.ebgp);
      if (typeof segs === 'string') return { subcode: UpdateSubcode.MalformedAsPath, reason: `AS_PATH: ${segs}` };
      st.attrs.asPath = segs;
      return null;
    },
    encode: (a, ctx) => (a.asPath === undefined ? null : encodeAsPath(a.asPath, ctx.fourOctetAs ? 4 : 2)),
  },
  {
    code: AttrType.NextHop,
    name: 'NEXT_HOP',
    flags: TRANS,
    onError: 'treat-as-withdraw', // RFC 7606 7.3
    lengthSubcode: UpdateSubcode.AttributeLengthError,
    decode(v, st) {
      if (v.length !== 4) return len(UpdateSubcode.AttributeLengthError, 'NEXT_HOP', v.length, '4');
      const nh = u32(v, 0);
      // RFC 4271 6.3 / RFC 7606 7.3: 0.0.0.0, multicast and class E are no unicast host address.
      // (Whether it is our own address or on-link is the session's call, RFC 4271 5.1.3.)
      if (nh === 0 || nh >>> 28 >= 0xe) return { subcode: UpdateSubcode.InvalidNextHopAttribute, reason: `NEXT_HOP ${ipv4ToString(nh)} is not a unicast address` };
      st.attrs.nextHop = ipv4ToString(nh);
      return null;
    },
    encode: (a) => (a.nextHop === undefined ? null : ipv4BytesOf(a.nextHop, 'NEXT_HOP')),
  },
  fixedU32(AttrType.MultiExitDisc, 'MULTI_EXIT_DISC', 'med', OPT, 'treat-as-withdraw', false), // RFC 7606 7.4
  fixedU32(AttrType.LocalPref, 'LOCAL_PREF', 'localPref', TRANS, 'treat-as-withdraw', true), // RFC 7606 7.5
  {
    code: AttrType.AtomicAggregate,
    name: 'ATOMIC_AGGREGATE',
    flags: TRANS,
    onError: 'attribute-discard', // RFC 7606 7.6
    lengthSubcode: UpdateSubcode.AttributeLengthError,
    decode(v, st) {
      if (v.length !== 0) return len(UpdateSubcode.AttributeLengthError, 'ATOMIC_AGGREGATE', v.length, '0');
      st.attrs.atomicAggregate = true;
      return null;
    },
    encode: (a) => (a.atomicAggregate ? new Uint8Array(0) : null),
  },
  {
    code: AttrType.Aggregator,
    name: 'AGGREGATOR',
    flags: OPT | TRANS,
    onError: 'attribute-discard', // RFC 7606 7.7
    lengthSubcode: UpdateSubcode.AttributeLengthError,
    decode(v, st) {
      const want = st.ctx.fourOctetAs ? 8 : 6;
      if (v.length !== want) return len(UpdateSubcode.AttributeLengthError, 'AGGREGATOR', v.length, String(want));
      const asn = want === 8 ? u32(v, 0) : (v[0] << 8) | v[1];
      st.attrs.aggregator = { asn, address: ipv4ToString(u32(v, want - 4)) };
      return null;
    },
    encode(a, ctx) {
      if (a.aggregator === undefined) return null;
      const addr = ipv4BytesOf(a.aggregator.address, 'AGGREGATOR address');
      if (ctx.fourOctetAs) return Uint8Array.from([...bytesOfU32([a.aggregator.asn]), ...addr]);
      const asn = a.aggregator.asn > 0xffff ? AS_TRANS : a.aggregator.asn;
      return Uint8Array.from([asn >>> 8, asn & 255, ...addr]);
    },
  },
  u32List(AttrType.Communities, 'COMMUNITIES', 'communities', false, OPT | TRANS), // RFC 7606 7.8
  fixedU32(AttrType.OriginatorId, 'ORIGINATOR_ID', 'originatorId', OPT, 'treat-as-withdraw', true), // RFC 7606 7.9
  u32List(AttrType.ClusterList, 'CLUSTER_LIST', 'clusterList', true, OPT), // RFC 7606 7.10
  {
    code: AttrType.MpReachNlri,
    name: 'MP_REACH_NLRI',
    flags: OPT,
    onError: 'session-reset', // RFC 7606 7.11 (we do not disable single families)
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode: decodeMpReach,
    encode: () => null, // written first by the UPDATE encoder, which packs its NLRI
  },
  {
    code: AttrType.MpUnreachNlri,
    name: 'MP_UNREACH_NLRI',
    flags: OPT,
    onError: 'session-reset', // RFC 7606 7.12
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode: decodeMpUnreach,
    encode: () => null, // written first by the UPDATE encoder
  },
  {
    code: AttrType.ExtendedCommunities,
    name: 'EXTENDED_COMMUNITIES',
    flags: OPT | TRANS,
    onError: 'treat-as-withdraw', // RFC 7606 7.14
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode(v, st) {
      if (v.length === 0 || v.length % 8 !== 0) return len(UpdateSubcode.OptionalAttributeError, 'EXTENDED_COMMUNITIES', v.length, 'a non-zero multiple of 8');
      const out: Uint8Array[] = [];
      for (let p = 0; p < v.length; p += 8) out.push(v.slice(p, p + 8));
      st.attrs.extendedCommunities = out;
      return null;
    },
    encode(a) {
      const x = a.extendedCommunities;
      if (x === undefined || x.length === 0) return null;
      const out = new Uint8Array(8 * x.length);
      x.forEach((c, i) => {
        if (c.length !== 8) throw new EncodeError('invalid-field', `extended community ${i} has ${c.length} octets, not 8`);
        out.set(c, 8 * i);
      });
      return out;
    },
  },
  {
    code: AttrType.As4Path,
    name: 'AS4_PATH',
    flags: OPT | TRANS,
    onError: 'attribute-discard', // RFC 6793 6 / RFC 7606 7.15
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode(v, st) {
      if (st.ctx.fourOctetAs) {
        // RFC 6793 3: between two NEW speakers AS4_PATH has no business and is discarded.
        return { subcode: UpdateSubcode.OptionalAttributeError, reason: 'AS4_PATH on a 4-octet-AS session discarded', action: 'attribute-discard' };
      }
      // RFC 6793: AS4_PATH never carries confederation segments; one that does is malformed.
      const segs = decodeAsPath(v, 4, false);
      if (typeof segs === 'string') return { subcode: UpdateSubcode.OptionalAttributeError, reason: `AS4_PATH: ${segs}` };
      st.as4Path = segs;
      return null;
    },
    encode(a, ctx) {
      // RFC 6793 4.2.2: an OLD peer gets the real path in AS4_PATH when an ASN does not fit 2 octets.
      if (ctx.fourOctetAs || a.asPath === undefined) return null;
      if (!a.asPath.some((s) => s.asns.some((n) => n > 0xffff))) return null;
      const plain = a.asPath.filter((s) => s.type === AsPathSegmentType.AsSequence || s.type === AsPathSegmentType.AsSet);
      return encodeAsPath(plain, 4);
    },
  },
  {
    code: AttrType.As4Aggregator,
    name: 'AS4_AGGREGATOR',
    flags: OPT | TRANS,
    onError: 'attribute-discard', // RFC 6793 6 / RFC 7606 7.16
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode(v, st) {
      if (st.ctx.fourOctetAs) {
        return { subcode: UpdateSubcode.OptionalAttributeError, reason: 'AS4_AGGREGATOR on a 4-octet-AS session discarded', action: 'attribute-discard' };
      }
      if (v.length !== 8) return len(UpdateSubcode.OptionalAttributeError, 'AS4_AGGREGATOR', v.length, '8');
      st.as4Aggregator = { asn: u32(v, 0), address: ipv4ToString(u32(v, 4)) };
      return null;
    },
    encode(a, ctx) {
      if (ctx.fourOctetAs || a.aggregator === undefined || a.aggregator.asn <= 0xffff) return null;
      return Uint8Array.from([...bytesOfU32([a.aggregator.asn]), ...ipv4BytesOf(a.aggregator.address, 'AGGREGATOR address')]);
    },
  },
  {
    code: AttrType.LargeCommunity,
    name: 'LARGE_COMMUNITY',
    flags: OPT | TRANS,
    onError: 'treat-as-withdraw', // RFC 8092 6
    lengthSubcode: UpdateSubcode.OptionalAttributeError,
    decode(v, st) {
      if (v.length === 0 || v.length % 12 !== 0) return len(UpdateSubcode.OptionalAttributeError, 'LARGE_COMMUNITY', v.length, 'a non-zero multiple of 12');
      const out: Array<[number, number, number]> = [];
      for (let p = 0; p < v.length; p += 12) out.push([u32(v, p), u32(v, p + 4), u32(v, p + 8)]);
      st.attrs.largeCommunities = out;
      return null;
    },
    encode(a) {
      const x = a.largeCommunities;
      return x === undefined || x.length === 0 ? null : bytesOfU32(x.flat());
    },
  },
];

/** The table indexed by type code. */
const BY_CODE: Array<AttributeRow | undefined> = new Array(256);
for (const row of ATTRIBUTES) BY_CODE[row.code] = row;

export function attributeRow(code: number): AttributeRow | undefined {
  return BY_CODE[code];
}

// ---------------------------------------------------------------------------------------------
// The attribute area

/** Set per UPDATE: which attribute codes were seen (RFC 7606 3g duplicates). Reused, never shared. */
const seen = new Uint8Array(256);

/**
 * Decodes the path attribute area buf[start, end) into st. Errors go to st.errors with their RFC
 * 7606 action; the caller takes the strongest. Returns false when the area's structure is broken
 * (RFC 7606 4), after which the attributes found so far are all there is. RFC 7606 5.1 has senders
 * put MP_REACH_NLRI/MP_UNREACH_NLRI first so that treat-as-withdraw still finds their prefixes; an
 * MP attribute hidden behind the break cannot be known of.
 */
export function decodeAttributes(buf: Uint8Array, start: number, end: number, st: AttrDecodeState): boolean {
  seen.fill(0);
  let p = start;
  let intact = true;
  while (p < end) {
    const flags = buf[p];
    const hdr = flags & AttrFlag.ExtendedLength ? 4 : 3;
    if (end - p < hdr) {
      st.errors.push(
        updateError('treat-as-withdraw', ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, `RFC 7606 4: ${end - p} octets left in the attribute area, too few for an attribute header`, buf.subarray(p, end)),
      );
      intact = false;
      break;
    }
    const type = buf[p + 1];
    const length = hdr === 4 ? (buf[p + 2] << 8) | buf[p + 3] : buf[p + 2];
    const vStart = p + hdr;
    const vEnd = vStart + length;
    if (vEnd > end) {
      st.errors.push(
        updateError('treat-as-withdraw', ErrorCode.UpdateMessage, UpdateSubcode.AttributeLengthError, `RFC 7606 4: attribute ${type} of length ${length} overruns the attribute area by ${vEnd - end} octets`, buf.subarray(p, end), type),
      );
      intact = false;
      break;
    }
    const whole = buf.subarray(p, vEnd);
    p = vEnd;
    const row = BY_CODE[type];

    if (seen[type]) {
      // RFC 7606 3g: duplicate MP attributes reset the session; other duplicates are dropped.
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        st.errors.push(updateError('session-reset', ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, `RFC 7606 3g: ${row!.name} appears twice`, new Uint8Array(0), type));
      } else {
        st.errors.push(updateError('attribute-discard', ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, `RFC 7606 3g: attribute ${row?.name ?? type} repeated; all but the first dropped`, whole, type));
      }
      continue;
    }
    seen[type] = 1;

    if (row === undefined) {
      if ((flags & OPT) === 0) {
        // RFC 4271 6.3: a well-known attribute we do not know.
        st.errors.push(updateError('session-reset', ErrorCode.UpdateMessage, UpdateSubcode.UnrecognizedWellKnownAttribute, `attribute ${type} is flagged well-known but is not one we know`, whole, type));
      } else if (flags & TRANS) {
        // RFC 4271 5: unknown optional transitive attributes pass on (the encoder sets Partial).
        // Extended Length and the reserved bits describe this encoding only: not kept. The value is
        // copied: routes outlive the socket chunk the message came in.
        (st.attrs.unknown ??= []).push({ flags: flags & 0xe0, type, value: buf.slice(vStart, vEnd) });
      }
      // Unknown optional non-transitive: quietly ignored (RFC 4271 5).
      continue;
    }

    if ((flags & (OPT | TRANS)) !== row.flags) {
      // RFC 7606 3c: wrong Optional/Transitive bits make the attribute malformed.
      st.errors.push(
        updateError(row.onError, ErrorCode.UpdateMessage, UpdateSubcode.AttributeFlagsError, `${row.name}: flags 0x${flags.toString(16)} where Optional/Transitive must be 0x${row.flags.toString(16)}`, whole, type),
      );
      continue;
    }
    const bad = row.decode(buf.subarray(vStart, vEnd), st);
    if (bad !== null) st.errors.push(updateError(bad.action ?? row.onError, ErrorCode.UpdateMessage, bad.subcode, bad.reason, whole, type));
  }
  finishAs4(st);
  return intact;
}

/** RFC 6793 4.2.3: merges AS4_PATH / AS4_AGGREGATOR into AS_PATH / AGGREGATOR on an OLD session. */
function finishAs4(st: AttrDecodeState): void {
  const a = st.attrs;
  // An AGGREGATOR naming a real 2-octet AS means the route was aggregated by an OLD speaker
  // after the AS4 attributes were set: both are stale and ignored.
  if (a.aggregator !== undefined && a.aggregator.asn !== AS_TRANS) return;
  if (st.as4Aggregator !== undefined && a.aggregator !== undefined) a.aggregator = st.as4Aggregator;
  if (st.as4Path !== undefined && a.asPath !== undefined) a.asPath = mergeAs4Path(a.asPath, st.as4Path);
}

/** Writes one attribute header and value, with Extended Length when the value needs it. */
export function writeAttribute(w: Writer, flags: number, type: number, value: Uint8Array): void {
  if (value.length > 0xffff) throw new EncodeError('message-too-long', `attribute ${type} longer than 65535 octets`);
  const ext = value.length > 255;
  w.u8((flags & 0xe0) | (ext ? AttrFlag.ExtendedLength : 0)).u8(type);
  if (ext) w.u16(value.length);
  else w.u8(value.length);
  w.bytes(value);
}

/**
 * Writes every attribute of `attrs` except MP_REACH_NLRI and MP_UNREACH_NLRI, in type code order,
 * then the unknown transitive ones with the Partial bit set (RFC 4271 5).
 */
export function writeAttributes(w: Writer, attrs: PathAttributes, ctx: CodecContext): void {
  for (const row of ATTRIBUTES) {
    const v = row.encode(attrs, ctx);
    if (v !== null) writeAttribute(w, row.flags, row.code, v);
  }
  for (const u of attrs.unknown ?? []) {
    if (BY_CODE[u.type] !== undefined) throw new EncodeError('invalid-field', `unknown attribute ${u.type} is one the codec encodes itself`);
    writeAttribute(w, u.flags | AttrFlag.Partial, u.type, u.value);
  }
}
