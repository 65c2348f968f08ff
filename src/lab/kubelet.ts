/**
 * Calling a CNI plugin the way the kubelet does (through containerd's libcni): the plugin is the
 * executable named by the configuration's `type`, found in CNI_PATH; the conflist is expanded into
 * one network configuration per plugin (the list's `cniVersion` and `name` injected, the previous
 * plugin's result as `prevResult`); the CNI_* variables carry the sandbox; stdout is the result.
 * It runs inside the node's namespace, where a kubelet would run.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { runToExit } from '../netns/netns.ts';

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

export interface Sandbox {
  containerId: string;
  /** Path of the sandbox's network namespace (/var/run/netns/NAME). */
  netnsPath: string;
  ifname: string;
  podNamespace: string;
  podName: string;
}

export class CniCallError extends Error {
  readonly code = 'TK_LAB_CNI_FAILED';
  /** The plugin's CNI error code (from its error JSON), when it gave one. */
  readonly cniCode: number | null;
  constructor(command: string, plugin: string, exitCode: number | null, stdout: string, stderr: string) {
    let cniCode: number | null = null;
    let msg = stderr.trim() || stdout.trim();
    try {
      const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
      if (typeof e.code === 'number') {
        cniCode = e.code;
        msg = `code ${e.code}: ${e.msg ?? ''}${e.details ? ` (${e.details})` : ''}`;
      }
    } catch {
      // not JSON: keep the raw text
    }
    super(`CNI ${command} with ${plugin} failed (exit ${exitCode}): ${msg}`);
    this.name = 'CniCallError';
    this.cniCode = cniCode;
  }
}

/** CNI_ARGS as the kubelet sets them (dockershim/CRI: IgnoreUnknown first). */
export function cniArgs(s: Sandbox): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${s.podNamespace};K8S_POD_NAME=${s.podName};K8S_POD_INFRA_CONTAINER_ID=${s.containerId}`;
}

/** libcni's expansion of one plugin of a list into the network configuration it receives. */
export function pluginConfig(list: Conflist, index: number, prevResult?: unknown): Record<string, unknown> {
  return { ...list.plugins[index], cniVersion: list.cniVersion, name: list.name, ...(prevResult !== undefined ? { prevResult } : {}) };
}

export function readConflist(file: string): Conflist {
  return JSON.parse(readFileSync(file, 'utf8')) as Conflist;
}

function findPlugin(type: string, cniPath: string): string {
  // The kubelet refuses plugin names with a path; it looks in each CNI_PATH directory in order.
  for (const dir of cniPath.split(':').filter(Boolean)) {
    const f = path.join(dir, type);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      // next directory
    }
  }
  throw new CniCallError('find', type, null, '', `no executable '${type}' in CNI_PATH ${cniPath}`);
}

export interface CniInvocation {
  /** Node namespace to run in. */
  netns: string;
  cniPath: string;
  command: 'ADD' | 'DEL' | 'CHECK';
  sandbox: Sandbox;
  config: Record<string, unknown> & { type: string };
}

/** One plugin execution; resolves with the parsed stdout (ADD), rejects with CniCallError. */
export async function execPlugin(inv: CniInvocation): Promise<unknown> {
  const plugin = findPlugin(inv.config.type, inv.cniPath);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.sandbox.containerId,
    CNI_NETNS: inv.sandbox.netnsPath,
    CNI_IFNAME: inv.sandbox.ifname,
    CNI_ARGS: cniArgs(inv.sandbox),
    CNI_PATH: inv.cniPath,
  };
  const { stdout, stderr, exitCode: code } = await runToExit('ip', ['netns', 'exec', inv.netns, plugin], { env, input: JSON.stringify(inv.config) });
  if (code !== 0) throw new CniCallError(inv.command, plugin, code, stdout, stderr);
  if (!stdout.trim()) return undefined;
  try {
    return JSON.parse(stdout);
  } catch {
    throw new CniCallError(inv.command, plugin, code, stdout, `stdout is not JSON: ${stdout.slice(0, 200)}`);
  }
}

/**
 * ADD through the whole list, each plugin getting the previous one's result; the last result is
 * the sandbox's. On a failure, DEL runs for the list in reverse (libcni does the same).
 */
export async function addNetworkList(netns: string, cniPath: string, list: Conflist, sandbox: Sandbox): Promise<unknown> {
  let result: unknown;
  for (let i = 0; i < list.plugins.length; i++) {
    try {
      result = await execPlugin({ netns, cniPath, command: 'ADD', sandbox, config: pluginConfig(list, i, result) as CniInvocation['config'] });
    } catch (e) {
      await delNetworkList(netns, cniPath, list, sandbox, result).catch(() => undefined);
      throw e;
    }
  }
  return result;
}

/** DEL through the list in reverse, with the cached ADD result as prevResult (CNI 0.4.0+). */
export async function delNetworkList(netns: string, cniPath: string, list: Conflist, sandbox: Sandbox, cached?: unknown): Promise<void> {
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    await execPlugin({ netns, cniPath, command: 'DEL', sandbox, config: pluginConfig(list, i, cached) as CniInvocation['config'] });
  }
}

/** CHECK through the list, with the cached ADD result. */
export async function checkNetworkList(netns: string, cniPath: string, list: Conflist, sandbox: Sandbox, cached: unknown): Promise<void> {
  for (let i = 0; i < list.plugins.length; i++) {
    await execPlugin({ netns, cniPath, command: 'CHECK', sandbox, config: pluginConfig(list, i, cached) as CniInvocation['config'] });
  }
}

/** The pod's addresses from a CNI result (`ips[].address` without the prefix length). */
export function resultAddresses(result: unknown): string[] {
  const ips = (result as { ips?: Array<{ address?: string }> } | undefined)?.ips ?? [];
  return ips.map((i) => (i.address ?? '').split('/')[0]).filter(Boolean);
}
