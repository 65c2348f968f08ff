/**
 * The pod wiring of wiring.ts, done with netlink requests through one long-lived relay
 * (dataplane/netlink-namespaces.ts) instead of `ip` processes: what the agent's CNI server uses.
 * Same result, step for step: the veth is created with its peer born in the pod's namespace
 * (IFLA_NET_NS_FD), the host side gets addrgenmode none, its MAC, up, the sysctls and the /32;
 * the pod side is configured through a socket opened inside the pod's namespace.
 */
import { DEFAULT_PROTOCOL } from '../dataplane/ownership.ts';
import {
  ackOf,
  NetlinkNamespaceError,
  NetlinkNamespaceErrorCode,
  NetlinkNamespaces,
  type NamespaceSocket,
} from '../dataplane/netlink-namespaces.ts';
import { errnoName } from '../dataplane/relay-process.ts';
import {
  encodeAddrAdd,
  encodeLinkDelete,
  encodeLinkGet,
  encodeLinkSet,
  encodeRouteGetFibMatch,
  encodeRouteOp,
  encodeVethCreate,
  RouteType,
  Scope,
  type Decoded,
  type KernelLink,
  type KernelRoute,
  type NlWriter,
} from '../dataplane/netlink.ts';
import { CniCode, CniError } from './errors.ts';
import { GATEWAY_V4, GATEWAY_V6, HOST_VETH_MAC, hostLen, hostSysctls, type PodAddress, type PodWiring, type WiringBackend } from './wiring.ts';

const EEXIST = 17;
const ENODEV = 19;
const ENOENT = 2;
const MAIN_TABLE = 254;
/** What `ip route add` marks routes with when no protocol is named (RTPROT_BOOT). */
const PROTO_BOOT = 3;

type Log = (msg: string) => void;

/** One batch of requests: each `add` appends a message and returns its sequence number. */
async function batch(nl: NetlinkNamespaces, s: NamespaceSocket, steps: Array<(w: NlWriter, seq: number) => void>): Promise<{ replies: Decoded[]; seqs: number[] }> {
  const seqs = steps.map(() => nl.nextSeq());
  const replies = await nl.request(s, (w) => steps.forEach((step, i) => step(w, seqs[i])));
  return { replies, seqs };
}

function linkIn(replies: Decoded[], seq: number): KernelLink | undefined {
  for (const m of replies) if (m.kind === 'link' && m.seq === seq) return m.link;
  return undefined;
}

function describe(ack: { errno: number; message?: string } | undefined): string {
  if (!ack) return 'no answer from the kernel';
  return `${errnoName(ack.errno)}${ack.message ? ` (${ack.message})` : ''}`;
}

function route(family: 4 | 6, dst: string, protocol: number, scope: number, ifindex: number, gateway?: string): KernelRoute {
  return { family, dst, table: MAIN_TABLE, protocol, type: RouteType.UNICAST, scope, priority: 0, nexthops: [{ ifindex, gateway, onlink: false }] };
}

/**
 * The relay failing under a request becomes the CNI error a runtime acts on: try again later (the
 * next request starts a new relay); anything else netlink-level is an I/O failure.
 */
async function relayErrors<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (!(e instanceof NetlinkNamespaceError)) throw e;
    const code = e.code === NetlinkNamespaceErrorCode.RelayFailed ? CniCode.TryAgainLater : CniCode.IoFailure;
    throw new CniError(code, 'netlink request through the tortie-nl relay failed', e.message);
  }
}

export class NetlinkWiring implements WiringBackend {
  private readonly nl: NetlinkNamespaces;

  constructor(nl = new NetlinkNamespaces()) {
    this.nl = nl;
  }

  wire(w: PodWiring, log: Log): Promise<{ containerMac: string }> {
    return relayErrors(this.wireOnce(w, log));
  }

  private async wireOnce(w: PodWiring, log: Log): Promise<{ containerMac: string }> {
    const nl = this.nl;
    const host = await nl.ownNamespace();
    const pod = await this.openPod(w.netnsPath);
    try {
      const hostIndex = await this.createVeth(host, pod, w, log);
      try {
        await this.configureHost(host, hostIndex, w, log);
        return await this.configurePod(pod, w);
      } catch (e) {
        // Never leave a half-wired pod: deleting the host side takes the pod side and routes with it.
        const { replies, seqs } = await batch(nl, host, [(b, seq) => encodeLinkDelete(b, { index: hostIndex }, seq)]).catch(() => ({ replies: [], seqs: [0] }));
        const ack = ackOf(replies, seqs[0]);
        if (ack?.errno && ack.errno !== ENODEV) log(`undo failed: cannot delete ${w.hostVeth}: ${describe(ack)}`);
        throw e;
      }
    } finally {
      nl.close(pod);
    }
  }

  private async openPod(path: string): Promise<NamespaceSocket> {
    try {
      return await this.nl.open(path);
    } catch (e) {
      if (e instanceof NetlinkNamespaceError && e.code === NetlinkNamespaceErrorCode.OpenFailed) {
        throw new CniError(e.errno === ENOENT ? CniCode.UnknownContainer : CniCode.IoFailure, `cannot enter network namespace ${path}`, e.message);
      }
      throw new CniError(CniCode.IoFailure, 'the netlink relay failed', (e as Error).message);
    }
  }

  /** Creates the pair (replacing a stale host side of the same pod); returns the host ifindex. */
  private async createVeth(host: NamespaceSocket, pod: NamespaceSocket, w: PodWiring, log: Log): Promise<number> {
    const create = [
      (b: NlWriter, seq: number) =>
        encodeVethCreate(b, { name: w.hostVeth, mac: HOST_VETH_MAC, mtu: w.mtu, peerName: w.ifname, peerMtu: w.mtu, peerNetnsFd: pod.netnsFd }, seq),
      (b: NlWriter, seq: number) => encodeLinkGet(b, w.hostVeth, seq),
    ];
    let r = await batch(this.nl, host, create);
    let ack = ackOf(r.replies, r.seqs[0]);
    if (ack?.errno === EEXIST) {
      const existing = linkIn(r.replies, r.seqs[1]);
      if (!existing) throw new CniError(CniCode.IoFailure, `interface ${w.ifname} already exists in ${w.netnsPath}`, describe(ack));
      // A veth of an earlier sandbox of the same pod whose DEL never came: the name is the pod's.
      log(`replacing stale host veth ${w.hostVeth}`);
      const del = await batch(this.nl, host, [(b, seq) => encodeLinkDelete(b, { index: existing.index }, seq)]);
      const delAck = ackOf(del.replies, del.seqs[0]);
      if (delAck?.errno) throw new CniError(CniCode.IoFailure, `cannot delete ${w.hostVeth}`, describe(delAck));
      r = await batch(this.nl, host, create);
      ack = ackOf(r.replies, r.seqs[0]);
    }
    if (ack?.errno !== 0) {
      // The pod side's name may be what collided: the host side does not exist then.
      if (ack?.errno === EEXIST) throw new CniError(CniCode.IoFailure, `interface ${w.ifname} already exists in ${w.netnsPath}`, describe(ack));
      throw new CniError(CniCode.IoFailure, `cannot create veth ${w.hostVeth} / ${w.ifname}`, describe(ack));
    }
    const link = linkIn(r.replies, r.seqs[1]);
    if (!link) throw new CniError(CniCode.IoFailure, `cannot find ${w.hostVeth} after creating it`, describe(ackOf(r.replies, r.seqs[1])));
    return link.index;
  }

  private async configureHost(host: NamespaceSocket, index: number, w: PodWiring, log: Log): Promise<void> {
    const v6 = w.addresses.some((a) => a.family === 6);
    // No kernel-made link-local on the host side ("no host address"), set before the link is up.
    const steps: Array<{ what: string; step: (b: NlWriter, seq: number) => void }> = [
      { what: 'addrgenmode none', step: (b, seq) => encodeLinkSet(b, { index, noLinkLocal: true }, seq) },
      { what: 'link up', step: (b, seq) => encodeLinkSet(b, { index, up: true }, seq) },
      ...(v6 ? [{ what: `address ${GATEWAY_V6}/64`, step: (b: NlWriter, seq: number) => encodeAddrAdd(b, { ifindex: index, address: GATEWAY_V6, prefixLength: 64, nodad: true }, seq) }] : []),
    ];
    const routeAt = steps.length;
    for (const a of w.addresses) {
      const r = route(a.family, `${a.address}/${hostLen(a)}`, DEFAULT_PROTOCOL, Scope.LINK, index);
      steps.push({ what: `route ${r.dst}`, step: (b, seq) => encodeRouteOp(b, 'add', r, seq) });
    }
    const { replies, seqs } = await batch(this.nl, host, steps.map((s) => s.step));
    for (let i = 0; i < steps.length; i++) {
      const ack = ackOf(replies, seqs[i]);
      if (ack?.errno === 0) continue;
      if (i >= routeAt && ack?.errno === EEXIST) {
        await this.ensureHostRoute(host, w.addresses[i - routeAt], index, w.hostVeth, log);
        continue;
      }
      throw new CniError(CniCode.IoFailure, `configuring ${w.hostVeth} failed at ${steps[i].what}`, describe(ack));
    }
    // Through the relay: /proc/sys/net is the namespace of whoever opens it, the relay's here.
    await Promise.all(
      hostSysctls(w.hostVeth, v6).map(([key, value]) =>
        this.nl.writeSysctl(key, value).catch((e: Error) => {
          throw new CniError(CniCode.IoFailure, `cannot set sysctl ${key.replace(/\//g, '.')}=${value}`, e.message);
        }),
      ),
    );
  }

  /**
   * The /32 exists already. Through our veth (the dataplane was quicker) it is left as it is, so
   * its owner's protocol marking stays; pointing elsewhere it is stale and replaced.
   */
  private async ensureHostRoute(host: NamespaceSocket, a: PodAddress, index: number, hostVeth: string, log: Log): Promise<void> {
    const prefix = `${a.address}/${hostLen(a)}`;
    const got = await batch(this.nl, host, [(b, seq) => encodeRouteGetFibMatch(b, a.address, seq)]);
    const current = got.replies.find((m) => m.kind === 'route' && m.seq === got.seqs[0]);
    const r = current?.kind === 'route' ? current.route : null;
    if (r && r.dst === prefix && r.nexthops.length === 1 && r.nexthops[0].ifindex === index && !r.nexthops[0].gateway) return;
    log(`replacing route ${prefix} (${r ? `${r.dst} via ifindex ${r.nexthops.map((h) => h.ifindex).join(',')}` : 'unreadable'}) with one via ${hostVeth}`);
    const want = route(a.family, prefix, DEFAULT_PROTOCOL, Scope.LINK, index);
    const rep = await batch(this.nl, host, [(b, seq) => encodeRouteOp(b, 'replace', want, seq)]);
    const ack = ackOf(rep.replies, rep.seqs[0]);
    if (ack?.errno !== 0) throw new CniError(CniCode.IoFailure, `cannot replace route ${prefix} via ${hostVeth}`, describe(ack));
  }

  private async configurePod(pod: NamespaceSocket, w: PodWiring): Promise<{ containerMac: string }> {
    const get = await batch(this.nl, pod, [(b, seq) => encodeLinkGet(b, w.ifname, seq)]);
    const link = linkIn(get.replies, get.seqs[0]);
    if (!link?.mac) throw new CniError(CniCode.IoFailure, `cannot find ${w.ifname} in ${w.netnsPath}`, describe(ackOf(get.replies, get.seqs[0])));
    const index = link.index;
    const steps: Array<{ what: string; step: (b: NlWriter, seq: number) => void }> = [{ what: 'link up', step: (b, seq) => encodeLinkSet(b, { index, up: true }, seq) }];
    for (const a of w.addresses) {
      if (a.family === 4) {
        const gw = route(4, `${GATEWAY_V4}/32`, PROTO_BOOT, Scope.LINK, index);
        const dflt = route(4, '0.0.0.0/0', PROTO_BOOT, Scope.UNIVERSE, index, GATEWAY_V4);
        steps.push(
          { what: `address ${a.address}/32`, step: (b, seq) => encodeAddrAdd(b, { ifindex: index, address: a.address, prefixLength: 32 }, seq) },
          { what: `route ${GATEWAY_V4}/32 scope link`, step: (b, seq) => encodeRouteOp(b, 'add', gw, seq) },
          { what: `default route via ${GATEWAY_V4}`, step: (b, seq) => encodeRouteOp(b, 'add', dflt, seq) },
        );
      } else {
        const dflt = route(6, '::/0', PROTO_BOOT, Scope.UNIVERSE, index, GATEWAY_V6);
        steps.push(
          { what: `address ${a.address}/128`, step: (b, seq) => encodeAddrAdd(b, { ifindex: index, address: a.address, prefixLength: 128, nodad: true }, seq) },
          { what: `default route via ${GATEWAY_V6}`, step: (b, seq) => encodeRouteOp(b, 'add', dflt, seq) },
        );
      }
    }
    const { replies, seqs } = await batch(this.nl, pod, steps.map((s) => s.step));
    for (let i = 0; i < steps.length; i++) {
      const ack = ackOf(replies, seqs[i]);
      if (ack?.errno !== 0) throw new CniError(CniCode.IoFailure, `configuring ${w.ifname} in ${w.netnsPath} failed at ${steps[i].what}`, describe(ack));
    }
    return { containerMac: link.mac };
  }

  /** DEL: removes the pod's interface (and with it the host side and its routes). */
  unwire(netnsPath: string, ifname: string, log: Log): Promise<void> {
    return relayErrors(this.unwireOnce(netnsPath, ifname, log));
  }

  private async unwireOnce(netnsPath: string, ifname: string, log: Log): Promise<void> {
    if (!netnsPath) return;
    let pod: NamespaceSocket;
    try {
      pod = await this.nl.open(netnsPath);
    } catch (e) {
      if (e instanceof NetlinkNamespaceError && e.code === NetlinkNamespaceErrorCode.OpenFailed) {
        // CNI spec "DEL": a namespace that is gone (or not one any more) has nothing left to remove.
        log(`namespace ${netnsPath} not usable, nothing to remove: ${e.message}`);
        return;
      }
      throw new CniError(CniCode.IoFailure, 'the netlink relay failed', (e as Error).message);
    }
    try {
      const { replies, seqs } = await batch(this.nl, pod, [(b, seq) => encodeLinkDelete(b, { index: 0, name: ifname }, seq)]);
      const ack = ackOf(replies, seqs[0]);
      if (ack?.errno === 0 || ack?.errno === ENODEV) return;
      throw new CniError(CniCode.IoFailure, `cannot delete ${ifname} in ${netnsPath}`, describe(ack));
    } finally {
      this.nl.close(pod);
    }
  }

  stop(): Promise<void> {
    return this.nl.stop();
  }
}
