import { describe, expect, it } from 'vitest';
import { decodePrefixes, prefixListFromText, prefixListToText, writePrefix, prefixWireSize, concatPrefixLists, slicePrefixList } from '../../../src/bgp/wire/prefix.ts';
import { PrefixTextError } from '../../../src/bgp/wire/errors.ts';
import { hex, toHex } from './fixtures.ts';

function encode(list: ReturnType<typeof prefixListFromText>, addPath = false): Uint8Array {
  let size = 0;
  for (let i = 0; i < list.count; i++) size += prefixWireSize(list, i, addPath);
  const out = new Uint8Array(size);
  let p = 0;
  for (let i = 0; i < list.count; i++) p = writePrefix(list, i, out, p, addPath);
  return out;
}

describe('prefix text helpers', () => {
  it('round-trips IPv4 and IPv6 prefixes through text', () => {
    const v4 = ['0.0.0.0/0', '10.0.0.0/8', '10.1.2.0/23', '192.0.2.1/32'];
    const v6 = ['::/0', '2001:db8::/32', '2001:db8:1::/48', 'fe80::1/128', '2001:db8:0:0:1::/80'];
    expect(prefixListToText(prefixListFromText(v4))).toEqual(v4);
    expect(prefixListToText(prefixListFromText(v6))).toEqual(['::/0', '2001:db8::/32', '2001:db8:1::/48', 'fe80::1/128', '2001:db8:0:0:1::/80']);
  });

  it('rejects bad text with a PrefixTextError that names the prefix', () => {
    for (const bad of ['10.0.0.1/24', '10.0.0/24', '10.0.0.0/33', '2001:db8::/129', '2001:db8::1/64', 'host/8']) {
      expect(() => prefixListFromText([bad]), bad).toThrow(PrefixTextError);
    }
    expect(() => prefixListFromText(['10.0.0.0/8', '2001:db8::/32'])).toThrow(/IPv4/);
  });
});

describe('decodePrefixes', () => {
  it('decodes every IPv4 length from 0 to 32 and encodes it back', () => {
    const texts = Array.from({ length: 33 }, (_, len) => `${len === 0 ? '0.0.0.0' : '255.255.255.255'}/${len}`).map((t) => {
      const [a, l] = t.split('/');
      const n = Number(l);
      const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
      const v = (a === '0.0.0.0' ? 0 : mask) >>> 0;
      return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${n}`;
    });
    const list = prefixListFromText(texts);
    const wire = encode(list);
    const back = decodePrefixes(wire, 0, wire.length, 1, false);
    expect(typeof back === 'string' ? back : prefixListToText(back)).toEqual(texts);
  });

  it('clears bits past the prefix length that a peer left set', () => {
    const r = decodePrefixes(hex('17 0a0001'), 0, 4, 1, false); // 10.0.1.0/23: bit 24 is past the length
    expect(typeof r === 'string' ? r : prefixListToText(r)).toEqual(['10.0.0.0/23']);
    const r6 = decodePrefixes(hex('21 20010db8ff'), 0, 6, 2, false);
    expect(typeof r6 === 'string' ? r6 : prefixListToText(r6)).toEqual(['2001:db8:8000::/33']);
  });

  it('reads add-path identifiers before each prefix (RFC 7911 3)', () => {
    const r = decodePrefixes(hex('00000007 18 0a0000 ffffffff 00'), 0, 13, 1, true);
    expect(typeof r === 'string' ? r : [prefixListToText(r), Array.from(r.pathIds!)]).toEqual([['10.0.0.0/24', '0.0.0.0/0'], [7, 0xffffffff]]);
  });

  it.each([
    ['a length over 32', '21 0a000000 00', 1, false, /length 33 is over 32/],
    ['a length over 128', '81' + '00'.repeat(17), 2, false, /length 129 is over 128/],
    ['address octets past the end', '18 0a00', 1, false, /past the end/],
    ['a path identifier cut short', '000000', 1, true, /past the end/],
    ['a length octet missing after a path identifier', '00000001', 1, true, /past the end/],
  ] as const)('reports %s', (_name, h, afi, addPath, re) => {
    const b = hex(h);
    expect(decodePrefixes(b, 0, b.length, afi, addPath)).toMatch(re);
  });

  it('slices and concatenates lists without changing prefixes', () => {
    const a = prefixListFromText(['10.0.0.0/8', '10.1.0.0/16', '10.2.0.0/16']);
    const b = prefixListFromText(['192.0.2.0/24']);
    expect(prefixListToText(concatPrefixLists(slicePrefixList(a, 1, 3), b))).toEqual(['10.1.0.0/16', '10.2.0.0/16', '192.0.2.0/24']);
    expect(toHex(encode(slicePrefixList(a, 2, 3)))).toBe('100a02');
  });
});
