import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressFamily, cidrContains, isLinkLocal, parseCidr } from '../../src/agent/addr.ts';
import { formatListen, parseListen } from '../../src/agent/config.ts';
import { routesQueryFrom } from '../../src/agent/control.ts';

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
// Groups biased towards zero so that compression cases come up often.
const ipv6 = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

describe('addresses', () => {
  it('canonicalises IPv6 prefixes as the WHATWG URL parser does (RFC 5952 compression)', () => {
    fc.assert(
      fc.property(ipv6, (a) => {
        const q = routesQueryFrom(`${a}/128`);
        expect(q).toEqual({ match: 'exact', prefix: `${new URL(`http://[${a}]/`).hostname.slice(1, -1)}/128` });
      }),
    );
  });

  it('an address always lies in any prefix built from it, and the network has no host bits', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4.map((a) => [a, 32] as const), ipv6.map((a) => [a, 128] as const)), fc.nat(128), ([a, bits], n) => {
        const len = n % (bits + 1);
        const cidr = parseCidr(`${a}/${len}`)!;
        expect(cidrContains(cidr, a)).toBe(true);
        if (len < bits) expect(cidr.network & ((1n << BigInt(bits - len)) - 1n)).toBe(0n);
      }),
    );
  });

  it('parses what it formats for listen addresses', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        expect(parseListen(formatListen({ host, port }))).toEqual({ host, port });
      }),
    );
  });

  it('tells families apart and refuses near misses', () => {
    expect(addressFamily('10.0.0.1')).toBe(4);
    expect(addressFamily('fd00::1')).toBe(6);
    for (const bad of ['10.0.0', '10.0.0.1/32', 'fe80::1%eth0', '1.2.3.4.5', '', 'ten']) expect(addressFamily(bad)).toBeNull();
    expect(isLinkLocal('169.254.1.1')).toBe(true);
    expect(isLinkLocal('fe80::1')).toBe(true);
    expect(isLinkLocal('febf::1')).toBe(true);
    expect(isLinkLocal('fec0::1')).toBe(false);
  });
});
