/**
 * IPv4 and IPv6 text <-> numbers, shared by the BGP codec, the RIB, the dataplane and the CNI
 * plugin. Dependency-free on purpose: the codec and the dataplane may import nothing else, and the
 * plugin's bundle pays for every module it loads. Parsers return null for anything that is not an
 * address, so that each caller can raise its own typed error naming what was wrong.
 */

/** Dotted quad of a uint32 in host order. */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** uint32 of a dotted quad (1-3 decimal digits per octet, 0-255), or null when the text is not one. */
export function parseIpv4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n >>> 0;
}

/**
 * The eight 16-bit groups of IPv6 text (with at most one "::" standing for at least one zero
 * group, and an optional dotted-quad tail standing for the last two), or null.
 */
export function parseIpv6Groups(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  // Only the address's last group may be a dotted quad.
  const groups = (h: string, last: boolean): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (last && i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/** RFC 5952 text of eight 16-bit groups: lower case, the longest run of zero groups compressed. */
export function formatIpv6Groups(g: readonly number[]): string {
  // "::" replaces the longest run of two or more zero groups, the first one on a tie (RFC 5952 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: readonly number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** 16 bytes of IPv6 text, or null. */
export function parseIpv6(s: string): Uint8Array | null {
  const g = parseIpv6Groups(s);
  if (!g) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = g[i] >> 8;
    out[2 * i + 1] = g[i] & 255;
  }
  return out;
}

/** RFC 5952 text of the 16 bytes at `off`. */
export function formatIpv6Bytes(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  return formatIpv6Groups(g);
}
