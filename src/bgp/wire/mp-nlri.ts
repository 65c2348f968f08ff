/**
 * MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 3, 4) for IPv4 and IPv6 unicast: next hops (RFC 2545,
 * RFC 8950), NLRI with or without add-path, and the writer that packs prefixes into one attribute.
 */
import { ipv4ToString, ipv6BytesToString, ipv4BytesOf, ipv6BytesOf } from './address.ts';
import { Afi, AttrFlag, Safi, UpdateSubcode } from './constants.ts';
import { EncodeError } from './errors.ts';
import { decodePrefixes, familyKey, prefixWireSize, writePrefix } from './prefix.ts';
import type { AttrDecodeState, Malformed } from './attributes.ts';
import type { PrefixList } from './types.ts';
import type { Writer } from './writer.ts';

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function len(subcode: number, name: string, got: number, want: string): Malformed {
  return { subcode, reason: `${name}: length ${got}, expected ${want}` };
}

function supportedFamily(afi: number, safi: number): boolean {
  return (afi === Afi.IPv4 || afi === Afi.IPv6) && safi === Safi.Unicast;
}

export function decodeMpReach(v: Uint8Array, st: AttrDecodeState): Malformed | null {
  const sub = UpdateSubcode.OptionalAttributeError;
  if (v.length < 5) return len(sub, 'MP_REACH_NLRI', v.length, 'at least 5');
  const afi = (v[0] << 8) | v[1];
  const safi = v[2];
  if (!supportedFamily(afi, safi)) {
    // RFC 4760 7 lets a speaker ignore families it did not negotiate; we cannot represent others.
    return { subcode: sub, reason: `MP_REACH_NLRI for unsupported AFI ${afi}/SAFI ${safi} ignored`, action: 'attribute-discard' };
  }
  const nhLen = v[3];
  if (4 + nhLen + 1 > v.length) return { subcode: sub, reason: `MP_REACH_NLRI: next hop length ${nhLen} overruns the attribute` };
  const key = familyKey(afi, safi);
  let nextHop: string;
  let linkLocalNextHop: string | undefined;
  if (afi === Afi.IPv4 && nhLen === 4) {
    nextHop = ipv4ToString(u32(v, 4));
  } else if ((afi === Afi.IPv6 || st.ctx.extendedNextHop.has(key)) && (nhLen === 16 || nhLen === 32)) {
    // RFC 2545 3 / RFC 8950 3: a global address, then optionally a link-local one.
    nextHop = ipv6BytesToString(v, 4);
    if (nhLen === 32) linkLocalNextHop = ipv6BytesToString(v, 20);
  } else {
    // RFC 7606 7.11: an unexpected next hop length makes the attribute malformed.
    return { subcode: sub, reason: `MP_REACH_NLRI: next hop length ${nhLen} is wrong for AFI ${afi}/SAFI ${safi}` };
  }
  const start = 4 + nhLen + 1; // past the reserved octet (RFC 4760 3: ignored on receipt)
  const nlri = decodePrefixes(v, start, v.length, afi as Afi, st.ctx.addPathReceive.has(key));
  if (typeof nlri === 'string') return { subcode: sub, reason: `MP_REACH_NLRI: ${nlri}` };
  st.attrs.mpReach = { afi: afi as Afi, safi: safi as Safi, nextHop, nlri };
  if (linkLocalNextHop !== undefined) st.attrs.mpReach.linkLocalNextHop = linkLocalNextHop;
  return null;
}

export function decodeMpUnreach(v: Uint8Array, st: AttrDecodeState): Malformed | null {
  const sub = UpdateSubcode.OptionalAttributeError;
  if (v.length < 3) return len(sub, 'MP_UNREACH_NLRI', v.length, 'at least 3');
  const afi = (v[0] << 8) | v[1];
  const safi = v[2];
  if (!supportedFamily(afi, safi)) {
    return { subcode: sub, reason: `MP_UNREACH_NLRI for unsupported AFI ${afi}/SAFI ${safi} ignored`, action: 'attribute-discard' };
  }
  const withdrawn = decodePrefixes(v, 3, v.length, afi as Afi, st.ctx.addPathReceive.has(familyKey(afi, safi)));
  if (typeof withdrawn === 'string') return { subcode: sub, reason: `MP_UNREACH_NLRI: ${withdrawn}` };
  st.attrs.mpUnreach = { afi: afi as Afi, safi: safi as Safi, withdrawn };
  return null;
}

/** Octets of an MP_REACH_NLRI value before its NLRI: AFI, SAFI, next hop, reserved. */
export function mpReachHead(mp: { afi: Afi; safi: Safi; nextHop: string; linkLocalNextHop?: string }): Uint8Array {
  let nh: Uint8Array;
  if (mp.nextHop.includes(':')) {
    const g = ipv6BytesOf(mp.nextHop, 'MP_REACH_NLRI next hop');
    if (mp.linkLocalNextHop !== undefined) {
      nh = new Uint8Array(32);
      nh.set(g);
      nh.set(ipv6BytesOf(mp.linkLocalNextHop, 'MP_REACH_NLRI link-local next hop'), 16);
    } else nh = g;
  } else {
    if (mp.afi !== Afi.IPv4) throw new EncodeError('invalid-address', `an IPv6 route needs an IPv6 next hop, not ${mp.nextHop}`);
    nh = ipv4BytesOf(mp.nextHop, 'MP_REACH_NLRI next hop');
  }
  const head = new Uint8Array(5 + nh.length);
  head[0] = mp.afi >>> 8;
  head[1] = mp.afi;
  head[2] = mp.safi;
  head[3] = nh.length;
  head.set(nh, 4);
  return head;
}

/**
 * Writes an MP attribute (always with the Extended Length flag, so that packing can fill it before
 * knowing its size) holding `head` then prefixes [from, ...) of `list` while the message stays
 * within `limit` octets counted from `msgStart`, keeping `reserve` octets free after it. Returns
 * the index of the first prefix not written.
 */
export function writeMpAttribute(
  w: Writer,
  type: number,
  head: Uint8Array,
  list: PrefixList,
  from: number,
  addPath: boolean,
  msgStart: number,
  limit: number,
  reserve: number,
): number {
  w.u8(AttrFlag.Optional | AttrFlag.ExtendedLength).u8(type);
  const lenAt = w.reserve(2);
  w.bytes(head);
  const room = msgStart + limit - reserve;
  let i = from;
  w.ensure(Math.max(0, room - w.pos));
  const buf = w.raw();
  let pos = w.pos;
  while (i < list.count) {
    const size = prefixWireSize(list, i, addPath);
    if (pos + size > room) break;
    pos = writePrefix(list, i, buf, pos, addPath);
    i++;
  }
  w.pos = pos;
  const valueLen = w.pos - lenAt - 2;
  if (valueLen > 0xffff) throw new EncodeError('message-too-long', 'MP attribute longer than 65535 octets');
  w.patch16(lenAt, valueLen);
  return i;
}
