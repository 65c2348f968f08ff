/**
 * What two OPENs negotiate for the codec (RFC 5492: a capability applies when both sides sent it).
 * The session calls this once the peer's OPEN is accepted and hands the result to every decode and
 * encode for the rest of the session.
 */
import { familyKey } from './prefix.ts';
import type { Capability, CodecContext, FamilyKey, OpenMessage } from './types.ts';

function has(open: OpenMessage, kind: Capability['kind']): boolean {
  return open.capabilities.some((c) => c.kind === kind);
}

/** RFC 7911 4: per family, 1 = can receive, 2 = can send, 3 = both (the last mention wins). */
function addPathModes(open: OpenMessage): Map<FamilyKey, number> {
  const modes = new Map<FamilyKey, number>();
  for (const c of open.capabilities) if (c.kind === 'add-path') for (const f of c.families) modes.set(familyKey(f.afi, f.safi), f.sendReceive);
  return modes;
}

function extendedNextHops(open: OpenMessage): Set<string> {
  const out = new Set<string>();
  for (const c of open.capabilities) if (c.kind === 'extended-next-hop') for (const e of c.entries) out.add(`${familyKey(e.afi, e.safi)}/${e.nextHopAfi}`);
  return out;
}

export function negotiateCodecContext(local: OpenMessage, remote: OpenMessage, ebgp: boolean): CodecContext {
  const mine = addPathModes(local);
  const theirs = addPathModes(remote);
  const addPathReceive = new Set<FamilyKey>();
  const addPathSend = new Set<FamilyKey>();
  for (const [key, m] of mine) {
    const t = theirs.get(key) ?? 0;
    // RFC 7911 5: we receive path identifiers when we can receive and they can send, and vice versa.
    if (m & 1 && t & 2) addPathReceive.add(key);
    if (m & 2 && t & 1) addPathSend.add(key);
  }
  const localNh = extendedNextHops(local);
  const extendedNextHop = new Set<FamilyKey>();
  for (const entry of extendedNextHops(remote)) {
    // RFC 8950 4: IPv6 next hops for a family are used when both sides listed that entry.
    if (localNh.has(entry)) extendedNextHop.add(entry.split('/').slice(0, 2).join('/') as FamilyKey);
  }
  return {
    fourOctetAs: has(local, 'four-octet-as') && has(remote, 'four-octet-as'),
    extendedMessage: has(local, 'extended-message') && has(remote, 'extended-message'),
    addPathReceive,
    addPathSend,
    extendedNextHop,
    ebgp,
  };
}
