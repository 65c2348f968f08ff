/**
 * The lab's plan: every name, address and number of a lab, computed from its options before
 * anything is built. Pure, so that the CLI, the tests and the drawing agree on one layout.
 *
 *   client ── router ── switch (bridge) ── node1 … nodeN ── pods (a veth each, no bridge)
 *
 * Underlay and client ranges are documentation ranges (RFC 5737, RFC 3849); pod ranges are
 * private (RFC 1918, RFC 4193) and exist only inside the node and pod namespaces.
 */

export const RouterKind = { Bird: 'bird', Frr: 'frr', Gobgp: 'gobgp' } as const;
export type RouterKind = (typeof RouterKind)[keyof typeof RouterKind];

export const ROUTER_KINDS: readonly RouterKind[] = Object.values(RouterKind);

export interface LabOptions {
  /** Namespace names start with this (`tortie` for a person's lab; a unique name in tests). */
  prefix: string;
  nodes: number;
  router: RouterKind;
  ipv6: boolean;
  podsPerNode: number;
  /** BGP hold time for every session, seconds (short, so that failures show in seconds). */
  holdTime: number;
  /** Extra `tortie agent` flags for every node (e.g. `--advertise-pod-routes`). */
  agentArgs: string[];
}

export const DEFAULT_OPTIONS: LabOptions = { prefix: 'tortie', nodes: 3, router: 'bird', ipv6: false, podsPerNode: 2, holdTime: 9, agentArgs: [] };

/** Node k is 198.51.100.(10+k) and owns 10.244.k.0/24: 50 keeps both well inside their ranges. */
export const MAX_NODES = 50;

export class LabOptionError extends Error {
  readonly code = 'TK_LAB_BAD_OPTION';
  readonly option: string;
  constructor(option: string, message: string) {
    super(`--${option}: ${message}`);
    this.name = 'LabOptionError';
    this.option = option;
  }
}

export const CLUSTER_AS = 64512;
export const ROUTER_AS = 64600;
export const UNDERLAY_V4 = '198.51.100.0/24';
export const UNDERLAY_V6 = '2001:db8::/64';
export const CLIENT_V4 = '203.0.113.0/24';
export const CLIENT_V6 = '2001:db8:ff::/64';

export interface PodPlan {
  /** Kubernetes name, unique in the lab: pod-<node>-<letter>. */
  name: string;
  namespace: string;
  /** The pod sandbox's network namespace. */
  netns: string;
  /** CNI_CONTAINERID. */
  containerId: string;
}

export interface NodePlan {
  /** 1-based. */
  index: number;
  /** Kubernetes Node name and namespace name (the same: the namespace is the node). */
  name: string;
  netns: string;
  /** The underlay interface inside the node namespace. */
  ifname: string;
  ipv4: string;
  ipv6: string | null;
  podCIDRs: string[];
  pods: PodPlan[];
}

export interface LabPlan {
  options: LabOptions;
  switchNetns: string;
  router: {
    netns: string;
    kind: RouterKind;
    asNumber: number;
    routerId: string;
    /** On the underlay. */
    ipv4: string;
    ipv6: string | null;
    /** On the client link. */
    clientSideIpv4: string;
    clientSideIpv6: string | null;
  };
  client: { netns: string; ipv4: string; ipv6: string | null };
  clusterAs: number;
  nodes: NodePlan[];
}

function check(o: LabOptions): void {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) throw new LabOptionError('nodes', `must be a whole number from 1 to ${MAX_NODES}, not ${o.nodes}`);
  if (!ROUTER_KINDS.includes(o.router)) throw new LabOptionError('router', `must be one of ${ROUTER_KINDS.join(', ')}, not '${String(o.router)}'`);
  if (!Number.isInteger(o.podsPerNode) || o.podsPerNode < 0 || o.podsPerNode > 26) throw new LabOptionError('pods', `must be a whole number from 0 to 26, not ${o.podsPerNode}`);
  if (!Number.isInteger(o.holdTime) || (o.holdTime !== 0 && o.holdTime < 3) || o.holdTime > 65535) throw new LabOptionError('hold-time', `must be 0 or 3..65535 seconds (RFC 4271 4.2), not ${o.holdTime}`);
  if (!Array.isArray(o.agentArgs) || o.agentArgs.some((a) => typeof a !== 'string')) throw new LabOptionError('agent-arg', 'must be a list of strings');
  // Interface names inside namespaces are fixed; namespace names only need to be valid file names.
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(o.prefix)) throw new LabOptionError('prefix', `must be lower-case letters, digits and '-', starting with a letter (at most 31), not '${o.prefix}'`);
}

export function planLab(partial: Partial<LabOptions> = {}): LabPlan {
  const options: LabOptions = { ...DEFAULT_OPTIONS, ...partial };
  check(options);
  const p = options.prefix;
  const v6 = options.ipv6;
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= options.nodes; i++) {
    const name = `${p}-node${i}`;
    const pods: PodPlan[] = [];
    for (let k = 0; k < options.podsPerNode; k++) {
      const letter = String.fromCharCode(97 + k);
      pods.push({ name: `pod-${i}-${letter}`, namespace: 'default', netns: `${name}-pod-${letter}`, containerId: `lab${i}${letter}${'0'.repeat(8)}` });
    }
    nodes.push({
      index: i,
      name,
      netns: name,
      ifname: 'eth0',
      ipv4: `198.51.100.${10 + i}`,
      ipv6: v6 ? `2001:db8::${10 + i}` : null,
      // fd00:10:244:N::/64 with N written as decimal digits reads like 10.244.N.0/24.
      podCIDRs: [`10.244.${i}.0/24`, ...(v6 ? [`fd00:10:244:${i}::/64`] : [])],
      pods,
    });
  }
  return {
    options,
    switchNetns: `${p}-switch`,
    router: {
      netns: `${p}-router`,
      kind: options.router,
      asNumber: ROUTER_AS,
      routerId: '198.51.100.1',
      ipv4: '198.51.100.1',
      ipv6: v6 ? '2001:db8::1' : null,
      clientSideIpv4: '203.0.113.1',
      clientSideIpv6: v6 ? '2001:db8:ff::1' : null,
    },
    client: { netns: `${p}-client`, ipv4: '203.0.113.10', ipv6: v6 ? '2001:db8:ff::10' : null },
    clusterAs: CLUSTER_AS,
    nodes,
  };
}

/** Every namespace of the plan, pods first (they go before their nodes on the way down). */
export function planNamespaces(plan: LabPlan): string[] {
  return [...plan.nodes.flatMap((n) => n.pods.map((p) => p.netns)), ...plan.nodes.map((n) => n.netns), plan.client.netns, plan.router.netns, plan.switchNetns];
}
