/** Kubernetes objects as the API server returns them, for datastore tests. */
import type { ChangeEvent } from '../../src/datastore/model.ts';

export const NODES = '/api/v1/nodes';
export const PODS = '/api/v1/pods';
export const PEERS = '/apis/tortie.dev/v1alpha1/bgppeers';
export const CONFIGS = '/apis/tortie.dev/v1alpha1/bgpconfigurations';
export const STATUSES = '/apis/tortie.dev/v1alpha1/bgpstatuses';
export const secretsPath = (ns: string) => `/api/v1/namespaces/${ns}/secrets`;

export function node(name: string, ip: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; podCIDR?: string } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: extra.labels ?? {}, annotations: extra.annotations ?? {} },
    spec: { podCIDRs: [extra.podCIDR ?? '10.244.0.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
  };
}

export function pod(namespace: string, name: string, nodeName: string, ip: string | null, phase = 'Running') {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name },
    spec: { nodeName },
    status: { phase, ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}) },
  };
}

export function peer(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'tortie.dev/v1alpha1', kind: 'BGPPeer', metadata: { name }, spec };
}

export function bgpConfig(spec: Record<string, unknown>, name = 'default') {
  return { apiVersion: 'tortie.dev/v1alpha1', kind: 'BGPConfiguration', metadata: { name }, spec };
}

export function secret(namespace: string, name: string, data: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace, name },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** A change event in one line, with the detail that tells versions apart. */
export function describeEvent(e: ChangeEvent): string {
  const o = e.object ?? e.previous!;
  let detail = '';
  switch (o.kind) {
    case 'Node': detail = `${o.internalIPs.join(',')} ${JSON.stringify(o.labels)}`; break;
    case 'Pod': detail = `${o.podIPs.join(',')} ${o.phase}`; break;
    case 'BGPPeer': detail = `${o.peerIP ?? o.peerSelector} as${o.asNumber}`; break;
    case 'BGPConfiguration': detail = `as${o.asNumber} mesh=${o.nodeToNodeMeshEnabled}`; break;
    case 'Secret': detail = Object.keys(o.data).join(','); break;
  }
  return e.type === 'deleted' ? `${e.type} ${e.kind} ${e.key}` : `${e.type} ${e.kind} ${e.key} ${detail}`;
}
