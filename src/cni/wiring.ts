/**
 * Calico-style wiring of one pod: a veth pair with no bridge. The host side (a `tor...` name)
 * carries no IPv4 address and answers ARP for 169.254.1.1 by proxy ARP; the pod gets its
 * address as a /32 (/128), a link-scope route to 169.254.1.1 and its default route via it. The
 * host reaches the pod by a /32 route through the host-side veth, which the agent's dataplane
 * may also have installed. The plugin marks that route with the dataplane's protocol number, so
 * that the agent owns it (it keeps it while the pod reaches the datastore, see its grace period)
 * instead of seeing a foreign route in the slot it wants.
 *
 * Two backends do the same steps: this file's, where each side is configured by one `ip -batch`
 * (two short processes per ADD; the standalone plugin, which needs nothing but iproute2), and
 * netlink-wiring.ts (netlink requests through a relay the agent keeps running: the CNI server).
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_PROTOCOL } from '../dataplane/ownership.ts';
import { CniCode, CniError } from './errors.ts';
import type { Family } from './ip.ts';
import { ip, ipBatch, isExists, isNoDevice, NetnsHandle } from './iproute.ts';

/** The pod's IPv4 next hop: link-local, assigned nowhere, answered by proxy ARP on the host. */
export const GATEWAY_V4 = '169.254.1.1';
/** Every host-side veth has this MAC, so the pod's neighbour entry never changes across restarts. */
export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
/** The pod's IPv6 next hop: the host side's link-local address, the EUI-64 of HOST_VETH_MAC. */
export const GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

export interface PodAddress {
  family: Family;
  /** The bare address. */
  address: string;
}

export interface PodWiring {
  hostVeth: string;
  ifname: string;
  /** CNI_NETNS: a path. */
  netnsPath: string;
  mtu: number;
  addresses: PodAddress[];
}

type Log = (msg: string) => void;

/** How a pod gets wired and unwired: `ipWiring` below, or NetlinkWiring (netlink-wiring.ts). */
export interface WiringBackend {
  /** Creates the pair and configures both sides; on failure removes what it made, then throws. */
  wire(w: PodWiring, log: Log): Promise<{ containerMac: string }>;
  /** Removes the pod's interface; a missing namespace or interface is success. */
  unwire(netnsPath: string, ifname: string, log: Log): Promise<void>;
}

export const ipWiring: WiringBackend = {
  wire: async (w, log) => wirePod(w, log),
  unwire: async (netnsPath, ifname, log) => unwirePod(netnsPath, ifname, log),
};

export const hostLen = (a: PodAddress): number => (a.family === 4 ? 32 : 128);

/** Creates the pair and configures both sides. On any failure, removes what it made, then throws. */
export function wirePod(w: PodWiring, log: Log): { containerMac: string } {
  const v6 = w.addresses.some((a) => a.family === 6);
  const hostLines = [
    `link add ${w.hostVeth} address ${HOST_VETH_MAC} mtu ${w.mtu} type veth peer name ${w.ifname} mtu ${w.mtu} netns ${w.netnsPath}`,
    // No kernel-made link-local on the host side: "no host address"; IPv6 gets a fixed one below.
    `link set ${w.hostVeth} addrgenmode none`,
    `link set ${w.hostVeth} up`,
    ...(v6 ? [`addr add ${GATEWAY_V6}/64 dev ${w.hostVeth} nodad`] : []),
    ...w.addresses.map((a) => `route add ${a.address}/${hostLen(a)} dev ${w.hostVeth} scope link proto ${DEFAULT_PROTOCOL}`),
  ];
  const routeLine0 = hostLines.length - w.addresses.length + 1;

  let host = ipBatch(hostLines);
  if (host.failed.has(1) && isExists(host.failed.get(1))) {
    // The host side exists already: a veth of an earlier sandbox of the same pod whose DEL never
    // came. The name is the pod's, so it is ours to replace (unless the pod side collided).
    if (hostVethExists(w.hostVeth)) {
      log(`replacing stale host veth ${w.hostVeth}`);
      deleteHostVeth(w.hostVeth);
      host = ipBatch(hostLines);
    }
  }
  const firstLine = host.failed.get(1) ?? host.failed.get(0);
  if (firstLine !== undefined) {
    if (hostVethExists(w.hostVeth) === false && isExists(firstLine)) {
      throw new CniError(CniCode.IoFailure, `interface ${w.ifname} already exists in ${w.netnsPath}`, firstLine);
    }
    throw new CniError(CniCode.IoFailure, `cannot create veth ${w.hostVeth} / ${w.ifname}`, firstLine);
  }

  try {
    for (const [line, message] of host.failed) {
      const address = line >= routeLine0 ? w.addresses[line - routeLine0] : undefined;
      if (address && isExists(message)) {
        ensureHostRoute(address, w.hostVeth, log);
        continue;
      }
      throw new CniError(CniCode.IoFailure, `configuring ${w.hostVeth} failed at '${hostLines[line - 1]}'`, message);
    }
    setHostSysctls(w.hostVeth, v6);

    const handle = NetnsHandle.open(w.netnsPath);
    try {
      const podLines = [
        `link set ${w.ifname} up`,
        ...w.addresses.flatMap((a) =>
          a.family === 4
            ? [`addr add ${a.address}/32 dev ${w.ifname}`, `route add ${GATEWAY_V4}/32 dev ${w.ifname} scope link`, `route add default via ${GATEWAY_V4} dev ${w.ifname}`]
            : [`addr add ${a.address}/128 dev ${w.ifname} nodad`, `route add default via ${GATEWAY_V6} dev ${w.ifname}`],
        ),
        `link show dev ${w.ifname}`,
      ];
      const pod = ipBatch(podLines, { netns: handle.name, oneline: true });
      for (const [line, message] of pod.failed) {
        throw new CniError(CniCode.IoFailure, `configuring ${w.ifname} in ${w.netnsPath} failed at '${podLines[line - 1] ?? 'entering the namespace'}'`, message);
      }
      const mac = /link\/ether ([0-9a-f:]{17})/.exec(pod.stdout)?.[1];
      if (!mac) throw new CniError(CniCode.IoFailure, `cannot read the MAC address of ${w.ifname}`, pod.stdout);
      return { containerMac: mac };
    } finally {
      handle.close();
    }
  } catch (e) {
    // Never leave a half-wired pod: deleting the host side takes the pod side and routes with it.
    try {
      deleteHostVeth(w.hostVeth);
    } catch (undo) {
      log(`undo failed: ${(undo as Error).message}`);
    }
    throw e;
  }
}

/**
 * Removes the pod's interface from its namespace, which removes the host side and its routes
 * too. Missing namespace or interface is success (DEL is idempotent, CNI spec "DEL").
 */
export function unwirePod(netnsPath: string, ifname: string, log: Log): void {
  if (!netnsPath) return;
  let handle: NetnsHandle;
  try {
    handle = NetnsHandle.open(netnsPath);
  } catch (e) {
    log(`namespace ${netnsPath} not usable, nothing to remove: ${(e as Error).message}`);
    return;
  }
  try {
    const r = ipBatch([`link del ${ifname}`], { netns: handle.name });
    const err = r.failed.get(1) ?? r.failed.get(0);
    if (err === undefined || isNoDevice(err)) return;
    // The namespace itself is gone (the runtime tore it down first): so is the veth.
    if (/No such file|Invalid argument|Cannot open network namespace/i.test(err)) {
      log(`namespace ${netnsPath} is gone: ${err}`);
      return;
    }
    throw new CniError(CniCode.IoFailure, `cannot delete ${ifname} in ${netnsPath}`, err);
  } finally {
    handle.close();
  }
}

/** CHECK (CNI spec "CHECK"): throws code 101 naming the first thing that differs. */
export function checkPod(w: PodWiring, containerMac: string | undefined): void {
  const fail = (what: string) => new CniError(CniCode.CheckFailed, `CHECK failed: ${what}`);
  const link = ipBatch([`link show dev ${w.hostVeth}`], { oneline: true });
  if (link.failed.size > 0) throw fail(`host interface ${w.hostVeth}: ${[...link.failed.values()][0]}`);
  if (!/<[^>]*\bUP\b[^>]*>/.test(link.stdout)) throw fail(`host interface ${w.hostVeth} is not up`);
  for (const family of [4, 6] as const) {
    const addresses = w.addresses.filter((a) => a.family === family);
    if (addresses.length === 0) continue;
    const routes = ipBatch(addresses.map((a) => `route show exact ${a.address}/${hostLen(a)}`), { family }).stdout.split('\n');
    for (const a of addresses) {
      if (!routes.some((l) => l.startsWith(`${a.address} `) && new RegExp(`dev ${w.hostVeth}\\b`).test(l))) {
        throw fail(`no host route ${a.address}/${hostLen(a)} via ${w.hostVeth}`);
      }
    }
  }

  const handle = NetnsHandle.open(w.netnsPath);
  try {
    // `addr show` first: after a `link show`, ip 6.1 in batch mode keeps showing links.
    const pod = ipBatch([`addr show dev ${w.ifname}`, `link show dev ${w.ifname}`, 'route show'], { netns: handle.name, oneline: true });
    if (pod.failed.size > 0) throw fail(`interface ${w.ifname} in ${w.netnsPath}: ${[...pod.failed.values()][0]}`);
    let text = pod.stdout;
    if (w.addresses.some((a) => a.family === 6)) text += ipBatch(['route show'], { netns: handle.name, family: 6 }).stdout;
    if (containerMac && !text.includes(`link/ether ${containerMac}`)) throw fail(`${w.ifname} does not have MAC ${containerMac}`);
    const linkLine = text.split('\n').find((l) => l.includes(`: ${w.ifname}: <`) || l.includes(`: ${w.ifname}@`)) ?? '';
    if (!/<[^>]*\bUP\b[^>]*>/.test(linkLine)) throw fail(`${w.ifname} is not up`);
    for (const a of w.addresses) {
      if (!text.includes(` ${a.address}/${hostLen(a)} `)) throw fail(`${w.ifname} does not have ${a.address}/${hostLen(a)}`);
      const gw = a.family === 4 ? GATEWAY_V4 : GATEWAY_V6;
      if (!new RegExp(`^default via ${gw.replace(/\./g, '\\.')} dev ${w.ifname}\\b`, 'm').test(text)) throw fail(`no default route via ${gw} on ${w.ifname}`);
      if (a.family === 4 && !new RegExp(`^${GATEWAY_V4.replace(/\./g, '\\.')} dev ${w.ifname} scope link`, 'm').test(text)) {
        throw fail(`no link-scope route to ${GATEWAY_V4} on ${w.ifname}`);
      }
    }
  } finally {
    handle.close();
  }
}

function hostVethExists(name: string): boolean {
  const r = ipBatch([`link show dev ${name}`]);
  return r.failed.size === 0;
}

function deleteHostVeth(name: string): void {
  const r = ipBatch([`link del ${name}`]);
  const err = r.failed.get(1) ?? r.failed.get(0);
  if (err !== undefined && !isNoDevice(err)) throw new CniError(CniCode.IoFailure, `cannot delete ${name}`, err);
}

/**
 * The /32 exists already. If it goes through our veth (the dataplane was quicker) it is left as
 * it is, so its owner's protocol marking stays; if it points elsewhere it is stale and replaced.
 */
function ensureHostRoute(a: PodAddress, hostVeth: string, log: Log): void {
  const prefix = `${a.address}/${hostLen(a)}`;
  const current = ip([...(a.family === 6 ? ['-6'] : []), 'route', 'show', 'exact', prefix]);
  if (current.includes(`dev ${hostVeth} `) || current.trimEnd().endsWith(`dev ${hostVeth}`)) return;
  log(`replacing route ${prefix} (${current.trim()}) with one via ${hostVeth}`);
  ip([...(a.family === 6 ? ['-6'] : []), 'route', 'replace', prefix, 'dev', hostVeth, 'scope', 'link', 'proto', String(DEFAULT_PROTOCOL)]);
}

/** Per-interface sysctls of the host side, as paths under /proc/sys/ and values. */
export function hostSysctls(hostVeth: string, v6: boolean): Array<[string, string]> {
  return [
    // Answer ARP for 169.254.1.1 (and anything routable) with the veth's own MAC.
    [`net/ipv4/conf/${hostVeth}/proxy_arp`, '1'],
    // Proxy ARP replies are otherwise delayed by up to proxy_delay (0.8 s) to prefer real owners.
    [`net/ipv4/neigh/${hostVeth}/proxy_delay`, '0'],
    // Forward what the pod sends, whatever the node's default for new interfaces.
    [`net/ipv4/conf/${hostVeth}/forwarding`, '1'],
    ...(v6
      ? ([
          [`net/ipv6/conf/${hostVeth}/accept_ra`, '0'],
          [`net/ipv6/conf/${hostVeth}/forwarding`, '1'],
        ] as Array<[string, string]>)
      : []),
  ];
}

/**
 * They are per namespace, so writing /proc/sys from this process sets them in the namespace the
 * plugin runs in, which is the host's.
 */
function setHostSysctls(hostVeth: string, v6: boolean): void {
  for (const [key, value] of hostSysctls(hostVeth, v6)) {
    try {
      writeFileSync(`/proc/sys/${key}`, value);
    } catch (e) {
      throw new CniError(CniCode.IoFailure, `cannot set sysctl ${key.replace(/\//g, '.')}=${value}`, (e as Error).message);
    }
  }
}
