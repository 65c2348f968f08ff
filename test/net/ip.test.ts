import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6Bytes, formatIpv6Groups, parseIpv4, parseIpv6, parseIpv6Groups } from '../../src/net/ip.ts';

describe('IPv4 text', () => {
  it('parses dotted quads and prints them back', () => {
    expect(parseIpv4('198.51.100.1')).toBe(0xc6336401);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(formatIpv4(0xc6336401)).toBe('198.51.100.1');
    for (const bad of ['10.0.0', '10.0.0.0.0', '10.0.0.256', '10.0.0.-1', '10..0.1', '1234.0.0.1', 'a.b.c.d', '']) expect(parseIpv4(bad), bad).toBeNull();
  });

  it('round-trips any address', () => {
    fc.assert(fc.property(fc.ipV4(), (a) => formatIpv4(parseIpv4(a)!) === a), { numRuns: 500 });
  });
});

describe('IPv6 text', () => {
  it('formats and parses IPv6 addresses per RFC 5952', () => {
    expect(formatIpv6Bytes(parseIpv6('2001:0db8:0000:0000:0001:0000:0000:0001')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6Bytes(parseIpv6('::ffff:192.0.2.1')!)).toBe('::ffff:c000:201');
    // RFC 5952 4.2.2: a single zero group is not compressed; 4.2.3: the first of equal runs is.
    expect(formatIpv6Groups(parseIpv6Groups('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIpv6Groups(parseIpv6Groups('1:0:0:2:0:0:3:4')!)).toBe('1::2:0:0:3:4');
    expect(formatIpv6Groups([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::');
    expect(formatIpv6Bytes(Uint8Array.of(9, 9, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9), 2)).toBe('2001:db8::1');
  });

  it('rejects text that is not an address', () => {
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4::5:6:7:8', '12345::', 'g::', '::1.2.3', '1.2.3.4::', '::1.2.3.4:5', '']) {
      expect(parseIpv6(bad), bad).toBeNull();
    }
  });

  it('round-trips any address, printing it the way Node does', () => {
    fc.assert(
      fc.property(fc.ipV6(), (a) => {
        const printed = formatIpv6Bytes(parseIpv6(a)!);
        return isIPv6(printed) && formatIpv6Bytes(parseIpv6(printed)!) === printed;
      }),
      { numRuns: 500 },
    );
  });
});
