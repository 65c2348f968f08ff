/** Shared pieces of the speaker tests that script a peer (selection deferral, refresh, reconfiguration). */
import { Speaker, type SpeakerOptions } from '../../src/bgp/speaker.ts';
import { buildOpen } from '../../src/bgp/session/open.ts';
import { Afi, AsPathSegmentType, Origin } from '../../src/bgp/wire/constants.ts';
import { emptyPrefixList, prefixListFromText } from '../../src/bgp/wire/index.ts';
import type { Capability, Message, UpdateMessage } from '../../src/bgp/wire/types.ts';
import type { FakePeer } from './fake-peer.ts';

export type Cleanup = () => Promise<void> | void;

export function makeSpeaker(cleanups: Cleanup[], opts: Partial<SpeakerOptions> & { routerId: string; localAsn: number }): Speaker {
  const s = new Speaker({ listen: false, holdTime: 30, connectRetryTime: 1, idleHold: { initialMs: 100, maxMs: 1000 }, ...opts });
  cleanups.push(() => s.stop());
  return s;
}

/** An IPv4 UPDATE announcing `prefixes` (from AS 65001) and withdrawing `withdrawn`; both empty: End-of-RIB. */
export function update(prefixes: string[], withdrawn: string[] = [], attrs: Partial<UpdateMessage['attrs']> = {}): UpdateMessage {
  return {
    type: 'update',
    withdrawn: withdrawn.length ? prefixListFromText(withdrawn) : emptyPrefixList(Afi.IPv4),
    attrs: prefixes.length ? { origin: Origin.Igp, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001] }], nextHop: '127.0.0.99', ...attrs } : attrs,
    nlri: prefixes.length ? prefixListFromText(prefixes) : emptyPrefixList(Afi.IPv4),
  };
}

/**
 * OPEN then KEEPALIVE from a scripted peer, IPv4 only: optionally with graceful restart (and its R
 * bit), and without (enhanced) route refresh when told.
 */
export function openFrom(peer: FakePeer, o: { asn: number; bgpId: number; gr?: { restarting: boolean }; routeRefresh?: boolean; enhanced?: boolean }): void {
  const base = buildOpen({ localAsn: o.asn, routerId: o.bgpId, holdTime: 30, families: [Afi.IPv4] });
  let caps: Capability[] = base.capabilities;
  if (o.routeRefresh === false) caps = caps.filter((c) => c.kind !== 'route-refresh' && c.kind !== 'enhanced-route-refresh');
  if (o.enhanced === false) caps = caps.filter((c) => c.kind !== 'enhanced-route-refresh');
  if (o.gr) caps = [...caps, { kind: 'graceful-restart', restarting: o.gr.restarting, notification: false, restartTime: 60, families: [{ afi: Afi.IPv4, safi: 1, forwardingPreserved: true }] }];
  peer.send({ ...base, capabilities: caps });
  peer.send({ type: 'keepalive' });
}

/** Prefixes (text) announced in the UPDATEs a scripted peer received. */
export function announcedTo(peer: FakePeer): string[] {
  return peer.ofType('update').flatMap((u) => prefixesOf(u.nlri));
}

export function withdrawnFrom(peer: FakePeer): string[] {
  return peer.ofType('update').flatMap((u) => prefixesOf(u.withdrawn));
}

function prefixesOf(list: UpdateMessage['nlri']): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.count; i++) {
    const a = list.addrs[i];
    out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${list.lens[i]}`);
  }
  return out;
}

/** A message's short name for order checks: 'update', 'eor', 'borr', 'eorr', 'refresh', ... */
export function kindOf(m: Message): string {
  if (m.type === 'update') return m.nlri.count === 0 && m.withdrawn.count === 0 && !m.attrs.mpReach && !m.attrs.mpUnreach ? 'eor' : 'update';
  if (m.type === 'route-refresh') return m.subtype === 1 ? 'borr' : m.subtype === 2 ? 'eorr' : 'refresh';
  return m.type;
}
