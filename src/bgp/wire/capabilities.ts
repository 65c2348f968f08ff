/**
 * Capabilities (RFC 5492) inside the OPEN's Capabilities optional parameter. Known ones decode to
 * typed values; unknown ones, and multiprotocol for families tortie does not speak, stay raw bytes
 * so that nothing is lost and they can be logged.
 */
import { Afi, CapabilityCode, Safi } from './constants.ts';
import { EncodeError } from './errors.ts';
import type { Writer } from './writer.ts';
import type { Capability } from './types.ts';

function u16(v: Uint8Array, p: number): number {
  return (v[p] << 8) | v[p + 1];
}

function known(afi: number, safi: number): boolean {
  return (afi === Afi.IPv4 || afi === Afi.IPv6) && safi === Safi.Unicast;
}

function wrongLength(name: string, got: number, want: string): string {
  return `${name} capability: length ${got}, expected ${want}`;
}

/**
 * Decodes one capability value. Returns the capability or a string saying what is malformed.
 * Family entries inside lists (graceful restart, add-path, extended next hop) keep whatever AFI and
 * SAFI the peer sent: the session matches on the ones it knows.
 */
export function decodeCapability(code: number, v: Uint8Array): Capability | string {
  switch (code) {
    case CapabilityCode.Multiprotocol: {
      if (v.length !== 4) return wrongLength('multiprotocol', v.length, '4');
      const afi = u16(v, 0);
      const safi = v[3];
      if (!known(afi, safi)) return { kind: 'unknown', code, value: v.slice() };
      return { kind: 'multiprotocol', afi: afi as Afi, safi: safi as Safi };
    }
    case CapabilityCode.RouteRefresh:
    case CapabilityCode.EnhancedRouteRefresh:
    case CapabilityCode.ExtendedMessage: {
      const kind = code === CapabilityCode.RouteRefresh ? 'route-refresh' : code === CapabilityCode.ExtendedMessage ? 'extended-message' : 'enhanced-route-refresh';
      if (v.length !== 0) return wrongLength(kind, v.length, '0');
      return { kind };
    }
    case CapabilityCode.FourOctetAs:
      if (v.length !== 4) return wrongLength('4-octet AS', v.length, '4');
      return { kind: 'four-octet-as', asn: ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0 };
    case CapabilityCode.GracefulRestart: {
      // RFC 4724 3: flags and restart time, then (AFI, SAFI, flags) per family.
      if (v.length < 2 || (v.length - 2) % 4 !== 0) return wrongLength('graceful restart', v.length, '2 + 4n');
      const families: Array<{ afi: Afi; safi: Safi; forwardingPreserved: boolean }> = [];
      for (let p = 2; p < v.length; p += 4) families.push({ afi: u16(v, p) as Afi, safi: v[p + 2] as Safi, forwardingPreserved: (v[p + 3] & 0x80) !== 0 });
      return { kind: 'graceful-restart', restarting: (v[0] & 0x80) !== 0, notification: (v[0] & 0x40) !== 0, restartTime: u16(v, 0) & 0x0fff, families };
    }
    case CapabilityCode.AddPath: {
      // RFC 7911 4: (AFI, SAFI, Send/Receive) per family; Send/Receive is 1, 2 or 3.
      if (v.length === 0 || v.length % 4 !== 0) return wrongLength('add-path', v.length, 'a non-zero multiple of 4');
      const families: Array<{ afi: Afi; safi: Safi; sendReceive: 1 | 2 | 3 }> = [];
      for (let p = 0; p < v.length; p += 4) {
        const sr = v[p + 3];
        if (sr < 1 || sr > 3) return `add-path capability: Send/Receive value ${sr} is not 1, 2 or 3`;
        families.push({ afi: u16(v, p) as Afi, safi: v[p + 2] as Safi, sendReceive: sr as 1 | 2 | 3 });
      }
      return { kind: 'add-path', families };
    }
    case CapabilityCode.ExtendedNextHop: {
      // RFC 8950 3: (NLRI AFI, NLRI SAFI as 2 octets, next hop AFI) per entry.
      if (v.length === 0 || v.length % 6 !== 0) return wrongLength('extended next hop', v.length, 'a non-zero multiple of 6');
      const entries: Array<{ afi: Afi; safi: Safi; nextHopAfi: Afi }> = [];
      for (let p = 0; p < v.length; p += 6) entries.push({ afi: u16(v, p) as Afi, safi: u16(v, p + 2) as Safi, nextHopAfi: u16(v, p + 4) as Afi });
      return { kind: 'extended-next-hop', entries };
    }
    default:
      return { kind: 'unknown', code, value: v.slice() };
  }
}

/** The code and value octets of a capability. */
export function encodeCapability(c: Capability): { code: number; value: Uint8Array } {
  switch (c.kind) {
    case 'multiprotocol':
      return { code: CapabilityCode.Multiprotocol, value: Uint8Array.of(c.afi >> 8, c.afi & 255, 0, c.safi) };
    case 'route-refresh':
      return { code: CapabilityCode.RouteRefresh, value: new Uint8Array(0) };
    case 'enhanced-route-refresh':
      return { code: CapabilityCode.EnhancedRouteRefresh, value: new Uint8Array(0) };
    case 'extended-message':
      return { code: CapabilityCode.ExtendedMessage, value: new Uint8Array(0) };
    case 'four-octet-as':
      return { code: CapabilityCode.FourOctetAs, value: Uint8Array.of(c.asn >>> 24, c.asn >>> 16, c.asn >>> 8, c.asn) };
    case 'graceful-restart': {
      if (c.restartTime < 0 || c.restartTime > 0xfff) throw new EncodeError('invalid-field', `graceful restart time ${c.restartTime} is not 0..4095`);
      const head = (c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | c.restartTime;
      const out = [head >> 8, head & 255];
      for (const f of c.families) out.push(f.afi >> 8, f.afi & 255, f.safi, f.forwardingPreserved ? 0x80 : 0);
      return { code: CapabilityCode.GracefulRestart, value: Uint8Array.from(out) };
    }
    case 'add-path': {
      const out: number[] = [];
      for (const f of c.families) out.push(f.afi >> 8, f.afi & 255, f.safi, f.sendReceive);
      return { code: CapabilityCode.AddPath, value: Uint8Array.from(out) };
    }
    case 'extended-next-hop': {
      const out: number[] = [];
      for (const e of c.entries) out.push(e.afi >> 8, e.afi & 255, e.safi >> 8, e.safi & 255, e.nextHopAfi >> 8, e.nextHopAfi & 255);
      return { code: CapabilityCode.ExtendedNextHop, value: Uint8Array.from(out) };
    }
    case 'unknown':
      return { code: c.code, value: c.value };
  }
}

/** Writes capabilities as code, length, value triples. */
export function writeCapabilities(w: Writer, caps: readonly Capability[]): void {
  for (const c of caps) {
    const { code, value } = encodeCapability(c);
    if (value.length > 255) throw new EncodeError('invalid-field', `capability ${code} is longer than 255 octets`);
    w.u8(code).u8(value.length).bytes(value);
  }
}
