/**
 * tortie-cni's commands (CNI spec 1.1 "Operations"): each takes the parsed environment and
 * configuration and returns the JSON to print, or throws a CniError.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseNetConf, type NetConf } from './config.ts';
import { parseEnv, type CniEnv } from './env.ts';
import { CniCode, CniError } from './errors.ts';
import { parseAddress, parsePrefix, type Family } from './ip.ts';
import { BlockAllocator } from './ipam/builtin.ts';
import { findPlugin, needsPodCidr, runDelegate, substitutePodCidr } from './ipam/delegate.ts';
import { removeStaleNetnsLinks } from './iproute.ts';
import { nodeStateAgeSeconds, NodeStateError, readNodeState, type NodeState } from './node-state.ts';
import { compareVersions, GC_STATUS_MIN_VERSION, resultForVersion, SUPPORTED_VERSIONS, type CniResult } from './types.ts';
import { hostVethName, hostVethNameForContainer } from './veth-name.ts';
import { checkPod, GATEWAY_V4, GATEWAY_V6, HOST_VETH_MAC, ipWiring, type PodAddress, type WiringBackend } from './wiring.ts';

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

/** What a command produced: JSON for stdout (or nothing: DEL, CHECK, GC, STATUS succeed silently). */
export type Output = object | undefined;

export interface Invocation {
  env: CniEnv;
  conf: NetConf;
  /** The raw environment, passed on to delegated plugins. */
  processEnv: NodeJS.ProcessEnv;
  log: Logger;
  /** `ip` processes (the standalone plugin) or netlink through the agent's relay (CNI server). */
  wiring: WiringBackend;
}

/** VERSION needs no configuration beyond an optional cniVersion (CNI spec "VERSION"). */
export function version(stdin: string): Output {
  let requested: unknown;
  try {
    requested = stdin.trim() ? (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion : undefined;
  } catch {
    requested = undefined;
  }
  const cniVersion = typeof requested === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(requested) ? requested : SUPPORTED_VERSIONS.at(-1);
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

export function parseInvocation(processEnv: NodeJS.ProcessEnv, stdin: string, log: Logger, wiring: WiringBackend = ipWiring): Invocation {
  const env = parseEnv(processEnv);
  const conf = parseNetConf(stdin, env.command);
  if ((env.command === 'GC' || env.command === 'STATUS') && compareVersions(conf.cniVersion, GC_STATUS_MIN_VERSION) < 0) {
    throw new CniError(CniCode.IncompatibleVersion, `${env.command} needs cniVersion ${GC_STATUS_MIN_VERSION} or later (the configuration says ${conf.cniVersion})`);
  }
  return { env, conf, processEnv, log, wiring };
}

/** The host-side veth: from the pod's namespace and name when the runtime passes them. */
export function hostVethFor(env: CniEnv): string {
  const ns = env.args.get('K8S_POD_NAMESPACE');
  const name = env.args.get('K8S_POD_NAME');
  return ns && name ? hostVethName(ns, name) : hostVethNameForContainer(env.containerId);
}

export async function add(inv: Invocation): Promise<Output> {
  const { env, conf, log } = inv;
  if (!existsSync(env.netns)) {
    throw new CniError(CniCode.UnknownContainer, `network namespace ${env.netns} does not exist`);
  }
  const hostVeth = hostVethFor(env);
  const ipam = ipamFor(inv);
  const allocated = await ipam.add();
  try {
    const addresses = allocated.addresses;
    if (addresses.length === 0) throw new CniError(CniCode.IpamFailed, 'IPAM returned no address');
    const { containerMac } = await inv.wiring.wire({ hostVeth, ifname: env.ifname, netnsPath: env.netns, mtu: conf.mtu, addresses }, log.warn);
    log.info(`ADD ${env.containerId}/${env.ifname}: ${addresses.map((a) => a.address).join(', ')} via ${hostVeth}`);
    const result: CniResult = {
      cniVersion: conf.cniVersion,
      interfaces: [
        { name: hostVeth, mac: HOST_VETH_MAC },
        { name: env.ifname, mac: containerMac, mtu: conf.mtu, sandbox: env.netns },
      ],
      ips: addresses.map((a) => ({ address: `${a.address}/${a.family === 4 ? 32 : 128}`, gateway: a.family === 4 ? GATEWAY_V4 : GATEWAY_V6, interface: 1 })),
      routes: addresses.map((a) => (a.family === 4 ? { dst: '0.0.0.0/0', gw: GATEWAY_V4 } : { dst: '::/0', gw: GATEWAY_V6 })),
      ...(allocated.dns ? { dns: allocated.dns } : {}),
    };
    return resultForVersion(result, conf.cniVersion);
  } catch (e) {
    // CNI spec "Delegated plugins": a failed ADD calls the IPAM's DEL.
    try {
      await ipam.undo(allocated.addresses);
    } catch (undo) {
      log.error(`releasing the address after a failed ADD failed: ${(undo as Error).message}`);
    }
    throw e;
  }
}

export async function del(inv: Invocation): Promise<Output> {
  const { env, log } = inv;
  // Both at once, as two processes (the relay, a delegate): the order does not matter to DEL,
  // and the reference ptp releases the address first.
  const [unwired, released] = await Promise.allSettled([inv.wiring.unwire(env.netns, env.ifname, log.warn), ipamFor(inv).del()]);
  if (unwired.status === 'rejected') throw unwired.reason;
  if (released.status === 'rejected') throw released.reason;
  log.info(`DEL ${env.containerId}/${env.ifname}`);
  return undefined;
}

export async function check(inv: Invocation): Promise<Output> {
  const { env, conf } = inv;
  const prev = conf.prevResult;
  if (!prev) throw new CniError(CniCode.InvalidConfig, 'CHECK needs prevResult');
  if (!existsSync(env.netns)) throw new CniError(CniCode.UnknownContainer, `network namespace ${env.netns} does not exist`);
  const ifaces = prev.interfaces ?? [];
  const pod = ifaces.find((i) => i.sandbox && i.name === env.ifname);
  const host = ifaces.find((i) => !i.sandbox);
  const addresses: PodAddress[] = (prev.ips ?? []).map((ip) => {
    const p = parsePrefix(ip.address, true);
    return { family: p.family, address: ip.address.split('/')[0] };
  });
  checkPod({ hostVeth: host?.name ?? hostVethFor(env), ifname: env.ifname, netnsPath: env.netns, mtu: conf.mtu, addresses }, pod?.mac);
  await ipamFor(inv).check(addresses);
  return undefined;
}

export async function gc(inv: Invocation): Promise<Output> {
  const { conf, log } = inv;
  removeStaleNetnsLinks();
  if (conf.ipam.kind === 'builtin') {
    const freed = builtinAllocator(conf, []).gc(conf.validAttachments ?? []);
    if (freed.length) log.info(`GC released ${freed.join(', ')}`);
    return undefined;
  }
  try {
    await runDelegate(findPlugin(conf.ipam.type, inv.env.path), 'GC', delegateConfig(inv), inv.processEnv);
  } catch (e) {
    // A delegate older than CNI 1.1 has no GC; its leftovers are its own business.
    if (e instanceof CniError && e.code === CniCode.IncompatibleVersion) log.warn(`IPAM ${conf.ipam.type} does not support GC`);
    else throw e;
  }
  return undefined;
}

/**
 * STATUS (CNI spec 1.1): ready when the agent has published this node's state. Without it the
 * node has no pod CIDR and no routes are advertised, so new pods would be unreachable.
 */
export function status(inv: Invocation): Output {
  const { conf } = inv;
  let state: NodeState;
  try {
    state = readNodeState(conf.nodeStateFile);
  } catch (e) {
    if (e instanceof NodeStateError) throw new CniError(CniCode.NotAvailable, 'tortie is not ready on this node', e.message);
    throw e;
  }
  const age = nodeStateAgeSeconds(state);
  if (conf.nodeStateMaxAgeSeconds > 0 && age > conf.nodeStateMaxAgeSeconds) {
    throw new CniError(CniCode.NotAvailable, 'tortie is not ready on this node', `node state ${conf.nodeStateFile} is ${Math.round(age)} s old (limit ${conf.nodeStateMaxAgeSeconds} s): is the agent running?`);
  }
  if (conf.ipam.kind === 'builtin' && !conf.ipam.blocks && (state.blocks ?? state.podCIDRs).length === 0) {
    throw new CniError(CniCode.NotAvailable, 'tortie is not ready on this node', `node ${state.nodeName} has no pod CIDR yet`);
  }
  return undefined;
}

interface IpamSession {
  add(): Promise<{ addresses: PodAddress[]; dns?: CniResult['dns'] }>;
  del(): Promise<void>;
  /** Gives back what one failed ADD took (and, built in, nothing an earlier ADD holds). */
  undo(addresses: PodAddress[]): Promise<void>;
  check(addresses: PodAddress[]): Promise<void>;
}

function ipamFor(inv: Invocation): IpamSession {
  const { env, conf } = inv;
  if (conf.ipam.kind === 'builtin') {
    const blocksNeeded = inv.env.command === 'ADD';
    const allocator = () => builtinAllocator(conf, blocksNeeded ? blocksFor(conf) : []);
    return {
      add: async () => ({ addresses: allocator().allocate(env.containerId, env.ifname).map((a) => ({ family: a.family, address: a.address })) }),
      del: async () => void allocator().release(env.containerId, env.ifname),
      undo: async (addresses) => void allocator().releaseAddresses(env.containerId, env.ifname, addresses.map((a) => a.address)),
      check: async (addresses) => {
        const held = new Set(allocator().find(env.containerId, env.ifname));
        for (const a of addresses) {
          if (!held.has(a.address)) throw new CniError(CniCode.CheckFailed, `CHECK failed: ${a.address} is not allocated to ${env.containerId}/${env.ifname}`);
        }
      },
    };
  }
  const type = conf.ipam.type;
  return {
    add: async () => {
      const result = await runDelegate(findPlugin(type, env.path), 'ADD', delegateConfig(inv), inv.processEnv);
      const addresses = (result?.ips ?? []).map((ip) => {
        const p = parseAddress(ip.address.split('/')[0]);
        return { family: p.family as Family, address: ip.address.split('/')[0] };
      });
      return { addresses, ...(result?.dns ? { dns: result.dns } : {}) };
    },
    // DEL must succeed without the node state (the agent may be gone): substitute what we can.
    del: async () => void (await runDelegate(findPlugin(type, env.path), 'DEL', delegateConfig(inv, true), inv.processEnv)),
    undo: async () => void (await runDelegate(findPlugin(type, env.path), 'DEL', delegateConfig(inv, true), inv.processEnv)),
    check: async () => void (await runDelegate(findPlugin(type, env.path), 'CHECK', delegateConfig(inv), inv.processEnv)),
  };
}

function builtinAllocator(conf: NetConf, blocks: string[]): BlockAllocator {
  if (conf.ipam.kind !== 'builtin') throw new Error('not the built-in IPAM');
  return new BlockAllocator(join(conf.ipam.dataDir, conf.name), blocks.map((b) => parsePrefix(b)));
}

function blocksFor(conf: NetConf): string[] {
  if (conf.ipam.kind === 'builtin' && conf.ipam.blocks) return conf.ipam.blocks;
  const state = nodeStateOrRetry(conf);
  const blocks = state.blocks ?? state.podCIDRs;
  if (blocks.length === 0) throw new CniError(CniCode.TryAgainLater, `node ${state.nodeName} has no pod CIDR yet`);
  return blocks;
}

function nodeStateOrRetry(conf: NetConf): NodeState {
  try {
    return readNodeState(conf.nodeStateFile);
  } catch (e) {
    // The agent has not published the node yet: the kubelet retries the sandbox later.
    if (e instanceof NodeStateError) throw new CniError(CniCode.TryAgainLater, 'the node\'s pod CIDR is not known yet', e.message);
    throw e;
  }
}

/** Documentation prefixes (RFC 5737, RFC 3849), large enough for host-local to accept. */
const PLACEHOLDER_CIDRS = ['192.0.2.0/24', '2001:db8::/64'];

/** The configuration for the delegate, with usePodCidr replaced by this node's CIDRs. */
function delegateConfig(inv: Invocation, lenient = false): Record<string, unknown> {
  const { conf } = inv;
  if (!needsPodCidr(conf.raw.ipam)) return conf.raw;
  let cidrs: string[];
  try {
    cidrs = nodeStateOrRetry(conf).podCIDRs;
  } catch (e) {
    if (!lenient) throw e;
    // host-local releases by container ID whatever the subnet says; a placeholder that parses.
    cidrs = PLACEHOLDER_CIDRS;
  }
  try {
    return { ...conf.raw, ipam: substitutePodCidr(conf.raw.ipam, cidrs) };
  } catch (e) {
    if (!lenient) throw e;
    return { ...conf.raw, ipam: substitutePodCidr(conf.raw.ipam, PLACEHOLDER_CIDRS) };
  }
}
