/**
 * NLRI (RFC 4271 4.3, RFC 4760 5) and add-path NLRI (RFC 7911 3) to and from `PrefixList`. This is
 * the codec's hot path: plain loops over bytes into typed arrays, no object per prefix.
 *
 * A prefix on the wire is a length octet then the fewest octets that hold that many bits; with
 * add-path a 4-octet path identifier comes first.
 */
import { Afi } from './constants.ts';
import { PrefixTextError } from './errors.ts';
import { ipv4ToString, ipv6BytesToString, parseIpv4, parseIpv6 } from './address.ts';
import type { FamilyKey, PrefixList } from './types.ts';

export function familyKey(afi: number, safi: number): FamilyKey {
  return `${afi}/${safi}`;
}

export function emptyPrefixList(afi: Afi, addPath = false): PrefixList {
  return { afi, count: 0, addrs: new Uint32Array(0), lens: new Uint8Array(0), pathIds: addPath ? new Uint32Array(0) : null };
}

function wordsPerPrefix(afi: Afi): number {
  return afi === Afi.IPv6 ? 4 : 1;
}

/**
 * Decodes the prefixes in buf[start, end). Returns the list, or a string saying what is wrong (a
 * length over 32/128, a prefix or path identifier running past `end`). Bits past a prefix's length
 * are cleared so that equal prefixes compare equal.
 */
export function decodePrefixes(buf: Uint8Array, start: number, end: number, afi: Afi, addPath: boolean): PrefixList | string {
  const maxLen = afi === Afi.IPv6 ? 128 : 32;
  const idLen = addPath ? 4 : 0;
  // Pass 1: validate and count, so that the arrays are allocated once at their exact size.
  let count = 0;
  let p = start;
  while (p < end) {
    if (p + idLen >= end) return `prefix ${count} at offset ${p}: path identifier or length runs past the end`;
    const len = buf[p + idLen];
    if (len > maxLen) return `prefix ${count} at offset ${p}: length ${len} is over ${maxLen}`;
    p += idLen + 1 + ((len + 7) >> 3);
    count++;
  }
  if (p !== end) return `prefix ${count - 1}: its address octets run past the end of the field`;

  const addrs = new Uint32Array(count * wordsPerPrefix(afi));
  const lens = new Uint8Array(count);
  const pathIds = addPath ? new Uint32Array(count) : null;
  p = start;
  if (afi === Afi.IPv4) {
    for (let i = 0; i < count; i++) {
      if (pathIds !== null) {
        pathIds[i] = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
        p += 4;
      }
      const len = buf[p++];
      lens[i] = len;
      let a = 0;
      switch ((len + 7) >> 3) {
        case 4:
          a = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
          p += 4;
          break;
        case 3:
          a = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8);
          p += 3;
          break;
        case 2:
          a = (buf[p] << 24) | (buf[p + 1] << 16);
          p += 2;
          break;
        case 1:
          a = buf[p] << 24;
          p += 1;
          break;
      }
      addrs[i] = len === 0 ? 0 : a & (-1 << (32 - len));
    }
  } else {
    for (let i = 0; i < count; i++) {
      if (pathIds !== null) {
        pathIds[i] = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
        p += 4;
      }
      const len = buf[p++];
      lens[i] = len;
      const nb = (len + 7) >> 3;
      const base = 4 * i;
      // Whole words first, then the bytes of a last partial word.
      let k = 0;
      for (; k + 4 <= nb; k += 4) addrs[base + (k >> 2)] = (buf[p + k] << 24) | (buf[p + k + 1] << 16) | (buf[p + k + 2] << 8) | buf[p + k + 3];
      if (k < nb) {
        let w = 0;
        for (let j = 0; k + j < nb; j++) w |= buf[p + k + j] << (24 - 8 * j);
        addrs[base + (k >> 2)] = w;
      }
      p += nb;
      // Clear the bits past the length in the last word touched.
      const rem = len & 31;
      if (rem !== 0) addrs[base + (len >> 5)] &= -1 << (32 - rem);
    }
  }
  return { afi, count, addrs, lens, pathIds };
}

/** Octets prefix i takes on the wire. */
export function prefixWireSize(list: PrefixList, i: number, addPath: boolean): number {
  return (addPath ? 5 : 1) + ((list.lens[i] + 7) >> 3);
}

/**
 * Writes prefix i at buf[off] and returns the offset after it. With add-path and no path
 * identifiers in the list, path identifier 0 is sent.
 */
export function writePrefix(list: PrefixList, i: number, buf: Uint8Array, off: number, addPath: boolean): number {
  if (addPath) {
    const id = list.pathIds === null ? 0 : list.pathIds[i];
    buf[off] = id >>> 24;
    buf[off + 1] = id >>> 16;
    buf[off + 2] = id >>> 8;
    buf[off + 3] = id;
    off += 4;
  }
  const len = list.lens[i];
  buf[off++] = len;
  const nb = (len + 7) >> 3;
  if (list.afi === Afi.IPv4) {
    const a = list.addrs[i];
    for (let k = 0; k < nb; k++) buf[off + k] = a >>> (24 - 8 * k);
  } else {
    const base = 4 * i;
    for (let k = 0; k < nb; k++) buf[off + k] = list.addrs[base + (k >> 2)] >>> (24 - 8 * (k & 3));
  }
  return off + nb;
}

/** The prefixes [from, to) of a list as a list of their own (views, not copies). */
export function slicePrefixList(list: PrefixList, from: number, to: number): PrefixList {
  const w = wordsPerPrefix(list.afi);
  return {
    afi: list.afi,
    count: to - from,
    addrs: list.addrs.subarray(from * w, to * w),
    lens: list.lens.subarray(from, to),
    pathIds: list.pathIds === null ? null : list.pathIds.subarray(from, to),
  };
}

/** Both lists' prefixes in one (same family). Path identifiers are kept if either list has them. */
export function concatPrefixLists(a: PrefixList, b: PrefixList): PrefixList {
  if (b.count === 0) return a;
  if (a.count === 0) return b;
  const w = wordsPerPrefix(a.afi);
  const addrs = new Uint32Array((a.count + b.count) * w);
  addrs.set(a.addrs.subarray(0, a.count * w));
  addrs.set(b.addrs.subarray(0, b.count * w), a.count * w);
  const lens = new Uint8Array(a.count + b.count);
  lens.set(a.lens.subarray(0, a.count));
  lens.set(b.lens.subarray(0, b.count), a.count);
  let pathIds: Uint32Array | null = null;
  if (a.pathIds !== null || b.pathIds !== null) {
    pathIds = new Uint32Array(a.count + b.count);
    if (a.pathIds) pathIds.set(a.pathIds.subarray(0, a.count));
    if (b.pathIds) pathIds.set(b.pathIds.subarray(0, b.count), a.count);
  }
  return { afi: a.afi, count: a.count + b.count, addrs, lens, pathIds };
}

// ---------------------------------------------------------------------------------------------
// Text, for configuration and tests (not the hot path)

/**
 * A PrefixList from text such as ["10.0.0.0/24", "10.0.1.0/24"] or ["2001:db8::/48"]; all of one
 * family. `pathIds`, when given, must have one entry per prefix. Throws PrefixTextError on bad
 * text or host bits set past the length.
 */
export function prefixListFromText(texts: readonly string[], pathIds?: readonly number[], afiIfEmpty: Afi = Afi.IPv4): PrefixList {
  if (pathIds && pathIds.length !== texts.length) throw new PrefixTextError(`${pathIds.length} path identifiers for ${texts.length} prefixes`);
  const afi: Afi = texts.length === 0 ? afiIfEmpty : texts[0].includes(':') ? Afi.IPv6 : Afi.IPv4;
  const w = wordsPerPrefix(afi);
  const addrs = new Uint32Array(texts.length * w);
  const lens = new Uint8Array(texts.length);
  texts.forEach((text, i) => {
    const slash = text.indexOf('/');
    const addrText = slash < 0 ? text : text.slice(0, slash);
    const lenText = slash < 0 ? (afi === Afi.IPv6 ? '128' : '32') : text.slice(slash + 1);
    const max = afi === Afi.IPv6 ? 128 : 32;
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) throw new PrefixTextError(`${JSON.stringify(text)}: prefix length must be 0..${max}`);
    const len = Number(lenText);
    lens[i] = len;
    if (afi === Afi.IPv4) {
      const a = parseIpv4(addrText);
      if (a === null) throw new PrefixTextError(`${JSON.stringify(text)} is not an IPv4 prefix (all prefixes in one list share a family)`);
      const masked = len === 0 ? 0 : (a & (-1 << (32 - len))) >>> 0;
      if (masked !== a) throw new PrefixTextError(`${JSON.stringify(text)} has bits set past its length (did you mean ${ipv4ToString(masked)}/${len}?)`);
      addrs[i] = a;
    } else {
      const b = parseIpv6(addrText);
      if (b === null) throw new PrefixTextError(`${JSON.stringify(text)} is not an IPv6 prefix (all prefixes in one list share a family)`);
      for (let k = 0; k < 16; k++) {
        const bitsBefore = 8 * k;
        const keep = len >= bitsBefore + 8 ? 0xff : len <= bitsBefore ? 0 : (0xff << (8 - (len - bitsBefore))) & 0xff;
        if ((b[k] & ~keep) !== 0) throw new PrefixTextError(`${JSON.stringify(text)} has bits set past its length`);
        addrs[4 * i + (k >> 2)] |= b[k] << (24 - 8 * (k & 3));
      }
    }
  });
  return { afi, count: texts.length, addrs, lens, pathIds: pathIds ? Uint32Array.from(pathIds) : null };
}

/** Text of prefix i, e.g. "10.0.0.0/24" or "2001:db8::/48". */
export function prefixToText(list: PrefixList, i: number): string {
  if (list.afi === Afi.IPv4) return `${ipv4ToString(list.addrs[i])}/${list.lens[i]}`;
  const b = new Uint8Array(16);
  for (let k = 0; k < 16; k++) b[k] = list.addrs[4 * i + (k >> 2)] >>> (24 - 8 * (k & 3));
  return `${ipv6BytesToString(b)}/${list.lens[i]}`;
}

/** Every prefix as text, in order. */
export function prefixListToText(list: PrefixList): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.count; i++) out.push(prefixToText(list, i));
  return out;
}
