/**
 * NETLINK_ROUTE messages for routes and links, encoded and decoded in TypeScript with no I/O
 * (the socket lives in a small relay process, see kernel-netlink.ts). Layouts follow the kernel's
 * uapi headers: linux/netlink.h (nlmsghdr, nlmsgerr), linux/rtnetlink.h (rtmsg, rtattr,
 * rtnexthop), linux/if_link.h (ifinfomsg). All fields are host byte order (little endian here).
 */
import { formatAddress, parsePrefix, parseAddress, v4AddressAndLength, type Family } from './address.ts';

/** Message types (linux/netlink.h, linux/rtnetlink.h). */
export const MsgType = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

/** nlmsg_flags. The same bits mean different things for new-requests and get-requests. */
export const Flag = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP_INTR: 0x10,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  /** In an NLMSG_ERROR: extended-ack attributes follow (NETLINK_EXT_ACK). */
  ACK_TLVS: 0x200,
  /** In an NLMSG_ERROR: the request was not copied back (NETLINK_CAP_ACK). */
  CAPPED: 0x100,
} as const;

export const RouteAttr = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, MULTIPATH: 9, TABLE: 15 } as const;
export const RouteType = { UNICAST: 1, LOCAL: 2, BLACKHOLE: 6, UNREACHABLE: 7, PROHIBIT: 8 } as const;
export const Scope = { UNIVERSE: 0, LINK: 253, HOST: 254, NOWHERE: 255 } as const;
/** rtm_flags / rtnh_flags bit: the next hop is on the link even if no address says so. */
export const RTNH_F_ONLINK = 4;
/** rtm_flags bit for cached (cloned) routes, which dumps may include and we ignore. */
export const RTM_F_CLONED = 0x200;
export const RT_TABLE_COMPAT = 252;
export const LinkAttr = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINKINFO: 18, AF_SPEC: 26, NET_NS_FD: 28 } as const;
/** Inside IFLA_LINKINFO (linux/if_link.h), and VETH_INFO_PEER inside its data (linux/veth.h). */
const LinkInfo = { KIND: 1, DATA: 2 } as const;
const VETH_INFO_PEER = 1;
/** IFLA_INET6_ADDR_GEN_MODE inside IFLA_AF_SPEC / AF_INET6; mode NONE makes no link-local address. */
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
/** ifaddrmsg attributes and flags (linux/if_addr.h). */
const IfaAttr = { ADDRESS: 1, LOCAL: 2 } as const;
const IFA_F_NODAD = 0x02;
/** rtm_flags: answer a route lookup with the FIB entry that matched, not the resolved route. */
export const RTM_F_FIB_MATCH = 0x2000;
export const IFF_UP = 0x1;
const AF_INET = 2;
const AF_INET6 = 10;
const NLMSGERR_ATTR_MSG = 1;
const NLMSG_HDRLEN = 16;
const RTMSG_LEN = 12;
const IFINFOMSG_LEN = 16;

export interface NextHop {
  /** Canonical address text, absent for a directly connected (`dev X`) route. */
  gateway?: string;
  /** Output interface index; 0 lets the kernel choose (only for gateways). */
  ifindex: number;
  onlink: boolean;
}

/** A route as the kernel holds it (or as we ask for it), in one table. */
export interface KernelRoute {
  family: Family;
  /** Canonical prefix text: the map key. */
  dst: string;
  table: number;
  protocol: number;
  type: number;
  scope: number;
  priority: number;
  /** Empty for blackholes; one entry for a plain route; several for ECMP. */
  nexthops: NextHop[];
}

export interface KernelLink {
  index: number;
  name: string;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFLA_ADDRESS of an Ethernet-like link, as aa:bb:cc:dd:ee:ff. */
  mac?: string;
}

export type Decoded =
  | { kind: 'route'; type: number; flags: number; seq: number; pid: number; route: KernelRoute | null }
  | { kind: 'link'; type: number; seq: number; link: KernelLink }
  | { kind: 'error'; seq: number; errno: number; message?: string }
  | { kind: 'done'; seq: number; interrupted: boolean }
  | { kind: 'other'; type: number; seq: number };

const align4 = (n: number) => (n + 3) & ~3;

/** An append-only byte buffer that grows by doubling. */
export class NlWriter {
  buf: Buffer;
  len = 0;
  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  /** Makes room for `n` more bytes (for callers writing into `buf` at `len` themselves). */
  reserve(n: number): void {
    this.ensure(n);
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  /** Starts a message; returns its offset for `end`. */
  begin(type: number, flags: number, seq: number): number {
    this.ensure(NLMSG_HDRLEN);
    const at = this.len;
    this.buf.writeUInt32LE(0, at);
    this.buf.writeUInt16LE(type, at + 4);
    this.buf.writeUInt16LE(flags, at + 6);
    this.buf.writeUInt32LE(seq, at + 8);
    this.buf.writeUInt32LE(0, at + 12);
    this.len += NLMSG_HDRLEN;
    return at;
  }
  end(at: number): void {
    this.buf.writeUInt32LE(this.len - at, at);
  }
  bytes(data: ArrayLike<number>): void {
    const n = align4(data.length);
    this.ensure(n);
    for (let i = 0; i < data.length; i++) this.buf[this.len + i] = data[i];
    this.buf.fill(0, this.len + data.length, this.len + n);
    this.len += n;
  }
  u8s(...v: number[]): void {
    this.bytes(v);
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.len);
    this.len += 4;
  }
  /** Starts an attribute; returns its offset for `endAttr`. */
  beginAttr(type: number): number {
    this.ensure(4);
    const at = this.len;
    this.buf.writeUInt16LE(type, at + 2);
    this.len += 4;
    return at;
  }
  endAttr(at: number): void {
    this.buf.writeUInt16LE(this.len - at, at);
  }
  attrU32(type: number, v: number): void {
    const a = this.beginAttr(type);
    this.u32(v);
    this.endAttr(a);
  }
  attrBytes(type: number, data: Uint8Array): void {
    const a = this.beginAttr(type);
    this.ensure(align4(data.length));
    this.buf.set(data, this.len);
    this.len += data.length;
    this.endAttr(a);
    const pad = align4(this.len) - this.len;
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }
  take(): Buffer {
    // copy() is a memcpy; Buffer.from(view) would copy element by element.
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    return out;
  }
}

function writeRtmsg(w: NlWriter, family: Family | 0, dstLen: number, table: number, protocol: number, scope: number, type: number, flags: number): void {
  w.u8s(family === 4 ? AF_INET : family === 6 ? AF_INET6 : 0, dstLen, 0, 0, table < 256 ? table : RT_TABLE_COMPAT, protocol, scope, type);
  w.u32(flags);
}

export type RouteOpKind = 'add' | 'replace' | 'delete';

/**
 * Appends one RTM_NEWROUTE or RTM_DELROUTE, with NLM_F_ACK unless `ack` is false: the kernel
 * answers every failed request whatever its flags, and answers one socket's requests in order, so a
 * batch needs an ack on its last request only (the rest succeeded if no error came before it).
 * `add` uses CREATE|EXCL so that a route
 * that appeared since our last look (perhaps someone else's) fails with EEXIST instead of being
 * overwritten; `replace` is only used where our own route holds the slot. Deletes name our
 * protocol, which the kernel matches (fib_table_delete, ip6_route_del): a foreign route with the
 * same prefix can never be deleted by mistake.
 */
export function encodeRouteOp(w: NlWriter, op: RouteOpKind, r: KernelRoute, seq: number, ack = true): void {
  // IPv4 (nearly every route) is written straight from its text; IPv6 goes through parsePrefix.
  const v4 = r.family === 4 ? v4AddressAndLength(r.dst) : -1;
  const gw = v4 >= 0 && r.nexthops.length === 1 && r.nexthops[0].gateway !== undefined ? v4AddressAndLength(r.nexthops[0].gateway) : -1;
  if (v4 >= 0 && r.nexthops.length <= 1 && (r.nexthops.length === 0 || r.nexthops[0].gateway === undefined || gw % 64 === 32)) encodeV4Plain(w, op, r, seq, v4, ack, gw);
  else encodeRouteOpGeneral(w, op, r, seq, v4, ack);
}

const opFlags = (op: RouteOpKind, ack: boolean) =>
  Flag.REQUEST | (ack ? Flag.ACK : 0) | (op === 'add' ? Flag.CREATE | Flag.EXCL : op === 'replace' ? Flag.CREATE | Flag.REPLACE : 0);

/**
 * The bulk cases, an IPv4 pod, blackhole or learned route (at most one next hop), as fixed-offset
 * writes into one reserved span: no per-attribute bookkeeping for 100k routes. `gw` is the
 * gateway as v4AddressAndLength gives it (-1: none). Same bytes as the general encoder (a test
 * compares them).
 */
function encodeV4Plain(w: NlWriter, op: RouteOpKind, r: KernelRoute, seq: number, v4: number, ack: boolean, gw: number): void {
  const del = op === 'delete';
  const dstLen = v4 % 64;
  const hop = r.nexthops.length === 1 ? r.nexthops[0] : undefined;
  const oif = !del && hop && hop.ifindex ? hop.ifindex : 0;
  const gateway = !del && gw >= 0;
  const len = NLMSG_HDRLEN + RTMSG_LEN + 8 + (dstLen > 0 ? 8 : 0) + 8 + (oif ? 8 : 0) + (gateway ? 8 : 0);
  w.reserve(len);
  const b = w.buf;
  let at = w.len;
  b.writeUInt32LE(len, at);
  b.writeUInt16LE(del ? MsgType.DELROUTE : MsgType.NEWROUTE, at + 4);
  b.writeUInt16LE(opFlags(op, ack), at + 6);
  b.writeUInt32LE(seq, at + 8);
  b.writeUInt32LE(0, at + 12);
  at += NLMSG_HDRLEN;
  b[at] = AF_INET;
  b[at + 1] = dstLen;
  b[at + 2] = 0;
  b[at + 3] = 0;
  b[at + 4] = r.table < 256 ? r.table : RT_TABLE_COMPAT;
  b[at + 5] = r.protocol;
  b[at + 6] = del ? Scope.NOWHERE : r.scope;
  b[at + 7] = r.type;
  b.writeUInt32LE(!del && hop?.onlink ? RTNH_F_ONLINK : 0, at + 8);
  at += RTMSG_LEN;
  at = attr32(b, at, RouteAttr.TABLE, r.table);
  if (dstLen > 0) {
    b.writeUInt32LE(0x00010008, at); // len 8, type DST
    b.writeUInt32BE(Math.floor(v4 / 64), at + 4);
    at += 8;
  }
  at = attr32(b, at, RouteAttr.PRIORITY, r.priority);
  if (oif) at = attr32(b, at, RouteAttr.OIF, oif);
  if (gateway) {
    b.writeUInt32LE(0x00050008, at); // len 8, type GATEWAY
    b.writeUInt32BE(Math.floor(gw / 64), at + 4);
    at += 8;
  }
  w.len = at;
}

function attr32(b: Buffer, at: number, type: number, v: number): number {
  b.writeUInt16LE(8, at);
  b.writeUInt16LE(type, at + 2);
  b.writeUInt32LE(v >>> 0, at + 4);
  return at + 8;
}

/** Any route, attribute by attribute; `v4` is v4AddressAndLength(r.dst) (-1 for IPv6). Exported for tests. */
export function encodeRouteOpGeneral(w: NlWriter, op: RouteOpKind, r: KernelRoute, seq: number, v4 = r.family === 4 ? v4AddressAndLength(r.dst) : -1, ack = true): void {
  const p = v4 >= 0 ? null : parsePrefix(r.dst);
  const dstLen = p ? p.length : v4 % 64;
  const del = op === 'delete';
  const at = w.begin(del ? MsgType.DELROUTE : MsgType.NEWROUTE, opFlags(op, ack), seq);
  const single = r.nexthops.length === 1 ? r.nexthops[0] : undefined;
  const rtFlags = !del && single?.onlink ? RTNH_F_ONLINK : 0;
  writeRtmsg(w, r.family, dstLen, r.table, r.protocol, del ? Scope.NOWHERE : r.scope, r.type, rtFlags);
  w.attrU32(RouteAttr.TABLE, r.table);
  if (p && p.length > 0) w.attrBytes(RouteAttr.DST, p.bytes);
  else if (!p && dstLen > 0) {
    const a = w.beginAttr(RouteAttr.DST);
    w.u32(0);
    w.buf.writeUInt32BE(Math.floor(v4 / 64), w.len - 4);
    w.endAttr(a);
  }
  w.attrU32(RouteAttr.PRIORITY, r.priority);
  if (!del) {
    if (single) {
      if (single.ifindex) w.attrU32(RouteAttr.OIF, single.ifindex);
      if (single.gateway) w.attrBytes(RouteAttr.GATEWAY, parseAddress(single.gateway).bytes);
    } else if (r.nexthops.length > 1) {
      const mp = w.beginAttr(RouteAttr.MULTIPATH);
      for (const nh of r.nexthops) {
        const start = w.len;
        w.u32(0); // rtnh_len (u16), rtnh_flags (u8), rtnh_hops (u8), patched below
        w.i32(nh.ifindex);
        if (nh.gateway) w.attrBytes(RouteAttr.GATEWAY, parseAddress(nh.gateway).bytes);
        w.buf.writeUInt16LE(w.len - start, start);
        w.buf.writeUInt8(nh.onlink ? RTNH_F_ONLINK : 0, start + 2);
      }
      w.endAttr(mp);
    }
  }
  w.end(at);
}

/**
 * A dump of the routes in one table (the kernel filters, NETLINK_GET_STRICT_CHK); family 0
 * (AF_UNSPEC) asks for IPv4 and IPv6 in one dump.
 */
export function encodeRouteDump(w: NlWriter, family: Family | 0, table: number, seq: number): void {
  const at = w.begin(MsgType.GETROUTE, Flag.REQUEST | Flag.DUMP, seq);
  writeRtmsg(w, family, 0, table, 0, 0, 0, 0);
  w.attrU32(RouteAttr.TABLE, table);
  w.end(at);
}

export function encodeLinkDump(w: NlWriter, seq: number): void {
  const at = w.begin(MsgType.GETLINK, Flag.REQUEST | Flag.DUMP, seq);
  w.u8s(0, 0, 0, 0);
  w.u32(0);
  w.u32(0);
  w.u32(0);
  w.end(at);
}

function writeIfinfomsg(w: NlWriter, index: number, flags: number, change: number): void {
  w.u8s(0, 0, 0, 0); // family, pad, type
  w.i32(index);
  w.u32(flags);
  w.u32(change);
}

function attrString(w: NlWriter, type: number, s: string): void {
  w.attrBytes(type, Buffer.from(`${s}\0`, 'latin1'));
}

function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((x) => parseInt(x, 16)));
}

export interface VethSpec {
  name: string;
  /** Fixed MAC of this end (aa:bb:cc:dd:ee:ff); absent: random. */
  mac?: string;
  mtu: number;
  peerName: string;
  peerMtu: number;
  /** A file descriptor of the peer's network namespace, valid in the process that sends. */
  peerNetnsFd?: number;
}

/**
 * RTM_NEWLINK creating a veth pair (CREATE|EXCL) whose peer is born in another namespace
 * (VETH_INFO_PEER carrying IFLA_NET_NS_FD, as `ip link add ... peer ... netns X` does): no move,
 * so no second request and no window in which the peer sits in the host namespace.
 */
export function encodeVethCreate(w: NlWriter, v: VethSpec, seq: number): void {
  const at = w.begin(MsgType.NEWLINK, Flag.REQUEST | Flag.ACK | Flag.CREATE | Flag.EXCL, seq);
  writeIfinfomsg(w, 0, 0, 0);
  attrString(w, LinkAttr.IFNAME, v.name);
  if (v.mac) w.attrBytes(LinkAttr.ADDRESS, macBytes(v.mac));
  w.attrU32(LinkAttr.MTU, v.mtu);
  const info = w.beginAttr(LinkAttr.LINKINFO);
  attrString(w, LinkInfo.KIND, 'veth');
  const data = w.beginAttr(LinkInfo.DATA);
  const peer = w.beginAttr(VETH_INFO_PEER);
  writeIfinfomsg(w, 0, 0, 0);
  attrString(w, LinkAttr.IFNAME, v.peerName);
  w.attrU32(LinkAttr.MTU, v.peerMtu);
  if (v.peerNetnsFd !== undefined) w.attrU32(LinkAttr.NET_NS_FD, v.peerNetnsFd);
  w.endAttr(peer);
  w.endAttr(data);
  w.endAttr(info);
  w.end(at);
}

/**
 * RTM_NEWLINK without CREATE: changes an existing link, named by index (or by name when index is
 * 0). `up` sets IFF_UP; `noLinkLocal` sets IPv6 addrgenmode none (`ip link set X addrgenmode
 * none`), which must come in an earlier message than the one bringing the link up.
 */
export function encodeLinkSet(w: NlWriter, link: { index: number; name?: string; up?: boolean; noLinkLocal?: boolean }, seq: number): void {
  const at = w.begin(MsgType.NEWLINK, Flag.REQUEST | Flag.ACK, seq);
  writeIfinfomsg(w, link.index, link.up ? IFF_UP : 0, link.up ? IFF_UP : 0);
  if (!link.index && link.name) attrString(w, LinkAttr.IFNAME, link.name);
  if (link.noLinkLocal) {
    const spec = w.beginAttr(LinkAttr.AF_SPEC);
    const inet6 = w.beginAttr(AF_INET6);
    w.attrBytes(IFLA_INET6_ADDR_GEN_MODE, Uint8Array.of(IN6_ADDR_GEN_MODE_NONE));
    w.endAttr(inet6);
    w.endAttr(spec);
  }
  w.end(at);
}

/** RTM_GETLINK of one link by name: the answer is an RTM_NEWLINK, then the ack. */
export function encodeLinkGet(w: NlWriter, name: string, seq: number): void {
  const at = w.begin(MsgType.GETLINK, Flag.REQUEST | Flag.ACK, seq);
  writeIfinfomsg(w, 0, 0, 0);
  attrString(w, LinkAttr.IFNAME, name);
  w.end(at);
}

/** RTM_DELLINK by index, or by name when index is 0. Deleting one end of a veth removes both. */
export function encodeLinkDelete(w: NlWriter, link: { index: number; name?: string }, seq: number): void {
  const at = w.begin(MsgType.DELLINK, Flag.REQUEST | Flag.ACK, seq);
  writeIfinfomsg(w, link.index, 0, 0);
  if (!link.index && link.name) attrString(w, LinkAttr.IFNAME, link.name);
  w.end(at);
}

/** RTM_NEWADDR (CREATE|EXCL): `address/prefixLength` on a link, as local and peer address. */
export function encodeAddrAdd(w: NlWriter, a: { ifindex: number; address: string; prefixLength: number; nodad?: boolean }, seq: number): void {
  const { family, bytes } = parseAddress(a.address);
  const at = w.begin(MsgType.NEWADDR, Flag.REQUEST | Flag.ACK | Flag.CREATE | Flag.EXCL, seq);
  // ifaddrmsg: family, prefixlen, flags, scope (the kernel derives link scope for fe80::/10).
  w.u8s(family === 4 ? AF_INET : AF_INET6, a.prefixLength, a.nodad ? IFA_F_NODAD : 0, 0);
  w.u32(a.ifindex);
  w.attrBytes(IfaAttr.LOCAL, bytes);
  w.attrBytes(IfaAttr.ADDRESS, bytes);
  w.end(at);
}

/**
 * RTM_GETROUTE for a host address with RTM_F_FIB_MATCH (`ip route get fibmatch`): the answer is
 * the table entry that matched, prefix and next hop as stored, not a resolved lookup result.
 */
export function encodeRouteGetFibMatch(w: NlWriter, address: string, seq: number): void {
  const { family, bytes } = parseAddress(address);
  const at = w.begin(MsgType.GETROUTE, Flag.REQUEST | Flag.ACK, seq);
  writeRtmsg(w, family, bytes.length * 8, 0, 0, 0, 0, RTM_F_FIB_MATCH);
  w.attrBytes(RouteAttr.DST, bytes);
  w.end(at);
}

/**
 * Decoded routes share their next-hop lists where they can (100k pod routes through a handful of
 * interfaces): callers must treat `nexthops` as read-only.
 */
const NO_HOPS: NextHop[] = [];
const deviceHopCache = new Map<number, NextHop[]>();
function deviceHops(ifindex: number): NextHop[] {
  let h = deviceHopCache.get(ifindex);
  if (!h) {
    if (deviceHopCache.size > 4096) deviceHopCache.clear();
    deviceHopCache.set(ifindex, (h = [{ ifindex, onlink: false }]));
  }
  return h;
}

function decodeRoute(b: Buffer, off: number, end: number): KernelRoute | null {
  const afam = b[off];
  if (afam !== AF_INET && afam !== AF_INET6) return null;
  const family: Family = afam === AF_INET ? 4 : 6;
  const dstLen = b[off + 1];
  let table = b[off + 4];
  const protocol = b[off + 5];
  const scope = b[off + 6];
  const type = b[off + 7];
  const rtFlags = b.readUInt32LE(off + 8);
  if (rtFlags & RTM_F_CLONED) return null;
  const alen = family === 4 ? 4 : 16;
  let dstAt = -1;
  let priority = 0;
  let oif = 0;
  let gateway: string | undefined;
  let multipath: NextHop[] | undefined;
  let a = off + RTMSG_LEN;
  while (a + 4 <= end) {
    const len = b.readUInt16LE(a);
    const t = b.readUInt16LE(a + 2) & 0x3fff;
    if (len < 4 || a + len > end) break;
    const d = a + 4;
    // Attributes too short for their type are skipped rather than read past their end.
    const fits = (n: number) => len >= 4 + n;
    switch (fits(t === RouteAttr.DST || t === RouteAttr.GATEWAY ? alen : t === RouteAttr.MULTIPATH ? 0 : 4) ? t : -1) {
      case RouteAttr.DST:
        dstAt = d;
        break;
      case RouteAttr.TABLE:
        table = b.readUInt32LE(d);
        break;
      case RouteAttr.PRIORITY:
        priority = b.readUInt32LE(d);
        break;
      case RouteAttr.OIF:
        oif = b.readUInt32LE(d);
        break;
      case RouteAttr.GATEWAY:
        gateway = formatAddress(b.subarray(d, d + alen));
        break;
      case RouteAttr.MULTIPATH: {
        multipath = [];
        let n = d;
        while (n + 8 <= a + len) {
          const nlen = b.readUInt16LE(n);
          if (nlen < 8) break;
          if (n + nlen > a + len) break;
          const nh: NextHop = { ifindex: b.readInt32LE(n + 4), onlink: (b[n + 2] & RTNH_F_ONLINK) !== 0 };
          let na = n + 8;
          while (na + 4 <= n + nlen) {
            const l2 = b.readUInt16LE(na);
            if (l2 < 4 || na + l2 > n + nlen) break;
            if ((b.readUInt16LE(na + 2) & 0x3fff) === RouteAttr.GATEWAY && l2 >= 4 + alen) nh.gateway = formatAddress(b.subarray(na + 4, na + 4 + alen));
            na += align4(l2);
          }
          multipath.push(nh);
          n += align4(nlen);
        }
        break;
      }
    }
    a += align4(len);
  }
  let nexthops: NextHop[];
  if (multipath) nexthops = multipath;
  else if (gateway) nexthops = [{ gateway, ifindex: oif, onlink: (rtFlags & RTNH_F_ONLINK) !== 0 }];
  else if (oif) nexthops = deviceHops(oif);
  else nexthops = NO_HOPS;
  let text: string;
  if (dstAt < 0) text = family === 4 ? `0.0.0.0/${dstLen}` : `::/${dstLen}`;
  else if (family === 4) text = `${b[dstAt]}.${b[dstAt + 1]}.${b[dstAt + 2]}.${b[dstAt + 3]}/${dstLen}`;
  else text = `${formatAddress(Uint8Array.from(b.subarray(dstAt, dstAt + 16)))}/${dstLen}`;
  return { family, dst: text, table, protocol, type, scope, priority, nexthops };
}

function decodeLink(b: Buffer, off: number, end: number): KernelLink {
  const index = b.readInt32LE(off + 4);
  const flags = b.readUInt32LE(off + 8);
  let name = '';
  let mac: string | undefined;
  let a = off + IFINFOMSG_LEN;
  while (a + 4 <= end) {
    const len = b.readUInt16LE(a);
    if (len < 4 || a + len > end) break;
    const t = b.readUInt16LE(a + 2) & 0x3fff;
    if (t === LinkAttr.IFNAME) {
      const s = b.subarray(a + 4, a + len);
      const z = s.indexOf(0);
      name = s.subarray(0, z < 0 ? s.length : z).toString('latin1');
    } else if (t === LinkAttr.ADDRESS && len === 4 + 6) {
      mac = [...b.subarray(a + 4, a + 10)].map((x) => x.toString(16).padStart(2, '0')).join(':');
    }
    a += align4(len);
  }
  return mac === undefined ? { index, name, up: (flags & IFF_UP) !== 0 } : { index, name, up: (flags & IFF_UP) !== 0, mac };
}

/** Decodes every netlink message in one datagram. Malformed tails are ignored, not thrown. */
export function decodeMessages(b: Buffer): Decoded[] {
  const out: Decoded[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= b.length) {
    const len = b.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > b.length) break;
    const type = b.readUInt16LE(off + 4);
    const flags = b.readUInt16LE(off + 6);
    const seq = b.readUInt32LE(off + 8);
    const pid = b.readUInt32LE(off + 12);
    const body = off + NLMSG_HDRLEN;
    const end = off + len;
    if (type === MsgType.ERROR && len >= NLMSG_HDRLEN + 4) {
      const errno = -b.readInt32LE(body);
      let message: string | undefined;
      if (flags & Flag.ACK_TLVS && len >= NLMSG_HDRLEN + 8) {
        // After the error code: the request's header (CAPPED) or the whole request, then TLVs.
        const reqLen = flags & Flag.CAPPED ? NLMSG_HDRLEN : b.readUInt32LE(body + 4);
        let a = reqLen >= NLMSG_HDRLEN && reqLen <= len ? body + 4 + align4(reqLen) : end;
        while (a + 4 <= end) {
          const alen = b.readUInt16LE(a);
          if (alen < 4 || a + alen > end) break;
          if (b.readUInt16LE(a + 2) === NLMSGERR_ATTR_MSG) message = b.subarray(a + 4, a + alen).toString('utf8').replace(/\0+$/, '');
          a += align4(alen);
        }
      }
      // The sequence number of an ack is the request's, which the kernel echoes in the header.
      out.push({ kind: 'error', seq, errno, message });
    } else if (type === MsgType.DONE) {
      out.push({ kind: 'done', seq, interrupted: (flags & Flag.DUMP_INTR) !== 0 });
    } else if ((type === MsgType.NEWROUTE || type === MsgType.DELROUTE) && len >= NLMSG_HDRLEN + RTMSG_LEN) {
      out.push({ kind: 'route', type, flags, seq, pid, route: decodeRoute(b, body, end) });
    } else if ((type === MsgType.NEWLINK || type === MsgType.DELLINK) && len >= NLMSG_HDRLEN + IFINFOMSG_LEN) {
      out.push({ kind: 'link', type, seq, link: decodeLink(b, body, end) });
    } else {
      out.push({ kind: 'other', type, seq });
    }
    off += align4(len);
  }
  return out;
}
