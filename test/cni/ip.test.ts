import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatAddress, formatPrefix, parseAddress, parsePrefix, prefixContains, prefixSize } from '../../src/cni/ip.ts';

describe('address arithmetic', () => {
  it('parses and prints IPv4 and IPv6 addresses', () => {
    expect(parseAddress('10.244.1.7')).toEqual({ family: 4, value: 0x0af40107n });
    expect(parseAddress('2001:db8::1')).toEqual({ family: 6, value: (0x20010db8n << 96n) | 1n });
    expect(parseAddress('::ffff:192.0.2.1').value).toBe((0xffffn << 32n) | 0xc0000201n);
    expect(formatAddress(6, (0x20010db8n << 96n) | 1n)).toBe('2001:db8::1');
    expect(formatAddress(6, 0n)).toBe('::');
    // RFC 5952 4.2.2: a single zero group is not compressed.
    expect(formatAddress(6, parseAddress('2001:db8:0:1:1:1:1:1').value)).toBe('2001:db8:0:1:1:1:1:1');
    expect(() => parseAddress('10.0.0.256')).toThrow(/not an IPv4 or IPv6 address/);
  });

  it('round-trips any address, and prints IPv6 the way Node does', () => {
    fc.assert(
      fc.property(fc.ipV4(), (a) => formatAddress(4, parseAddress(a).value) === a),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (a) => {
        const printed = formatAddress(6, parseAddress(a).value);
        return isIPv6(printed) && parseAddress(printed).value === parseAddress(a).value;
      }),
      { numRuns: 500 },
    );
  });

  it('parses prefixes and rejects host bits with a hint', () => {
    const p = parsePrefix('10.244.1.0/26');
    expect(formatPrefix(p)).toBe('10.244.1.0/26');
    expect(prefixSize(p)).toBe(64n);
    expect(prefixContains(p, 4, parseAddress('10.244.1.63').value)).toBe(true);
    expect(prefixContains(p, 4, parseAddress('10.244.1.64').value)).toBe(false);
    expect(() => parsePrefix('10.244.1.1/24')).toThrow(/did you mean 10\.244\.1\.0\/24/);
    expect(parsePrefix('10.244.1.1/24', true).network).toBe(parseAddress('10.244.1.0').value);
    expect(() => parsePrefix('10.0.0.0/33')).toThrow(/prefix length/);
    expect(() => parsePrefix('10.0.0.0')).toThrow(/ADDRESS\/LENGTH/);
  });
});
