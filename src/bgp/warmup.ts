/**
 * Runs the receive path (UPDATE decoding, Adj-RIB-In, decision, Loc-RIB) once over synthetic
 * routes in a scratch RIB, so that V8 has compiled it to optimized code before the first peer
 * sends a table. Without this, a speaker's first few thousand prefixes run in V8's interpreter at
 * several microseconds each: 10k prefixes took 60-140 ms of CPU where the warm path needs 15.
 * BIRD and FRR are compiled ahead of time; this is our equivalent, paid once per process at start
 * (about 0.1 s of CPU) and leaving nothing behind: the scratch RIB lets go of every prefix.
 */
import { Rib } from './rib/rib.ts';
import { Afi, AsPathSegmentType, Origin } from './wire/constants.ts';
import { decodeMessage, defaultCodecContext, encodeAnnouncements, Framer } from './wire/index.ts';

/** Enough calls for V8 to optimize the per-prefix functions (measured: 4096 is not quite). */
const PREFIXES = 16384;

let warmed = false;

export function warmUpReceivePath(): void {
  if (warmed) return;
  warmed = true;
  const ctx = defaultCodecContext({ fourOctetAs: true, ebgp: true });
  // 10.x.0.0/24 prefixes, documentation ASNs and next hop: nothing here ever leaves the scratch RIB.
  const addrs = new Uint32Array(PREFIXES);
  for (let i = 0; i < PREFIXES; i++) addrs[i] = (0x0a000000 + i * 256) >>> 0;
  const updates = encodeAnnouncements(
    { origin: Origin.Igp, asPath: [{ type: AsPathSegmentType.AsSequence, asns: [64496] }], nextHop: '192.0.2.1' },
    { afi: Afi.IPv4, count: PREFIXES, addrs, lens: new Uint8Array(PREFIXES).fill(24), pathIds: null },
    ctx,
  );
  const rib = new Rib({ localAsn: 64511, routerId: 0xc0000202 });
  const peer = rib.addPeer({ id: 'warm-up', address: '192.0.2.1', asn: 64496 });
  rib.peerUp(peer, { bgpId: 0xc0000201, families: [Afi.IPv4], localAddress: { v4: '192.0.2.2' } });
  const framer = new Framer();
  for (const u of updates) {
    for (const m of framer.push(u).messages) {
      const r = decodeMessage(m, ctx);
      if (!r.ok || r.value.type !== 'update' || r.value.attrs.nextHop === undefined) continue;
      const { mpReach: _r, mpUnreach: _u, nextHop, ...rest } = r.value.attrs;
      rib.announce(peer, r.value.nlri, { ...rest, nextHop });
    }
  }
  // Withdraws everything again (the peer-down path), so the shared prefix index is empty after.
  rib.removePeer(peer);
}
