import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Afi } from '../../../src/bgp/wire/constants.ts';
import {
  compareAddresses,
  formatIPv6,
  formatKey,
  keyContains,
  keysOverlap,
  parseIPv6,
  parsePrefix,
  PrefixError,
  v4Key,
  v6Key,
} from '../../../src/bgp/rib/prefix.ts';

describe('compact prefix keys', () => {
  it('round-trips IPv4 and IPv6 prefixes through text', () => {
    for (const t of ['0.0.0.0/0', '10.0.0.0/8', '192.0.2.1/32', '255.255.255.255/32', '::/0', '2001:db8::/32', '2001:db8:0:1::/64', 'fe80::1/128', '1:2:3:4:5:6:7:8/128']) {
      expect(formatKey(parsePrefix(t).key)).toBe(t);
    }
  });

  it('gives numbers for IPv4 and 9-character strings for IPv6', () => {
    expect(parsePrefix('10.1.0.0/16')).toEqual({ afi: Afi.IPv4, key: v4Key(0x0a010000, 16) });
    const k = parsePrefix('2001:db8::/32').key;
    expect(typeof k).toBe('string');
    expect((k as string).length).toBe(9);
    expect(k).toBe(v6Key(0x20010db8, 0, 0, 0, 32));
  });

  it('rejects bad prefixes with a typed error naming the input', () => {
    for (const t of ['10.0.0.1/24', '10.0.0.0/33', '10.0.0/8', '300.0.0.0/8', '2001:db8::1/32', '2001:db8:::/32', 'x/1', '::/129']) {
      let err: unknown;
      try {
        parsePrefix(t);
      } catch (e) {
        err = e;
      }
      expect(err, t).toBeInstanceOf(PrefixError);
      expect((err as PrefixError).code).toBe('bgp-invalid-prefix');
      expect((err as PrefixError).message).toContain(t);
    }
  });

  it('formats IPv6 as RFC 5952 says (longest zero run compressed, lower case)', () => {
    expect(formatIPv6(parseIPv6('2001:0DB8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIPv6(parseIPv6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6(parseIPv6('::ffff:192.0.2.1')!)).toBe('::ffff:c000:201');
  });

  it('answers containment and overlap', () => {
    const k = (t: string) => parsePrefix(t).key;
    expect(keyContains(k('10.0.0.0/8'), k('10.1.2.0/24'))).toBe(true);
    expect(keyContains(k('10.1.2.0/24'), k('10.0.0.0/8'))).toBe(false);
    expect(keysOverlap(k('10.1.2.0/24'), k('10.0.0.0/8'))).toBe(true);
    expect(keysOverlap(k('10.1.2.0/24'), k('10.1.3.0/24'))).toBe(false);
    expect(keyContains(k('2001:db8::/32'), k('2001:db8:ff::/48'))).toBe(true);
    expect(keyContains(k('2001:db8::/32'), k('2001:db9::/48'))).toBe(false);
    expect(keyContains(k('10.0.0.0/8'), k('2001:db8::/32'))).toBe(false);
  });

  it('keys are distinct for distinct prefixes and equal for equal ones (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (addr, len) => {
        const masked = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
        const text = `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`;
        expect(parsePrefix(text).key).toBe(v4Key(masked, len));
        expect(formatKey(v4Key(masked, len))).toBe(text);
      }),
    );
  });

  it('orders addresses numerically, not as text', () => {
    expect(compareAddresses('198.51.100.9', '198.51.100.10')).toBeLessThan(0);
    expect(compareAddresses('2001:db8::a', '2001:db8::9')).toBeGreaterThan(0);
  });
});
