/**
 * NOTIFICATION (RFC 4271 4.5) with the RFC 9003 shutdown communication, and names for every code
 * and subcode so that logs say what happened.
 */
import { CeaseSubcode, ErrorCode, MessageType } from './constants.ts';
import { EncodeError } from './errors.ts';
import { beginMessage, endMessage } from './header.ts';
import { Writer } from './writer.ts';
import type { DecodeResult, NotificationMessage } from './types.ts';

const CODE_NAMES: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

const SUBCODE_NAMES: Record<number, Record<number, string>> = {
  1: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  2: { 1: 'Unsupported Version Number', 2: 'Bad Peer AS', 3: 'Bad BGP Identifier', 4: 'Unsupported Optional Parameter', 6: 'Unacceptable Hold Time', 7: 'Unsupported Capability' },
  3: {
    1: 'Malformed Attribute List',
    2: 'Unrecognized Well-known Attribute',
    3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error',
    5: 'Attribute Length Error',
    6: 'Invalid ORIGIN Attribute',
    8: 'Invalid NEXT_HOP Attribute',
    9: 'Optional Attribute Error',
    10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  5: { 1: 'Receive Unexpected Message in OpenSent State', 2: 'Receive Unexpected Message in OpenConfirm State', 3: 'Receive Unexpected Message in Established State' },
  6: {
    1: 'Maximum Number of Prefixes Reached',
    2: 'Administrative Shutdown',
    3: 'Peer De-configured',
    4: 'Administrative Reset',
    5: 'Connection Rejected',
    6: 'Other Configuration Change',
    7: 'Connection Collision Resolution',
    8: 'Out of Resources',
    9: 'Hard Reset',
    10: 'BFD Down',
  },
  7: { 1: 'Invalid Message Length' },
};

/** "Cease / Administrative Shutdown", or numbers for what has no name. */
export function notificationName(code: number, subcode: number): string {
  const c = CODE_NAMES[code] ?? `error code ${code}`;
  const s = subcode === 0 ? 'Unspecific' : (SUBCODE_NAMES[code]?.[subcode] ?? `subcode ${subcode}`);
  return `${c} / ${s}`;
}

/** RFC 9003 2: subcodes whose data may carry a shutdown communication. */
function carriesCommunication(code: number, subcode: number): boolean {
  return code === ErrorCode.Cease && (subcode === CeaseSubcode.AdministrativeShutdown || subcode === CeaseSubcode.AdministrativeReset);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** RFC 9003 2: a length octet then that many octets of UTF-8; null if the data is not that. */
function shutdownCommunication(data: Uint8Array): string | null {
  if (data.length === 0 || data[0] + 1 > data.length) return null;
  try {
    return utf8.decode(data.subarray(1, 1 + data[0]));
  } catch {
    return null; // RFC 9003 5: not valid UTF-8; the session logs the raw data instead
  }
}

/** Decodes a NOTIFICATION from a whole framed message. A bad communication is not an error. */
export function decodeNotification(msg: Uint8Array): DecodeResult<NotificationMessage> {
  const data = msg.slice(21);
  const value: NotificationMessage = { type: 'notification', code: msg[19], subcode: msg[20], data };
  if (carriesCommunication(value.code, value.subcode)) {
    const text = shutdownCommunication(data);
    if (text !== null) value.communication = text;
  }
  return { ok: true, value };
}

/**
 * Encodes a NOTIFICATION. When `data` is empty and `communication` is set on Cease/Administrative
 * Shutdown or Reset, the data is the RFC 9003 communication (at most 255 octets of UTF-8).
 */
export function encodeNotification(msg: NotificationMessage, extendedMessage = false): Uint8Array {
  let data = msg.data;
  if (data.length === 0 && msg.communication !== undefined && carriesCommunication(msg.code, msg.subcode)) {
    const text = new TextEncoder().encode(msg.communication);
    if (text.length > 255) throw new EncodeError('invalid-field', `shutdown communication of ${text.length} octets is over 255 (RFC 9003 2)`);
    data = new Uint8Array(1 + text.length);
    data[0] = text.length;
    data.set(text, 1);
  }
  const w = new Writer(21 + data.length);
  const start = beginMessage(w, MessageType.Notification);
  w.u8(msg.code).u8(msg.subcode).bytes(data);
  const max = extendedMessage ? 65535 : 4096;
  if (endMessage(w, start) > max) throw new EncodeError('message-too-long', `NOTIFICATION longer than ${max} octets`);
  return w.finish();
}
