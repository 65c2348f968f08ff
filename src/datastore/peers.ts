/**
 * Questions the agent asks of the model about BGPPeers, answered the same way for both
 * datastores: which peers apply to a node, which nodes a peerSelector picks, and the passwords
 * (a BGPPeer's, and the mesh's from BGPConfiguration nodeMeshPassword).
 */
import { Defaults, Kind } from './model.ts';
import type { BGPPassword, BGPPeer, ModelObject, Node, Snapshot } from './model.ts';
import { selectorMatches } from './selector.ts';

/** Calico's rule: `node` names one node, `nodeSelector` picks nodes by label, neither means every node. */
export function peerAppliesToNode(peer: BGPPeer, node: Node): boolean {
  if (peer.node !== null) return peer.node === node.name;
  if (peer.nodeSelector !== null) return selectorMatches(peer.nodeSelector, node.labels);
  return true;
}

/** Nodes chosen as peers by a BGPPeer's peerSelector (none when it has a peerIP instead). */
export function nodesSelectedAsPeers(peer: BGPPeer, nodes: Iterable<Node>): Node[] {
  if (peer.peerSelector === null) return [];
  return [...nodes].filter((n) => selectorMatches(peer.peerSelector, n.labels));
}

export type PasswordResult =
  | { ok: true; password: string | null }
  | { ok: false; reason: string };

/**
 * A BGP password (RFC 2385 TCP MD5) from the Secret its secretKeyRef names; null when none is
 * configured. The reason on failure names the Secret and key, never a value.
 */
export function resolvePassword(snapshot: Snapshot, ref: BGPPassword | null, secretNamespace: string = Defaults.secretNamespace): PasswordResult {
  if (ref === null) return { ok: true, password: null };
  const { name, key } = ref.secretKeyRef;
  const secret = snapshot.secrets.get(`${secretNamespace}/${name}`);
  if (!secret) return { ok: false, reason: `Secret ${secretNamespace}/${name} not found` };
  const value = secret.data[key];
  if (!value) return { ok: false, reason: `Secret ${secretNamespace}/${name} has no key '${key}'` };
  return { ok: true, password: value.reveal() };
}

/** The password of a BGPPeer. */
export function resolvePeerPassword(snapshot: Snapshot, peer: BGPPeer, secretNamespace: string = Defaults.secretNamespace): PasswordResult {
  return resolvePassword(snapshot, peer.password, secretNamespace);
}

/**
 * Secret name -> the objects whose passwords it holds (`BGPPeer NAME`, `BGPConfiguration default`).
 * Both datastores read only these Secrets: the agent has no business with any other.
 */
export function passwordSecretReferences(objects: Iterable<ModelObject>): Map<string, string[]> {
  const refs = new Map<string, string[]>();
  const add = (ref: BGPPassword | null, subject: string) => {
    if (ref) refs.set(ref.secretKeyRef.name, [...(refs.get(ref.secretKeyRef.name) ?? []), subject]);
  };
  for (const o of objects) {
    if (o.kind === Kind.BGPPeer) add(o.password, `BGPPeer ${o.name}`);
    // Only the `default` BGPConfiguration is honoured, so only its mesh password is read.
    else if (o.kind === Kind.BGPConfiguration && o.name === Defaults.bgpConfigurationName) add(o.nodeMeshPassword, `BGPConfiguration ${o.name}`);
  }
  return refs;
}
