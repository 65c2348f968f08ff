/**
 * Choosing the node's BGP address, per family, the way calico-node does: an explicit Node
 * annotation first, then the Node's InternalIP, then autodetection on the host's interfaces.
 *
 * Wrong autodetection is the most common complaint about Calico, so every choice comes back with a
 * sentence saying where it came from, for the agent to log and for `tortie status` to show.
 *
 * The host is read through `HostNetwork`, so unit tests give it a fake; `IprouteHost` asks the
 * kernel with `ip -json` (optionally in a named namespace, for tests and the lab).
 */
import { AgentError, AgentErrorCode } from './errors.ts';
import { addressFamily, cidrContains, isLinkLocal, isLoopback, parseCidr, type Cidr, type Family } from './addr.ts';
import { run } from '../netns/netns.ts';

/** How to autodetect, as set by `--ip-autodetection-method` / `--ip6-autodetection-method`. */
export type AutodetectMethod =
  | { kind: 'first-found' }
  /** Calico's `interface=`: comma-separated regexes, unanchored (as Go's MatchString). */
  | { kind: 'interface'; patterns: RegExp[] }
  /** Calico's `skip-interface=`: first-found, also skipping names matching any regex. */
  | { kind: 'skip-interface'; patterns: RegExp[] }
  /** The source address the kernel would use towards this address. No packet is sent. */
  | { kind: 'can-reach'; destination: string }
  | { kind: 'cidr'; cidrs: Cidr[] }
  /** Do not autodetect this family (IPv6's default, as in Calico). */
  | { kind: 'none' };

/**
 * Interfaces never chosen by first-found: loopback, pod veths (ours and Calico's), container
 * bridges and tunnels. Interfaces whose name starts with one of these are skipped.
 */
export const FIRST_FOUND_SKIPPED_PREFIXES = [
  'lo', 'tor', 'cali', 'veth', 'docker', 'kube', 'cni', 'cbr', 'virbr', 'lxcbr', 'flannel', 'tunl',
  'vxlan', 'wireguard', 'dummy', 'nodelocaldns',
] as const;

export const AUTODETECT_METHOD_SYNTAX = 'first-found | interface=REGEX[,REGEX] | skip-interface=REGEX[,REGEX] | can-reach=ADDR | cidr=CIDR[,CIDR] | none';

/** Thrown by `parseAutodetectMethod`; config turns it into a message naming the setting. */
export class AutodetectMethodError extends Error {
  readonly code = 'TORTIE_AUTODETECT_METHOD_INVALID';
}

/** Parses a method for one family; errors say what was wrong with the text. */
export function parseAutodetectMethod(text: string, family: Family): AutodetectMethod {
  const eq = text.indexOf('=');
  const name = (eq < 0 ? text : text.slice(0, eq)).trim();
  const arg = eq < 0 ? '' : text.slice(eq + 1).trim();
  const needArg = (what: string) => {
    if (arg === '') throw new AutodetectMethodError(`${name}= needs ${what}`);
  };
  switch (name) {
    case 'first-found':
    case 'none':
      if (eq >= 0) throw new AutodetectMethodError(`${name} takes no argument`);
      return { kind: name };
    case 'interface':
    case 'skip-interface': {
      needArg('a regular expression');
      const patterns = arg.split(',').map((p) => {
        try {
          return new RegExp(p);
        } catch (e) {
          throw new AutodetectMethodError(`bad regular expression '${p}': ${(e as Error).message}`);
        }
      });
      return { kind: name, patterns };
    }
    case 'can-reach': {
      needArg('an IP address');
      const f = addressFamily(arg);
      if (f === null) throw new AutodetectMethodError(`can-reach= needs an IP address, not '${arg}' (host names are not resolved)`);
      if (f !== family) throw new AutodetectMethodError(`can-reach=${arg} is an IPv${f} address, but this setting is for IPv${family}`);
      return { kind: 'can-reach', destination: arg };
    }
    case 'cidr': {
      needArg('one or more CIDRs');
      const cidrs = arg.split(',').map((c) => {
        const cidr = parseCidr(c.trim());
        if (!cidr) throw new AutodetectMethodError(`'${c}' is not a CIDR (ADDR/LEN)`);
        if (cidr.family !== family) throw new AutodetectMethodError(`${c} is IPv${cidr.family}, but this setting is for IPv${family}`);
        return cidr;
      });
      return { kind: 'cidr', cidrs };
    }
    default:
      throw new AutodetectMethodError(`unknown method '${name}'; expected ${AUTODETECT_METHOD_SYNTAX}`);
  }
}

export function formatAutodetectMethod(m: AutodetectMethod): string {
  switch (m.kind) {
    case 'interface':
    case 'skip-interface':
      return `${m.kind}=${m.patterns.map((p) => p.source).join(',')}`;
    case 'can-reach':
      return `can-reach=${m.destination}`;
    case 'cidr':
      return `cidr=${m.cidrs.map((c) => `${c.address}/${c.prefixLength}`).join(',')}`;
    default:
      return m.kind;
  }
}

/** One address on one interface, as the kernel lists it. */
export interface InterfaceAddress {
  address: string;
  prefixLength: number;
  family: Family;
  /** IPv6 addresses still in duplicate address detection, or that failed it, are unusable. */
  tentative?: boolean;
}

export interface HostInterface {
  name: string;
  index: number;
  up: boolean;
  addresses: InterfaceAddress[];
}

/** What autodetection needs from the host. */
export interface HostNetwork {
  /** Every interface with its addresses, in kernel index order. */
  interfaces(): Promise<HostInterface[]>;
  /** The interface and source address the kernel would use to reach `destination`, or null if none. */
  routeGet(destination: string): Promise<{ dev: string; src: string } | null>;
}

/** What the datastore knows about this node's addresses. */
export interface NodeAddressHints {
  /**
   * `tortie.dev/bgp-ipv4-address` or `-ipv6-address`: the annotation's text (an address, optionally
   * with `/LEN`), or as the datastore's model already parsed it.
   */
  annotation?: string | { address: string; prefixLength: number | null } | null;
  /** The Node's status.addresses of type InternalIP, in order. */
  internalIPs?: string[];
}

export interface NodeAddressChoice {
  family: Family;
  /** null when the family is disabled (`none`) and nothing else gave an address. */
  address: string | null;
  /** Known when the address came from an interface or an annotation with /LEN. */
  prefixLength: number | null;
  interface: string | null;
  source: 'annotation' | 'internal-ip' | 'autodetect' | 'none';
  /** A sentence for the log, saying why this address. */
  reason: string;
}

/**
 * Chooses the node's address for one family. Throws `AgentError(NodeAddress)` when the annotation
 * is malformed (a wrong explicit setting must not be papered over by autodetection) or when the
 * method finds nothing.
 */
export async function selectNodeAddress(
  family: Family,
  hints: NodeAddressHints,
  method: AutodetectMethod,
  host: HostNetwork,
): Promise<NodeAddressChoice> {
  const annotationName = `tortie.dev/bgp-ipv${family}-address`;
  if (hints.annotation) {
    const a = hints.annotation;
    const text = (typeof a === 'string' ? a : a.prefixLength === null ? a.address : `${a.address}/${a.prefixLength}`).trim();
    const cidr = parseCidr(text);
    const plain = cidr ? null : addressFamily(text);
    if (!cidr && plain !== family) {
      throw new AgentError(AgentErrorCode.NodeAddress, `Node annotation ${annotationName}='${text}' is not an IPv${family} address (ADDR or ADDR/LEN); fix or remove the annotation`);
    }
    if (cidr && cidr.family !== family) {
      throw new AgentError(AgentErrorCode.NodeAddress, `Node annotation ${annotationName}='${text}' is IPv${cidr.family}, expected IPv${family}`);
    }
    return {
      family,
      address: cidr ? cidr.address : text,
      prefixLength: cidr ? cidr.prefixLength : null,
      interface: null,
      source: 'annotation',
      reason: `from the Node annotation ${annotationName}`,
    };
  }
  const internal = (hints.internalIPs ?? []).find((a) => addressFamily(a) === family);
  if (internal) {
    return { family, address: internal, prefixLength: null, interface: null, source: 'internal-ip', reason: `the Node's InternalIP (no ${annotationName} annotation)` };
  }
  if (method.kind === 'none') {
    return { family, address: null, prefixLength: null, interface: null, source: 'none', reason: `IPv${family} disabled: no annotation, no InternalIP, autodetection method none` };
  }
  return autodetect(family, method, host);
}

function usable(a: InterfaceAddress, family: Family): boolean {
  return a.family === family && !a.tentative && !isLinkLocal(a.address) && !isLoopback(a.address);
}

async function autodetect(family: Family, method: Exclude<AutodetectMethod, { kind: 'none' }>, host: HostNetwork): Promise<NodeAddressChoice> {
  const fail = (why: string): never => {
    throw new AgentError(AgentErrorCode.NodeAddress, `cannot autodetect the node's IPv${family} address with ${formatAutodetectMethod(method)}: ${why}; set the tortie.dev/bgp-ipv${family}-address annotation or another --ip${family === 6 ? '6' : ''}-autodetection-method`);
  };
  const found = (iface: HostInterface, a: InterfaceAddress, why: string): NodeAddressChoice => ({
    family,
    address: a.address,
    prefixLength: a.prefixLength,
    interface: iface.name,
    source: 'autodetect',
    reason: `autodetected with ${formatAutodetectMethod(method)}: ${why}`,
  });

  if (method.kind === 'can-reach') {
    const route = await host.routeGet(method.destination);
    if (!route) return fail(`the kernel has no route to ${method.destination}`);
    const ifaces = await host.interfaces();
    const iface = ifaces.find((i) => i.name === route.dev);
    const a = iface?.addresses.find((x) => x.address === route.src);
    if (!iface || !a) {
      // The kernel chose a source we cannot attribute to an interface (e.g. a route with `src`
      // pointing elsewhere); still the right answer, without a prefix length.
      return { family, address: route.src, prefixLength: null, interface: route.dev, source: 'autodetect', reason: `autodetected with ${formatAutodetectMethod(method)}: the kernel's source address towards ${method.destination} via ${route.dev}` };
    }
    return found(iface, a, `the kernel's source address towards ${method.destination} via ${route.dev}`);
  }

  const ifaces = await host.interfaces();
  for (const iface of ifaces) {
    if (!iface.up) continue;
    let why: string;
    if (method.kind === 'first-found' || method.kind === 'skip-interface') {
      const skippedPrefix = FIRST_FOUND_SKIPPED_PREFIXES.find((p) => iface.name.startsWith(p));
      if (skippedPrefix) continue;
      if (method.kind === 'skip-interface' && method.patterns.some((p) => p.test(iface.name))) continue;
      why = `first usable address on ${iface.name}, the first up interface whose name is not skipped`;
      const a = iface.addresses.find((x) => usable(x, family));
      if (a) return found(iface, a, why);
    } else if (method.kind === 'interface') {
      const pattern = method.patterns.find((p) => p.test(iface.name));
      if (!pattern) continue;
      const a = iface.addresses.find((x) => usable(x, family));
      if (a) return found(iface, a, `first usable address on ${iface.name}, which matches /${pattern.source}/`);
    } else {
      if (iface.name === 'lo') continue;
      for (const a of iface.addresses) {
        if (!usable(a, family)) continue;
        const cidr = method.cidrs.find((c) => cidrContains(c, a.address));
        if (cidr) return found(iface, a, `${a.address} on ${iface.name} lies in ${cidr.address}/${cidr.prefixLength}`);
      }
    }
  }
  return fail(method.kind === 'first-found' ? 'no up interface that is not skipped has a usable address' : 'no up interface has a matching usable address');
}

interface IpAddrJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number; tentative?: boolean; dadfailed?: boolean }[];
}

/** `HostNetwork` on the real kernel through `ip -json`, optionally inside a named namespace. */
export class IprouteHost implements HostNetwork {
  private readonly prefix: string[];

  constructor(netns?: string) {
    this.prefix = netns ? ['-n', netns] : [];
  }

  async interfaces(): Promise<HostInterface[]> {
    const { stdout } = await run('ip', [...this.prefix, '-json', 'address', 'show']);
    const links = JSON.parse(stdout) as IpAddrJson[];
    return links
      .map((l) => ({
        name: l.ifname,
        index: l.ifindex,
        up: (l.flags ?? []).includes('UP'),
        addresses: (l.addr_info ?? [])
          .filter((a) => a.family === 'inet' || a.family === 'inet6')
          .map((a) => ({ address: a.local, prefixLength: a.prefixlen, family: (a.family === 'inet' ? 4 : 6) as Family, tentative: Boolean(a.tentative || a.dadfailed) })),
      }))
      .sort((a, b) => a.index - b.index);
  }

  async routeGet(destination: string): Promise<{ dev: string; src: string } | null> {
    try {
      // `ip route get` asks the kernel's route lookup (RTM_GETROUTE); no packet leaves.
      const { stdout } = await run('ip', [...this.prefix, '-json', 'route', 'get', destination]);
      const [r] = JSON.parse(stdout) as { dev?: string; prefsrc?: string }[];
      if (!r?.dev || !r.prefsrc) return null;
      return { dev: r.dev, src: r.prefsrc };
    } catch {
      // "Network is unreachable" and friends: no route.
      return null;
    }
  }
}
