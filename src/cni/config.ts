/**
 * The network configuration tortie-cni receives on stdin: the spec's common keys, tortie's own
 * keys, and the runtime-provided ones (prevResult, cni.dev/valid-attachments). Validation names
 * the key that is wrong; errors map to the spec's codes 1 (version), 6 (decode) and 7 (config).
 */
import { CniCode, CniError } from './errors.ts';
import { parsePrefix } from './ip.ts';
import { DEFAULT_NODE_STATE_FILE } from './node-state.ts';
import { isSupportedVersion, SUPPORTED_VERSIONS, type Attachment, type CniResult, type CniVersion } from './types.ts';

/** `ipam.type` that selects the allocator built into this plugin instead of an external one. */
export const BUILTIN_IPAM = 'tortie-ipam';
export const DEFAULT_IPAM_DATA_DIR = '/var/lib/tortie/ipam';
export const DEFAULT_MTU = 1500;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export type IpamConf =
  | {
      kind: 'builtin';
      /** Where allocations persist: one file per address, under a directory per network name. */
      dataDir: string;
      /** Explicit blocks to allocate from; absent means the node state's blocks or pod CIDRs. */
      blocks?: string[];
    }
  | {
      kind: 'delegate';
      /** The executable's name, looked up in CNI_PATH. */
      type: string;
    };

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  mtu: number;
  nodeStateFile: string;
  /** STATUS is not ready when the node state is older than this; 0 turns the check off. */
  nodeStateMaxAgeSeconds: number;
  logLevel: LogLevel;
  ipam: IpamConf;
  prevResult?: CniResult;
  validAttachments?: Attachment[];
  /** The configuration exactly as received, passed on to a delegated IPAM plugin. */
  raw: Record<string, unknown>;
}

const invalid = (msg: string) => new CniError(CniCode.InvalidConfig, msg);

/** Parses stdin. `command` decides which runtime-provided keys are required. */
export function parseNetConf(stdin: string, command: string): NetConf {
  let json: unknown;
  try {
    json = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CniCode.DecodeFailure, 'network configuration on stdin is not valid JSON', (e as Error).message);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CniError(CniCode.DecodeFailure, 'network configuration on stdin must be a JSON object');
  }
  const raw = json as Record<string, unknown>;

  const version = raw.cniVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `incompatible CNI version ${JSON.stringify(version)}`,
      `tortie-cni supports ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  if (typeof raw.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(raw.name)) {
    throw invalid(`"name" must be a network name of letters, digits, '_', '.' and '-' (got ${JSON.stringify(raw.name)})`);
  }
  if (typeof raw.type !== 'string' || raw.type === '') throw invalid('"type" must name the plugin');

  const mtu = raw.mtu ?? DEFAULT_MTU;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw invalid(`"mtu" must be an integer from 68 to 65535 (got ${JSON.stringify(raw.mtu)})`);
  }
  const nodeStateFile = raw.nodeStateFile ?? DEFAULT_NODE_STATE_FILE;
  if (typeof nodeStateFile !== 'string' || !nodeStateFile.startsWith('/')) throw invalid('"nodeStateFile" must be an absolute path');
  const maxAge = raw.nodeStateMaxAgeSeconds ?? 0;
  if (typeof maxAge !== 'number' || !(maxAge >= 0)) throw invalid('"nodeStateMaxAgeSeconds" must be a number of seconds, 0 for no limit');
  const logLevel = raw.logLevel ?? 'warn';
  if (logLevel !== 'error' && logLevel !== 'warn' && logLevel !== 'info' && logLevel !== 'debug') {
    throw invalid(`"logLevel" must be one of error, warn, info, debug (got ${JSON.stringify(logLevel)})`);
  }

  const conf: NetConf = {
    cniVersion: version,
    name: raw.name,
    type: raw.type,
    mtu,
    nodeStateFile,
    nodeStateMaxAgeSeconds: maxAge,
    logLevel,
    ipam: parseIpam(raw.ipam, command),
    raw,
  };
  if (raw.prevResult !== undefined) conf.prevResult = parsePrevResult(raw.prevResult);
  if (command === 'GC') conf.validAttachments = parseAttachments(raw['cni.dev/valid-attachments']);
  return conf;
}

function parseIpam(value: unknown, command: string): IpamConf {
  // VERSION and STATUS do not allocate; a config without ipam is still good enough for them.
  if (value === undefined && (command === 'VERSION' || command === 'STATUS')) return { kind: 'builtin', dataDir: DEFAULT_IPAM_DATA_DIR };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('"ipam" must be an object with a "type"');
  const ipam = value as Record<string, unknown>;
  if (typeof ipam.type !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(ipam.type)) {
    throw invalid(`"ipam.type" must name an IPAM plugin (got ${JSON.stringify(ipam.type)})`);
  }
  if (ipam.type !== BUILTIN_IPAM) return { kind: 'delegate', type: ipam.type };

  const dataDir = ipam.dataDir ?? DEFAULT_IPAM_DATA_DIR;
  if (typeof dataDir !== 'string' || !dataDir.startsWith('/')) throw invalid('"ipam.dataDir" must be an absolute path');
  if (ipam.blocks === undefined) return { kind: 'builtin', dataDir };
  if (!Array.isArray(ipam.blocks) || ipam.blocks.length === 0) throw invalid('"ipam.blocks" must be a non-empty array of prefixes');
  for (const b of ipam.blocks) {
    if (typeof b !== 'string') throw invalid('"ipam.blocks" must contain prefixes such as "10.244.1.0/24"');
    try {
      parsePrefix(b);
    } catch (e) {
      throw invalid(`"ipam.blocks": ${(e as Error).message}`);
    }
  }
  return { kind: 'builtin', dataDir, blocks: ipam.blocks as string[] };
}

function parsePrevResult(value: unknown): CniResult {
  if (typeof value !== 'object' || value === null) throw invalid('"prevResult" must be an object');
  const r = value as CniResult;
  if (r.ips !== undefined && (!Array.isArray(r.ips) || r.ips.some((ip) => typeof ip?.address !== 'string'))) {
    throw invalid('"prevResult.ips" must be a list of {address}');
  }
  if (r.interfaces !== undefined && (!Array.isArray(r.interfaces) || r.interfaces.some((i) => typeof i?.name !== 'string'))) {
    throw invalid('"prevResult.interfaces" must be a list of {name}');
  }
  return r;
}

function parseAttachments(value: unknown): Attachment[] {
  // CNI spec 1.1 "GC": the runtime lists every attachment still in use on this network.
  // Required: read as "nothing is valid", a missing list would release every address.
  if (!Array.isArray(value)) throw invalid('GC needs "cni.dev/valid-attachments", a list of {containerID, ifname}');
  return value.map((a, i) => {
    if (typeof a?.containerID !== 'string' || typeof a?.ifname !== 'string') {
      throw invalid(`"cni.dev/valid-attachments"[${i}] must have string containerID and ifname`);
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}
