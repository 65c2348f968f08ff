/**
 * Turns objects as the API server or a YAML file gives them into model objects, checking every
 * field the model carries. Both datastores call these functions, so a bad object is refused the
 * same way whatever its source. Each problem is a ValidationIssue naming the field path; the file
 * datastore adds file, document and line.
 */
import { isIP } from 'node:net';
import type { FieldPath, ValidationIssue } from './errors.ts';
import {
  Defaults, FilterAction, Kind, LogSeverity, MatchOperator, NodeAnnotation, Redacted, SourceAddress,
  TORTIE_API_VERSION,
} from './model.ts';
import type {
  AddressWithPrefix, BGPConfiguration, BGPPassword, BGPPeer, CidrEntry, Community, FilterRule, ModelObject, Node, NodeAddress, Pod,
  Secret,
} from './model.ts';
import { isIPv4Dotted, parseAsNumber, parseCidr, parseDurationSeconds, parseHostPort } from './net.ts';
import { parseSelector } from './selector.ts';
import { DatastoreError } from './errors.ts';

export type ValidationResult<T> = { ok: true; object: T } | { ok: false; issues: ValidationIssue[] };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects issues while reading fields; each getter returns a usable fallback after an issue. */
class FieldReader {
  readonly issues: ValidationIssue[] = [];

  issue(path: FieldPath, message: string): void {
    this.issues.push({ path, message });
  }

  at(root: unknown, path: FieldPath): unknown {
    let cur = root;
    for (const seg of path) {
      if (cur === null || cur === undefined) return undefined;
      cur = (cur as Record<string | number, unknown>)[seg];
    }
    return cur;
  }

  obj(root: unknown, path: FieldPath): Obj | null {
    const v = this.at(root, path);
    if (v === undefined || v === null) return null;
    if (!isObj(v)) { this.issue(path, `must be an object, got ${describe(v)}`); return null; }
    return v;
  }

  list(root: unknown, path: FieldPath): unknown[] {
    const v = this.at(root, path);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) { this.issue(path, `must be a list, got ${describe(v)}`); return []; }
    return v;
  }

  str(root: unknown, path: FieldPath, required = false): string | null {
    const v = this.at(root, path);
    if (v === undefined || v === null) {
      if (required) this.issue(path, 'is required');
      return null;
    }
    if (typeof v !== 'string') { this.issue(path, `must be a string, got ${describe(v)}`); return null; }
    if (required && v === '') { this.issue(path, 'must not be empty'); return null; }
    return v;
  }

  bool(root: unknown, path: FieldPath, fallback: boolean): boolean {
    const v = this.at(root, path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') { this.issue(path, `must be true or false, got ${describe(v)}`); return fallback; }
    return v;
  }

  int(root: unknown, path: FieldPath, min: number, max: number): number | null {
    const v = this.at(root, path);
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.issue(path, `must be an integer ${min}..${max}, got ${describe(v)}`);
      return null;
    }
    return v;
  }

  stringMap(root: unknown, path: FieldPath): Record<string, string> {
    const o = this.obj(root, path);
    const out: Record<string, string> = {};
    if (!o) return out;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'string') this.issue([...path, k], `must be a string, got ${describe(v)}`);
      else out[k] = v;
    }
    return out;
  }

  ip(root: unknown, path: FieldPath): string | null {
    const s = this.str(root, path);
    if (s === null) return null;
    if (isIP(s) === 0) { this.issue(path, `'${s}' is not an IP address`); return null; }
    return s;
  }

  cidr(root: unknown, path: FieldPath, required = false): string | null {
    const s = this.str(root, path, required);
    if (s === null) return null;
    const c = parseCidr(s);
    if (typeof c === 'string') { this.issue(path, c); return null; }
    return s;
  }

  asNumber(root: unknown, path: FieldPath): number | null {
    const v = this.at(root, path);
    if (v === undefined || v === null) return null;
    const n = parseAsNumber(v);
    if (typeof n === 'string') { this.issue(path, n); return null; }
    return n;
  }

  duration(root: unknown, path: FieldPath, check?: (seconds: number) => string | null): number | null {
    const v = this.at(root, path);
    if (v === undefined || v === null) return null;
    const s = parseDurationSeconds(v);
    if (typeof s === 'string') { this.issue(path, s); return null; }
    const problem = check?.(s) ?? null;
    if (problem) { this.issue(path, problem); return null; }
    return s;
  }

  oneOf<T extends string>(root: unknown, path: FieldPath, allowed: readonly T[], fallback: T): T {
    const s = this.str(root, path);
    if (s === null) return fallback;
    // Case-insensitive, as Calico reads logSeverity ("info" and "Info" both work).
    const hit = allowed.find((a) => a.toLowerCase() === s.toLowerCase());
    if (!hit) { this.issue(path, `must be one of ${allowed.join(', ')}, got '${s}'`); return fallback; }
    return hit;
  }

  selector(root: unknown, path: FieldPath): string | null {
    const s = this.str(root, path);
    if (s === null) return null;
    try {
      parseSelector(s);
    } catch (err) {
      this.issue(path, err instanceof DatastoreError ? err.message : String(err));
      return null;
    }
    return s;
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function meta(r: FieldReader, raw: unknown, namespaced: boolean, defaultNamespace = 'default') {
  const name = r.str(raw, ['metadata', 'name'], true) ?? '';
  let namespace = '';
  if (namespaced) namespace = r.str(raw, ['metadata', 'namespace']) || defaultNamespace;
  const rv = r.at(raw, ['metadata', 'resourceVersion']);
  return {
    name,
    namespace,
    resourceVersion: typeof rv === 'string' ? rv : '',
    labels: r.stringMap(raw, ['metadata', 'labels']),
    annotations: r.stringMap(raw, ['metadata', 'annotations']),
  };
}

function finish<T extends ModelObject>(r: FieldReader, object: T): ValidationResult<T> {
  if (r.issues.length > 0) return { ok: false, issues: r.issues };
  return { ok: true, object: deepFreeze(object) };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Redacted) && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------

function addressAnnotation(r: FieldReader, annotations: Record<string, string>, key: string, family: 4 | 6): AddressWithPrefix | null {
  const v = annotations[key];
  if (v === undefined || v === '') return null;
  const path = ['metadata', 'annotations', key];
  const slash = v.indexOf('/');
  const address = slash < 0 ? v : v.slice(0, slash);
  if (isIP(address) !== family) {
    r.issue(path, `'${v}' is not an IPv${family} address (optionally with /length)`);
    return null;
  }
  if (slash < 0) return { address, prefixLength: null };
  const len = v.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) {
    r.issue(path, `prefix length '${len}' must be 0..${max}`);
    return null;
  }
  return { address, prefixLength: Number(len) };
}

export function validateNode(raw: unknown): ValidationResult<Node> {
  const r = new FieldReader();
  const m = meta(r, raw, false);
  const addresses: NodeAddress[] = [];
  r.list(raw, ['status', 'addresses']).forEach((_, i) => {
    const type = r.str(raw, ['status', 'addresses', i, 'type'], true);
    const address = r.str(raw, ['status', 'addresses', i, 'address'], true);
    if (type === null || address === null) return;
    if (type.endsWith('IP') && isIP(address) === 0) {
      r.issue(['status', 'addresses', i, 'address'], `'${address}' is not an IP address`);
      return;
    }
    addresses.push({ type, address });
  });
  const podCIDRs: string[] = [];
  const cidrList = r.list(raw, ['spec', 'podCIDRs']);
  cidrList.forEach((_, i) => {
    const c = r.cidr(raw, ['spec', 'podCIDRs', i]);
    if (c !== null) podCIDRs.push(c);
  });
  if (cidrList.length === 0) {
    const single = r.cidr(raw, ['spec', 'podCIDR']);
    if (single !== null && single !== '') podCIDRs.push(single);
  }
  const ann = m.annotations;
  let asNumber: number | null = null;
  if (ann[NodeAnnotation.asNumber] !== undefined) {
    const n = parseAsNumber(ann[NodeAnnotation.asNumber]);
    if (typeof n === 'string') r.issue(['metadata', 'annotations', NodeAnnotation.asNumber], n);
    else asNumber = n;
  }
  let clusterId: string | null = ann[NodeAnnotation.routeReflectorClusterId] ?? null;
  if (clusterId !== null && !isIPv4Dotted(clusterId)) {
    r.issue(['metadata', 'annotations', NodeAnnotation.routeReflectorClusterId], `'${clusterId}' must be a dotted quad like 224.0.0.1 (RFC 4456 7)`);
    clusterId = null;
  }
  return finish(r, {
    kind: Kind.Node,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    annotations: m.annotations,
    addresses,
    internalIPs: addresses.filter((a) => a.type === 'InternalIP').map((a) => a.address),
    podCIDRs,
    bgp: {
      ipv4Address: addressAnnotation(r, ann, NodeAnnotation.bgpIPv4Address, 4),
      ipv6Address: addressAnnotation(r, ann, NodeAnnotation.bgpIPv6Address, 6),
      asNumber,
      routeReflectorClusterId: clusterId,
    },
  });
}

export function validatePod(raw: unknown): ValidationResult<Pod> {
  const r = new FieldReader();
  const m = meta(r, raw, true);
  const podIPs: string[] = [];
  const list = r.list(raw, ['status', 'podIPs']);
  list.forEach((_, i) => {
    const ip = r.ip(raw, ['status', 'podIPs', i, 'ip']);
    if (ip !== null) podIPs.push(ip);
  });
  if (list.length === 0) {
    const ip = r.ip(raw, ['status', 'podIP']);
    if (ip !== null) podIPs.push(ip);
  }
  const deletion = r.at(raw, ['metadata', 'deletionTimestamp']);
  return finish(r, {
    kind: Kind.Pod,
    namespace: m.namespace,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    annotations: m.annotations,
    nodeName: r.str(raw, ['spec', 'nodeName']) ?? '',
    podIPs,
    phase: r.str(raw, ['status', 'phase']) ?? '',
    hostNetwork: r.bool(raw, ['spec', 'hostNetwork'], false),
    deleting: deletion !== undefined && deletion !== null,
  });
}

function cidrEntries(r: FieldReader, raw: unknown, path: FieldPath): CidrEntry[] {
  const out: CidrEntry[] = [];
  r.list(raw, path).forEach((_, i) => {
    const c = r.cidr(raw, [...path, i, 'cidr'], true);
    if (c !== null) out.push({ cidr: c });
  });
  return out;
}

const COMMUNITY = /^(\d+):(\d+)(?::(\d+))?$/;

function communityProblem(value: string): string | null {
  const m = COMMUNITY.exec(value);
  if (!m) return `'${value}' is not a community: write aa:nn (RFC 1997) or aa:nn:mm (RFC 8092)`;
  const parts = [m[1], m[2], m[3]].filter((p) => p !== undefined).map(Number);
  const limit = parts.length === 2 ? 0xffff : 0xffffffff;
  if (parts.some((p) => p > limit)) return `'${value}': each part must be at most ${limit}`;
  return null;
}

/** `{secretKeyRef: {name, key}}` at `path`, as both BGPPeer password and nodeMeshPassword are written. */
function bgpPassword(r: FieldReader, raw: unknown, path: FieldPath): BGPPassword | null {
  if (!r.obj(raw, path)) return null;
  const ref = [...path, 'secretKeyRef'];
  if (r.obj(raw, ref) === null) r.issue(ref, 'is required: the password comes from a Secret ({name, key})');
  const name = r.str(raw, [...ref, 'name'], true);
  const key = r.str(raw, [...ref, 'key'], true);
  return name !== null && key !== null ? { secretKeyRef: { name, key } } : null;
}

function restartTimeProblem(seconds: number): string | null {
  return !Number.isInteger(seconds) || seconds > 4095 ? 'must be whole seconds, at most 4095 (RFC 4724 3: 12-bit restart time)' : null;
}

export function validateBGPConfiguration(raw: unknown): ValidationResult<BGPConfiguration> {
  const r = new FieldReader();
  const m = meta(r, raw, false);
  if (m.name !== '' && m.name !== Defaults.bgpConfigurationName) {
    // Calico also reads per-node configurations (node.NAME); tortie uses node annotations instead.
    r.issue(['metadata', 'name'], `only the BGPConfiguration named '${Defaults.bgpConfigurationName}' is read; per-node settings are Node annotations (tortie.dev/*)`);
  }
  const communities: Community[] = [];
  r.list(raw, ['spec', 'communities']).forEach((_, i) => {
    const name = r.str(raw, ['spec', 'communities', i, 'name'], true);
    const value = r.str(raw, ['spec', 'communities', i, 'value'], true);
    if (name === null || value === null) return;
    const p = communityProblem(value);
    if (p) r.issue(['spec', 'communities', i, 'value'], p);
    else communities.push({ name, value });
  });
  const nodeMeshPassword = bgpPassword(r, raw, ['spec', 'nodeMeshPassword']);
  const nodeMeshMaxRestartTime = r.duration(raw, ['spec', 'nodeMeshMaxRestartTime'], restartTimeProblem);
  const meshEnabled = r.bool(raw, ['spec', 'nodeToNodeMeshEnabled'], Defaults.nodeToNodeMeshEnabled);
  // As Calico: the mesh settings are refused with the mesh off, rather than kept unused and surprising.
  if (!meshEnabled) {
    for (const field of ['nodeMeshPassword', 'nodeMeshMaxRestartTime']) {
      if (r.at(raw, ['spec', field]) !== undefined && r.at(raw, ['spec', field]) !== null) r.issue(['spec', field], 'cannot be set while spec.nodeToNodeMeshEnabled is false');
    }
  }
  return finish(r, {
    kind: Kind.BGPConfiguration,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    annotations: m.annotations,
    asNumber: r.asNumber(raw, ['spec', 'asNumber']) ?? Defaults.asNumber,
    nodeToNodeMeshEnabled: meshEnabled,
    listenPort: r.int(raw, ['spec', 'listenPort'], 1, 65535) ?? Defaults.listenPort,
    logSeverity: r.oneOf(raw, ['spec', 'logSeverity'], LogSeverity, Defaults.logSeverity),
    serviceClusterIPs: cidrEntries(r, raw, ['spec', 'serviceClusterIPs']),
    serviceExternalIPs: cidrEntries(r, raw, ['spec', 'serviceExternalIPs']),
    serviceLoadBalancerIPs: cidrEntries(r, raw, ['spec', 'serviceLoadBalancerIPs']),
    communities,
    nodeMeshPassword,
    nodeMeshMaxRestartTime,
  });
}

function filterRules(r: FieldReader, raw: unknown, path: FieldPath): FilterRule[] {
  const out: FilterRule[] = [];
  r.list(raw, path).forEach((_, i) => {
    const p = [...path, i];
    const cidr = r.cidr(raw, [...p, 'cidr'], true);
    if (r.at(raw, [...p, 'action']) === undefined) r.issue([...p, 'action'], 'is required (Accept or Reject)');
    if (r.at(raw, [...p, 'matchOperator']) === undefined) r.issue([...p, 'matchOperator'], 'is required (Equal, In or NotIn)');
    const action = r.oneOf(raw, [...p, 'action'], FilterAction, 'Accept');
    const matchOperator = r.oneOf(raw, [...p, 'matchOperator'], MatchOperator, 'In');
    // A community is a value or the name of one in BGPConfiguration (resolved by the agent);
    // something shaped like a value must be a valid one.
    const community = r.str(raw, [...p, 'community']);
    if (community !== null && /^[\d:]+$/.test(community)) {
      const problem = communityProblem(community);
      if (problem) r.issue([...p, 'community'], problem);
    }
    if (cidr !== null) out.push({ action, cidr, matchOperator, community: community || null });
  });
  return out;
}

export function validateBGPPeer(raw: unknown): ValidationResult<BGPPeer> {
  const r = new FieldReader();
  const m = meta(r, raw, false);
  const spec = ['spec'];
  if (r.obj(raw, spec) === null) r.issue(spec, 'is required');
  let peerIP: string | null = null;
  let port: number | null = null;
  const peerText = r.str(raw, ['spec', 'peerIP']);
  if (peerText !== null) {
    const hp = parseHostPort(peerText);
    if (typeof hp === 'string') r.issue(['spec', 'peerIP'], hp);
    else ({ address: peerIP, port } = hp);
  }
  const asNumber = r.asNumber(raw, ['spec', 'asNumber']);
  const node = r.str(raw, ['spec', 'node']);
  const nodeSelector = r.selector(raw, ['spec', 'nodeSelector']);
  const peerSelector = r.selector(raw, ['spec', 'peerSelector']);
  if (node !== null && nodeSelector !== null) r.issue(['spec', 'nodeSelector'], 'cannot be set together with spec.node');
  if (peerSelector !== null) {
    if (peerText !== null) r.issue(['spec', 'peerIP'], 'cannot be set together with spec.peerSelector');
    if (r.at(raw, ['spec', 'asNumber']) !== undefined) r.issue(['spec', 'asNumber'], 'cannot be set together with spec.peerSelector (the selected nodes\' AS numbers apply)');
  } else if (r.issues.every((i) => i.path.join('.') !== 'spec.peerIP')) {
    if (peerText === null) r.issue(['spec', 'peerIP'], 'is required (or spec.peerSelector)');
    if (r.at(raw, ['spec', 'asNumber']) === undefined) r.issue(['spec', 'asNumber'], 'is required with spec.peerIP');
  }
  const password = bgpPassword(r, raw, ['spec', 'password']);
  let sourceAddress: BGPPeer['sourceAddress'] = 'UseNodeIP';
  if (r.at(raw, ['spec', 'sourceAddress']) !== undefined) sourceAddress = r.oneOf(raw, ['spec', 'sourceAddress'], SourceAddress, 'UseNodeIP');
  // RFC 4271 4.2: the hold time is 0 or at least 3 seconds; it travels in 16 bits.
  const holdTime = r.duration(raw, ['spec', 'holdTime'], (s) =>
    !Number.isInteger(s) ? 'must be whole seconds' : s !== 0 && (s < 3 || s > 65535) ? 'must be 0 or 3s..65535s (RFC 4271 4.2)' : null);
  const keepaliveTime = r.duration(raw, ['spec', 'keepaliveTime'], (s) =>
    !Number.isInteger(s) ? 'must be whole seconds' : s > 21845 ? 'must be at most 21845s (a third of the largest hold time)' : null);
  if (holdTime !== null && keepaliveTime !== null && holdTime > 0 && keepaliveTime >= holdTime) {
    r.issue(['spec', 'keepaliveTime'], `must be shorter than holdTime (${holdTime}s); RFC 4271 4.4 suggests a third of it`);
  }
  const maxRestartTime = r.duration(raw, ['spec', 'maxRestartTime'], restartTimeProblem);
  return finish(r, {
    kind: Kind.BGPPeer,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    annotations: m.annotations,
    peerIP,
    port,
    asNumber,
    node,
    nodeSelector,
    peerSelector,
    password,
    sourceAddress,
    holdTime,
    keepaliveTime,
    maxPrefixes: r.int(raw, ['spec', 'maxPrefixes'], 1, 0xffffffff),
    maxRestartTime,
    routeReflectorClient: r.bool(raw, ['spec', 'routeReflectorClient'], false),
    importFilters: filterRules(r, raw, ['spec', 'importFilters']),
    exportFilters: filterRules(r, raw, ['spec', 'exportFilters']),
  });
}

export function validateSecret(raw: unknown, defaultNamespace: string = Defaults.secretNamespace): ValidationResult<Secret> {
  const r = new FieldReader();
  const m = meta(r, raw, true, defaultNamespace);
  const data: Record<string, Redacted> = {};
  const encoded = r.obj(raw, ['data']);
  for (const [k, v] of Object.entries(encoded ?? {})) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
      // Never echo the value: it is a secret even when malformed.
      r.issue(['data', k], 'must be a base64 string');
      continue;
    }
    data[k] = new Redacted(Buffer.from(v, 'base64').toString('utf8'));
  }
  const plain = r.obj(raw, ['stringData']);
  for (const [k, v] of Object.entries(plain ?? {})) {
    if (typeof v !== 'string') r.issue(['stringData', k], 'must be a string');
    else data[k] = new Redacted(v);
  }
  return finish(r, {
    kind: Kind.Secret,
    namespace: m.namespace,
    name: m.name,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    annotations: m.annotations,
    data,
  });
}

/** The apiVersion/kind pairs the file datastore reads, and their validators. */
const BY_TYPE: Record<string, (raw: unknown) => ValidationResult<ModelObject>> = {
  'v1/Node': validateNode,
  'v1/Pod': validatePod,
  'v1/Secret': (raw) => validateSecret(raw),
  [`${TORTIE_API_VERSION}/BGPConfiguration`]: validateBGPConfiguration,
  [`${TORTIE_API_VERSION}/BGPPeer`]: validateBGPPeer,
};

/** Validates an object carrying its own apiVersion and kind (as in a YAML file). */
export function validateAny(raw: unknown): ValidationResult<ModelObject> {
  if (!isObj(raw)) return { ok: false, issues: [{ path: [], message: `must be an object with apiVersion and kind, got ${describe(raw)}` }] };
  const apiVersion = raw.apiVersion;
  const kind = raw.kind;
  if (typeof apiVersion !== 'string') return { ok: false, issues: [{ path: ['apiVersion'], message: 'is required' }] };
  if (typeof kind !== 'string') return { ok: false, issues: [{ path: ['kind'], message: 'is required' }] };
  const v = BY_TYPE[`${apiVersion}/${kind}`];
  if (!v) {
    return { ok: false, issues: [{ path: ['kind'], message: `${apiVersion} ${kind} is not read here; expected one of ${Object.keys(BY_TYPE).map((t) => t.replace(/\/(?=[^/]*$)/, ' ')).join(', ')}` }] };
  }
  return v(raw);
}
