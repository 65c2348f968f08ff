/**
 * The JSON the CNI specification exchanges between runtime and plugin (SPEC.md "Result Types"),
 * for the versions tortie speaks. Results are held in the 1.x shape; `resultForVersion` renders
 * them for the configuration's cniVersion.
 */

/** Every version tortie accepts in a configuration, oldest first. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
/** GC and STATUS exist only from this version on (CNI spec 1.1). */
export const GC_STATUS_MIN_VERSION: CniVersion = '1.1.0';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** Set for interfaces inside the container: the CNI_NETNS they live in. */
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR notation: the address and the prefix length it is configured with. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
  /** 0.4.0 only: "4" or "6". */
  version?: '4' | '6';
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** One entry of `cni.dev/valid-attachments` in a GC request. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Renders a result for `version`. 0.4.0 differs from 1.x in that every IP carries a `version`
 * field (SPEC 0.4.0 "Result"), which 1.0.0 dropped; an interface's `mtu` exists from 1.1.0.
 */
export function resultForVersion(result: CniResult, version: string): CniResult {
  const legacy = compareVersions(version, '1.0.0') < 0;
  const withMtu = compareVersions(version, '1.1.0') >= 0;
  const ips = result.ips?.map((ip) => {
    const { version: _v, ...rest } = ip;
    return legacy ? { ...rest, version: ip.address.includes(':') ? ('6' as const) : ('4' as const) } : rest;
  });
  const interfaces = result.interfaces?.map((i) => {
    if (withMtu) return i;
    const { mtu: _m, ...rest } = i;
    return rest;
  });
  return { ...result, cniVersion: version, ...(interfaces ? { interfaces } : {}), ...(ips ? { ips } : {}) };
}
