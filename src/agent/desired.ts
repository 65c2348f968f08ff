/**
 * What this node should run, computed from the datastore's model alone: pure functions, so that
 * the rules (who peers with whom, what is originated, which kernel routes are local) are tested
 * without sockets or a kernel. The wiring (wiring.ts) applies the answers to the speaker and the
 * dataplane and diffs them against what it applied before.
 *
 * The rules, after Calico:
 * - Mesh: every other node with an address of the family is a peer (unless
 *   nodeToNodeMeshEnabled is false), at its own AS (annotation) or the cluster's; the lower
 *   address dials (the speaker's `mesh` mode). nodeMeshPassword signs every mesh session and
 *   nodeMeshMaxRestartTime is the graceful restart time offered to mesh peers; a password change
 *   changes every mesh peer's configuration, so the wiring re-creates those sessions.
 * - BGPPeers selecting this node (`node`, `nodeSelector`, or neither for every node): one peer at
 *   `peerIP`, or every node its `peerSelector` picks (at the node's address and AS).
 * - Originated: each pod CIDR of this node as one aggregate, plus a /32 (/128) for every local pod
 *   whose address lies outside them, or for every local pod with `--advertise-pod-routes`.
 * - Cluster ranges (every node's pod CIDRs and the service ranges) are protected from external
 *   peers: routes from them within those ranges are rejected (the RIB's cluster-range check), unless the
 *   peer is another node of the cluster.
 */
import type { PeerConfig, FamilyName } from '../bgp/speaker.ts';
import type { Policy, PolicyRule } from '../bgp/rib/policy.ts';
import { canonicalAddress } from '../bgp/speaker.ts';
import { parsePrefix as ribPrefix, formatKey, keyContains } from '../bgp/rib/prefix.ts';
import { nodesSelectedAsPeers, peerAppliesToNode, resolvePassword, resolvePeerPassword } from '../datastore/peers.ts';
import type { BGPPeer, FilterRule, Node, Snapshot } from '../datastore/model.ts';
import { PeerType } from './sources.ts';

/** This node as the wiring knows it: its name and the addresses autodetection chose. */
export interface Self {
  name: string;
  ipv4: string | null;
  ipv6: string | null;
}

export interface DesiredPeer {
  /** Canonical peer address: the speaker's key. */
  key: string;
  type: PeerType;
  /** Where it comes from: `mesh` or `BGPPeer NAME`, for logs and errors. */
  origin: string;
  config: PeerConfig;
  /** A password is configured (never the value). */
  hasPassword: boolean;
}

/** Something in the model that cannot be applied; the rest is. */
export interface DesiredProblem {
  /** The object it comes from: `BGPPeer NAME`, `Node NAME`, `BGPConfiguration default`. */
  subject: string;
  /** The peer it concerns, when there is one: its previous configuration is kept. */
  peer?: string;
  code: string;
  message: string;
}

export interface DesiredBgp {
  localAsn: number;
  /** BGP identifier: the node's IPv4 address. */
  routerId: string;
  /** RFC 4456 cluster ID from the node's annotation, when it is a route reflector. */
  clusterId: string | null;
  listenPort: number;
  peers: Map<string, DesiredPeer>;
  /** Prefixes this node originates, canonical text. */
  originated: Set<string>;
  clusterRanges: string[];
  problems: DesiredProblem[];
}

export interface DesiredOptions {
  advertisePodRoutes: boolean;
  /** `--listen-port` when set: wins over BGPConfiguration's listenPort. */
  listenPort: number | null;
}

export const DesiredErrorCode = {
  NoRouterId: 'TORTIE_NO_ROUTER_ID',
  PeerIsSelf: 'TORTIE_PEER_IS_SELF',
  PeerFamily: 'TORTIE_PEER_FAMILY',
  PeerConflict: 'TORTIE_PEER_CONFLICT',
  BadFilter: 'TORTIE_BAD_FILTER',
  /**
   * The Secret a password names (a BGPPeer's, or BGPConfiguration nodeMeshPassword for the mesh)
   * is missing or lacks the key: the peer is not run unsigned.
   */
  PeerPassword: 'TORTIE_PEER_PASSWORD',
  BadAddress: 'TORTIE_BAD_ADDRESS',
} as const;

const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);
const meshSubject = 'BGPConfiguration default';

/** A node's BGP address for a family: the annotation, else its first InternalIP of that family. */
export function nodeAddress(node: Node, family: 4 | 6): string | null {
  const a = family === 4 ? node.bgp.ipv4Address : node.bgp.ipv6Address;
  if (a) return a.address;
  return node.internalIPs.find((ip) => familyOf(ip) === family) ?? null;
}

/** The AS a node speaks: its annotation, else the cluster's. */
export function nodeAsn(node: Node | undefined, snapshot: Snapshot): number {
  return node?.bgp.asNumber ?? snapshot.bgpConfiguration.asNumber;
}

/** `10.65.1.7` -> `10.65.1.7/32`, `fd00::7` -> `fd00::7/128`. */
export function hostPrefix(ip: string): string {
  return `${ip}/${familyOf(ip) === 4 ? 32 : 128}`;
}

/** Canonical prefix text, as the speaker and the dataplane print it. */
export function canonicalPrefix(text: string): string {
  return formatKey(ribPrefix(text).key);
}

/**
 * BGPFilter-like rules as the speaker's policy: the first matching rule decides; `Equal` is the
 * prefix itself, `In` it and everything inside it. `NotIn` has no equivalent in a prefix list
 * that stops at the first match, so it is refused rather than approximated.
 */
export function filtersToPolicy(rules: readonly FilterRule[], communityNames: ReadonlyMap<string, string>, direction: 'import' | 'export'): Policy {
  const out: PolicyRule[] = [];
  rules.forEach((r, i) => {
    if (r.matchOperator === 'NotIn') throw new Error(`${direction}Filters[${i}]: matchOperator NotIn is not supported; write the ranges to match with In or Equal`);
    const { key } = ribPrefix(r.cidr);
    const len = r.cidr.includes('/') ? Number(r.cidr.split('/')[1]) : familyOf(r.cidr) === 4 ? 32 : 128;
    const max = familyOf(r.cidr) === 4 ? 32 : 128;
    const prefix = { prefix: formatKey(key), ge: len, le: r.matchOperator === 'Equal' ? len : max };
    const community = r.community === null ? null : (communityNames.get(r.community) ?? r.community);
    const isLarge = community !== null && community.split(':').length === 3;
    const rule: PolicyRule = { name: `${direction}Filters[${i}]`, match: { prefixes: [prefix] }, action: r.action === 'Accept' ? 'accept' : 'reject' };
    if (community !== null) {
      if (direction === 'import') rule.match = { ...rule.match, ...(isLarge ? { largeCommunities: [community] } : { communities: [community] }) };
      else if (r.action === 'Accept') rule.set = isLarge ? { addLargeCommunities: [community] } : { addCommunities: [community] };
    }
    out.push(rule);
  });
  return { rules: out, defaultAction: 'accept' };
}

/** Every prefix that belongs to the cluster: all nodes' pod CIDRs and the service ranges. */
export function clusterRanges(snapshot: Snapshot): string[] {
  const set = new Set<string>();
  const add = (c: string) => {
    try {
      set.add(canonicalPrefix(c));
    } catch {
      // The datastore validated these; an odd one is simply not protected.
    }
  };
  for (const n of snapshot.nodes.values()) for (const c of n.podCIDRs) add(c);
  const cfg = snapshot.bgpConfiguration;
  for (const e of [...cfg.serviceClusterIPs, ...cfg.serviceExternalIPs, ...cfg.serviceLoadBalancerIPs]) add(e.cidr);
  return [...set].sort();
}

/** The speaker's configuration for this node, from the model. */
export function desiredBgp(snapshot: Snapshot, self: Self, opts: DesiredOptions): DesiredBgp {
  const problems: DesiredProblem[] = [];
  const me = snapshot.nodes.get(self.name);
  const cfg = snapshot.bgpConfiguration;
  const localAsn = nodeAsn(me, snapshot);
  const listenPort = opts.listenPort ?? cfg.listenPort;
  const routerId = self.ipv4 ?? '';
  if (!self.ipv4) problems.push({ subject: `Node ${self.name}`, code: DesiredErrorCode.NoRouterId, message: 'no IPv4 address: BGP needs one as its identifier' });
  const peers = new Map<string, DesiredPeer>();
  const ownAddresses = new Set([self.ipv4, self.ipv6].filter((a): a is string => a !== null));
  const families = (addr: string): FamilyName[] => (familyOf(addr) === 4 ? ['ipv4'] : ['ipv6']);
  const localFor = (addr: string): string | null => (familyOf(addr) === 4 ? self.ipv4 : self.ipv6);

  const put = (p: DesiredPeer, subject: string): void => {
    const before = peers.get(p.key);
    if (before) {
      // A node-specific peer wins over a global one, a BGPPeer over the mesh, as in Calico.
      const rank = (t: PeerType) => (t === PeerType.Node ? 2 : t === PeerType.Global ? 1 : 0);
      if (before.config.asn !== p.config.asn && rank(before.type) === rank(p.type)) {
        problems.push({ subject, peer: p.key, code: DesiredErrorCode.PeerConflict, message: `peer ${p.key} is also configured by ${before.origin} with AS ${before.config.asn}, here AS ${p.config.asn}; keeping ${before.origin}` });
        return;
      }
      if (rank(before.type) > rank(p.type)) return;
    }
    peers.set(p.key, p);
  };

  if (cfg.nodeToNodeMeshEnabled) {
    // RFC 2385: as for a BGPPeer, a mesh with a password runs with it or not at all.
    const meshPassword = resolvePassword(snapshot, cfg.nodeMeshPassword);
    for (const node of snapshot.nodes.values()) {
      if (node.name === self.name) continue;
      for (const family of [4, 6] as const) {
        const addr = nodeAddress(node, family);
        const local = family === 4 ? self.ipv4 : self.ipv6;
        if (!addr || !local) continue;
        let key: string;
        try {
          key = canonicalAddress(addr);
        } catch {
          problems.push({ subject: `Node ${node.name}`, code: DesiredErrorCode.BadAddress, message: `address ${addr} is not an IP address` });
          continue;
        }
        if (ownAddresses.has(key)) continue;
        if (!meshPassword.ok) {
          // One message for every mesh peer, so that it is reported once; each peer is named for
          // the wiring, which keeps a running session as it was.
          problems.push({ subject: meshSubject, peer: key, code: DesiredErrorCode.PeerPassword, message: `nodeMeshPassword: ${meshPassword.reason}: the mesh password is unknown, so mesh sessions are not started or changed` });
          continue;
        }
        put(
          {
            key,
            type: PeerType.Mesh,
            origin: 'mesh',
            hasPassword: meshPassword.password !== null,
            config: {
              address: key,
              asn: nodeAsn(node, snapshot),
              port: listenPort,
              localAddress: local,
              mode: 'mesh',
              families: families(key),
              allowClusterRanges: true,
              description: `mesh ${node.name}`,
              ...(meshPassword.password !== null ? { password: meshPassword.password } : {}),
              ...(cfg.nodeMeshMaxRestartTime !== null ? { gracefulRestartTime: cfg.nodeMeshMaxRestartTime } : {}),
            },
          },
          `Node ${node.name}`,
        );
      }
    }
  }

  const communityNames = new Map(cfg.communities.map((c) => [c.name, c.value]));
  for (const peer of [...snapshot.bgpPeers.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!me || !peerAppliesToNode(peer, me)) continue;
    const subject = `BGPPeer ${peer.name}`;
    const type = peer.node !== null || peer.nodeSelector !== null ? PeerType.Node : PeerType.Global;
    let importPolicy: Policy | undefined;
    let exportPolicy: Policy | undefined;
    const targets: { address: string; asn: number; port: number; fromCluster: boolean }[] = [];
    if (peer.peerIP !== null) {
      targets.push({ address: peer.peerIP, asn: peer.asNumber ?? localAsn, port: peer.port ?? 179, fromCluster: false });
    } else {
      for (const node of nodesSelectedAsPeers(peer, snapshot.nodes.values())) {
        if (node.name === self.name) continue;
        for (const family of [4, 6] as const) {
          const addr = nodeAddress(node, family);
          if (addr) targets.push({ address: addr, asn: peer.asNumber ?? nodeAsn(node, snapshot), port: listenPort, fromCluster: true });
        }
      }
    }
    // RFC 2385: a peer with a password runs with it or not at all.
    const password = resolvePeerPassword(snapshot, peer);
    let filterError: string | null = null;
    try {
      if (peer.importFilters.length) importPolicy = filtersToPolicy(peer.importFilters, communityNames, 'import');
      if (peer.exportFilters.length) exportPolicy = filtersToPolicy(peer.exportFilters, communityNames, 'export');
    } catch (e) {
      filterError = (e as Error).message;
    }
    for (const t of targets) {
      let key: string;
      try {
        key = canonicalAddress(t.address);
      } catch {
        problems.push({ subject, code: DesiredErrorCode.BadAddress, message: `peer address ${t.address} is not an IP address` });
        continue;
      }
      if (filterError !== null) {
        problems.push({ subject, peer: key, code: DesiredErrorCode.BadFilter, message: filterError });
        continue;
      }
      if (!password.ok) {
        problems.push({ subject, peer: key, code: DesiredErrorCode.PeerPassword, message: `${password.reason}: the password for ${key} is unknown, so the session is not started` });
        continue;
      }
      if (ownAddresses.has(key)) {
        if (!t.fromCluster) problems.push({ subject, peer: key, code: DesiredErrorCode.PeerIsSelf, message: `peerIP ${key} is this node's own address` });
        continue;
      }
      const local = localFor(key);
      if (!local) {
        problems.push({ subject, peer: key, code: DesiredErrorCode.PeerFamily, message: `peer ${key} is IPv${familyOf(key)}, but this node has no IPv${familyOf(key)} address` });
        continue;
      }
      const config: PeerConfig = {
        address: key,
        asn: t.asn,
        port: t.port,
        // The session's source: the node address, unless the BGPPeer says None.
        ...(peer.sourceAddress === 'UseNodeIP' ? { localAddress: local } : {}),
        mode: t.fromCluster ? 'mesh' : 'both',
        families: families(key),
        ...(peer.holdTime !== null ? { holdTime: peer.holdTime } : {}),
        ...(peer.keepaliveTime !== null ? { keepaliveTime: peer.keepaliveTime } : {}),
        // RFC 4724 3: the restart time we offer this peer; Calico's BGPPeer maxRestartTime.
        ...(peer.maxRestartTime !== null ? { gracefulRestartTime: peer.maxRestartTime } : {}),
        ...(peer.routeReflectorClient ? { routeReflectorClient: true } : {}),
        ...(peer.maxPrefixes !== null ? { maxPrefixes: { limit: peer.maxPrefixes, action: 'teardown' as const } } : {}),
        ...(importPolicy ? { importPolicy } : {}),
        ...(exportPolicy ? { exportPolicy } : {}),
        allowClusterRanges: t.fromCluster,
        description: subject,
        ...(password.password !== null ? { password: password.password } : {}),
      };
      if (config.mode === 'mesh' && !config.localAddress) config.localAddress = local;
      put({ key, type, origin: subject, hasPassword: peer.password !== null, config }, subject);
    }
  }

  return {
    localAsn,
    routerId,
    clusterId: me?.bgp.routeReflectorClusterId ?? null,
    listenPort,
    peers,
    originated: originatedPrefixes(snapshot, self.name, opts.advertisePodRoutes),
    clusterRanges: clusterRanges(snapshot),
    problems,
  };
}

/** Pods that have an address on this node's network (not host-network ones). */
function podsWithAddresses(snapshot: Snapshot): { namespace: string; name: string; ip: string }[] {
  const out: { namespace: string; name: string; ip: string }[] = [];
  for (const pod of snapshot.pods.values()) {
    // Host-network pods use the node's address; finished pods have given theirs back.
    if (pod.hostNetwork || pod.phase === 'Succeeded' || pod.phase === 'Failed') continue;
    for (const ip of pod.podIPs) out.push({ namespace: pod.namespace, name: pod.name, ip });
  }
  return out;
}

/** The node's blocks (pod CIDRs), canonical. */
export function nodeBlocks(snapshot: Snapshot, nodeName: string): string[] {
  const me = snapshot.nodes.get(nodeName);
  return (me?.podCIDRs ?? []).map(canonicalPrefix);
}

export function originatedPrefixes(snapshot: Snapshot, nodeName: string, advertisePodRoutes: boolean): Set<string> {
  const blocks = nodeBlocks(snapshot, nodeName);
  const blockKeys = blocks.map((b) => ribPrefix(b).key);
  const out = new Set(blocks);
  for (const p of podsWithAddresses(snapshot)) {
    const { key } = ribPrefix(hostPrefix(p.ip));
    if (advertisePodRoutes || !blockKeys.some((b) => keyContains(b, key))) out.add(formatKey(key));
  }
  return out;
}

/** Local kernel routes: each pod's /32 to its host veth, and a blackhole per block. */
export function desiredLocalRoutes(snapshot: Snapshot, nodeName: string, vethName: (namespace: string, name: string) => string): { workloads: Map<string, string>; blackholes: Set<string> } {
  const workloads = new Map<string, string>();
  for (const p of podsWithAddresses(snapshot)) workloads.set(canonicalPrefix(hostPrefix(p.ip)), vethName(p.namespace, p.name));
  return { workloads, blackholes: new Set(nodeBlocks(snapshot, nodeName)) };
}

/** True when two peer configurations would give the same session (so nothing needs redoing). */
export function samePeerConfig(a: PeerConfig, b: PeerConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export type { BGPPeer };
