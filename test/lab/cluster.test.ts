import { describe, expect, it } from 'vitest';
import { parseObjectsFile } from '../../src/datastore/file/parse.ts';
import { clusterYaml } from '../../src/lab/cluster.ts';
import { planLab } from '../../src/lab/plan.ts';

// The lab's datastore file must be one the file datastore accepts as it is: parse it with the
// datastore's own reader and check what the model gets.
describe('lab cluster file', () => {
  it('holds every Node with its pod CIDRs and InternalIP, the BGPConfiguration and the router peer', () => {
    const plan = planLab({ prefix: 'tortie', nodes: 3 });
    const parsed = parseObjectsFile(clusterYaml(plan, []), 'cluster.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const objects = parsed.objects.map((o) => o.object);
    const nodes = objects.filter((o) => o.kind === 'Node');
    expect(nodes.map((n) => n.kind === 'Node' && [n.name, n.podCIDRs, n.internalIPs])).toEqual([
      ['tortie-node1', ['10.244.1.0/24'], ['198.51.100.11']],
      ['tortie-node2', ['10.244.2.0/24'], ['198.51.100.12']],
      ['tortie-node3', ['10.244.3.0/24'], ['198.51.100.13']],
    ]);
    const config = objects.find((o) => o.kind === 'BGPConfiguration');
    expect(config).toMatchObject({ asNumber: 64512, nodeToNodeMeshEnabled: true });
    const peers = objects.filter((o) => o.kind === 'BGPPeer');
    expect(peers).toHaveLength(1);
    expect(peers[0]).toMatchObject({ name: 'lab-router', peerIP: '198.51.100.1', asNumber: 64600, holdTime: 9, keepaliveTime: 3 });
    expect(objects.filter((o) => o.kind === 'Pod')).toEqual([]);
  });

  it('records pods with their addresses on their node, and a second router peer for IPv6', () => {
    const plan = planLab({ prefix: 'tortie', nodes: 2, ipv6: true });
    const pods = [{ name: 'pod-2-a', namespace: 'default', nodeName: 'tortie-node2', ips: ['10.244.2.1', 'fd00:10:244:2::1'] }];
    const parsed = parseObjectsFile(clusterYaml(plan, pods), 'cluster.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const objects = parsed.objects.map((o) => o.object);
    expect(objects.find((o) => o.kind === 'Pod')).toMatchObject({ name: 'pod-2-a', namespace: 'default', nodeName: 'tortie-node2', podIPs: ['10.244.2.1', 'fd00:10:244:2::1'], phase: 'Running' });
    expect(objects.filter((o) => o.kind === 'BGPPeer').map((p) => p.kind === 'BGPPeer' && p.peerIP)).toEqual(['198.51.100.1', '2001:db8::1']);
    const node2 = objects.find((o) => o.kind === 'Node' && o.name === 'tortie-node2');
    expect(node2).toMatchObject({ podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'], internalIPs: ['198.51.100.12', '2001:db8::12'] });
  });
});
