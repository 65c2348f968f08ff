/**
 * A node for CNI tests: a "host" namespace the plugin runs in (never the root namespace), with an
 * uplink stub and a default route (proxy ARP answers only for addresses the host can route), a
 * host address on lo for the pods to ping, and helpers to make pod namespaces and call the plugin
 * the way the kubelet does: CNI_* variables, the configuration on stdin, JSON on stdout.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, run, runToExit, uniqueName } from '../../src/netns/netns.ts';

export const PLUGIN = new URL('../../bin/tortie-cni', import.meta.url).pathname;
export const HOST_ADDRESS = '10.200.0.1';

export interface CniCall {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  /** The configuration: an object is serialized; a string is passed as it is. */
  config: object | string;
  /** Replace the whole environment (to test missing variables). */
  rawEnv?: Record<string, string>;
  /** Variables added to the environment (with or without rawEnv). */
  extraEnv?: Record<string, string>;
  /** Another executable than the node's plugin. */
  plugin?: string;
}

export interface CniOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: Record<string, unknown> | undefined;
}

export class CniNode {
  readonly host: Netns;
  readonly dataDir: string;
  readonly plugin: string;
  private readonly pods: Netns[] = [];
  private readonly prefix: string;

  private constructor(host: Netns, dataDir: string, plugin: string, prefix: string) {
    this.prefix = prefix;
    this.host = host;
    this.dataDir = dataDir;
    this.plugin = plugin;
  }

  static async create(opts: { plugin?: string; prefix?: string } = {}): Promise<CniNode> {
    const host = await Netns.create(uniqueName(opts.prefix ?? 'tn'));
    const dataDir = mkdtempSync(join(tmpdir(), 'tortie-cni-test-'));
    const node = new CniNode(host, dataDir, opts.plugin ?? PLUGIN, opts.prefix ?? 'tn');
    try {
      // A veth with both ends in the host namespace stands for the node's uplink.
      await host.ipBatch([
        'link add tnup0 type veth peer name tnup1',
        'link set tnup0 up',
        'link set tnup1 up',
        'addr add 192.168.255.1/24 dev tnup0',
        'route add default via 192.168.255.2 dev tnup0',
        `addr add ${HOST_ADDRESS}/32 dev lo`,
      ]);
    } catch (e) {
      await node.destroy();
      throw e;
    }
    return node;
  }

  /** A pod sandbox: an empty namespace with loopback up. */
  async pod(): Promise<Netns> {
    const ns = await Netns.create(uniqueName(this.prefix));
    this.pods.push(ns);
    return ns;
  }

  /** Runs the plugin inside the host namespace. */
  async call(c: CniCall): Promise<CniOutcome> {
    const env: Record<string, string> = c.rawEnv ?? {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      CNI_COMMAND: c.command,
      ...(c.containerId !== undefined ? { CNI_CONTAINERID: c.containerId } : {}),
      ...(c.netns !== undefined ? { CNI_NETNS: c.netns } : {}),
      ...(c.ifname !== undefined ? { CNI_IFNAME: c.ifname } : {}),
      ...(c.args !== undefined ? { CNI_ARGS: c.args } : {}),
      CNI_PATH: c.path ?? '/usr/lib/cni',
    };
    Object.assign(env, c.extraEnv);
    const input = typeof c.config === 'string' ? c.config : JSON.stringify(c.config);
    const { stdout, stderr, exitCode } = await runToExit('ip', ['netns', 'exec', this.host.name, c.plugin ?? this.plugin], { env, input });
    let json: Record<string, unknown> | undefined;
    try {
      json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { exitCode: exitCode ?? -1, stdout, stderr, json };
  }

  /** Interfaces in the host namespace other than lo and the uplink stub. */
  async extraHostLinks(): Promise<string[]> {
    const { stdout } = await this.host.ip('-o', 'link', 'show');
    return stdout
      .split('\n')
      .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
      .filter((n): n is string => !!n && !['lo', 'tnup0', 'tnup1'].includes(n));
  }

  /** Routes in the host namespace through tortie's veths. */
  async podRoutes(): Promise<string[]> {
    const { stdout } = await this.host.ip('route', 'show');
    return stdout.split('\n').filter((l) => / dev tor/.test(l));
  }

  /** Address files the built-in IPAM holds for `network`. */
  allocations(network: string): string[] {
    try {
      return readdirSync(join(this.dataDir, network)).filter((f) => /^[0-9a-f.:]+$/.test(f) && /\d/.test(f));
    } catch {
      return [];
    }
  }

  /** Links in a pod namespace other than lo. */
  static async podLinks(pod: Netns): Promise<string[]> {
    const { stdout } = await pod.ip('-o', 'link', 'show');
    return stdout
      .split('\n')
      .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
      .filter((n): n is string => !!n && n !== 'lo');
  }

  async destroy(): Promise<void> {
    await Promise.all(this.pods.map((p) => p.destroy()));
    await this.host.destroy();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A built-in-IPAM configuration for tests. */
export function builtinConfig(node: CniNode, overrides: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: 'tnet',
    type: 'tortie-cni',
    mtu: 1400,
    nodeStateFile: join(node.dataDir, 'node.json'),
    ipam: { type: 'tortie-ipam', dataDir: node.dataDir, blocks: ['10.77.0.0/24'], ...ipam },
    ...overrides,
  };
}

export async function sysctl(ns: Netns, key: string): Promise<string> {
  const { stdout } = await ns.exec('sysctl', ['-n', key]);
  return stdout.trim();
}

export { run };
