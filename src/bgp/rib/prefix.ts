/**
 * Compact route keys. The RIB holds up to millions of prefixes, so a prefix is never an object:
 * - IPv4: a number, `addr * 64 + len` (addr is the uint32 network address; fits in 38 bits).
 * - IPv6: a 9-character string, the address as eight 16-bit units then the length.
 * Both are valid Map keys and compare by value. Text forms exist only at the edges (config, events).
 */
import { Afi } from '../wire/constants.ts';
import type { PrefixList } from '../wire/types.ts';
import { formatIpv4, formatIpv6Groups, parseIpv4, parseIpv6Groups } from '../../net/ip.ts';

export type RouteKey = number | string;

export class PrefixError extends Error {
  readonly code = 'bgp-invalid-prefix';
  readonly input: string;
  constructor(input: string, why: string) {
    super(`invalid prefix "${input}": ${why}`);
    this.name = 'PrefixError';
    this.input = input;
  }
}

export function v4Key(addr: number, len: number): number {
  return (addr >>> 0) * 64 + len;
}

export function v4KeyAddr(key: number): number {
  return Math.floor(key / 64);
}

export function v4KeyLen(key: number): number {
  return key % 64;
}

/** `words` are four uint32, most significant first. */
export function v6Key(w0: number, w1: number, w2: number, w3: number, len: number): string {
  return String.fromCharCode(w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff, len);
}

export function v6KeyWords(key: string): [number, number, number, number] {
  const w = (i: number) => ((key.charCodeAt(2 * i) << 16) | key.charCodeAt(2 * i + 1)) >>> 0;
  return [w(0), w(1), w(2), w(3)];
}

export function v6KeyLen(key: string): number {
  return key.charCodeAt(8);
}

export function keyLen(key: RouteKey): number {
  return typeof key === 'number' ? v4KeyLen(key) : v6KeyLen(key);
}

/** The key of prefix `i` of a decoded prefix list. */
export function listKey(list: PrefixList, i: number): RouteKey {
  if (list.afi === Afi.IPv4) return v4Key(list.addrs[i], list.lens[i]);
  const a = list.addrs;
  const o = 4 * i;
  return v6Key(a[o], a[o + 1], a[o + 2], a[o + 3], list.lens[i]);
}

/** Builds a prefix list (the codec's input) from keys of one family. */
export function keysToList(afi: Afi, keys: readonly RouteKey[]): PrefixList {
  const n = keys.length;
  const lens = new Uint8Array(n);
  if (afi === Afi.IPv4) {
    const addrs = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = keys[i] as number;
      addrs[i] = v4KeyAddr(k);
      lens[i] = v4KeyLen(k);
    }
    return { afi, count: n, addrs, lens, pathIds: null };
  }
  const addrs = new Uint32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const k = keys[i] as string;
    const w = v6KeyWords(k);
    addrs.set(w, 4 * i);
    lens[i] = v6KeyLen(k);
  }
  return { afi, count: n, addrs, lens, pathIds: null };
}

// ---------------------------------------------------------------------------------------------
// Text forms (edges only)

export { parseIpv4 as parseIPv4, formatIpv4 as formatIPv4 } from '../../net/ip.ts';

/** Parses IPv6 text (with `::` and an optional trailing dotted quad) into four words. */
export function parseIPv6(text: string): [number, number, number, number] | null {
  const g = parseIpv6Groups(text);
  if (!g) return null;
  const w = (i: number) => ((g[2 * i] << 16) | g[2 * i + 1]) >>> 0;
  return [w(0), w(1), w(2), w(3)];
}

/** RFC 5952 text of four words: lower case, longest run of zero groups (two or more) compressed. */
export function formatIPv6(w: readonly number[]): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i] >>> 16, w[i] & 0xffff);
  return formatIpv6Groups(g);
}

function maskWord(word: number, bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return word >>> 0;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

/** Parses "10.0.0.0/8" or "2001:db8::/32". Host bits must be zero unless `allowHostBits`. */
export function parsePrefix(text: string, opts: { allowHostBits?: boolean } = {}): { afi: Afi; key: RouteKey } {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const v6 = addrText.includes(':');
  const max = v6 ? 128 : 32;
  let len = max;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) throw new PrefixError(text, 'the length is not a number');
    len = Number(l);
    if (len > max) throw new PrefixError(text, `the length is over ${max}`);
  }
  if (!v6) {
    const a = parseIpv4(addrText);
    if (a === null) throw new PrefixError(text, 'not an IPv4 address');
    const net = maskWord(a, len);
    if (net !== a && !opts.allowHostBits) throw new PrefixError(text, 'host bits are set past the length');
    return { afi: Afi.IPv4, key: v4Key(net, len) };
  }
  const w = parseIPv6(addrText);
  if (!w) throw new PrefixError(text, 'not an IPv6 address');
  const m = w.map((x, i) => maskWord(x, len - 32 * i));
  if (m.some((x, i) => x !== w[i]) && !opts.allowHostBits) throw new PrefixError(text, 'host bits are set past the length');
  return { afi: Afi.IPv6, key: v6Key(m[0], m[1], m[2], m[3], len) };
}

export function formatKey(key: RouteKey): string {
  if (typeof key === 'number') return `${formatIpv4(v4KeyAddr(key))}/${v4KeyLen(key)}`;
  return `${formatIPv6(v6KeyWords(key))}/${v6KeyLen(key)}`;
}

export function keyAfi(key: RouteKey): Afi {
  return typeof key === 'number' ? Afi.IPv4 : Afi.IPv6;
}

/** True when `outer` contains `inner` (same family; equal prefixes contain each other). */
export function keyContains(outer: RouteKey, inner: RouteKey): boolean {
  if (typeof outer === 'number') {
    if (typeof inner !== 'number') return false;
    const ol = v4KeyLen(outer);
    if (v4KeyLen(inner) < ol) return false;
    return maskWord(v4KeyAddr(inner), ol) === v4KeyAddr(outer);
  }
  if (typeof inner !== 'string') return false;
  const ol = v6KeyLen(outer);
  if (v6KeyLen(inner) < ol) return false;
  const o = v6KeyWords(outer);
  const n = v6KeyWords(inner);
  for (let i = 0; i < 4; i++) if (maskWord(n[i], ol - 32 * i) !== o[i]) return false;
  return true;
}

/** True when the two prefixes share any address. */
export function keysOverlap(a: RouteKey, b: RouteKey): boolean {
  return keyContains(a, b) || keyContains(b, a);
}

/** Numeric comparison of addresses in text form (the decision process's last tie-break). */
export function compareAddresses(a: string, b: string): number {
  const av6 = a.includes(':');
  const bv6 = b.includes(':');
  if (av6 !== bv6) return av6 ? 1 : -1;
  if (!av6) return (parseIpv4(a) ?? 0) - (parseIpv4(b) ?? 0);
  const x = parseIPv6(a) ?? [0, 0, 0, 0];
  const y = parseIPv6(b) ?? [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}
