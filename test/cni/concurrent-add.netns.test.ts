import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, uniqueName } from '../../src/netns/netns.ts';
import { builtinConfig, CniNode } from './harness.ts';

// The kubelet starts many sandboxes at once; the built-in IPAM must hand out distinct addresses
// to concurrent processes without a lock server.
describe('50 concurrent ADDs', () => {
  const COUNT = 50;
  let node: CniNode;
  const pods: Netns[] = [];

  beforeAll(async () => {
    node = await CniNode.create();
    for (let i = 0; i < COUNT; i += 10) {
      pods.push(...(await Promise.all(Array.from({ length: Math.min(10, COUNT - i) }, () => Netns.create(uniqueName('tn'))))));
    }
  });

  afterAll(async () => {
    await Promise.all(pods.map((p) => p.destroy()));
    await node?.destroy();
  });

  it('get 50 distinct addresses, and DEL frees them all', async () => {
    // A /26 minus network and broadcast is 62 addresses: enough, but collisions are certain.
    const conf = builtinConfig(node, {}, { blocks: ['10.77.1.0/26'] });
    const call = (command: string, i: number) =>
      node.call({ command, containerId: `ctr-${i}`, netns: `/var/run/netns/${pods[i].name}`, ifname: 'eth0', args: `K8S_POD_NAMESPACE=load;K8S_POD_NAME=pod-${i}`, config: conf });

    const adds = await Promise.all(pods.map((_, i) => call('ADD', i)));
    for (const r of adds) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const addresses = adds.map((r) => (r.json as { ips: Array<{ address: string }> }).ips[0].address);
    expect(new Set(addresses).size).toBe(COUNT);
    for (const a of addresses) expect(a).toMatch(/^10\.77\.1\.(\d|[1-5]\d|6[0-2])\/32$/);
    expect(node.allocations('tnet')).toHaveLength(COUNT);
    expect(await node.podRoutes()).toHaveLength(COUNT);
    expect(await node.extraHostLinks()).toHaveLength(COUNT);

    const dels = await Promise.all(pods.map((_, i) => call('DEL', i)));
    for (const r of dels) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(node.allocations('tnet')).toEqual([]);
    expect(await node.podRoutes()).toEqual([]);
    expect(await node.extraHostLinks()).toEqual([]);
  });
});
