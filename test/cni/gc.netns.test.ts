import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../src/netns/netns.ts';
import { builtinConfig, CniNode } from './harness.ts';

// CNI spec 1.1 "GC": the runtime names the attachments still in use; everything else goes.
describe('GC', () => {
  let node: CniNode;
  let pods: Netns[];

  beforeAll(async () => {
    node = await CniNode.create();
    pods = [await node.pod(), await node.pod(), await node.pod()];
  });

  afterAll(async () => {
    await node?.destroy();
  });

  it('releases the addresses of attachments not in cni.dev/valid-attachments and keeps the rest', async () => {
    const conf = builtinConfig(node);
    const addrs: string[] = [];
    for (const [i, pod] of pods.entries()) {
      const r = await node.call({ command: 'ADD', containerId: `ctr-gc-${i}`, netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', config: conf });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      addrs.push((r.json as { ips: Array<{ address: string }> }).ips[0].address.split('/')[0]);
    }
    expect(node.allocations('tnet').sort()).toEqual([...addrs].sort());

    const valid = [
      { containerID: 'ctr-gc-0', ifname: 'eth0' },
      // Same container, other interface: not what ctr-gc-2 holds, so ctr-gc-2 is released.
      { containerID: 'ctr-gc-2', ifname: 'net1' },
      { containerID: 'ctr-gc-1', ifname: 'eth0' },
    ];
    const gc = await node.call({ command: 'GC', config: { ...conf, 'cni.dev/valid-attachments': valid } });
    expect(gc.exitCode, gc.stdout + gc.stderr).toBe(0);
    expect(node.allocations('tnet').sort()).toEqual([addrs[0], addrs[1]].sort());

    // Nothing valid any more: all released; a second GC finds nothing and still succeeds.
    const empty = { ...conf, 'cni.dev/valid-attachments': [] };
    expect((await node.call({ command: 'GC', config: empty })).exitCode).toBe(0);
    expect(node.allocations('tnet')).toEqual([]);
    expect((await node.call({ command: 'GC', config: empty })).exitCode).toBe(0);
  });
});
