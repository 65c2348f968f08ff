/** ROUTE-REFRESH (RFC 2918 3) with the RFC 7313 3 message subtypes. */
import { ErrorCode, MessageType, RouteRefreshSubcode } from './constants.ts';
import { bgpError } from './errors.ts';
import { beginMessage, endMessage } from './header.ts';
import { Writer } from './writer.ts';
import type { Afi, RouteRefreshSubtype, Safi } from './constants.ts';
import type { DecodeResult, RouteRefreshMessage } from './types.ts';

/**
 * Decodes a ROUTE-REFRESH from a whole framed message. AFI, SAFI and subtype are returned as sent:
 * RFC 2918 4 and RFC 7313 5 say to ignore unknown ones, which is the session's job.
 */
export function decodeRouteRefresh(msg: Uint8Array): DecodeResult<RouteRefreshMessage> {
  if (msg.length !== 23) {
    // RFC 7313 5: the data is the whole message.
    return { ok: false, error: bgpError(ErrorCode.RouteRefreshMessage, RouteRefreshSubcode.InvalidMessageLength, `RFC 7313 5: ROUTE-REFRESH of ${msg.length} octets, not 23`, msg.slice()) };
  }
  return {
    ok: true,
    value: { type: 'route-refresh', afi: ((msg[19] << 8) | msg[20]) as Afi, subtype: msg[21] as RouteRefreshSubtype, safi: msg[22] as Safi },
  };
}

export function encodeRouteRefresh(msg: RouteRefreshMessage): Uint8Array {
  const w = new Writer(23);
  const start = beginMessage(w, MessageType.RouteRefresh);
  w.u16(msg.afi).u8(msg.subtype).u8(msg.safi);
  endMessage(w, start);
  return w.finish();
}
