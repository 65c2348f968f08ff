/**
 * Path attribute sets as the RIB stores them: interned, frozen and shared. A million routes from
 * one peer usually carry a handful of distinct attribute sets, so each route costs a pointer, and
 * attribute sets can be compared by identity (`a === b`) everywhere in the RIB.
 *
 * The per-family parts of an UPDATE (MP_REACH/MP_UNREACH NLRI) are not part of a set: the next hop
 * of either family lives in `nextHop` (and `linkLocalNextHop` for IPv6).
 */
import type { AsPathSegment, LargeCommunity, PathAttributes, RawAttribute } from '../wire/types.ts';
import { AsPathSegmentType, type Origin } from '../wire/constants.ts';

export interface AttrSet {
  readonly origin?: Origin;
  readonly asPath?: readonly AsPathSegment[];
  readonly nextHop?: string;
  readonly linkLocalNextHop?: string;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: { readonly asn: number; readonly address: string };
  readonly communities?: readonly number[];
  readonly originatorId?: number;
  readonly clusterList?: readonly number[];
  readonly extendedCommunities?: readonly Uint8Array[];
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly unknown?: readonly RawAttribute[];
  /** The canonical identity of this set (what interning compares). */
  readonly id: string;
}

/** Attributes before interning: a set's fields, all optional, nothing frozen. */
export type AttrInput = Omit<PathAttributes, 'mpReach' | 'mpUnreach'> & { linkLocalNextHop?: string };

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function canonicalId(a: AttrInput): string {
  let s = '';
  if (a.origin !== undefined) s += `o${a.origin}`;
  if (a.asPath) s += `|p${a.asPath.map((seg) => `${seg.type}:${seg.asns.join(',')}`).join(';')}`;
  if (a.nextHop !== undefined) s += `|n${a.nextHop}`;
  if (a.linkLocalNextHop !== undefined) s += `|ll${a.linkLocalNextHop}`;
  if (a.med !== undefined) s += `|m${a.med}`;
  if (a.localPref !== undefined) s += `|l${a.localPref}`;
  if (a.atomicAggregate) s += '|aa';
  if (a.aggregator) s += `|g${a.aggregator.asn}@${a.aggregator.address}`;
  if (a.communities?.length) s += `|c${a.communities.join(',')}`;
  if (a.originatorId !== undefined) s += `|oi${a.originatorId}`;
  if (a.clusterList?.length) s += `|cl${a.clusterList.join(',')}`;
  if (a.extendedCommunities?.length) s += `|x${a.extendedCommunities.map(hex).join(',')}`;
  if (a.largeCommunities?.length) s += `|lc${a.largeCommunities.map((c) => c.join(':')).join(',')}`;
  if (a.unknown?.length) s += `|u${a.unknown.map((u) => `${u.type}/${u.flags}/${hex(u.value)}`).join(',')}`;
  return s;
}

/**
 * The intern table. Entries are held weakly: when no route refers to a set any more, the garbage
 * collector reclaims it and the registry drops its key, so the table never outgrows the RIB.
 */
export class AttrPool {
  private readonly table = new Map<string, WeakRef<AttrSet>>();
  private readonly registry = new FinalizationRegistry<string>((id) => {
    const ref = this.table.get(id);
    if (ref && ref.deref() === undefined) this.table.delete(id);
  });

  intern(input: AttrInput): AttrSet {
    const id = canonicalId(input);
    const found = this.table.get(id)?.deref();
    if (found) return found;
    const obj: Record<string, unknown> = stripUndefined({ ...input });
    if (input.asPath) obj.asPath = Object.freeze(input.asPath.map((seg) => Object.freeze({ type: seg.type, asns: Object.freeze([...seg.asns]) })));
    for (const list of ['communities', 'clusterList', 'extendedCommunities', 'largeCommunities', 'unknown'] as const) {
      const v = input[list] as readonly unknown[] | undefined;
      if (!v?.length) delete obj[list];
      // Copy byte values: decoded ones are views into a socket chunk we must not keep alive.
      else if (list === 'extendedCommunities') obj[list] = Object.freeze((v as Uint8Array[]).map((b) => b.slice()));
      else if (list === 'unknown') obj[list] = Object.freeze((v as RawAttribute[]).map((u) => Object.freeze({ flags: u.flags, type: u.type, value: u.value.slice() })));
      else obj[list] = Object.freeze([...v]);
    }
    if (!obj.atomicAggregate) delete obj.atomicAggregate;
    obj.id = id;
    const set = Object.freeze(obj) as unknown as AttrSet;
    this.table.set(id, new WeakRef(set));
    this.registry.register(set, id);
    return set;
  }

  /** A copy of `base` with `changes` applied, interned. `undefined` in changes removes a field. */
  derive(base: AttrSet, changes: Partial<AttrInput>): AttrSet {
    const { id: _id, ...rest } = base;
    return this.intern({ ...(rest as AttrInput), ...changes });
  }

  /** Distinct live sets (for tests and memory reports). */
  get size(): number {
    let n = 0;
    for (const ref of this.table.values()) if (ref.deref()) n++;
    return n;
  }
}

function stripUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

// ---------------------------------------------------------------------------------------------
// AS_PATH helpers

/** RFC 4271 9.1.2.2 a: an AS_SET counts as one, confederation segments count as zero (RFC 5065). */
export function asPathLength(path: readonly AsPathSegment[] | undefined): number {
  if (!path) return 0;
  let n = 0;
  for (const seg of path) {
    if (seg.type === AsPathSegmentType.AsSequence) n += seg.asns.length;
    else if (seg.type === AsPathSegmentType.AsSet) n += 1;
  }
  return n;
}

/** The neighbouring AS a route came from: the first AS of the leading AS_SEQUENCE (RFC 4271 9.1.2.2 c). */
export function neighborAs(path: readonly AsPathSegment[] | undefined): number | undefined {
  const first = path?.find((s) => s.type === AsPathSegmentType.AsSequence || s.type === AsPathSegmentType.AsSet);
  if (!first || first.type !== AsPathSegmentType.AsSequence) return undefined;
  return first.asns[0];
}

export function asPathContains(path: readonly AsPathSegment[] | undefined, asn: number): boolean {
  return !!path?.some((s) => s.asns.includes(asn));
}

/** Prepends `asn` to the path (RFC 4271 5.1.2), starting a new sequence when needed or full. */
export function prependAs(path: readonly AsPathSegment[] | undefined, asn: number): AsPathSegment[] {
  const segs = (path ?? []).map((s) => ({ type: s.type, asns: [...s.asns] }));
  const first = segs[0];
  if (first && first.type === AsPathSegmentType.AsSequence && first.asns.length < 255) first.asns.unshift(asn);
  else segs.unshift({ type: AsPathSegmentType.AsSequence, asns: [asn] });
  return segs;
}

/** "65000:100" -> uint32 community. Throws on bad text. */
export function parseCommunity(text: string): number {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) throw new TypeError(`invalid community "${text}": want ASN:VALUE, each 0-65535`);
  return ((Number(m[1]) << 16) | Number(m[2])) >>> 0;
}

export function formatCommunity(c: number): string {
  return `${c >>> 16}:${c & 0xffff}`;
}

/** "65000:1:2" -> large community. Throws on bad text. */
export function parseLargeCommunity(text: string): LargeCommunity {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text);
  const parts = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
  if (!m || parts.some((p) => p > 0xffffffff)) throw new TypeError(`invalid large community "${text}": want ASN:DATA1:DATA2, each 0-4294967295`);
  return parts as LargeCommunity;
}
