/**
 * The codec's data model: what decoding yields and encoding takes. This file is the contract between
 * the codec (src/bgp/wire) and its users (session, rib); it holds types only.
 *
 * Conventions:
 * - IPv4 addresses on the hot path (NLRI) are uint32 numbers in host order; IPv6 ones are four
 *   uint32 words, most significant first. Bits past a prefix's length are always zero.
 * - Addresses that occur once per UPDATE (next hops, aggregator) are strings in the usual text form
 *   ("192.0.2.1", "2001:db8::1"), which is what the RIB and the dataplane want.
 * - BGP identifiers, ORIGINATOR_ID and CLUSTER_LIST entries are uint32 numbers: the decision
 *   process compares them as numbers (RFC 4271 9.1.2.2).
 * - AS numbers are always 4-octet values after decoding, whatever the session negotiated.
 */
import type { Afi, AsPathSegmentType, Origin, RouteRefreshSubtype, Safi } from './constants.ts';

// ---------------------------------------------------------------------------------------------
// Prefixes

/**
 * The prefixes of one address family, decoded into flat typed arrays so that a million prefixes
 * cost a few typed arrays rather than a million objects.
 */
export interface PrefixList {
  afi: Afi;
  count: number;
  /** IPv4: `count` words; IPv6: `4 * count` words (prefix i at 4i..4i+3). */
  addrs: Uint32Array;
  /** Prefix lengths, `count` entries. */
  lens: Uint8Array;
  /** RFC 7911 path identifiers, `count` entries, when add-path applies to this family/direction. */
  pathIds: Uint32Array | null;
}

/** An address family as negotiated: `${afi}/${safi}`, e.g. "1/1" for IPv4 unicast. */
export type FamilyKey = `${number}/${number}`;

export interface Family {
  afi: Afi;
  safi: Safi;
}

// ---------------------------------------------------------------------------------------------
// Path attributes

export interface AsPathSegment {
  type: AsPathSegmentType;
  /** 4-octet AS numbers. */
  asns: number[];
}

/** 8 octets of an RFC 4360 extended community, kept as bytes (type, subtype, value). */
export type ExtendedCommunity = Uint8Array;

/** RFC 8092: global administrator, local data part 1, local data part 2. */
export type LargeCommunity = [number, number, number];

/** An attribute we do not decode, kept as it came so that it can pass through. */
export interface RawAttribute {
  /** Optional, Transitive and Partial bits as received (Extended Length and reserved bits dropped). */
  flags: number;
  type: number;
  value: Uint8Array;
}

export interface MpReach {
  afi: Afi;
  safi: Safi;
  /** The global next hop. */
  nextHop: string;
  /** IPv6: the link-local next hop when the peer sent 32 octets (RFC 2545). */
  linkLocalNextHop?: string;
  nlri: PrefixList;
}

export interface MpUnreach {
  afi: Afi;
  safi: Safi;
  withdrawn: PrefixList;
}

/**
 * The path attributes of one UPDATE. Absent means the attribute was not in the message (or was
 * discarded under RFC 7606). `unknown` holds optional transitive attributes we pass on (their
 * Partial bit set when we forward them, RFC 4271 5) in the order received.
 */
export interface PathAttributes {
  origin?: Origin;
  /**
   * AS_PATH with 4-octet ASNs. On a session without the 4-octet AS capability the codec has already
   * merged AS4_PATH into it (RFC 6793 4.2.3), and the encoder splits it again.
   */
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** RFC 1997 communities as uint32 (ASN << 16 | value). */
  communities?: number[];
  originatorId?: number;
  clusterList?: number[];
  extendedCommunities?: ExtendedCommunity[];
  largeCommunities?: LargeCommunity[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  unknown?: RawAttribute[];
}

// ---------------------------------------------------------------------------------------------
// Errors as data

/** What the session must send and do when a message is bad: a NOTIFICATION's contents. */
export interface BgpError {
  code: number;
  subcode: number;
  /** The NOTIFICATION data field the RFC asks for (often the offending attribute or field). */
  data: Uint8Array;
  /** For people and logs: what was wrong, citing the RFC clause. */
  reason: string;
}

/**
 * RFC 7606 2 and 7: how an UPDATE error is handled, weakest first. The strongest outcome of all the
 * errors in one UPDATE wins.
 */
export type UpdateErrorAction = 'attribute-discard' | 'treat-as-withdraw' | 'afi-safi-disable' | 'session-reset';

export interface UpdateError extends BgpError {
  action: UpdateErrorAction;
  /** The attribute at fault, when one is. */
  attrType?: number;
}

// ---------------------------------------------------------------------------------------------
// Capabilities (RFC 5492)

export type Capability =
  | { kind: 'multiprotocol'; afi: Afi; safi: Safi }
  | { kind: 'route-refresh' }
  | { kind: 'enhanced-route-refresh' }
  | { kind: 'extended-message' }
  | { kind: 'four-octet-as'; asn: number }
  | {
      kind: 'graceful-restart';
      /** R bit: the sender has restarted. */
      restarting: boolean;
      /** N bit, RFC 8538: the sender supports graceful NOTIFICATION. */
      notification: boolean;
      /** Seconds, 12 bits. */
      restartTime: number;
      families: Array<{ afi: Afi; safi: Safi; forwardingPreserved: boolean }>;
    }
  | { kind: 'add-path'; families: Array<{ afi: Afi; safi: Safi; sendReceive: 1 | 2 | 3 }> }
  | { kind: 'extended-next-hop'; entries: Array<{ afi: Afi; safi: Safi; nextHopAfi: Afi }> }
  | { kind: 'unknown'; code: number; value: Uint8Array };

// ---------------------------------------------------------------------------------------------
// Messages

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-octet "My Autonomous System" field as sent (AS_TRANS when the real ASN is larger). */
  myAsn: number;
  holdTime: number;
  /** BGP identifier as uint32. */
  bgpId: number;
  capabilities: Capability[];
  /**
   * Optional parameters other than capabilities, kept raw (RFC 4271 6.2 says an unsupported one is
   * an error: the session decides).
   */
  otherParams?: Array<{ type: number; value: Uint8Array }>;
  /** RFC 9072: encode with extended optional parameters length (decoding sets it when seen). */
  extendedOptionalParameters?: boolean;
}

export interface UpdateMessage {
  type: 'update';
  /** IPv4 prefixes in the Withdrawn Routes field. */
  withdrawn: PrefixList;
  attrs: PathAttributes;
  /** IPv4 prefixes in the NLRI field. */
  nlri: PrefixList;
}

export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Uint8Array;
  /**
   * RFC 9003: the shutdown communication of Cease/Administrative Shutdown or Reset, decoded as
   * UTF-8, when the data carries one.
   */
  communication?: string;
}

export interface KeepaliveMessage {
  type: 'keepalive';
}

export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: Afi;
  safi: Safi;
  subtype: RouteRefreshSubtype;
}

export type Message = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

// ---------------------------------------------------------------------------------------------
// What a session negotiated, which decoding and encoding depend on

export interface CodecContext {
  /** RFC 6793: both sides sent the 4-octet AS capability. */
  fourOctetAs: boolean;
  /** RFC 8654: both sides sent extended message. */
  extendedMessage: boolean;
  /** RFC 7911: families in which we receive path identifiers. */
  addPathReceive: ReadonlySet<FamilyKey>;
  /** RFC 7911: families in which we send path identifiers. */
  addPathSend: ReadonlySet<FamilyKey>;
  /** RFC 8950: IPv4 NLRI may carry an IPv6 next hop. */
  extendedNextHop: ReadonlySet<FamilyKey>;
  /**
   * The peer is external. RFC 7606 treats some attributes differently on eBGP (LOCAL_PREF,
   * ORIGINATOR_ID and CLUSTER_LIST from an external peer are discarded).
   */
  ebgp: boolean;
}

/** The outcome of decoding one UPDATE (RFC 7606). */
export interface UpdateDecodeResult {
  /** What could be decoded; with a 'treat-as-withdraw' action, every prefix in it is a withdrawal. */
  update: UpdateMessage;
  /**
   * Every error found, in order, except that under 'session-reset' the error to send as NOTIFICATION
   * comes first. Empty for a clean message.
   */
  errors: UpdateError[];
  /** The strongest action among `errors`, or null. */
  action: UpdateErrorAction | null;
}

/** Any message's decode: a message, or the NOTIFICATION to send (session reset). */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: BgpError };

/**
 * What `decodeMessage` yields. For an UPDATE, `update` holds the RFC 7606 outcome, and `value` is
 * what the session should apply: the UPDATE as decoded, or, under 'treat-as-withdraw', the same
 * prefixes all as withdrawals. A 'session-reset' outcome is returned as `ok: false`.
 */
export type MessageDecodeResult =
  | { ok: true; value: Message; update?: UpdateDecodeResult }
  | { ok: false; error: BgpError; update?: UpdateDecodeResult };
