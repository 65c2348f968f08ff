/**
 * UPDATE (RFC 4271 4.3): decoding with RFC 7606 outcomes, encoding, packing many prefixes that
 * share one attribute set into as few messages as fit, and End-of-RIB markers (RFC 4724 2).
 */
import { decodeAttributes, writeAttributes, type AttrDecodeState } from './attributes.ts';
import { mpReachHead, writeMpAttribute } from './mp-nlri.ts';
import { Afi, AttrType, ErrorCode, MessageType, Safi, UpdateSubcode } from './constants.ts';
import { EncodeError, strongest, updateError } from './errors.ts';
import { beginMessage, endMessage, maxMessageLength } from './header.ts';
import { concatPrefixLists, decodePrefixes, emptyPrefixList, familyKey, prefixWireSize, writePrefix } from './prefix.ts';
import { Writer } from './writer.ts';
import type { CodecContext, Family, PathAttributes, PrefixList, UpdateDecodeResult, UpdateError, UpdateMessage } from './types.ts';

const IPV4_UNICAST = familyKey(Afi.IPv4, Safi.Unicast);

function sessionReset(update: UpdateMessage, errors: UpdateError[], e: UpdateError): UpdateDecodeResult {
  errors.push(e);
  return { update, errors, action: 'session-reset' };
}

/**
 * Decodes an UPDATE from a whole framed message (header included). Never throws: a message that
 * cannot be used yields errors and the strongest RFC 7606 action; with 'treat-as-withdraw' the
 * prefixes found are to be withdrawn (see `withdrawAll`), with 'session-reset' the first such error
 * is the NOTIFICATION to send.
 */
export function decodeUpdate(msg: Uint8Array, ctx: CodecContext): UpdateDecodeResult {
  const addPath4 = ctx.addPathReceive.has(IPV4_UNICAST);
  const errors: UpdateError[] = [];
  const update: UpdateMessage = { type: 'update', withdrawn: emptyPrefixList(Afi.IPv4, addPath4), attrs: {}, nlri: emptyPrefixList(Afi.IPv4, addPath4) };
  const end = msg.length;
  const malformedList = (reason: string) => updateError('session-reset', ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, reason);

  // RFC 4271 6.3: the two length fields must fit the message.
  if (end < 23) return sessionReset(update, errors, malformedList(`UPDATE of ${end} octets is shorter than 23`));
  const wlen = (msg[19] << 8) | msg[20];
  if (23 + wlen > end) return sessionReset(update, errors, malformedList(`RFC 4271 6.3: Withdrawn Routes Length ${wlen} runs past the message`));
  const wEnd = 21 + wlen;
  const alen = (msg[wEnd] << 8) | msg[wEnd + 1];
  const aStart = wEnd + 2;
  const aEnd = aStart + alen;
  if (aEnd > end) return sessionReset(update, errors, malformedList(`RFC 4271 6.3: Withdrawn Routes Length ${wlen} + Total Path Attribute Length ${alen} + 23 exceeds the message length ${end}`));

  // RFC 7606 5.3: prefixes that cannot be parsed leave nothing to withdraw: session reset.
  const withdrawn = decodePrefixes(msg, 21, wEnd, Afi.IPv4, addPath4);
  if (typeof withdrawn === 'string') {
    return sessionReset(update, errors, updateError('session-reset', ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField, `Withdrawn Routes: ${withdrawn}`));
  }
  update.withdrawn = withdrawn;
  const nlri = decodePrefixes(msg, aEnd, end, Afi.IPv4, addPath4);
  if (typeof nlri === 'string') {
    return sessionReset(update, errors, updateError('session-reset', ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField, `NLRI: ${nlri}`));
  }
  update.nlri = nlri;

  const st: AttrDecodeState = { ctx, attrs: update.attrs, errors };
  const intact = decodeAttributes(msg, aStart, aEnd, st);

  // RFC 7606 3d: missing well-known mandatory attributes when there is something to announce.
  const announces = nlri.count > 0 || update.attrs.mpReach !== undefined;
  if (intact && announces) {
    // An attribute that was present but malformed has its own error already.
    const missing = (type: number, name: string) => {
      if (!errors.some((e) => e.attrType === type)) {
        errors.push(updateError('treat-as-withdraw', ErrorCode.UpdateMessage, UpdateSubcode.MissingWellKnownAttribute, `RFC 7606 3d: ${name} missing from an UPDATE that announces routes`, Uint8Array.of(type), type));
      }
    };
    if (update.attrs.origin === undefined) missing(AttrType.Origin, 'ORIGIN');
    if (update.attrs.asPath === undefined) missing(AttrType.AsPath, 'AS_PATH');
    // NEXT_HOP is mandatory only for the IPv4 NLRI field (RFC 4760 3 covers MP_REACH's own).
    if (nlri.count > 0 && update.attrs.nextHop === undefined) missing(AttrType.NextHop, 'NEXT_HOP');
  }

  let action: UpdateDecodeResult['action'] = null;
  for (const e of errors) action = strongest(action, e.action);
  if (action === 'session-reset') {
    // The NOTIFICATION to send is the first session-reset error: put it first.
    const i = errors.findIndex((e) => e.action === 'session-reset');
    if (i > 0) errors.unshift(...errors.splice(i, 1));
  }
  return { update, errors, action };
}

/**
 * RFC 7606 2 "treat-as-withdraw": every prefix the UPDATE carries, announced or withdrawn, as a
 * withdrawal, and no attributes. IPv4 prefixes land in `withdrawn`, IPv6 ones in MP_UNREACH.
 */
export function withdrawAll(update: UpdateMessage): UpdateMessage {
  let v4 = concatPrefixLists(update.withdrawn, update.nlri);
  let v6: PrefixList | null = null;
  for (const list of [update.attrs.mpUnreach?.withdrawn, update.attrs.mpReach?.nlri]) {
    if (list === undefined) continue;
    if (list.afi === Afi.IPv4) v4 = concatPrefixLists(v4, list);
    else v6 = v6 === null ? list : concatPrefixLists(v6, list);
  }
  const attrs: PathAttributes = v6 === null ? {} : { mpUnreach: { afi: Afi.IPv6, safi: Safi.Unicast, withdrawn: v6 } };
  return { type: 'update', withdrawn: v4, attrs, nlri: emptyPrefixList(Afi.IPv4, update.nlri.pathIds !== null) };
}

/** RFC 4724 2: the family whose End-of-RIB marker this UPDATE is, or null. */
export function endOfRibFamily(update: UpdateMessage): Family | null {
  const keys = Object.keys(update.attrs).filter((k) => update.attrs[k as keyof PathAttributes] !== undefined);
  if (update.withdrawn.count !== 0 || update.nlri.count !== 0) return null;
  if (keys.length === 0) return { afi: Afi.IPv4, safi: Safi.Unicast };
  const un = update.attrs.mpUnreach;
  if (keys.length === 1 && un !== undefined && un.withdrawn.count === 0) return { afi: un.afi, safi: un.safi };
  return null;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function writePrefixRange(w: Writer, list: PrefixList, from: number, to: number, addPath: boolean): void {
  let size = 0;
  for (let i = from; i < to; i++) size += prefixWireSize(list, i, addPath);
  w.ensure(size);
  const buf = w.raw();
  let pos = w.pos;
  for (let i = from; i < to; i++) pos = writePrefix(list, i, buf, pos, addPath);
  w.pos = pos;
}

function mpUnreachHead(afi: Afi, safi: Safi): Uint8Array {
  return Uint8Array.of(afi >>> 8, afi & 255, safi);
}

function tooLong(what: string, max: number): EncodeError {
  return new EncodeError('message-too-long', `${what} does not fit in ${max} octets; use encodeAnnouncements/encodeWithdrawals to split it`);
}

/** Encodes one UPDATE exactly as given; throws EncodeError if it exceeds the negotiated size. */
export function encodeUpdate(msg: UpdateMessage, ctx: CodecContext): Uint8Array {
  const max = maxMessageLength(MessageType.Update, ctx.extendedMessage);
  const w = new Writer(512);
  const start = beginMessage(w, MessageType.Update);
  const addPath4 = ctx.addPathSend.has(IPV4_UNICAST);
  const wAt = w.reserve(2);
  writePrefixRange(w, msg.withdrawn, 0, msg.withdrawn.count, addPath4);
  w.patch16(wAt, w.pos - wAt - 2);
  const aAt = w.reserve(2);
  const { mpUnreach, mpReach } = msg.attrs;
  // RFC 7606 5.1: MP_UNREACH_NLRI and MP_REACH_NLRI go first.
  if (mpUnreach !== undefined) {
    const addPath = ctx.addPathSend.has(familyKey(mpUnreach.afi, mpUnreach.safi));
    const n = writeMpAttribute(w, AttrType.MpUnreachNlri, mpUnreachHead(mpUnreach.afi, mpUnreach.safi), mpUnreach.withdrawn, 0, addPath, start, max, 0);
    if (n < mpUnreach.withdrawn.count) throw tooLong('UPDATE', max);
  }
  if (mpReach !== undefined) {
    const addPath = ctx.addPathSend.has(familyKey(mpReach.afi, mpReach.safi));
    const n = writeMpAttribute(w, AttrType.MpReachNlri, mpReachHead(mpReach), mpReach.nlri, 0, addPath, start, max, 0);
    if (n < mpReach.nlri.count) throw tooLong('UPDATE', max);
  }
  writeAttributes(w, msg.attrs, ctx);
  w.patch16(aAt, w.pos - aAt - 2);
  writePrefixRange(w, msg.nlri, 0, msg.nlri.count, addPath4);
  if (endMessage(w, start) > max) throw tooLong('UPDATE', max);
  return w.finish();
}

/**
 * A packed message: a view of its own buffer when nearly full (no copy), a copy of its own size
 * otherwise, so that a short last message does not pin a 64 KiB buffer.
 */
function handOut(w: Writer, max: number): Uint8Array {
  return w.pos * 2 >= max ? w.view() : w.finish();
}

/** The attributes other than the MP ones, encoded once for a whole run of packed messages. */
function attributeBlock(attrs: PathAttributes, ctx: CodecContext): Uint8Array {
  const w = new Writer(256);
  writeAttributes(w, attrs, ctx);
  return w.finish();
}

/**
 * Announces `prefixes` with one attribute set in as few UPDATEs as fit (4096 octets, or 65535 with
 * RFC 8654 extended message). IPv4 prefixes go in the NLRI field unless `attrs.mpReach` is given
 * (RFC 8950: IPv4 with an IPv6 next hop); IPv6 prefixes go in MP_REACH_NLRI, whose next hop comes
 * from `attrs.mpReach` (its `nlri` is ignored).
 */
export function encodeAnnouncements(attrs: PathAttributes, prefixes: PrefixList, ctx: CodecContext): Uint8Array[] {
  const max = maxMessageLength(MessageType.Update, ctx.extendedMessage);
  const { mpReach, mpUnreach: _ignored, ...rest } = attrs;
  const block = attributeBlock(rest, ctx);
  const out: Uint8Array[] = [];
  const useMp = mpReach !== undefined || prefixes.afi !== Afi.IPv4;
  if (useMp && mpReach === undefined) throw new EncodeError('unsupported-family', 'IPv6 prefixes need attrs.mpReach for their next hop');
  if (useMp && mpReach!.afi !== prefixes.afi) throw new EncodeError('invalid-field', `attrs.mpReach is AFI ${mpReach!.afi} but the prefixes are AFI ${prefixes.afi}`);
  const head = useMp ? mpReachHead(mpReach!) : null;
  const addPath = ctx.addPathSend.has(familyKey(prefixes.afi, mpReach?.safi ?? Safi.Unicast));
  let i = 0;
  while (i < prefixes.count) {
    const w = new Writer(max); // a fresh buffer per message: see handOut
    const start = beginMessage(w, MessageType.Update);
    w.u16(0); // no withdrawn routes
    const aAt = w.reserve(2);
    let next: number;
    if (head !== null) {
      next = writeMpAttribute(w, AttrType.MpReachNlri, head, prefixes, i, addPath, start, max, block.length);
      w.bytes(block);
      w.patch16(aAt, w.pos - aAt - 2);
    } else {
      w.bytes(block);
      w.patch16(aAt, w.pos - aAt - 2);
      w.ensure(max - w.pos);
      const buf = w.raw();
      let pos = w.pos;
      next = i;
      while (next < prefixes.count) {
        const size = prefixWireSize(prefixes, next, addPath);
        if (pos + size > max) break;
        pos = writePrefix(prefixes, next, buf, pos, addPath);
        next++;
      }
      w.pos = pos;
    }
    if (next === i) throw tooLong('the attributes with one prefix', max);
    endMessage(w, start);
    out.push(handOut(w, max));
    i = next;
  }
  return out;
}

/** Withdraws `prefixes` in as few UPDATEs as fit: IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI. */
export function encodeWithdrawals(prefixes: PrefixList, ctx: CodecContext, safi: Safi = Safi.Unicast): Uint8Array[] {
  const max = maxMessageLength(MessageType.Update, ctx.extendedMessage);
  const addPath = ctx.addPathSend.has(familyKey(prefixes.afi, safi));
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < prefixes.count) {
    const w = new Writer(max);
    const start = beginMessage(w, MessageType.Update);
    let next = i;
    if (prefixes.afi === Afi.IPv4) {
      const wAt = w.reserve(2);
      w.ensure(max - w.pos);
      const buf = w.raw();
      let pos = w.pos;
      const room = max - 2; // keep the Total Path Attribute Length
      while (next < prefixes.count) {
        const size = prefixWireSize(prefixes, next, addPath);
        if (pos + size > room) break;
        pos = writePrefix(prefixes, next, buf, pos, addPath);
        next++;
      }
      w.pos = pos;
      w.patch16(wAt, w.pos - wAt - 2);
      w.u16(0);
    } else {
      w.u16(0);
      const aAt = w.reserve(2);
      next = writeMpAttribute(w, AttrType.MpUnreachNlri, mpUnreachHead(prefixes.afi, safi), prefixes, i, addPath, start, max, 0);
      w.patch16(aAt, w.pos - aAt - 2);
    }
    endMessage(w, start);
    out.push(handOut(w, max));
    i = next;
  }
  return out;
}

/** RFC 4724 2: End-of-RIB, an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI otherwise. */
export function encodeEndOfRib(family: Family): Uint8Array {
  const w = new Writer(32);
  const start = beginMessage(w, MessageType.Update);
  w.u16(0);
  if (family.afi === Afi.IPv4 && family.safi === Safi.Unicast) {
    w.u16(0);
  } else {
    const aAt = w.reserve(2);
    w.u8(0x80).u8(AttrType.MpUnreachNlri).u8(3).bytes(mpUnreachHead(family.afi, family.safi));
    w.patch16(aAt, w.pos - aAt - 2);
  }
  endMessage(w, start);
  return w.finish();
}

