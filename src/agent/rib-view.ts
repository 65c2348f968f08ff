/**
 * `tortie routes` from the speaker's RIB: every path to each prefix, which one is best, and why,
 * in the words of RFC 4271 9.1.2.2. The speaker's decision (src/bgp/rib/decision.ts) keeps no
 * record of why; this replays the same eliminations over the candidates to say which step
 * removed each loser, and what the winner won on.
 */
import type { Rib, RibSource } from '../bgp/rib/rib.ts';
import type { AttrSet } from '../bgp/rib/attrs.ts';
import { asPathLength, neighborAs } from '../bgp/rib/attrs.ts';
import { DEFAULT_LOCAL_PREF } from '../bgp/rib/decision.ts';
import { compareAddresses, formatIPv4, formatKey, keyContains, keyLen, parsePrefix, type RouteKey } from '../bgp/rib/prefix.ts';
import { Afi, AsPathSegmentType, Origin } from '../bgp/wire/constants.ts';
import type { AsPathSegment } from '../bgp/wire/types.ts';
import type { RibRoute, RoutesQuery } from './sources.ts';

interface Path {
  source: RibSource;
  attrs: AttrSet;
}

/** An AS_PATH as BIRD and GoBGP print it: `65001 65002 {65003,65004}`. */
export function formatAsPath(path: readonly AsPathSegment[] | undefined): string {
  if (!path) return '';
  return path
    .map((s) => (s.type === AsPathSegmentType.AsSet || s.type === AsPathSegmentType.ConfedSet ? `{${s.asns.join(',')}}` : s.asns.join(' ')))
    .filter((x) => x !== '')
    .join(' ');
}

const who = (p: Path) => (p.source.kind === 'local' ? 'this node' : p.source.address);

/** One elimination step of RFC 4271 9.1.2.2 (and RFC 4456 9): a score to minimise, and its words. */
interface Step {
  name: string;
  score: (p: Path, all: Path[]) => number;
  /** Why the survivors beat a loser on this step. */
  beat: (w: Path, l: Path) => string;
}

const STEPS: Step[] = [
  { name: 'local', score: (p) => (p.source.kind === 'local' ? 0 : 1), beat: () => 'originated by this node' },
  { name: 'local-pref', score: (p) => -(p.attrs.localPref ?? DEFAULT_LOCAL_PREF), beat: (w, l) => `higher LOCAL_PREF (${w.attrs.localPref ?? DEFAULT_LOCAL_PREF} > ${l.attrs.localPref ?? DEFAULT_LOCAL_PREF})` },
  { name: 'as-path', score: (p) => asPathLength(p.attrs.asPath), beat: (w, l) => `shorter AS_PATH (${asPathLength(w.attrs.asPath)} < ${asPathLength(l.attrs.asPath)})` },
  { name: 'origin', score: (p) => p.attrs.origin ?? Origin.Incomplete, beat: (w, l) => `lower ORIGIN (${w.attrs.origin ?? 2} < ${l.attrs.origin ?? 2})` },
  {
    name: 'med',
    // MED compares only routes from the same neighbouring AS: a loser is scored against the best of its own AS.
    score: (p, all) => {
      const n = neighborAs(p.attrs.asPath);
      const min = Math.min(...all.filter((q) => neighborAs(q.attrs.asPath) === n).map((q) => q.attrs.med ?? 0));
      return (p.attrs.med ?? 0) === min ? 0 : 1;
    },
    beat: (w, l) => `lower MED (${w.attrs.med ?? 0} < ${l.attrs.med ?? 0}) from the same neighbour AS`,
  },
  { name: 'ebgp', score: (p) => (p.source.kind === 'ibgp' ? 1 : 0), beat: () => 'eBGP-learned over iBGP-learned' },
  {
    name: 'router-id',
    score: (p) => p.attrs.originatorId ?? p.source.bgpId,
    beat: (w, l) => `lower BGP identifier (${formatIPv4(w.attrs.originatorId ?? w.source.bgpId)} < ${formatIPv4(l.attrs.originatorId ?? l.source.bgpId)})`,
  },
  { name: 'cluster-list', score: (p) => p.attrs.clusterList?.length ?? 0, beat: () => 'shorter CLUSTER_LIST' },
];

/**
 * Reasons for every path: the winner's says what it won on (against the runner-up), each loser's
 * the step that removed it. `best` is the speaker's own verdict, which this never overrides.
 */
export function explain(paths: Path[], best: Path | null): { path: Path; best: boolean; reason: string }[] {
  if (paths.length === 1) return [{ path: paths[0], best: paths[0] === best, reason: paths[0] === best ? 'only path' : 'not eligible (next hop unreachable)' }];
  const lostAt = new Map<Path, string>();
  let alive = [...paths];
  for (const step of STEPS) {
    if (alive.length <= 1) break;
    const scores = alive.map((p) => step.score(p, alive));
    const min = Math.min(...scores);
    const keep = alive.filter((_, i) => scores[i] === min);
    const winner = best && keep.includes(best) ? best : keep[0];
    for (let i = 0; i < alive.length; i++) if (scores[i] !== min) lostAt.set(alive[i], `lost to ${who(winner)}: ${step.beat(winner, alive[i])}`);
    alive = keep;
  }
  if (alive.length > 1) {
    const sorted = [...alive].sort((a, b) => compareAddresses(a.source.address, b.source.address));
    for (const p of sorted.slice(1)) lostAt.set(p, `lost to ${who(sorted[0])}: lower peer address`);
  }
  return paths.map((p) => {
    if (p === best) {
      const losers = paths.filter((q) => q !== p && lostAt.has(q)).map((q) => lostAt.get(q)!.replace(/^lost to [^:]+: /, ''));
      return { path: p, best: true, reason: losers.length ? `best: ${losers[0]}` : 'best' };
    }
    return { path: p, best: false, reason: lostAt.get(p) ?? 'not eligible (next hop unreachable)' };
  });
}

/** The Loc-RIB's prefixes matching the query, each with all its paths. */
export function ribRoutes(rib: Rib, query: RoutesQuery): RibRoute[] {
  const keys: { afi: Afi; key: RouteKey }[] = [];
  if (query.match === 'exact') {
    const { afi, key } = parsePrefix(query.prefix);
    keys.push({ afi, key });
  } else if (query.match === 'longest') {
    const family = query.address.includes(':') ? Afi.IPv6 : Afi.IPv4;
    const { key: target } = parsePrefix(`${query.address}/${family === Afi.IPv4 ? 32 : 128}`);
    let found: RouteKey | null = null;
    for (const k of rib.locRibKeys(family)) if (keyContains(k, target) && (found === null || keyLen(k) > keyLen(found))) found = k;
    if (found !== null) keys.push({ afi: family, key: found });
  } else {
    for (const afi of [Afi.IPv4, Afi.IPv6]) for (const key of rib.locRibKeys(afi)) keys.push({ afi, key });
  }
  const out: RibRoute[] = [];
  for (const { afi, key } of keys) {
    const paths: Path[] = [];
    for (const source of [rib.local, ...rib.allPeers()]) {
      const attrs = source.lookup(afi, key);
      if (attrs) paths.push({ source, attrs });
    }
    if (paths.length === 0) continue;
    const b = rib.best(afi, key);
    const best = b ? (paths.find((p) => p.source === b.source) ?? null) : null;
    const prefix = formatKey(key);
    for (const e of explain(paths, best)) {
      out.push({
        prefix,
        nextHop: e.path.source.kind === 'local' ? null : (e.path.attrs.nextHop ?? null),
        peer: e.path.source.kind === 'local' ? null : e.path.source.address,
        asPath: formatAsPath(e.path.attrs.asPath),
        best: e.best,
        reason: e.reason,
      });
    }
  }
  return out.sort((a, b) => (a.prefix === b.prefix ? Number(b.best) - Number(a.best) : a.prefix < b.prefix ? -1 : 1));
}
