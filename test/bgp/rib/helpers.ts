import { Afi, AsPathSegmentType } from '../../../src/bgp/wire/constants.ts';
import type { AsPathSegment, PrefixList } from '../../../src/bgp/wire/types.ts';
import { keysToList, parsePrefix, formatKey, type RouteKey } from '../../../src/bgp/rib/prefix.ts';
import type { OutBatch } from '../../../src/bgp/rib/rib.ts';

/** A decoded prefix list, as the codec would hand it over, from text prefixes of one family. */
export function prefixes(...texts: string[]): PrefixList {
  const parsed = texts.map((t) => parsePrefix(t));
  const afi = parsed[0]?.afi ?? Afi.IPv4;
  return keysToList(afi, parsed.map((p) => p.key));
}

export function seq(...asns: number[]): AsPathSegment[] {
  return [{ type: AsPathSegmentType.AsSequence, asns }];
}

/** A batch in text form, easy to compare. */
export function describe(batch: OutBatch): { withdrawn: string[]; announced: Array<{ id: string; prefixes: string[] }> } {
  return {
    withdrawn: batch.withdrawn.map(formatKey).sort(),
    announced: [...batch.announced].map(([attrs, keys]) => ({ id: attrs.id, prefixes: keys.map((k: RouteKey) => formatKey(k)).sort() })),
  };
}
