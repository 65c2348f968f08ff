/**
 * RFC 4271 9.1.2: the decision process, written as the RFC writes it: a series of eliminations
 * (9.1.2.2), each keeping only the candidates that are best by one criterion. Elimination, rather
 * than a pairwise comparator, is what makes MED correct: MED only compares routes from the same
 * neighbouring AS, which is not a total order.
 */
import { Origin } from '../wire/constants.ts';
import type { AttrSet } from './attrs.ts';
import { asPathLength, neighborAs } from './attrs.ts';
import { compareAddresses } from './prefix.ts';

/** Where a candidate route came from, as far as the decision process cares. */
export interface CandidateSource {
  kind: 'local' | 'ibgp' | 'ebgp';
  /** The peer's BGP identifier (uint32); ours for local routes. */
  bgpId: number;
  /** The peer's address in text form ('' for local routes). */
  address: string;
}

export interface Candidate<S extends CandidateSource = CandidateSource> {
  source: S;
  attrs: AttrSet;
}

/** RFC 4271 9.1.1: LOCAL_PREF when present; our default otherwise (and for eBGP routes without policy). */
export const DEFAULT_LOCAL_PREF = 100;

function keepMin<S extends CandidateSource>(cs: Candidate<S>[], f: (c: Candidate<S>) => number): Candidate<S>[] {
  let min = Infinity;
  for (const c of cs) min = Math.min(min, f(c));
  return cs.filter((c) => f(c) === min);
}

/**
 * Picks the best route among candidates that are all eligible (next hop reachable, no loop). Local
 * routes (originated by this speaker) win over learned ones, as a router's own routes do.
 */
export function selectBest<S extends CandidateSource>(candidates: Candidate<S>[]): Candidate<S> | null {
  if (candidates.length === 0) return null;
  if (candidates.length === 1) return candidates[0];
  let cs = candidates;
  const local = cs.filter((c) => c.source.kind === 'local');
  if (local.length) cs = local;
  // 9.1.2.1 / 9.1.1: highest degree of preference, i.e. LOCAL_PREF.
  cs = keepMin(cs, (c) => -(c.attrs.localPref ?? DEFAULT_LOCAL_PREF));
  // 9.1.2.2 a: shortest AS_PATH.
  cs = keepMin(cs, (c) => asPathLength(c.attrs.asPath));
  // b: lowest ORIGIN.
  cs = keepMin(cs, (c) => c.attrs.origin ?? Origin.Incomplete);
  // c: among routes from the same neighbouring AS, lowest MED (a missing MED is the lowest, 0).
  if (cs.length > 1) {
    const minByAs = new Map<number | undefined, number>();
    for (const c of cs) {
      const n = neighborAs(c.attrs.asPath);
      minByAs.set(n, Math.min(minByAs.get(n) ?? Infinity, c.attrs.med ?? 0));
    }
    cs = cs.filter((c) => (c.attrs.med ?? 0) === minByAs.get(neighborAs(c.attrs.asPath)));
  }
  // d: eBGP-learned over iBGP-learned.
  cs = keepMin(cs, (c) => (c.source.kind === 'ibgp' ? 1 : 0));
  // e: interior cost to the next hop: tortie's next hops are on-link, all equal.
  // f: lowest BGP identifier, or ORIGINATOR_ID for reflected routes (RFC 4456 9).
  cs = keepMin(cs, (c) => c.attrs.originatorId ?? c.source.bgpId);
  // RFC 4456 9: shortest CLUSTER_LIST.
  cs = keepMin(cs, (c) => c.attrs.clusterList?.length ?? 0);
  // g: lowest peer address.
  if (cs.length > 1) cs = [...cs].sort((a, b) => compareAddresses(a.source.address, b.source.address));
  return cs[0];
}
