/**
 * The 19-octet message header (RFC 4271 4.1) and its checks (RFC 4271 6.1), shared by the framer
 * and the message decoder.
 */
import { bgpError } from './errors.ts';
import { ErrorCode, HEADER_LENGTH, HeaderSubcode, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from './constants.ts';
import type { BgpError } from './types.ts';
import type { Writer } from './writer.ts';

/** RFC 4271 4.x: the smallest legal length of each message type. */
const MIN_LENGTH: Record<number, number> = {
  [MessageType.Open]: 29,
  [MessageType.Update]: 23,
  [MessageType.Notification]: 21,
  [MessageType.Keepalive]: 19,
  [MessageType.RouteRefresh]: 23,
};

/** The largest message of this type: RFC 8654 leaves OPEN and KEEPALIVE at 4096. */
export function maxMessageLength(type: number, extendedMessage: boolean): number {
  if (!extendedMessage || type === MessageType.Open || type === MessageType.Keepalive) return MAX_MESSAGE_LENGTH;
  return MAX_EXTENDED_MESSAGE_LENGTH;
}

/**
 * Checks the header at buf[off] (19 octets must be there). Returns null or the NOTIFICATION that
 * RFC 4271 6.1 asks for: Connection Not Synchronized for a bad marker, Bad Message Length with the
 * length field as data, Bad Message Type with the type as data.
 */
export function checkHeader(buf: Uint8Array, off: number, extendedMessage: boolean): BgpError | null {
  for (let i = 0; i < 16; i++) {
    if (buf[off + i] !== 0xff) return bgpError(ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized, `RFC 4271 6.1: marker octet ${i} is 0x${buf[off + i].toString(16)}, not 0xff`);
  }
  const length = (buf[off + 16] << 8) | buf[off + 17];
  const type = buf[off + 18];
  const lengthData = buf.slice(off + 16, off + 18);
  if (length < HEADER_LENGTH) {
    return bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `RFC 4271 6.1: message length ${length} is under ${HEADER_LENGTH}`, lengthData);
  }
  const min = MIN_LENGTH[type];
  if (min === undefined) return bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageType, `RFC 4271 6.1: unknown message type ${type}`, Uint8Array.of(type));
  const max = maxMessageLength(type, extendedMessage);
  if (length < min || length > max || (type === MessageType.Keepalive && length !== HEADER_LENGTH)) {
    return bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `RFC 4271 6.1: length ${length} is outside ${min}..${max} for message type ${type}`, lengthData);
  }
  return null;
}

/** Writes a header with a length to patch later; returns the message's start offset. */
export function beginMessage(w: Writer, type: number): number {
  const start = w.pos;
  w.ensure(HEADER_LENGTH);
  for (let i = 0; i < 16; i++) w.u8(0xff);
  w.u16(0).u8(type);
  return start;
}

/** Patches the length of the message begun at `start`; returns it. */
export function endMessage(w: Writer, start: number): number {
  const length = w.pos - start;
  w.patch16(start + 16, length);
  return length;
}
