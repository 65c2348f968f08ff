/** Address parsing for validation (not for hot paths): CIDRs, "ip:port", AS numbers, durations. */
import { isIP } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

function ipToBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) {
    return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  }
  // Expand "::" and any embedded IPv4 tail into eight 16-bit groups.
  let text = address;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const n = ipToBigInt(v4tail[1], 4);
    text = text.slice(0, -v4tail[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === null || tail === '' ? [] : tail.split(':');
  const fill = tail === null ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...fill, ...tailGroups].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIp(value: bigint, family: 4 | 6): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952 4.2.3).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Parses "addr/len"; the error says what is wrong, including host bits set past the prefix. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `'${text}' is not a CIDR (expected address/length)`;
  const address = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const version = isIP(address);
  if (version === 0) return `'${address}' is not an IP address`;
  const family: 4 | 6 = version === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return `prefix length '${lenText}' must be 0..${max}`;
  const prefixLength = Number(lenText);
  const bits = BigInt(max);
  const value = ipToBigInt(address, family);
  const mask = prefixLength === 0 ? 0n : ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefixLength))) - 1n);
  if ((value & mask) !== value) {
    return `'${text}' has host bits set past /${prefixLength}; did you mean ${bigIntToIp(value & mask, family)}/${prefixLength}?`;
  }
  return { family, address, prefixLength };
}

/** Parses "ip", "ip:port" or "[v6]:port" (a bare IPv6 address takes no port). */
export function parseHostPort(text: string): { address: string; port: number | null } | string {
  let address = text;
  let portText: string | null = null;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    address = bracketed[1];
    portText = bracketed[2] ?? null;
    if (isIP(address) !== 6) return `'${address}' in brackets is not an IPv6 address`;
  } else if (isIP(text) === 0) {
    const colon = text.lastIndexOf(':');
    if (colon < 0 || text.indexOf(':') !== colon) return `'${text}' is not an IP address, ip:port or [ipv6]:port`;
    address = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (isIP(address) !== 4) return `'${address}' is not an IPv4 address (write IPv6 with a port as [addr]:port)`;
  }
  if (portText === null) return { address, port: null };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return `port '${portText}' must be 1..65535`;
  return { address, port };
}

/** AS numbers: a number, a decimal string, or asdot "high.low" (RFC 5396). 0 is reserved (RFC 7607). */
export function parseAsNumber(value: unknown): number | string {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\d+$/.test(value)) n = Number(value);
  else if (typeof value === 'string' && /^\d+\.\d+$/.test(value)) {
    const [high, low] = value.split('.').map(Number);
    if (high > 0xffff || low > 0xffff) return `asdot '${value}' has a part above 65535`;
    n = high * 65536 + low;
  } else return `must be an AS number (1..4294967295 or asdot), got ${JSON.stringify(value)}`;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) return `AS number ${value} must be 1..4294967295 (0 is reserved, RFC 7607)`;
  return n;
}

const DURATION_UNITS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };

/** Go-style durations as Calico writes them ("90s", "1m30s", "240ms"), or plain seconds. */
export function parseDurationSeconds(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return `must be a non-negative number of seconds, got ${value}`;
    return value;
  }
  if (typeof value !== 'string' || value === '') return `must be a duration like "90s" or "1m30s", got ${JSON.stringify(value)}`;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
  let total = 0;
  let pos = 0;
  while (pos < value.length) {
    re.lastIndex = pos;
    const m = re.exec(value);
    if (!m) return `'${value}' is not a duration (use h, m, s, ms: "90s", "1m30s")`;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

export function isIPv4Dotted(text: string): boolean {
  return isIP(text) === 4;
}
