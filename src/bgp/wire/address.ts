/**
 * IPv4 and IPv6 addresses between their wire bytes and text, for the fields that occur once per
 * message (next hops, aggregator). The NLRI hot path never goes through here: it works on numbers.
 */
import { EncodeError } from './errors.ts';

/** Dotted quad of a uint32 in host order. */
export function ipv4ToString(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** uint32 of a dotted quad, or null when the text is not one. */
export function parseIpv4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n >>> 0;
}

/** RFC 5952 text of 16 bytes (lower case, longest run of zero groups compressed). */
export function ipv6BytesToString(b: Uint8Array, off = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  // Longest run of two or more zero groups, first one wins a tie (RFC 5952 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** 16 bytes of an IPv6 address in text (with "::" and an optional dotted-quad tail), or null. */
export function parseIpv6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let text = s;
  if (text.includes('.')) {
    // A dotted-quad tail (::ffff:192.0.2.1) becomes two groups.
    const lastColon = text.lastIndexOf(':');
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !rest) return null;
  if (halves.length === 2 && head.length + rest.length > 7) return null;
  const words = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (words.length !== 8) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 255;
  }
  return out;
}

/** 4 octets of an IPv4 address for an encoder; throws EncodeError naming `what` if it is not one. */
export function ipv4BytesOf(text: string, what: string): Uint8Array {
  const n = parseIpv4(text);
  if (n === null) throw new EncodeError('invalid-address', `${what} ${JSON.stringify(text)} is not an IPv4 address`);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** 16 octets of an IPv6 address for an encoder; throws EncodeError naming `what` if it is not one. */
export function ipv6BytesOf(text: string, what: string): Uint8Array {
  const b = parseIpv6(text);
  if (b === null) throw new EncodeError('invalid-address', `${what} ${JSON.stringify(text)} is not an IPv6 address`);
  return b;
}
