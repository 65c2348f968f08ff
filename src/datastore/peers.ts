/**
 * Questions the agent asks of the model about BGPPeers, answered the same way for both
 * datastores: which peers apply to a node, which nodes a peerSelector picks, and the password.
 */
import { Defaults } from './model.ts';
import type { BGPPeer, Node, Snapshot } from './model.ts';
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
 * The BGP password (RFC 2385 TCP MD5) of a peer, from the Secret its secretKeyRef names.
 * The reason on failure names the Secret and key, never a value.
 */
export function resolvePeerPassword(snapshot: Snapshot, peer: BGPPeer, secretNamespace: string = Defaults.secretNamespace): PasswordResult {
  if (peer.password === null) return { ok: true, password: null };
  const { name, key } = peer.password.secretKeyRef;
  const secret = snapshot.secrets.get(`${secretNamespace}/${name}`);
  if (!secret) return { ok: false, reason: `Secret ${secretNamespace}/${name} not found` };
  const value = secret.data[key];
  if (!value) return { ok: false, reason: `Secret ${secretNamespace}/${name} has no key '${key}'` };
  return { ok: true, password: value.reveal() };
}
