/**
 * The OPEN exchange: what we send, and how we check and negotiate what the peer sent (RFC 4271 6.2,
 * RFC 5492 capabilities, RFC 6793 4-octet AS, RFC 4724 graceful restart, RFC 4760 families). Every
 * failure is the NOTIFICATION the RFC asks for, as data.
 */
import { AS_TRANS, Afi, BGP_VERSION, ErrorCode, OpenSubcode, Safi } from '../wire/constants.ts';
import type { BgpError, Capability, CodecContext, FamilyKey, OpenMessage } from '../wire/types.ts';

export interface LocalOpenConfig {
  localAsn: number;
  routerId: number;
  /** Seconds we propose: 0, or at least 3 (RFC 4271 4.2). */
  holdTime: number;
  /**
   * Seconds between our KEEPALIVEs; default a third of the negotiated hold time (RFC 4271 4.4).
   * Never more than that third, so a shorter hold time from the peer still holds.
   */
  keepaliveTime?: number;
  families: readonly Afi[];
  /** RFC 4724: advertise graceful restart (helper and restarting roles). */
  gracefulRestart?: {
    /** Seconds the peer should keep our routes while we restart (12 bits). */
    restartTime: number;
    /** R bit: we have just restarted. */
    restarting: boolean;
    /** F bits: we kept forwarding state across the restart. */
    forwardingPreserved: boolean;
  };
  /** RFC 8654 */
  extendedMessage?: boolean;
}

export interface PeerExpectation {
  /** The AS we configured for the peer. */
  peerAsn: number;
}

/** What both sides agreed to, which the session, the codec and the RIB go by. */
export interface Negotiated {
  peerAsn: number;
  peerBgpId: number;
  /** Seconds; 0 means no hold timer and no keepalives. */
  holdTime: number;
  /** Seconds between keepalives: a third of the hold time (RFC 4271 10). */
  keepaliveTime: number;
  families: Set<Afi>;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  /** The peer's graceful restart capability, when it sent one. */
  peerGracefulRestart: {
    restarting: boolean;
    restartTime: number;
    notification: boolean;
    /** Families the peer will keep across a restart, with its F bit. */
    families: Map<Afi, boolean>;
  } | null;
  /** Both sides sent graceful restart: the helper and restarting roles apply. */
  gracefulRestart: boolean;
  codec: CodecContext;
}

export function familyKey(afi: Afi, safi: Safi = Safi.Unicast): FamilyKey {
  return `${afi}/${safi}`;
}

export function buildOpen(cfg: LocalOpenConfig): OpenMessage {
  const caps: Capability[] = cfg.families.map((afi) => ({ kind: 'multiprotocol', afi, safi: Safi.Unicast }));
  // RFC 7313 3: enhanced route refresh, so that a refresh is framed by BoRR/EoRR both ways.
  caps.push({ kind: 'route-refresh' }, { kind: 'enhanced-route-refresh' }, { kind: 'four-octet-as', asn: cfg.localAsn });
  if (cfg.extendedMessage) caps.push({ kind: 'extended-message' });
  if (cfg.gracefulRestart) {
    const gr = cfg.gracefulRestart;
    caps.push({
      kind: 'graceful-restart',
      restarting: gr.restarting,
      notification: false,
      restartTime: Math.min(4095, Math.max(0, Math.round(gr.restartTime))),
      families: cfg.families.map((afi) => ({ afi, safi: Safi.Unicast, forwardingPreserved: gr.forwardingPreserved })),
    });
  }
  return {
    type: 'open',
    version: BGP_VERSION,
    myAsn: cfg.localAsn > 0xffff ? AS_TRANS : cfg.localAsn,
    holdTime: cfg.holdTime,
    bgpId: cfg.routerId,
    capabilities: caps,
  };
}

function openError(subcode: number, reason: string, data: Uint8Array = new Uint8Array(0)): { ok: false; error: BgpError } {
  return { ok: false, error: { code: ErrorCode.OpenMessage, subcode, data, reason } };
}

function u16(n: number): Uint8Array {
  return new Uint8Array([(n >>> 8) & 255, n & 255]);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** RFC 4271 4.4 / 10: a third of the hold time unless configured shorter; 0 when the hold time is 0. */
export function negotiateKeepalive(holdTime: number, configured?: number): number {
  const third = Math.floor(holdTime / 3);
  if (holdTime === 0 || configured === undefined || configured <= 0) return third;
  return Math.max(1, Math.min(configured, third));
}

export function validateOpen(
  open: OpenMessage,
  local: LocalOpenConfig,
  expect: PeerExpectation,
): { ok: true; negotiated: Negotiated } | { ok: false; error: BgpError } {
  // RFC 4271 6.2: version; the data is the largest version we support.
  if (open.version !== BGP_VERSION) {
    return openError(OpenSubcode.UnsupportedVersionNumber, `peer speaks BGP version ${open.version}, we speak ${BGP_VERSION} (RFC 4271 6.2)`, u16(BGP_VERSION));
  }
  // RFC 4271 6.2: optional parameters other than capabilities are not supported.
  if (open.otherParams?.length) {
    return openError(OpenSubcode.UnsupportedOptionalParameter, `unsupported optional parameter type ${open.otherParams[0].type} (RFC 4271 6.2)`);
  }
  // RFC 6793 4.1: the real AS is in the capability; the 2-octet field is AS_TRANS when it is large.
  const four = open.capabilities.find((c) => c.kind === 'four-octet-as');
  const peerAsn = four ? four.asn : open.myAsn;
  if (four && four.asn <= 0xffff && open.myAsn !== four.asn) {
    return openError(OpenSubcode.BadPeerAs, `peer's My AS ${open.myAsn} disagrees with its 4-octet AS capability ${four.asn} (RFC 6793 4.1)`, u16(open.myAsn));
  }
  if (peerAsn !== expect.peerAsn) {
    return openError(OpenSubcode.BadPeerAs, `peer says AS ${peerAsn}, configured AS ${expect.peerAsn} (RFC 4271 6.2)`, u16(open.myAsn));
  }
  // RFC 4271 6.2 and RFC 6286 2.2: the identifier must be non-zero, and differ from ours inside an AS.
  if (open.bgpId === 0 || (peerAsn === local.localAsn && open.bgpId === local.routerId)) {
    return openError(OpenSubcode.BadBgpIdentifier, `unacceptable BGP identifier ${formatId(open.bgpId)} (RFC 4271 6.2, RFC 6286)`, u32(open.bgpId));
  }
  // RFC 4271 4.2 / 6.2: hold time 1 or 2 is unacceptable.
  if (open.holdTime === 1 || open.holdTime === 2) {
    return openError(OpenSubcode.UnacceptableHoldTime, `hold time ${open.holdTime} s is unacceptable: 0 or at least 3 (RFC 4271 4.2)`);
  }
  const holdTime = Math.min(open.holdTime, local.holdTime);

  // RFC 4760 8: a peer without multiprotocol capabilities speaks IPv4 unicast only.
  const mp = open.capabilities.filter((c) => c.kind === 'multiprotocol');
  const offered = new Set<Afi>(mp.length ? mp.filter((c) => c.safi === Safi.Unicast).map((c) => c.afi) : [Afi.IPv4]);
  const families = new Set(local.families.filter((f) => offered.has(f)));
  if (families.size === 0) {
    return openError(OpenSubcode.UnsupportedCapability, `no address family in common: we speak ${local.families.map(afiName).join(', ')}, the peer ${[...offered].map(afiName).join(', ') || 'none'} (RFC 5492 5)`);
  }
  const has = (kind: Capability['kind']) => open.capabilities.some((c) => c.kind === kind);
  const grCap = open.capabilities.find((c) => c.kind === 'graceful-restart');
  const peerGracefulRestart = grCap
    ? {
        restarting: grCap.restarting,
        restartTime: grCap.restartTime,
        notification: grCap.notification,
        families: new Map(grCap.families.filter((f) => f.safi === Safi.Unicast).map((f) => [f.afi, f.forwardingPreserved] as [Afi, boolean])),
      }
    : null;
  const ebgp = peerAsn !== local.localAsn;
  return {
    ok: true,
    negotiated: {
      peerAsn,
      peerBgpId: open.bgpId,
      holdTime,
      keepaliveTime: negotiateKeepalive(holdTime, local.keepaliveTime),
      families,
      routeRefresh: has('route-refresh') || has('enhanced-route-refresh'),
      enhancedRouteRefresh: has('enhanced-route-refresh'),
      peerGracefulRestart,
      gracefulRestart: !!peerGracefulRestart && !!local.gracefulRestart,
      codec: {
        fourOctetAs: !!four,
        extendedMessage: !!local.extendedMessage && has('extended-message'),
        addPathReceive: new Set(),
        addPathSend: new Set(),
        extendedNextHop: new Set(),
        ebgp,
      },
    },
  };
}

export function formatId(id: number): string {
  return `${id >>> 24}.${(id >>> 16) & 255}.${(id >>> 8) & 255}.${id & 255}`;
}

export function afiName(afi: Afi): string {
  return afi === Afi.IPv4 ? 'ipv4' : afi === Afi.IPv6 ? 'ipv6' : `afi ${afi}`;
}
