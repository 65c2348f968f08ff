import { describe, expect, it } from 'vitest';
import { selectBest, type CandidateSource } from '../../../src/bgp/rib/decision.ts';
import { AttrPool, type AttrInput } from '../../../src/bgp/rib/attrs.ts';
import { Origin } from '../../../src/bgp/wire/constants.ts';
import { seq } from './helpers.ts';

const pool = new AttrPool();
const ebgp = (address: string, bgpId = 1): CandidateSource => ({ kind: 'ebgp', address, bgpId });
const ibgp = (address: string, bgpId = 1): CandidateSource => ({ kind: 'ibgp', address, bgpId });
const cand = (source: CandidateSource, a: AttrInput) => ({ source, attrs: pool.intern({ origin: Origin.Igp, asPath: seq(65001), nextHop: '192.0.2.1', ...a }) });

describe('decision process (RFC 4271 9.1.2.2)', () => {
  it('prefers the highest LOCAL_PREF, then the shortest AS_PATH, then the lowest ORIGIN', () => {
    const a = cand(ibgp('10.0.0.1'), { localPref: 200, asPath: seq(1, 2, 3) });
    const b = cand(ibgp('10.0.0.2'), { localPref: 100, asPath: seq(1) });
    expect(selectBest([b, a])).toBe(a);
    const c = cand(ibgp('10.0.0.3'), { asPath: seq(1, 2) });
    const d = cand(ibgp('10.0.0.4'), { asPath: seq(9) });
    expect(selectBest([c, d])).toBe(d);
    const e = cand(ibgp('10.0.0.5'), { origin: Origin.Incomplete });
    const f = cand(ibgp('10.0.0.6'), { origin: Origin.Egp });
    expect(selectBest([e, f])).toBe(f);
  });

  it('counts an AS_SET as one AS', () => {
    const set = cand(ebgp('10.0.0.1'), { asPath: [{ type: 1, asns: [1, 2, 3, 4] }] });
    const two = cand(ebgp('10.0.0.2'), { asPath: seq(1, 2) });
    expect(selectBest([two, set])).toBe(set);
  });

  it('compares MED only between routes from the same neighbouring AS', () => {
    // Same neighbour AS 65001: lower MED wins.
    const lowMed = cand(ebgp('10.0.0.9', 9), { med: 5, asPath: seq(65001) });
    const highMed = cand(ebgp('10.0.0.1', 1), { med: 50, asPath: seq(65001) });
    expect(selectBest([highMed, lowMed])).toBe(lowMed);
    // Different neighbour ASes: MED is not compared; the lower BGP identifier decides.
    const other = cand(ebgp('10.0.0.2', 2), { med: 500, asPath: seq(65002) });
    expect(selectBest([other, highMed])).toBe(highMed);
    // Three routes, where pairwise comparison would depend on order: the result must not.
    const all = [lowMed, highMed, other];
    const winners = new Set([selectBest(all), selectBest([...all].reverse()), selectBest([all[1], all[2], all[0]])]);
    expect(winners.size).toBe(1);
    expect(selectBest(all)).toBe(other); // lowMed (id 9) eliminated highMed; then other (id 2) beats lowMed.
  });

  it('treats a missing MED as the lowest', () => {
    const none = cand(ebgp('10.0.0.9', 9), {});
    const some = cand(ebgp('10.0.0.1', 1), { med: 1 });
    expect(selectBest([some, none])).toBe(none);
  });

  it('prefers eBGP over iBGP, then the lowest BGP identifier or ORIGINATOR_ID, then the shortest CLUSTER_LIST, then the lowest address', () => {
    const i = cand(ibgp('10.0.0.1', 1), {});
    const e = cand(ebgp('10.0.0.2', 2), {});
    expect(selectBest([i, e])).toBe(e);
    const lowId = cand(ibgp('10.0.0.9', 3), {});
    const reflected = cand(ibgp('10.0.0.1', 1), { originatorId: 7 });
    expect(selectBest([reflected, lowId])).toBe(lowId);
    const shortCl = cand(ibgp('10.0.0.9', 5), { originatorId: 4, clusterList: [1] });
    const longCl = cand(ibgp('10.0.0.1', 5), { originatorId: 4, clusterList: [1, 2] });
    expect(selectBest([longCl, shortCl])).toBe(shortCl);
    const hiAddr = cand(ibgp('10.0.0.10', 5), {});
    const loAddr = cand(ibgp('10.0.0.9', 5), {});
    expect(selectBest([hiAddr, loAddr])).toBe(loAddr);
  });

  it('prefers locally originated routes', () => {
    const local = { source: { kind: 'local' as const, address: '', bgpId: 99 }, attrs: pool.intern({ origin: Origin.Incomplete, asPath: [] }) };
    const e = cand(ebgp('10.0.0.2', 2), { localPref: 500 });
    expect(selectBest([e, local])).toBe(local);
  });

  it('returns null for no candidates', () => {
    expect(selectBest([])).toBeNull();
  });
});
