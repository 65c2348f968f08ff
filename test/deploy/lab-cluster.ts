// compose/tortie/cluster.yaml, the compose lab's cluster, as the deploy tests read it.
import { loadYamlDocuments } from './manifest-schemas.ts';
import type { KubeObject } from './manifest-schemas.ts';

export type LabNode = KubeObject & {
  metadata: { labels?: Record<string, string> };
  spec: { podCIDRs: string[] };
  status: { addresses: { type: string; address: string }[] };
};
export type LabPeer = KubeObject & { spec: { peerIP: string; asNumber: number; node?: string; nodeSelector?: string } };

const objects = loadYamlDocuments('compose/tortie/cluster.yaml').map((d) => d.object);
export const labNodes = objects.filter((o) => o.kind === 'Node') as LabNode[];
export const labPeers = objects.filter((o) => o.kind === 'BGPPeer') as LabPeer[];
export const labClusterAs = (objects.find((o) => o.kind === 'BGPConfiguration') as KubeObject & { spec: { asNumber: number } }).spec.asNumber;

export const internalIP = (node: LabNode): string | undefined => node.status.addresses.find((a) => a.type === 'InternalIP')?.address;

/** Whether a BGPPeer applies to a node. The lab uses only the selector form `label == 'value'`. */
export function peerSelectsNode(peer: LabPeer, node: LabNode): boolean {
  if (peer.spec.node !== undefined) return peer.spec.node === node.metadata.name;
  if (peer.spec.nodeSelector === undefined) return true;
  const match = /^\s*([\w./-]+)\s*==\s*'([^']*)'\s*$/.exec(peer.spec.nodeSelector);
  if (!match) throw new Error(`the lab's selectors are label == 'value', not ${peer.spec.nodeSelector}`);
  return node.metadata.labels?.[match[1]] === match[2];
}
