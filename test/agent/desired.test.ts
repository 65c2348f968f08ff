/**
 * desired.ts: what a node runs, from the model alone. Snapshots come from the file datastore
 * reading YAML, the same path the agent takes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { desiredBgp, desiredLocalRoutes, filtersToPolicy, originatedPrefixes, samePeerConfig } from '../../src/agent/desired.ts';
import { FileDatastore } from '../../src/datastore/index.ts';
import type { Snapshot } from '../../src/datastore/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tw-desired-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function snapshot(yaml: string, nodeName = 'a'): Promise<Snapshot> {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, yaml);
  const ds = new FileDatastore({ path, nodeName, fsWatch: false, statusFiles: false });
  await ds.start();
  const s = ds.snapshot();
  await ds.stop();
  return s;
}

const node = (name: string, addr: string, cidr: string, extra = '') =>
  `apiVersion: v1\nkind: Node\nmetadata:\n  name: ${name}\n${extra}spec:\n  podCIDRs: [${cidr}]\nstatus:\n  addresses:\n    - type: InternalIP\n      address: ${addr}\n---\n`;
const pod = (name: string, nodeName: string, ip: string, more = '') =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: default\nspec:\n  nodeName: ${nodeName}\n${more}status:\n  phase: Running\n  podIPs:\n    - ip: ${ip}\n---\n`;
const THREE = node('a', '198.51.100.1', '10.0.1.0/24') + node('b', '198.51.100.2', '10.0.2.0/24') + node('c', '198.51.100.3', '10.0.3.0/24');
const self = { name: 'a', ipv4: '198.51.100.1', ipv6: null };
const opts = { advertisePodRoutes: false, listenPort: null };

describe('desired BGP configuration', () => {
  it('meshes with every other node, the lower address dialling, at the cluster AS', async () => {
    const d = desiredBgp(await snapshot(THREE), self, opts);
    expect(d.localAsn).toBe(64512);
    expect(d.routerId).toBe('198.51.100.1');
    expect([...d.peers.keys()].sort()).toEqual(['198.51.100.2', '198.51.100.3']);
    expect(d.peers.get('198.51.100.2')).toMatchObject({ type: 'mesh', config: { asn: 64512, mode: 'mesh', localAddress: '198.51.100.1', port: 179, allowClusterRanges: true } });
    expect(d.clusterRanges).toEqual(['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24']);
    expect(d.problems).toEqual([]);
  });

  it('has no mesh when nodeToNodeMeshEnabled is false, and takes AS numbers from annotations', async () => {
    const cfg = `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  asNumber: 64600\n  nodeToNodeMeshEnabled: false\n---\n`;
    expect((desiredBgp(await snapshot(cfg + THREE), self, opts)).peers.size).toBe(0);
    const annotated = node('a', '198.51.100.1', '10.0.1.0/24', '  annotations:\n    tortie.dev/as-number: "65001"\n') + node('b', '198.51.100.2', '10.0.2.0/24', '  annotations:\n    tortie.dev/as-number: "65002"\n');
    const d = desiredBgp(await snapshot(annotated), self, opts);
    expect(d.localAsn).toBe(65001);
    expect(d.peers.get('198.51.100.2')!.config.asn).toBe(65002);
  });

  it('applies BGPPeers by node and nodeSelector; a node-specific peer wins over the mesh; peerSelector picks nodes', async () => {
    const peers =
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: tor\nspec:\n  peerIP: 198.51.100.9\n  asNumber: 65009\n  maxRestartTime: 90s\n  holdTime: 30s\n  keepaliveTime: 5s\n  node: a\n---\n` +
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: other\nspec:\n  peerIP: 198.51.100.8\n  asNumber: 65008\n  node: b\n---\n` +
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: rr\nspec:\n  peerSelector: role == 'rr'\n---\n`;
    const withRr = THREE.replace('name: c\n', "name: c\n  labels:\n    role: rr\n");
    const d = desiredBgp(await snapshot(withRr + peers), self, opts);
    expect(d.peers.get('198.51.100.9')).toMatchObject({ type: 'node', origin: 'BGPPeer tor', config: { asn: 65009, allowClusterRanges: false, mode: 'both', gracefulRestartTime: 90, holdTime: 30, keepaliveTime: 5 } });
    expect(d.peers.get('198.51.100.3')!.config.gracefulRestartTime).toBeUndefined();
    expect(d.peers.has('198.51.100.8')).toBe(false);
    // c is a mesh peer and chosen by the rr BGPPeer: the BGPPeer wins, still dialled one way.
    expect(d.peers.get('198.51.100.3')).toMatchObject({ origin: 'BGPPeer rr', config: { mode: 'mesh', allowClusterRanges: true } });
  });

  it('refuses a peer at our own address and NotIn filters, naming the BGPPeer', async () => {
    const peers =
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: self\nspec:\n  peerIP: 198.51.100.1\n  asNumber: 65009\n---\n` +
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: notin\nspec:\n  peerIP: 198.51.100.7\n  asNumber: 65007\n  importFilters:\n    - cidr: 10.0.0.0/8\n      matchOperator: NotIn\n      action: Reject\n---\n`;
    const d = desiredBgp(await snapshot(THREE + peers), self, opts);
    expect(d.peers.has('198.51.100.1')).toBe(false);
    expect(d.peers.has('198.51.100.7')).toBe(false);
    expect(d.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subject: 'BGPPeer self', code: 'TORTIE_PEER_IS_SELF' }),
        expect.objectContaining({ subject: 'BGPPeer notin', peer: '198.51.100.7', code: 'TORTIE_BAD_FILTER', message: expect.stringContaining('NotIn') }),
      ]),
    );
  });

  it('passes a BGPPeer password from its Secret to the peer, and refuses the peer when the Secret or key is missing', async () => {
    const peer = (name: string, ip: string, key: string) =>
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: ${name}\nspec:\n  peerIP: ${ip}\n  asNumber: 65009\n  password:\n    secretKeyRef: {name: bgp, key: ${key}}\n---\n`;
    const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: bgp, namespace: tortie-system}\nstringData: {tor: s3cret-tor}\n---\n`;
    const d = desiredBgp(await snapshot(THREE + peer('tor', '198.51.100.9', 'tor') + peer('nokey', '198.51.100.8', 'other') + secret), self, opts);
    expect(d.peers.get('198.51.100.9')!.config.password).toBe('s3cret-tor');
    expect(d.peers.has('198.51.100.8')).toBe(false);
    expect(d.problems).toEqual([expect.objectContaining({ subject: 'BGPPeer nokey', peer: '198.51.100.8', code: 'TORTIE_PEER_PASSWORD', message: expect.stringContaining("no key 'other'") })]);
    expect(JSON.stringify(d.problems)).not.toContain('s3cret');
    // Mesh peers carry no password.
    expect(d.peers.get('198.51.100.2')!.config.password).toBeUndefined();
  });

  it('signs every mesh session with nodeMeshPassword and offers nodeMeshMaxRestartTime to mesh peers only', async () => {
    const config = `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata: {name: default}\nspec:\n  nodeMeshPassword:\n    secretKeyRef: {name: mesh, key: pw}\n  nodeMeshMaxRestartTime: 2m\n---\n`;
    const tor = `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata: {name: tor}\nspec: {peerIP: 198.51.100.9, asNumber: 65009}\n---\n`;
    const secret = (pw: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: mesh, namespace: tortie-system}\nstringData: {pw: ${pw}}\n---\n`;
    const d = desiredBgp(await snapshot(THREE + config + tor + secret('m3sh-one')), self, opts);
    for (const key of ['198.51.100.2', '198.51.100.3']) {
      expect(d.peers.get(key)).toMatchObject({ type: 'mesh', hasPassword: true, config: { password: 'm3sh-one', gracefulRestartTime: 120 } });
    }
    const external = d.peers.get('198.51.100.9')!;
    expect([external.hasPassword, external.config.password, external.config.gracefulRestartTime]).toEqual([false, undefined, undefined]);
    expect(d.problems).toEqual([]);
    // A new mesh password changes every mesh peer's configuration (the wiring re-creates those
    // sessions) and no other peer's.
    const rotated = desiredBgp(await snapshot(THREE + config + tor + secret('m3sh-two')), self, opts);
    const changed = [...rotated.peers.keys()].filter((k) => !samePeerConfig(rotated.peers.get(k)!.config, d.peers.get(k)!.config));
    expect(changed.sort()).toEqual(['198.51.100.2', '198.51.100.3']);
  });

  it('starts no mesh session while the mesh password\'s Secret is missing, one problem for the mesh, other peers unaffected', async () => {
    const config = `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata: {name: default}\nspec:\n  nodeMeshPassword:\n    secretKeyRef: {name: mesh, key: pw}\n---\n`;
    const tor = `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata: {name: tor}\nspec: {peerIP: 198.51.100.9, asNumber: 65009}\n---\n`;
    const d = desiredBgp(await snapshot(THREE + config + tor), self, opts);
    expect([...d.peers.keys()]).toEqual(['198.51.100.9']);
    // One problem per mesh peer (the wiring keeps each running session as it was), all with the
    // same text so that it is reported once.
    expect(d.problems.map((p) => p.peer).sort()).toEqual(['198.51.100.2', '198.51.100.3']);
    expect(new Set(d.problems.map((p) => `${p.code}|${p.subject}|${p.message}`))).toEqual(new Set([
      "TORTIE_PEER_PASSWORD|BGPConfiguration default|nodeMeshPassword: Secret tortie-system/mesh not found: the mesh password is unknown, so mesh sessions are not started or changed",
    ]));
  });

  it('turns filters into a first-match policy: Equal exact, In with every longer prefix, communities', () => {
    const p = filtersToPolicy(
      [
        { action: 'Accept', cidr: '10.1.0.0/16', matchOperator: 'In', community: 'edge' },
        { action: 'Reject', cidr: '10.2.0.0/16', matchOperator: 'Equal', community: null },
      ],
      new Map([['edge', '65000:100']]),
      'export',
    );
    expect(p).toEqual({
      defaultAction: 'accept',
      rules: [
        { name: 'exportFilters[0]', match: { prefixes: [{ prefix: '10.1.0.0/16', ge: 16, le: 32 }] }, action: 'accept', set: { addCommunities: ['65000:100'] } },
        { name: 'exportFilters[1]', match: { prefixes: [{ prefix: '10.2.0.0/16', ge: 16, le: 16 }] }, action: 'reject' },
      ],
    });
  });
});

describe('originated prefixes and local routes', () => {
  const pods = pod('in', 'a', '10.0.1.5') + pod('out', 'a', '10.9.0.7') + pod('host', 'a', '198.51.100.1', '  hostNetwork: true\n') + pod('elsewhere', 'b', '10.0.2.9');

  it('originates each block, plus a /32 for pods outside the blocks (every pod with --advertise-pod-routes)', async () => {
    const s = await snapshot(THREE + pods);
    expect([...originatedPrefixes(s, 'a', false)].sort()).toEqual(['10.0.1.0/24', '10.9.0.7/32']);
    expect([...originatedPrefixes(s, 'a', true)].sort()).toEqual(['10.0.1.0/24', '10.0.1.5/32', '10.9.0.7/32']);
  });

  it("routes each local pod to its host veth, named as the CNI names it, and blackholes the node's blocks", async () => {
    const s = await snapshot(THREE + pods);
    const r = desiredLocalRoutes(s, 'a', (ns, name) => `tor-${ns}-${name}`);
    expect(Object.fromEntries(r.workloads)).toEqual({ '10.0.1.5/32': 'tor-default-in', '10.9.0.7/32': 'tor-default-out' });
    expect([...r.blackholes]).toEqual(['10.0.1.0/24']);
  });
});
