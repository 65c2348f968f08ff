/**
 * IP prefixes as the route controller needs them: parsed once into bytes, printed back in one
 * canonical form (RFC 5952 for IPv6) so that a prefix is also its own map key. Hot paths (diffing
 * 100k routes) use these strings and byte arrays only, never general-purpose IP objects.
 */

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** 4 or 16 bytes, host bits zero. */
  bytes: Uint8Array;
  length: number;
  /** Canonical text, e.g. `10.0.0.1/32`, `2001:db8::/64`. */
  text: string;
}

export class AddressError extends Error {
  readonly code = 'TORTIE_BAD_ADDRESS';
  readonly input: string;
  constructor(input: string, why: string) {
    super(`bad IP address or prefix ${JSON.stringify(input)}: ${why}`);
    this.input = input;
  }
}

function parseV4(s: string, original: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4) throw new AddressError(original, 'IPv4 needs four dotted numbers');
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new AddressError(original, `octet ${JSON.stringify(p)} is not 0-255`);
    out[i] = Number(p);
  }
  return out;
}

function parseV6(s: string, original: string): Uint8Array {
  const out = new Uint8Array(16);
  const halves = s.split('::');
  if (halves.length > 2) throw new AddressError(original, 'more than one "::"');
  const groups = (h: string): number[] => {
    if (h === '') return [];
    const parts = h.split(':');
    const words: number[] = [];
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p, original);
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw new AddressError(original, `group ${JSON.stringify(p)} is not 1-4 hex digits`);
        words.push(parseInt(p, 16));
      }
    });
    return words;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (halves.length === 1 && head.length !== 8) throw new AddressError(original, 'IPv6 needs eight groups or "::"');
  if (halves.length === 2 && head.length + tail.length > 7) throw new AddressError(original, 'too many groups around "::"');
  const words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** Parses an address without a length. */
export function parseAddress(s: string): { family: Family; bytes: Uint8Array } {
  if (typeof s !== 'string' || s.length === 0) throw new AddressError(String(s), 'empty');
  return s.includes(':') ? { family: 6, bytes: parseV6(s, s) } : { family: 4, bytes: parseV4(s, s) };
}

export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 4.2: "::" replaces the longest run of two or more zero groups, the first on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/**
 * The common case, `a.b.c.d` or `a.b.c.d/len` in canonical form, without regular expressions or
 * intermediate strings: the controller parses every one of 100k prefixes on each change set.
 * Returns null for anything else, which then takes the careful path with its error messages.
 */
function parseV4Fast(s: string): Prefix | null {
  const bytes = new Uint8Array(4);
  let octet = 0;
  let digits = 0;
  let part = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return null; // leading zero: not canonical
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return null;
    } else if (c === 46 /* . */) {
      if (digits === 0 || part >= 3) return null;
      bytes[part++] = octet;
      octet = 0;
      digits = 0;
    } else if (c === 47 /* / */) {
      break;
    } else return null;
  }
  if (digits === 0 || part !== 3) return null;
  bytes[3] = octet;
  let length = 32;
  if (i < s.length) {
    const l = s.slice(i + 1);
    if (l.length === 0 || l.length > 2 || (l.length === 2 && l[0] === '0')) return null;
    length = 0;
    for (let j = 0; j < l.length; j++) {
      const c = l.charCodeAt(j);
      if (c < 48 || c > 57) return null;
      length = length * 10 + (c - 48);
    }
    if (length > 32) return null;
    const host = length === 32 ? 0 : ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) & (0xffffffff >>> length);
    if (host !== 0) return null;
  }
  return { family: 4, bytes, length, text: i < s.length ? s : `${s}/32` };
}

/**
 * Parses `addr/len` (or a bare address, meaning a host prefix). Host bits must be zero: a prefix
 * with host bits set is almost always a typo, and the kernel would silently mask it.
 */
export function parsePrefix(s: string): Prefix {
  if (typeof s !== 'string') throw new AddressError(String(s), 'not a string');
  const fast = parseV4Fast(s);
  if (fast) return fast;
  const slash = s.indexOf('/');
  const { family, bytes } = parseAddress(slash < 0 ? s : s.slice(0, slash));
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const l = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > max) throw new AddressError(s, `length must be 0-${max}`);
    length = Number(l);
  }
  for (let bit = length; bit < max; bit++) {
    if (bytes[bit >> 3] & (0x80 >> (bit & 7))) throw new AddressError(s, `host bits set beyond /${length}`);
  }
  return { family, bytes, length, text: `${formatAddress(bytes)}/${length}` };
}

/** True when `addr` (bytes of the same family) lies inside `prefix`. */
export function prefixContains(prefix: Prefix, addr: Uint8Array): boolean {
  if (addr.length !== prefix.bytes.length) return false;
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== prefix.bytes[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full] & mask) === (prefix.bytes[full] & mask);
}
