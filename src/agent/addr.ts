/**
 * Address and prefix checks for configuration and node-address selection. These run a handful of
 * times at start, so they use `ip-num` for validation rather than hand-rolled parsing; hot paths
 * (RIB, dataplane) have their own numeric representations.
 */
import { IPv4, IPv6, Validator } from 'ip-num';

export type Family = 4 | 6;

/** The family of a textual IP address, or null when it is not one (no prefix length allowed). */
export function addressFamily(text: string): Family | null {
  if (text.includes('/')) return null;
  if (Validator.isValidIPv4String(text)[0] && /^\d+\.\d+\.\d+\.\d+$/.test(text)) return 4;
  // Zone indexes (fe80::1%eth0) are not addresses a peer can be given.
  if (!text.includes('%') && text.includes(':') && Validator.isValidIPv6String(text)[0]) return 6;
  return null;
}

export interface Cidr {
  family: Family;
  /** The address as written (host bits may be set, as in `10.0.0.5/24`). */
  address: string;
  prefixLength: number;
  /** The address as a number, host bits cleared. */
  network: bigint;
}

/** Parses `ADDR/LEN`; host bits are allowed (Calico's cidr= and node annotations carry them). */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const family = addressFamily(address);
  if (family === null || !/^\d{1,3}$/.test(lenText)) return null;
  const prefixLength = Number(lenText);
  const bits = family === 4 ? 32 : 128;
  if (prefixLength > bits) return null;
  return { family, address, prefixLength, network: addressToBigInt(address, family) & maskOf(prefixLength, bits) };
}

export function addressToBigInt(address: string, family: Family): bigint {
  return family === 4 ? new IPv4(address).getValue() : new IPv6(address).getValue();
}

function maskOf(prefixLength: number, bits: number): bigint {
  if (prefixLength === 0) return 0n;
  return ((1n << BigInt(prefixLength)) - 1n) << BigInt(bits - prefixLength);
}

/** True when `address` lies inside `cidr` (families must match). */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const family = addressFamily(address);
  if (family !== cidr.family) return false;
  const bits = family === 4 ? 32 : 128;
  return (addressToBigInt(address, family) & maskOf(cidr.prefixLength, bits)) === cidr.network;
}

/** Link-local addresses (169.254/16, fe80::/10) are never a node's BGP address. */
export function isLinkLocal(address: string): boolean {
  const family = addressFamily(address);
  if (family === 4) return address.startsWith('169.254.');
  if (family === 6) return (addressToBigInt(address, 6) >> 118n) === 0x3fan;
  return false;
}

export function isLoopback(address: string): boolean {
  const family = addressFamily(address);
  if (family === 4) return address.startsWith('127.');
  if (family === 6) return addressToBigInt(address, 6) === 1n;
  return false;
}
