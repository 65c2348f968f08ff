/**
 * OPEN (RFC 4271 4.2) with capabilities (RFC 5492) and RFC 9072 extended optional parameters.
 * Checks here are the ones the bytes alone decide (RFC 4271 6.2: version, hold time, identifier,
 * parameter framing); whether the peer's AS or capabilities are acceptable is the session's call.
 */
import { decodeCapability, writeCapabilities } from './capabilities.ts';
import { AS_TRANS, BGP_VERSION, ErrorCode, MessageType, OpenSubcode } from './constants.ts';
import { bgpError, EncodeError } from './errors.ts';
import { beginMessage, endMessage } from './header.ts';
import { Writer } from './writer.ts';
import type { Capability, DecodeResult, OpenMessage } from './types.ts';

/** RFC 5492 4: the optional parameter that carries capabilities. */
const PARAM_CAPABILITIES = 2;
/** RFC 9072 2: the Non-Ext OP Type that marks extended optional parameters. */
const PARAM_EXTENDED = 255;

function fail(subcode: number, reason: string, data?: Uint8Array): DecodeResult<OpenMessage> {
  return { ok: false, error: bgpError(ErrorCode.OpenMessage, subcode, reason, data) };
}

/** Decodes an OPEN from a whole framed message (header included). */
export function decodeOpen(msg: Uint8Array): DecodeResult<OpenMessage> {
  const end = msg.length;
  if (end < 29) return fail(0, `OPEN of ${end} octets is shorter than 29`);
  const version = msg[19];
  if (version !== BGP_VERSION) {
    // RFC 4271 6.2: the data is the largest version we support.
    return fail(OpenSubcode.UnsupportedVersionNumber, `RFC 4271 6.2: version ${version} is not 4`, Uint8Array.of(0, BGP_VERSION));
  }
  const myAsn = (msg[20] << 8) | msg[21];
  const holdTime = (msg[22] << 8) | msg[23];
  // RFC 4271 6.2: a hold time of 1 or 2 seconds must be rejected (0 means no keepalives).
  if (holdTime === 1 || holdTime === 2) return fail(OpenSubcode.UnacceptableHoldTime, `RFC 4271 6.2: hold time ${holdTime} is 1 or 2 seconds`);
  const bgpId = ((msg[24] << 24) | (msg[25] << 16) | (msg[26] << 8) | msg[27]) >>> 0;
  // RFC 6286 2.2: the identifier is a non-zero 4-octet number.
  if (bgpId === 0) return fail(OpenSubcode.BadBgpIdentifier, 'RFC 6286 2.2: BGP identifier is 0', msg.slice(24, 28));

  let optLen = msg[28];
  let p = 29;
  let extended = false;
  if (optLen === PARAM_EXTENDED && end > 29 && msg[29] === PARAM_EXTENDED) {
    // RFC 9072 2: 255, 255, then a 2-octet length; each parameter gets a 2-octet length too.
    if (end < 32) return fail(0, 'RFC 9072 2: extended optional parameters length is cut short');
    extended = true;
    optLen = (msg[30] << 8) | msg[31];
    p = 32;
  }
  if (p + optLen !== end) {
    return fail(0, `RFC 4271 4.2: Optional Parameters Length ${optLen} disagrees with the ${end - p} octets that follow`);
  }

  const capabilities: Capability[] = [];
  const otherParams: Array<{ type: number; value: Uint8Array }> = [];
  const hdr = extended ? 3 : 2;
  while (p < end) {
    if (p + hdr > end) return fail(0, `optional parameter header at offset ${p} is cut short`);
    const type = msg[p];
    const len = extended ? (msg[p + 1] << 8) | msg[p + 2] : msg[p + 1];
    const vStart = p + hdr;
    const vEnd = vStart + len;
    if (vEnd > end) return fail(0, `optional parameter ${type} of length ${len} overruns the OPEN`);
    p = vEnd;
    if (type !== PARAM_CAPABILITIES) {
      otherParams.push({ type, value: msg.slice(vStart, vEnd) });
      continue;
    }
    // RFC 5492 4: one parameter may carry several capabilities, each code, length, value.
    for (let q = vStart; q < vEnd; ) {
      if (q + 2 > vEnd) return fail(0, `capability header at offset ${q} is cut short`);
      const code = msg[q];
      const clen = msg[q + 1];
      if (q + 2 + clen > vEnd) return fail(0, `capability ${code} of length ${clen} overruns its optional parameter`);
      const cap = decodeCapability(code, msg.subarray(q + 2, q + 2 + clen));
      if (typeof cap === 'string') return fail(0, cap, msg.slice(q, q + 2 + clen));
      capabilities.push(cap);
      q += 2 + clen;
    }
  }
  const value: OpenMessage = { type: 'open', version, myAsn, holdTime, bgpId, capabilities };
  if (otherParams.length > 0) value.otherParams = otherParams;
  if (extended) value.extendedOptionalParameters = true;
  return { ok: true, value };
}

/**
 * Encodes an OPEN. Capabilities go in one Capabilities parameter; more than 255 octets of them
 * need `extendedOptionalParameters` (RFC 9072). `myAsn` above 65535 is sent as AS_TRANS (RFC 6793 4.1).
 */
export function encodeOpen(msg: OpenMessage): Uint8Array {
  const caps = new Writer(64);
  writeCapabilities(caps, msg.capabilities);
  const capBytes = caps.finish();
  const w = new Writer(64 + capBytes.length);
  const start = beginMessage(w, MessageType.Open);
  const asn = msg.myAsn > 0xffff ? AS_TRANS : msg.myAsn;
  w.u8(msg.version).u16(asn).u16(msg.holdTime).u32(msg.bgpId);
  const params = new Writer(capBytes.length + 16);
  const ext = msg.extendedOptionalParameters === true;
  const param = (type: number, value: Uint8Array) => {
    params.u8(type);
    if (ext) params.u16(value.length);
    else params.u8(value.length);
    params.bytes(value);
  };
  if (capBytes.length > 0) {
    // Without RFC 9072 the whole area is limited to 255 octets, so one parameter always suffices.
    if (!ext && capBytes.length > 255) throw new EncodeError('message-too-long', `capabilities of ${capBytes.length} octets need extendedOptionalParameters (RFC 9072)`);
    param(PARAM_CAPABILITIES, capBytes);
  }
  for (const o of msg.otherParams ?? []) param(o.type, o.value);
  const pbytes = params.finish();
  if (ext) w.u8(PARAM_EXTENDED).u8(PARAM_EXTENDED).u16(pbytes.length);
  else {
    if (pbytes.length > 255) throw new EncodeError('message-too-long', `optional parameters of ${pbytes.length} octets need extendedOptionalParameters (RFC 9072)`);
    w.u8(pbytes.length);
  }
  w.bytes(pbytes);
  if (endMessage(w, start) > 4096) throw new EncodeError('message-too-long', 'OPEN longer than 4096 octets');
  return w.finish();
}
