/**
 * An independent decoder checks ours: a representative set of messages, encoded by the codec, is
 * written as one TCP stream (cut into segments at arbitrary points) to a pcap file, and tshark must
 * find the same message boundaries, fields and values. No network is used. Skips when tshark is
 * not installed (scripts/install-deps.sh installs it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCodecContext, encodeMessage } from '../../../src/bgp/wire/message.ts';
import { encodeAnnouncements, encodeEndOfRib, encodeWithdrawals } from '../../../src/bgp/wire/update.ts';
import { prefixListFromText, prefixListToText } from '../../../src/bgp/wire/prefix.ts';
import type { Message, OpenMessage, PathAttributes, PrefixList } from '../../../src/bgp/wire/types.ts';
import { FIXTURES } from './fixtures.ts';
import { pcapOfTcpSegments } from './pcap.ts';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasTshark) console.warn('tshark not found: skipping the tshark cross-check (apt-get install tshark)');

const ctx = defaultCodecContext({ fourOctetAs: true });
const fixture = (name: string) => FIXTURES.find((f) => f.name.startsWith(name))!.message;

const open = fixture('OPEN with every capability') as OpenMessage;
const fullUpdate: Message = {
  type: 'update',
  withdrawn: prefixListFromText(['10.1.0.0/24', '172.16.0.0/16']),
  // Type 99 of the golden fixture is LINK_STATE to tshark 4.0 (an unofficial code point); 200 is
  // unassigned for both.
  attrs: { ...(fixture('UPDATE IPv4 with every attribute') as { attrs: PathAttributes }).attrs, unknown: [{ flags: 0xe0, type: 200, value: Uint8Array.of(1, 2, 3) }] },
  nlri: prefixListFromText(['10.0.0.0/24', '10.0.1.0/24', '192.0.2.100/32', '172.16.0.0/12']),
};
const v6Update = fixture('UPDATE IPv6');
const shutdown: Message = { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0), communication: 'upgrade to v2, back in 5 minutes' };
const updateError: Message = { type: 'notification', code: 3, subcode: 11, data: Uint8Array.of(0x40, 2, 0) };
const borr: Message = { type: 'route-refresh', afi: 2, safi: 1, subtype: 1 };

function slash24s(count: number): PrefixList {
  return prefixListFromText(Array.from({ length: count }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`));
}
const packedAttrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '192.0.2.1' };
const packed = slash24s(1500);
const v6Withdrawn = prefixListFromText(Array.from({ length: 700 }, (_, i) => `2001:db8:${i.toString(16)}::/48`));

const messages: Uint8Array[] = [
  encodeMessage(open, ctx),
  encodeMessage({ type: 'keepalive' }, ctx),
  encodeMessage(fullUpdate, ctx),
  encodeMessage(v6Update, ctx),
  ...encodeAnnouncements(packedAttrs, packed, ctx),
  ...encodeWithdrawals(v6Withdrawn, ctx),
  encodeEndOfRib({ afi: 1, safi: 1 }),
  encodeEndOfRib({ afi: 2, safi: 1 }),
  encodeMessage(shutdown, ctx),
  encodeMessage(updateError, ctx),
  encodeMessage(borr, ctx),
];

const FIELDS = [
  'bgp.type',
  'bgp.length',
  'bgp.open.myas',
  'bgp.open.holdtime',
  'bgp.open.identifier',
  'bgp.cap.type',
  'bgp.cap.4as',
  'bgp.cap.gr.timers.restart_time',
  'bgp.cap.ap.sendreceive',
  'bgp.cap.enh.nhafi',
  'bgp.update.path_attribute.type_code',
  'bgp.update.path_attribute.origin',
  'bgp.update.path_attribute.as_path_segment.as4',
  'bgp.update.path_attribute.next_hop',
  'bgp.update.path_attribute.multi_exit_disc',
  'bgp.update.path_attribute.local_pref',
  'bgp.update.path_attribute.aggregator_as',
  'bgp.update.path_attribute.aggregator_origin',
  'bgp.update.path_attribute.community_as',
  'bgp.update.path_attribute.community_value',
  'bgp.update.path_attribute.originator_id',
  'bgp.path_attribute.cluster_id',
  'bgp.large_communities.ga',
  'bgp.large_communities.ldp2',
  'bgp.withdrawn_prefix',
  'bgp.nlri_prefix',
  'bgp.mp_reach_nlri_ipv6_prefix',
  'bgp.mp_unreach_nlri_ipv6_prefix',
  'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6',
  'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local',
  'bgp.update.path_attribute.mp_unreach_nlri.afi',
  'bgp.notify.major_error',
  'bgp.notify.minor_error_cease',
  'bgp.notify.minor_error_update',
  'bgp.notify.communication',
  'bgp.route_refresh.afi',
  'bgp.route_refresh.subtype',
  'bgp.route_refresh.safi',
  '_ws.malformed',
] as const;

describe.skipIf(!hasTshark)('tshark decodes what the codec encodes', () => {
  let dir = '';
  const seen = new Map<string, string[]>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tc-pcap-'));
    const stream = Uint8Array.from(messages.flatMap((m) => Array.from(m)));
    // Cut at arbitrary points so that messages straddle segments and segments hold several.
    const segments: Uint8Array[] = [];
    for (let off = 0, i = 0; off < stream.length; i++) {
      const size = [97, 1400, 3000, 1460][i % 4];
      segments.push(stream.subarray(off, off + size));
      off += size;
    }
    const file = join(dir, 'codec.pcap');
    // TC_KEEP_PCAP=/some/file.pcap keeps a copy to look at with wireshark.
    if (process.env.TC_KEEP_PCAP) writeFileSync(process.env.TC_KEEP_PCAP, pcapOfTcpSegments(segments));
    writeFileSync(file, pcapOfTcpSegments(segments));
    const args = ['-r', file, '-d', 'tcp.port==179,bgp', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=|'];
    for (const f of FIELDS) args.push('-e', f);
    const out = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (out.status !== 0) throw new Error(`tshark failed: ${out.stderr}`);
    FIELDS.forEach((f) => seen.set(f, []));
    for (const line of out.stdout.split('\n')) {
      if (line === '') continue;
      line.split('\t').forEach((col, i) => {
        if (col !== '') seen.get(FIELDS[i])!.push(...col.split('|'));
      });
    }
  }, 30_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = (f: (typeof FIELDS)[number]) => seen.get(f)!;

  it('finds every message boundary: the same types and lengths in the same order, nothing malformed', () => {
    expect(get('bgp.type')).toEqual(messages.map((m) => String(m[18])));
    expect(get('bgp.length')).toEqual(messages.map((m) => String(m.length)));
    expect(get('_ws.malformed')).toEqual([]);
  });

  it('reads the OPEN and its capabilities as we wrote them', () => {
    expect([get('bgp.open.myas'), get('bgp.open.holdtime'), get('bgp.open.identifier')]).toEqual([['65001'], ['90'], ['192.0.2.1']]);
    expect(get('bgp.cap.type')).toEqual(['1', '1', '2', '70', '6', '65', '64', '69', '5', '73']);
    expect(get('bgp.cap.4as')).toEqual(['4200000000']);
    expect(get('bgp.cap.gr.timers.restart_time')).toEqual(['120']);
    expect(get('bgp.cap.ap.sendreceive')).toEqual(['3', '1']);
    expect(get('bgp.cap.enh.nhafi')).toEqual(['2']);
  });

  it('reads every path attribute of the full UPDATE', () => {
    const codes = get('bgp.update.path_attribute.type_code');
    expect(codes.slice(0, 13)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '16', '32', '200']);
    expect(get('bgp.update.path_attribute.origin').slice(0, 1)).toEqual(['0']);
    expect(get('bgp.update.path_attribute.as_path_segment.as4').slice(0, 3)).toEqual(['4200000001', '65001', '65002']);
    expect(get('bgp.update.path_attribute.next_hop')[0]).toBe('192.0.2.1');
    expect(get('bgp.update.path_attribute.multi_exit_disc')).toEqual(['100']);
    expect(get('bgp.update.path_attribute.local_pref')).toEqual(['200']);
    expect([get('bgp.update.path_attribute.aggregator_as'), get('bgp.update.path_attribute.aggregator_origin')]).toEqual([['65001'], ['192.0.2.2']]);
    expect([get('bgp.update.path_attribute.community_as'), get('bgp.update.path_attribute.community_value')]).toEqual([
      ['65000', '65000'],
      ['1', '2'],
    ]);
    expect(get('bgp.update.path_attribute.originator_id')).toEqual(['192.0.2.3']);
    expect(get('bgp.path_attribute.cluster_id')).toEqual(['192.0.2.4', '192.0.2.5']);
    expect([get('bgp.large_communities.ga'), get('bgp.large_communities.ldp2')]).toEqual([['65001'], ['2']]);
  });

  it('reads the same IPv4 prefixes, withdrawn and announced, including 1500 packed into several UPDATEs', () => {
    expect(get('bgp.withdrawn_prefix')).toEqual(['10.1.0.0', '172.16.0.0']);
    const addrs = (l: PrefixList) => prefixListToText(l).map((t) => t.split('/')[0]);
    expect(get('bgp.nlri_prefix')).toEqual([...addrs(fullUpdate.nlri), ...addrs(packed)]);
  });

  it('reads MP_REACH_NLRI and MP_UNREACH_NLRI: next hops, IPv6 prefixes, End-of-RIB', () => {
    expect(get('bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6')).toEqual(['2001:db8::1']);
    expect(get('bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local')).toEqual(['fe80::1']);
    expect(get('bgp.mp_reach_nlri_ipv6_prefix')).toEqual(['2001:db8:1::', '2001:db8:2::']);
    const withdrawnText = prefixListToText(v6Withdrawn).map((t) => t.split('/')[0]);
    expect(get('bgp.mp_unreach_nlri_ipv6_prefix')).toEqual(['2001:db8::', '2001:db8:ffff::', ...withdrawnText]);
    // The packed withdrawals and the End-of-RIB each carry an MP_UNREACH_NLRI for AFI 2.
    const withdrawalMessages = encodeWithdrawals(v6Withdrawn, ctx).length;
    expect(get('bgp.update.path_attribute.mp_unreach_nlri.afi')).toEqual(Array(1 + withdrawalMessages + 1).fill('2'));
  });

  it('reads NOTIFICATIONs, the RFC 9003 shutdown communication, and ROUTE-REFRESH', () => {
    expect(get('bgp.notify.major_error')).toEqual(['6', '3']);
    expect(get('bgp.notify.minor_error_cease')).toEqual(['2']);
    expect(get('bgp.notify.minor_error_update')).toEqual(['11']);
    expect(get('bgp.notify.communication')).toEqual(['upgrade to v2, back in 5 minutes']);
    expect([get('bgp.route_refresh.afi'), get('bgp.route_refresh.subtype'), get('bgp.route_refresh.safi')]).toEqual([['2'], ['1'], ['1']]);
  });
});
