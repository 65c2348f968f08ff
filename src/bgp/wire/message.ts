/** Any message: decode from a framed slice, encode to bytes. */
import { HEADER_LENGTH, MessageType } from './constants.ts';
import { checkHeader, beginMessage, endMessage } from './header.ts';
import { decodeNotification, encodeNotification } from './notification.ts';
import { decodeOpen, encodeOpen } from './open.ts';
import { decodeRouteRefresh, encodeRouteRefresh } from './route-refresh.ts';
import { decodeUpdate, encodeUpdate, withdrawAll } from './update.ts';
import { Writer } from './writer.ts';
import type { CodecContext, Message, MessageDecodeResult } from './types.ts';

/** The context of a session before OPENs are exchanged: nothing negotiated. */
export function defaultCodecContext(overrides: Partial<CodecContext> = {}): CodecContext {
  return { fourOctetAs: false, extendedMessage: false, addPathReceive: new Set(), addPathSend: new Set(), extendedNextHop: new Set(), ebgp: false, ...overrides };
}

/**
 * Decodes one whole message (as the Framer yields it: header included, exactly its length). The
 * header is checked again so that the function is safe on any bytes.
 */
export function decodeMessage(msg: Uint8Array, ctx: CodecContext): MessageDecodeResult {
  if (msg.length < HEADER_LENGTH) {
    return { ok: false, error: { code: 1, subcode: 2, data: new Uint8Array(0), reason: `message of ${msg.length} octets is shorter than the 19-octet header` } };
  }
  const bad = checkHeader(msg, 0, ctx.extendedMessage);
  if (bad !== null) return { ok: false, error: bad };
  const length = (msg[16] << 8) | msg[17];
  if (length !== msg.length) {
    return { ok: false, error: { code: 1, subcode: 2, data: msg.slice(16, 18), reason: `header says ${length} octets but the slice holds ${msg.length}` } };
  }
  switch (msg[18]) {
    case MessageType.Open:
      return decodeOpen(msg);
    case MessageType.Update: {
      const update = decodeUpdate(msg, ctx);
      if (update.action === 'session-reset') return { ok: false, error: update.errors[0], update };
      const value = update.action === 'treat-as-withdraw' ? withdrawAll(update.update) : update.update;
      return { ok: true, value, update };
    }
    case MessageType.Notification:
      return decodeNotification(msg);
    case MessageType.Keepalive:
      return { ok: true, value: { type: 'keepalive' } };
    default:
      return decodeRouteRefresh(msg);
  }
}

/** Encodes any message. Throws EncodeError when it cannot be put on the wire as given. */
export function encodeMessage(msg: Message, ctx: CodecContext): Uint8Array {
  switch (msg.type) {
    case 'open':
      return encodeOpen(msg);
    case 'update':
      return encodeUpdate(msg, ctx);
    case 'notification':
      return encodeNotification(msg, ctx.extendedMessage);
    case 'keepalive':
      return encodeKeepalive();
    case 'route-refresh':
      return encodeRouteRefresh(msg);
  }
}

const KEEPALIVE = (() => {
  const w = new Writer(19);
  endMessage(w, beginMessage(w, MessageType.Keepalive));
  return w.finish();
})();

/** RFC 4271 4.4: a KEEPALIVE is the header alone. */
export function encodeKeepalive(): Uint8Array {
  return KEEPALIVE.slice();
}
