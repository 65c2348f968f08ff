/**
 * The little address arithmetic the plugin needs: parse and print IPv4/IPv6 addresses and prefixes
 * as bigints. Kept here (rather than pulling a library into the bundled binary) because every ADD
 * pays for what the executable loads.
 */
import { isIP } from 'node:net';
import { formatIpv6Groups } from '../net/ip.ts';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** The network address (host bits cleared). */
  network: bigint;
  length: number;
}

export class AddressError extends Error {
  readonly code = 'ERR_BAD_ADDRESS';
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export function familyBits(family: Family): number {
  return BITS[family];
}

export function parseAddress(text: string): { family: Family; value: bigint } {
  const family = isIP(text);
  if (family === 4) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family, value };
  }
  if (family === 6) {
    let v4tail: number[] = [];
    let body = text;
    // An embedded dotted quad (::ffff:1.2.3.4) stands for the last two groups.
    const lastColon = body.lastIndexOf(':');
    if (body.includes('.', lastColon)) {
      v4tail = body.slice(lastColon + 1).split('.').map(Number);
      body = body.slice(0, lastColon + 1) + '0:0';
    }
    const [head, tail] = body.includes('::') ? body.split('::') : [body, undefined];
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const fill = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
    const groups = [...headGroups, ...fill, ...tailGroups];
    let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
    if (v4tail.length === 4) value = (value & ~0xffffffffn) | BigInt(((v4tail[0] << 24) >>> 0) + (v4tail[1] << 16) + (v4tail[2] << 8) + v4tail[3]);
    return { family, value };
  }
  throw new AddressError(`'${text}' is not an IPv4 or IPv6 address`);
}

export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  return formatIpv6Groups(groups);
}

/** Parses `ADDR/LEN`; host bits must be zero unless `allowHostBits` (for `10.0.0.5/24` style). */
export function parsePrefix(text: string, allowHostBits = false): Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new AddressError(`'${text}' is not a prefix: expected ADDRESS/LENGTH`);
  const { family, value } = parseAddress(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  const length = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || length > BITS[family]) throw new AddressError(`'${text}' has a bad prefix length`);
  const hostMask = (1n << BigInt(BITS[family] - length)) - 1n;
  if (!allowHostBits && (value & hostMask) !== 0n) throw new AddressError(`'${text}' has host bits set; did you mean ${formatAddress(family, value & ~hostMask)}/${length}?`);
  return { family, network: value & ~hostMask, length };
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.family, p.network)}/${p.length}`;
}

/** Number of addresses in the prefix. */
export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(BITS[p.family] - p.length);
}

export function prefixContains(p: Prefix, family: Family, value: bigint): boolean {
  return family === p.family && value >= p.network && value < p.network + prefixSize(p);
}
