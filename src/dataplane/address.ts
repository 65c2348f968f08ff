/**
 * IP prefixes as the route controller needs them: parsed once into bytes, printed back in one
 * canonical form (RFC 5952 for IPv6) so that a prefix is also its own map key. Hot paths (diffing
 * 100k routes) use these strings and byte arrays only, never general-purpose IP objects.
 */
import { formatIpv6Bytes } from '../net/ip.ts';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** 4 or 16 bytes, host bits zero. */
  bytes: Uint8Array;
  length: number;
  /** Canonical text, e.g. `10.0.0.1/32`, `2001:db8::/64`. */
  text: string;
}

export class AddressError extends Error {
  readonly code = 'TORTIE_BAD_ADDRESS';
  readonly input: string;
  constructor(input: string, why: string) {
    super(`bad IP address or prefix ${JSON.stringify(input)}: ${why}`);
    this.input = input;
  }
}

function parseV4(s: string, original: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4) throw new AddressError(original, 'IPv4 needs four dotted numbers');
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new AddressError(original, `octet ${JSON.stringify(p)} is not 0-255`);
    out[i] = Number(p);
  }
  return out;
}

function parseV6(s: string, original: string): Uint8Array {
  const out = new Uint8Array(16);
  const halves = s.split('::');
  if (halves.length > 2) throw new AddressError(original, 'more than one "::"');
  const groups = (h: string): number[] => {
    if (h === '') return [];
    const parts = h.split(':');
    const words: number[] = [];
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p, original);
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw new AddressError(original, `group ${JSON.stringify(p)} is not 1-4 hex digits`);
        words.push(parseInt(p, 16));
      }
    });
    return words;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (halves.length === 1 && head.length !== 8) throw new AddressError(original, 'IPv6 needs eight groups or "::"');
  if (halves.length === 2 && head.length + tail.length > 7) throw new AddressError(original, 'too many groups around "::"');
  const words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** Parses an address without a length. */
export function parseAddress(s: string): { family: Family; bytes: Uint8Array } {
  if (typeof s !== 'string' || s.length === 0) throw new AddressError(String(s), 'empty');
  return s.includes(':') ? { family: 6, bytes: parseV6(s, s) } : { family: 4, bytes: parseV4(s, s) };
}

export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return formatIpv6Bytes(bytes);
}

/**
 * The common case, `a.b.c.d` or `a.b.c.d/len` in canonical form, without regular expressions or
 * intermediate strings: the controller parses every one of 100k prefixes on each change set.
 * Returns null for anything else, which then takes the careful path with its error messages.
 */
function parseV4Fast(s: string): Prefix | null {
  const key = v4Key(s);
  if (key === null) return null;
  const a = v4Scratch;
  return { family: 4, bytes: Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255), length: v4ScratchLen, text: key };
}

let v4Scratch = 0;
let v4ScratchLen = 0;

/** The canonical key of a canonical IPv4 prefix text, or null; leaves the address in v4Scratch. */
function v4Key(s: string): string | null {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let part = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return null; // leading zero: not canonical
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return null;
    } else if (c === 46 /* . */) {
      if (digits === 0 || part >= 3) return null;
      addr = addr * 256 + octet;
      part++;
      octet = 0;
      digits = 0;
    } else if (c === 47 /* / */) {
      break;
    } else return null;
  }
  if (digits === 0 || part !== 3) return null;
  addr = addr * 256 + octet;
  let length = 32;
  if (i < s.length) {
    const rest = s.length - i - 1;
    if (rest === 0 || rest > 2 || (rest === 2 && s.charCodeAt(i + 1) === 48)) return null;
    length = 0;
    for (let j = i + 1; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c < 48 || c > 57) return null;
      length = length * 10 + (c - 48);
    }
    if (length > 32) return null;
    if (length < 32 && addr % 2 ** (32 - length) !== 0) return null;
  }
  v4Scratch = addr;
  v4ScratchLen = length;
  return i < s.length ? s : `${s}/32`;
}

/** The canonical key (`a.b.c.d/len`) of canonical IPv4 text, with or without a length; else null. */
export function canonicalV4Key(s: string): string | null {
  return v4Key(s);
}

/**
 * For the netlink encoder: a canonical IPv4 prefix as `address * 64 + length` (a safe integer),
 * or -1 for anything else (IPv6, or text that needs the careful parser).
 */
export function v4AddressAndLength(s: string): number {
  return v4Key(s) === null ? -1 : v4Scratch * 64 + v4ScratchLen;
}

/**
 * The canonical text (map key) and family of a prefix, without the bytes: what the route
 * controller needs for each of 100k desired routes. Throws AddressError like parsePrefix.
 */
export function prefixKey(s: string): { family: Family; text: string } {
  if (typeof s === 'string') {
    const key = v4Key(s);
    if (key !== null) return { family: 4, text: key };
  }
  const p = parsePrefix(s);
  return { family: p.family, text: p.text };
}

/**
 * Parses `addr/len` (or a bare address, meaning a host prefix). Host bits must be zero: a prefix
 * with host bits set is almost always a typo, and the kernel would silently mask it.
 */
export function parsePrefix(s: string): Prefix {
  if (typeof s !== 'string') throw new AddressError(String(s), 'not a string');
  const fast = parseV4Fast(s);
  if (fast) return fast;
  const slash = s.indexOf('/');
  const { family, bytes } = parseAddress(slash < 0 ? s : s.slice(0, slash));
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const l = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > max) throw new AddressError(s, `length must be 0-${max}`);
    length = Number(l);
  }
  for (let bit = length; bit < max; bit++) {
    if (bytes[bit >> 3] & (0x80 >> (bit & 7))) throw new AddressError(s, `host bits set beyond /${length}`);
  }
  return { family, bytes, length, text: `${formatAddress(bytes)}/${length}` };
}

/** True when `addr` (bytes of the same family) lies inside `prefix`. */
export function prefixContains(prefix: Prefix, addr: Uint8Array): boolean {
  if (addr.length !== prefix.bytes.length) return false;
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== prefix.bytes[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full] & mask) === (prefix.bytes[full] & mask);
}
