/**
 * BGP codec throughput: UPDATEs packed with /24 IPv4 and /48 IPv6 prefixes, decoded with
 * decodeMessage (header check, attributes, NLRI into typed arrays) and encoded with
 * encodeAnnouncements (packing included). Figures are the best of several rounds on one core.
 *
 *   npm run bench -- codec [prefixes=1000000] [rounds=15]
 */
import { Afi, Safi } from '../src/bgp/wire/constants.ts';
import { decodeMessage, defaultCodecContext } from '../src/bgp/wire/message.ts';
import { encodeAnnouncements } from '../src/bgp/wire/update.ts';
import type { BenchReport } from './lib/report.ts';
import type { PathAttributes, PrefixList } from '../src/bgp/wire/types.ts';

function ipv4Slash24(count: number): PrefixList {
  const addrs = new Uint32Array(count);
  for (let i = 0; i < count; i++) addrs[i] = (0x0a000000 + (i << 8)) >>> 0; // 10.0.0.0/24 upwards
  return { afi: Afi.IPv4, count, addrs, lens: new Uint8Array(count).fill(24), pathIds: null };
}

function ipv6Slash48(count: number): PrefixList {
  const addrs = new Uint32Array(4 * count);
  for (let i = 0; i < count; i++) {
    addrs[4 * i] = 0x20010db8; // 2001:db8:XXXX::/48
    addrs[4 * i + 1] = (i & 0xffff) << 16;
  }
  return { afi: Afi.IPv6, count, addrs, lens: new Uint8Array(count).fill(48), pathIds: null };
}

const attrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [65001, 65002, 4200000001] }],
  nextHop: '192.0.2.1',
  med: 10,
  localPref: 100,
  communities: [0xfde80001, 0xfde80002],
};

function time(fn: () => void, rounds: number): number {
  fn(); // warm up
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

export async function run(args: string[]): Promise<BenchReport> {
  const count = Number(args[0] ?? 1_000_000);
  const rounds = Number(args[1] ?? 15);
  const ctx = defaultCodecContext({ fourOctetAs: true });
  const rows: BenchReport['rows'] = [];
  const cases: Array<[string, PrefixList, PathAttributes]> = [
    ['IPv4 /24', ipv4Slash24(count), attrs],
    ['IPv6 /48', ipv6Slash48(count), { ...attrs, nextHop: undefined, mpReach: { afi: Afi.IPv6, safi: Safi.Unicast, nextHop: '2001:db8::1', nlri: ipv6Slash48(0) } }],
  ];
  for (const [name, prefixes, a] of cases) {
    let messages: Uint8Array[] = [];
    const encodeS = time(() => {
      messages = encodeAnnouncements(a, prefixes, ctx);
    }, rounds);
    const bytes = messages.reduce((n, m) => n + m.length, 0);
    let decoded = 0;
    const decodeS = time(() => {
      decoded = 0;
      for (const m of messages) {
        const r = decodeMessage(m, ctx);
        if (!r.ok || r.value.type !== 'update') throw new Error('benchmark message did not decode');
        decoded += r.value.nlri.count + (r.value.attrs.mpReach?.nlri.count ?? 0);
      }
    }, rounds);
    if (decoded !== count) throw new Error(`decoded ${decoded} prefixes, expected ${count}`);
    rows.push([name, 'decode', count, messages.length, Math.round(count / decodeS), bytes / decodeS / 1e6]);
    rows.push([name, 'encode', count, messages.length, Math.round(count / encodeS), bytes / encodeS / 1e6]);
  }
  return {
    title: `BGP codec throughput, ${count.toLocaleString('en-US')} prefixes in 4096-octet UPDATEs, best of ${rounds} rounds, one core`,
    columns: ['prefixes', 'op', 'count', 'messages', 'prefixes/s', 'MB/s'],
    rows,
    notes: ['Target: decode >= 5,000,000 IPv4 prefixes/s. The machine is shared; numbers are noisy.'],
  };
}
