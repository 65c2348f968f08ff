/**
 * The internal model both datastores feed. The Kubernetes datastore and the file datastore turn
 * what they read into these objects, validated the same way (validate.ts), and hand them to the
 * same ModelStore (store.ts); nothing downstream can tell which datastore a change came from.
 *
 * Model objects are frozen plain data. Two objects with equal content are the same object as far
 * as change events go: an update that changes nothing the model carries (a Node heartbeat, a new
 * resourceVersion alone) emits no event.
 */
import { inspect } from 'node:util';
import type { EventEmitter } from 'node:events';
import type { DatastoreError } from './errors.ts';

/** API group and version of tortie's custom resources, shaped like Calico's projectcalico.org/v3. */
export const TORTIE_GROUP = 'tortie.dev';
export const TORTIE_VERSION = 'v1alpha1';
export const TORTIE_API_VERSION = `${TORTIE_GROUP}/${TORTIE_VERSION}`;

/** Per-node overrides, read from Node annotations (Calico keeps the same in projectcalico.org/*). */
export const NodeAnnotation = {
  bgpIPv4Address: 'tortie.dev/bgp-ipv4-address',
  bgpIPv6Address: 'tortie.dev/bgp-ipv6-address',
  asNumber: 'tortie.dev/as-number',
  routeReflectorClusterId: 'tortie.dev/route-reflector-cluster-id',
} as const;

export const Defaults = {
  asNumber: 64512,
  nodeToNodeMeshEnabled: true,
  listenPort: 179,
  logSeverity: 'Info',
  /** BGP's well-known port: a BGPPeer without a port connects here (RFC 4271 8). */
  peerPort: 179,
  /** Namespace holding the Secrets BGP passwords (BGPPeer password, nodeMeshPassword) refer to. */
  secretNamespace: 'tortie-system',
  /** The one BGPConfiguration that is honoured. */
  bgpConfigurationName: 'default',
} as const;

export const Kind = {
  Node: 'Node',
  Pod: 'Pod',
  BGPConfiguration: 'BGPConfiguration',
  BGPPeer: 'BGPPeer',
  Secret: 'Secret',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
export const ALL_KINDS: readonly Kind[] = [Kind.Node, Kind.Pod, Kind.BGPConfiguration, Kind.BGPPeer, Kind.Secret];

// ---------------------------------------------------------------------------------------------
// Secrets: values never reach a log.

/**
 * A secret string. It prints, serializes and inspects as `[redacted]`; only `reveal()` gives the
 * value, so a password can travel inside model objects that are logged whole.
 */
export class Redacted {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }
  reveal(): string {
    return this.#value;
  }
  equals(other: Redacted): boolean {
    return this.#value === other.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

// ---------------------------------------------------------------------------------------------
// Objects

interface Meta {
  /** The object's resourceVersion where the datastore has one (Kubernetes), else ''. */
  resourceVersion: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

export interface NodeAddress {
  /** Kubernetes address type: InternalIP, ExternalIP, Hostname, ... */
  type: string;
  address: string;
}

/** An address with an optional prefix length, as Calico's node BGP address is written ("10.0.0.1/24"). */
export interface AddressWithPrefix {
  address: string;
  prefixLength: number | null;
}

export interface Node extends Meta {
  kind: typeof Kind.Node;
  name: string;
  addresses: readonly NodeAddress[];
  /** InternalIP addresses from `addresses`, in order: the fallback node address. */
  internalIPs: readonly string[];
  /** spec.podCIDRs (or spec.podCIDR when only that is set). */
  podCIDRs: readonly string[];
  /** Overrides from the tortie.dev/* annotations, parsed and validated. */
  bgp: {
    ipv4Address: AddressWithPrefix | null;
    ipv6Address: AddressWithPrefix | null;
    asNumber: number | null;
    /** Dotted-quad cluster id; set on route reflectors (RFC 4456 7). */
    routeReflectorClusterId: string | null;
  };
}

export interface Pod extends Meta {
  kind: typeof Kind.Pod;
  namespace: string;
  name: string;
  nodeName: string;
  podIPs: readonly string[];
  /** status.phase: Pending, Running, Succeeded, Failed, Unknown ('' when absent). */
  phase: string;
  hostNetwork: boolean;
  /** metadata.deletionTimestamp is set: the pod is being deleted. */
  deleting: boolean;
}

export interface CidrEntry {
  cidr: string;
}

export interface Community {
  name: string;
  /** "aa:nn" (RFC 1997) or "aa:nn:mm" (RFC 8092 large community). */
  value: string;
}

export const LogSeverity = ['Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
export type LogSeverity = (typeof LogSeverity)[number];

export interface BGPConfiguration extends Meta {
  kind: typeof Kind.BGPConfiguration;
  name: string;
  asNumber: number;
  nodeToNodeMeshEnabled: boolean;
  listenPort: number;
  logSeverity: LogSeverity;
  serviceClusterIPs: readonly CidrEntry[];
  serviceExternalIPs: readonly CidrEntry[];
  serviceLoadBalancerIPs: readonly CidrEntry[];
  communities: readonly Community[];
  /**
   * TCP MD5 password (RFC 2385) for every full-mesh session, from a Secret in the secret
   * namespace, as Calico's nodeMeshPassword. Null: mesh sessions are unsigned.
   */
  nodeMeshPassword: BGPPassword | null;
  /**
   * Graceful restart time (RFC 4724 3), seconds, offered to mesh peers, as Calico's
   * nodeMeshMaxRestartTime. Null: the agent's --graceful-restart-time.
   */
  nodeMeshMaxRestartTime: number | null;
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** A BGP password as Calico writes it: a reference to one key of a Secret. */
export interface BGPPassword {
  secretKeyRef: SecretKeyRef;
}

export const FilterAction = ['Accept', 'Reject'] as const;
export type FilterAction = (typeof FilterAction)[number];
export const MatchOperator = ['Equal', 'In', 'NotIn'] as const;
export type MatchOperator = (typeof MatchOperator)[number];

/**
 * One import or export rule, like a rule of Calico's BGPFilter; the first rule that matches a
 * route decides. `Equal` matches the prefix itself, `In` it and every more specific prefix inside
 * it, `NotIn` every prefix outside it.
 */
export interface FilterRule {
  action: FilterAction;
  cidr: string;
  matchOperator: MatchOperator;
  /**
   * Optional community: a value (aa:nn, aa:nn:mm) or the name of one in BGPConfiguration
   * communities. An import rule then matches only routes carrying it; an accepting export rule
   * attaches it.
   */
  community: string | null;
}

export const SourceAddress = ['UseNodeIP', 'None'] as const;
export type SourceAddress = (typeof SourceAddress)[number];

export interface BGPPeer extends Meta {
  kind: typeof Kind.BGPPeer;
  name: string;
  /** Peer address; null when the peer set comes from `peerSelector`. */
  peerIP: string | null;
  /** TCP port from "ip:port" / "[v6]:port"; null means BGP's port 179. */
  port: number | null;
  /** Null only with `peerSelector` (the selected nodes' own AS numbers apply). */
  asNumber: number | null;
  /** Applies to this one node only. At most one of node / nodeSelector; neither means every node. */
  node: string | null;
  /** Label selector over Nodes (selector.ts syntax) choosing the nodes that peer. */
  nodeSelector: string | null;
  /** Label selector over Nodes choosing the peers (instead of peerIP). */
  peerSelector: string | null;
  password: BGPPassword | null;
  sourceAddress: SourceAddress;
  /** Seconds; null means the speaker's default. */
  holdTime: number | null;
  keepaliveTime: number | null;
  maxPrefixes: number | null;
  /** Graceful restart time, seconds (RFC 4724 3). */
  maxRestartTime: number | null;
  routeReflectorClient: boolean;
  importFilters: readonly FilterRule[];
  exportFilters: readonly FilterRule[];
}

export interface Secret extends Meta {
  kind: typeof Kind.Secret;
  namespace: string;
  name: string;
  /** Decoded values (Kubernetes `data` is base64; `stringData` is taken as is). */
  data: Readonly<Record<string, Redacted>>;
}

export type ModelObject = Node | Pod | BGPConfiguration | BGPPeer | Secret;
export interface ObjectOfKind {
  Node: Node;
  Pod: Pod;
  BGPConfiguration: BGPConfiguration;
  BGPPeer: BGPPeer;
  Secret: Secret;
}

/** Store key: "namespace/name" for namespaced kinds (Pod, Secret), "name" otherwise. */
export function objectKey(obj: ModelObject): string {
  return obj.kind === Kind.Pod || obj.kind === Kind.Secret ? `${obj.namespace}/${obj.name}` : obj.name;
}

// ---------------------------------------------------------------------------------------------
// Snapshot, events, the datastore interface

/** The effective BGP configuration: the `default` object with defaults filled in, or defaults alone. */
export type EffectiveBGPConfiguration = Omit<BGPConfiguration, keyof Meta | 'kind' | 'name'> & {
  /** False when no `default` BGPConfiguration exists and these are the built-in defaults. */
  fromObject: boolean;
};

export interface Snapshot {
  nodes: ReadonlyMap<string, Node>;
  /** This node's pods, keyed "namespace/name". */
  pods: ReadonlyMap<string, Pod>;
  bgpConfigurations: ReadonlyMap<string, BGPConfiguration>;
  bgpConfiguration: EffectiveBGPConfiguration;
  bgpPeers: ReadonlyMap<string, BGPPeer>;
  /** Secrets in the secret namespace, keyed "namespace/name". */
  secrets: ReadonlyMap<string, Secret>;
}

export type ChangeType = 'added' | 'updated' | 'deleted';

/** One change to the model. `previous` is set for updated and deleted, `object` for added and updated. */
export type ChangeEvent = {
  [K in Kind]: {
    kind: K;
    type: ChangeType;
    key: string;
    object: ObjectOfKind[K] | null;
    previous: ObjectOfKind[K] | null;
  };
}[Kind];

export interface PeerStatus {
  address: string;
  asNumber: number;
  /** mesh, global or node, as `tortie status` prints it. */
  type: string;
  /** RFC 4271 state name: Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  state: string;
  /** ISO 8601 time of the last state change. */
  since: string;
  lastError: string;
}

/** The status subresource of a BGPStatus object (one per node, named after it). */
export interface NodeBGPStatus {
  established: number;
  total: number;
  peers: PeerStatus[];
  /** ISO 8601; filled in by writeStatus when empty. */
  updated: string;
}

export interface DatastoreEvents {
  /** One per change, in the order the datastore saw them, exactly once. */
  change: [ChangeEvent];
  /** Emitted once, when every kind has been read in full for the first time. */
  synced: [];
  /** Something went wrong that the datastore survives: bad object, lost connection, bad edit. */
  problem: [DatastoreError];
  /**
   * A full re-read after the first sync (changes it found come as `change` events): `restart`
   * (an informer restarted after a failure or silence), `expired` (410 Gone), `file` (the file
   * datastore re-read its file).
   */
  resync: [{ kind: Kind | 'file'; reason: 'restart' | 'expired' | 'file' }];
}

export interface Datastore extends EventEmitter<DatastoreEvents> {
  /** `kubernetes` or `file`: for logs and metrics only; behaviour downstream must not depend on it. */
  readonly type: string;
  /** Starts reading. Rejects only when the datastore cannot start at all (file missing or bad at start). */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly isSynced: boolean;
  /** Resolves once every kind has been read in full. */
  readonly synced: Promise<void>;
  /** The current model. Maps are copies; objects are frozen and shared. */
  snapshot(): Snapshot;
  /** Publishes this node's BGP status. Rate-limited; failures are reported as problems, never thrown. */
  writeStatus(nodeName: string, status: NodeBGPStatus): void;
  /** Counters for metrics. */
  stats(): DatastoreStats;
}

export interface DatastoreStats {
  /** Change events emitted. */
  changes: number;
  /** Full re-reads after the first sync: relists (Kubernetes) or re-read files (file). */
  resyncs: number;
  /** Problems reported. */
  problems: number;
}
