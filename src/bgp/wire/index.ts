/** The BGP wire codec: pure functions between bytes and typed messages, no I/O. */
export * from './constants.ts';
export type * from './types.ts';
export { Framer, type FramerOutput } from './framer.ts';
export { decodeMessage, encodeMessage, encodeKeepalive, defaultCodecContext } from './message.ts';
export { decodeOpen, encodeOpen } from './open.ts';
export { decodeUpdate, encodeUpdate, encodeAnnouncements, encodeWithdrawals, encodeEndOfRib, endOfRibFamily, withdrawAll } from './update.ts';
export { decodeNotification, encodeNotification, notificationName } from './notification.ts';
export { decodeRouteRefresh, encodeRouteRefresh } from './route-refresh.ts';
export { decodeCapability, encodeCapability } from './capabilities.ts';
export { negotiateCodecContext } from './negotiate.ts';
export { ATTRIBUTES, attributeRow, type AttributeRow } from './attributes.ts';
export { checkHeader, maxMessageLength } from './header.ts';
export {
  decodePrefixes,
  emptyPrefixList,
  familyKey,
  prefixListFromText,
  prefixListToText,
  prefixToText,
  slicePrefixList,
  concatPrefixLists,
  writePrefix,
  prefixWireSize,
} from './prefix.ts';
export { ipv4ToString, parseIpv4, ipv6BytesToString, parseIpv6 } from './address.ts';
export { EncodeError, PrefixTextError, type EncodeErrorCode } from './errors.ts';
