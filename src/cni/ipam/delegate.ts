/**
 * Delegated IPAM (CNI spec 1.1 "Delegated plugins"): exec the IPAM plugin named by `ipam.type`
 * from CNI_PATH with the same environment and the network configuration on stdin, and read its
 * result. Before passing the configuration on, `usePodCidr` / `usePodCidrIPv6` strings are
 * replaced by the node's pod CIDRs, so one conflist serves every node.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from '../errors.ts';
import { parsePrefix } from '../ip.ts';
import { compareVersions, type CniResult } from '../types.ts';

export const USE_POD_CIDR = 'usePodCidr';
export const USE_POD_CIDR_V6 = 'usePodCidrIPv6';

/** True when the configuration asks for the node's pod CIDR anywhere. */
export function needsPodCidr(value: unknown): boolean {
  return JSON.stringify(value).includes(`"${USE_POD_CIDR}`);
}

/** Returns a copy of `value` with the placeholders replaced by the node's CIDRs. */
export function substitutePodCidr(value: unknown, podCIDRs: string[]): unknown {
  const v4 = podCIDRs.find((c) => parsePrefix(c).family === 4);
  const v6 = podCIDRs.find((c) => parsePrefix(c).family === 6);
  const pick = (placeholder: string): string => {
    const cidr = placeholder === USE_POD_CIDR ? (v4 ?? v6) : v6;
    if (!cidr) throw new CniError(CniCode.TryAgainLater, `"${placeholder}" is used but the node has no ${placeholder === USE_POD_CIDR ? '' : 'IPv6 '}pod CIDR yet`);
    return cidr;
  };
  const walk = (v: unknown): unknown => {
    if (v === USE_POD_CIDR || v === USE_POD_CIDR_V6) return pick(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}

export function findPlugin(type: string, path: string[]): string {
  if (path.length === 0) throw new CniError(CniCode.InvalidEnvironment, `CNI_PATH is required to find the IPAM plugin '${type}'`);
  for (const dir of path) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next directory
    }
  }
  throw new CniError(CniCode.InvalidConfig, `IPAM plugin '${type}' not found in CNI_PATH ${path.join(':')}`);
}

interface ExecOutcome {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the delegate without blocking: the CNI server's DEL removes the veth (through its relay)
 * while the delegate releases the address, as two processes at once.
 */
function exec(file: string, command: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: { ...env, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new CniError(CniCode.IoFailure, `cannot run IPAM plugin ${file}`, e.message)));
    child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }));
    // A delegate that exits without reading its stdin is reported by its exit status.
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(config));
  });
}

function errorOf(file: string, command: string, out: ExecOutcome): CniError {
  let code: number = CniCode.IpamFailed;
  let msg = out.stderr.trim() || `exit status ${out.status}`;
  let details: string | undefined;
  try {
    const e = JSON.parse(out.stdout) as { code?: number; msg?: string; details?: string };
    if (typeof e.code === 'number') code = e.code;
    if (e.msg) msg = e.msg;
    details = e.details;
  } catch {
    // Not the spec's error JSON; keep stderr.
  }
  return new CniError(code, `IPAM plugin ${file} ${command} failed: ${msg}`, details);
}

/**
 * Versions learned by the dance below, per delegate and configured version: the agent's CNI
 * server runs many invocations in one process, and each would otherwise pay two extra execs
 * (the refused call and VERSION) on every ADD and DEL.
 */
const negotiated = new Map<string, string>();

/**
 * Runs the delegate. When it rejects the configuration's cniVersion (code 1; e.g. host-local
 * stops at 1.0.0 while the conflist says 1.1.0), asks it for VERSION and retries once with the
 * newest version both sides speak. Returns its stdout (parsed) for commands that produce one.
 */
export async function runDelegate(
  file: string,
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS',
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Promise<CniResult | undefined> {
  const wanted = String(config.cniVersion);
  const key = `${file}\0${wanted}`;
  const known = negotiated.get(key);
  let out = await exec(file, command, known ? { ...config, cniVersion: known } : config, env);
  if (out.status !== 0 && parseCode(out.stdout) === CniCode.IncompatibleVersion) {
    // Not even the version learned before: the delegate was replaced. Ask again.
    negotiated.delete(key);
    const lower = await commonVersion(file, wanted, env);
    if (lower && lower !== known) {
      negotiated.set(key, lower);
      out = await exec(file, command, { ...config, cniVersion: lower }, env);
    }
  }
  if (out.status !== 0) throw errorOf(file, command, out);
  if (command !== 'ADD') return undefined;
  try {
    return JSON.parse(out.stdout) as CniResult;
  } catch (e) {
    throw new CniError(CniCode.DecodeFailure, `IPAM plugin ${file} returned a result that is not JSON`, (e as Error).message);
  }
}

function parseCode(stdout: string): number | undefined {
  try {
    return (JSON.parse(stdout) as { code?: number }).code;
  } catch {
    return undefined;
  }
}

async function commonVersion(file: string, wanted: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const out = await exec(file, 'VERSION', { cniVersion: wanted }, env);
  try {
    const supported = (JSON.parse(out.stdout) as { supportedVersions?: string[] }).supportedVersions ?? [];
    // Results of 1.0.0 and 1.1.0 have one shape and 0.4.0 is converted on read: any version from
    // 0.4.0 up to the one we were given will do.
    return supported
      .filter((v) => compareVersions(v, wanted) < 0 && compareVersions(v, '0.4.0') >= 0)
      .sort(compareVersions)
      .at(-1);
  } catch {
    return undefined;
  }
}
