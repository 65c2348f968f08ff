import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../src/netns/netns.ts';
import { writeNodeState } from '../../src/cni/node-state.ts';
import { CniNode, HOST_ADDRESS } from './harness.ts';

// IPAM by delegation (CNI spec "Delegated plugins") to the reference host-local plugin from
// containernetworking-plugins, with the node's pod CIDR put in for "usePodCidr".
describe('delegated IPAM with host-local', () => {
  let node: CniNode;
  let pod: Netns;
  let conf: Record<string, unknown>;
  let hostLocalDir: string;

  beforeAll(async () => {
    node = await CniNode.create();
    pod = await node.pod();
    hostLocalDir = join(node.dataDir, 'host-local');
    writeNodeState(join(node.dataDir, 'node.json'), { nodeName: 'node-1', podCIDRs: ['10.88.4.0/24'] });
    conf = {
      cniVersion: '1.1.0',
      name: 'tnet-hl',
      type: 'tortie-cni',
      nodeStateFile: join(node.dataDir, 'node.json'),
      ipam: { type: 'host-local', dataDir: hostLocalDir, ranges: [[{ subnet: 'usePodCidr' }]] },
    };
  });

  afterAll(async () => {
    await node?.destroy();
  });

  const reservations = () => {
    try {
      return readdirSync(join(hostLocalDir, 'tnet-hl')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    } catch {
      return [];
    }
  };

  it('ADD takes the address host-local gives from the node pod CIDR, DEL gives it back', async () => {
    const call = { command: 'ADD', containerId: 'ctr-hl', netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=a;K8S_POD_NAME=b', config: conf };
    const r = await node.call(call);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const ips = (r.json as { ips: Array<{ address: string; gateway: string }> }).ips;
    // host-local hands out 10.88.4.2 first (.1 is its gateway); the pod gets it as a /32.
    expect(ips).toEqual([{ address: '10.88.4.2/32', gateway: '169.254.1.1', interface: 1 }]);
    expect(reservations()).toEqual(['10.88.4.2']);
    const { stdout } = await pod.ip('-o', '-4', 'addr', 'show', 'dev', 'eth0');
    expect(stdout).toContain('inet 10.88.4.2/32 ');
    expect(await pod.ping(HOST_ADDRESS, { count: 1, timeoutS: 3 })).toBe(true);

    const check = await node.call({ ...call, command: 'CHECK', config: { ...conf, prevResult: r.json } });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);

    const del = await node.call({ ...call, command: 'DEL' });
    expect(del.exitCode, del.stdout + del.stderr).toBe(0);
    expect(reservations()).toEqual([]);
    expect(await node.extraHostLinks()).toEqual([]);
  });

  it('calls host-local DEL when wiring fails after the allocation', async () => {
    await pod.ipBatch(['link add tnx0 type veth peer name tnx1', 'link set tnx0 up', 'route add 169.254.1.1/32 dev tnx0']);
    try {
      const r = await node.call({ command: 'ADD', containerId: 'ctr-hl2', netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', config: conf });
      expect(r.exitCode).not.toBe(0);
      expect(r.json).toMatchObject({ code: 5 });
      expect(reservations()).toEqual([]);
      expect(await node.extraHostLinks()).toEqual([]);
    } finally {
      await pod.ip('link', 'del', 'tnx0');
    }
  });

  it('speaks 0.4.0 results (ips carry "version") when the configuration says so', async () => {
    const call = { command: 'ADD', containerId: 'ctr-hl3', netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', config: { ...conf, cniVersion: '0.4.0' } };
    const r = await node.call(call);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ cniVersion: '0.4.0', ips: [{ version: '4', address: expect.stringMatching(/^10\.88\.4\.\d+\/32$/) }] });
    expect((await node.call({ ...call, command: 'DEL' })).exitCode).toBe(0);
    expect(reservations()).toEqual([]);
  });
});
