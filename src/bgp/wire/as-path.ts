/**
 * AS_PATH and AS4_PATH segments (RFC 4271 4.3, RFC 5065, RFC 6793): decoding with 2- or 4-octet
 * ASNs, encoding (AS_TRANS for an OLD peer), path length, and rebuilding the 4-octet path.
 */
import { AS_TRANS, AsPathSegmentType } from './constants.ts';
import type { AsPathSegment } from './types.ts';

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** RFC 4271 4.3 / RFC 5065: decodes segments of `asSize`-octet ASNs, or says what is malformed. */
export function decodeAsPath(v: Uint8Array, asSize: 2 | 4, allowConfed: boolean): AsPathSegment[] | string {
  const segments: AsPathSegment[] = [];
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) return `segment header at offset ${p} is cut short`;
    const type = v[p];
    const count = v[p + 1];
    if (type < AsPathSegmentType.AsSet || type > AsPathSegmentType.ConfedSet) return `unknown segment type ${type}`;
    if (!allowConfed && type >= AsPathSegmentType.ConfedSequence) return `confederation segment (type ${type}) where none may appear`;
    // RFC 7606 7.2: a segment with no ASNs is malformed.
    if (count === 0) return `segment at offset ${p} has no AS numbers`;
    p += 2;
    if (p + count * asSize > v.length) return `segment of ${count} AS numbers overruns the attribute`;
    const asns: number[] = new Array(count);
    for (let i = 0; i < count; i++) {
      asns[i] = asSize === 4 ? u32(v, p) : (v[p] << 8) | v[p + 1];
      p += asSize;
    }
    segments.push({ type: type as AsPathSegmentType, asns });
  }
  return segments;
}

export function encodeAsPath(segments: readonly AsPathSegment[], asSize: 2 | 4): Uint8Array {
  const parts: number[] = [];
  for (const s of segments) {
    // A segment holds at most 255 ASNs; longer ones are split (same path length for SEQUENCE).
    // An empty segment would be malformed (RFC 7606 7.2) and is left out.
    for (let from = 0; from < s.asns.length; from += 255) {
      const chunk = s.asns.slice(from, from + 255);
      parts.push(s.type, chunk.length);
      for (const asn of chunk) {
        const a = asSize === 2 && asn > 0xffff ? AS_TRANS : asn;
        if (asSize === 4) parts.push(a >>> 24, (a >>> 16) & 255);
        parts.push((a >>> 8) & 255, a & 255);
      }
    }
  }
  return Uint8Array.from(parts);
}

/** RFC 4271 9.1.2.2 a / RFC 6793 4.2.3: an AS_SET counts 1, confederation segments 0. */
export function pathLength(segments: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === AsPathSegmentType.AsSequence) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AsSet) n += 1;
  }
  return n;
}

/**
 * RFC 6793 4.2.3: rebuilds the 4-octet path from a 2-octet AS_PATH and an AS4_PATH: the leading
 * ASNs of AS_PATH that AS4_PATH lacks, then AS4_PATH. An AS4_PATH longer than AS_PATH is ignored.
 */
export function mergeAs4Path(asPath: AsPathSegment[], as4Path: AsPathSegment[]): AsPathSegment[] {
  let needed = pathLength(asPath) - pathLength(as4Path);
  if (needed < 0) return asPath;
  const lead: AsPathSegment[] = [];
  for (const s of asPath) {
    if (s.type === AsPathSegmentType.ConfedSequence || s.type === AsPathSegmentType.ConfedSet) {
      // Confederation segments count 0 and AS4_PATH never carries them: keep the leading ones.
      lead.push(s);
      continue;
    }
    if (needed <= 0) break;
    if (s.type === AsPathSegmentType.AsSet) {
      lead.push(s);
      needed -= 1;
    } else {
      const take = Math.min(needed, s.asns.length);
      lead.push({ type: s.type, asns: s.asns.slice(0, take) });
      needed -= take;
    }
  }
  return [...lead, ...as4Path];
}
