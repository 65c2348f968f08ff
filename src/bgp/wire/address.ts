/**
 * IPv4 and IPv6 addresses between their wire bytes and text, for the fields that occur once per
 * message (next hops, aggregator). The NLRI hot path never goes through here: it works on numbers.
 */
import { EncodeError } from './errors.ts';
import { parseIpv4, parseIpv6 } from '../../net/ip.ts';

export { formatIpv4 as ipv4ToString, parseIpv4, formatIpv6Bytes as ipv6BytesToString, parseIpv6 } from '../../net/ip.ts';

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
