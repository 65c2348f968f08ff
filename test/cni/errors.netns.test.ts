import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../src/netns/netns.ts';
import { builtinConfig, CniNode, type CniCall } from './harness.ts';

describe('failures give the spec error JSON and leave nothing behind', () => {
  let node: CniNode;
  let pod: Netns;
  let conf: Record<string, unknown>;
  let base: CniCall;

  beforeAll(async () => {
    node = await CniNode.create();
    pod = await node.pod();
    conf = builtinConfig(node);
    base = { command: 'ADD', containerId: 'ctr-err', netns: `/var/run/netns/${pod.name}`, ifname: 'eth0', args: 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p', config: conf };
  });

  afterAll(async () => {
    await node?.destroy();
  });

  async function expectNothingLeft(): Promise<void> {
    expect(await node.extraHostLinks()).toEqual([]);
    expect(await node.podRoutes()).toEqual([]);
    expect(await CniNode.podLinks(pod)).toEqual([]);
    expect(node.allocations('tnet')).toEqual([]);
  }

  async function expectError(call: CniCall, code: number, msg: RegExp): Promise<void> {
    const r = await node.call(call);
    expect(r.exitCode, r.stdout).not.toBe(0);
    expect(r.json).toMatchObject({ code, msg: expect.stringMatching(msg) });
    expect(typeof r.json?.cniVersion).toBe('string');
    expect(r.stderr).toContain('tortie-cni error:');
    await expectNothingLeft();
  }

  it('malformed stdin: code 6', async () => {
    await expectError({ ...base, config: '{"cniVersion": "1.1.0", "name": ' }, 6, /not valid JSON/);
    await expectError({ ...base, config: '[1, 2]' }, 6, /JSON object/);
  });

  it('a missing variable: code 4, naming it', async () => {
    await expectError({ ...base, containerId: undefined }, 4, /CNI_CONTAINERID/);
    await expectError({ ...base, ifname: undefined }, 4, /CNI_IFNAME/);
    await expectError({ ...base, netns: undefined }, 4, /CNI_NETNS/);
    await expectError({ ...base, rawEnv: { PATH: process.env.PATH ?? '' } }, 4, /CNI_COMMAND/);
  });

  it('an unknown command: code 4', async () => {
    await expectError({ ...base, command: 'REBOOT' }, 4, /CNI_COMMAND 'REBOOT'/);
  });

  it('an unsupported cniVersion: code 1, for ADD and for GC/STATUS before 1.1.0', async () => {
    await expectError({ ...base, config: { ...conf, cniVersion: '0.3.1' } }, 1, /incompatible CNI version "0\.3\.1"/);
    await expectError({ ...base, config: { ...conf, cniVersion: '9.0.0' } }, 1, /incompatible/);
    await expectError({ ...base, command: 'STATUS', config: { ...conf, cniVersion: '1.0.0' } }, 1, /STATUS needs cniVersion 1\.1\.0/);
    await expectError({ ...base, command: 'GC', config: { ...conf, cniVersion: '0.4.0', 'cni.dev/valid-attachments': [] } }, 1, /GC needs/);
  });

  it('an invalid configuration: code 7, naming the key', async () => {
    await expectError({ ...base, config: { ...conf, mtu: 20 } }, 7, /"mtu"/);
    await expectError({ ...base, config: { ...conf, ipam: { type: 'tortie-ipam', blocks: ['10.77.0.1/24'] } } }, 7, /host bits/);
    await expectError({ ...base, config: { ...conf, ipam: undefined } }, 7, /"ipam"/);
    await expectError({ ...base, command: 'GC', config: conf }, 7, /valid-attachments/);
  });

  it('no pod CIDR yet: code 11 (try again later)', async () => {
    const noBlocks = { ...conf, ipam: { type: 'tortie-ipam', dataDir: node.dataDir } };
    await expectError({ ...base, config: noBlocks }, 11, /pod CIDR is not known/);
  });

  it('a namespace that does not exist: code 3', async () => {
    await expectError({ ...base, netns: '/var/run/netns/tn-missing-ns' }, 3, /does not exist/);
  });

  it('a failure half-way through ADD undoes the veth and releases the address', async () => {
    // The pod already has an eth0: the veth cannot be created with that name inside it.
    await pod.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'tnpeer');
    try {
      const r = await node.call(base);
      expect(r.exitCode).not.toBe(0);
      expect(r.json).toMatchObject({ code: 5, msg: expect.stringMatching(/eth0 already exists/) });
      expect(await node.extraHostLinks()).toEqual([]);
      expect(node.allocations('tnet')).toEqual([]);
    } finally {
      await pod.ip('link', 'del', 'eth0');
    }
    // The pod already routes 169.254.1.1 elsewhere: the pod side fails after the host side was
    // made and configured, and both must be undone.
    await pod.ipBatch(['link add tnx0 type veth peer name tnx1', 'link set tnx0 up', 'route add 169.254.1.1/32 dev tnx0']);
    try {
      const r = await node.call(base);
      expect(r.exitCode).not.toBe(0);
      expect(r.json).toMatchObject({ code: 5, msg: expect.stringMatching(/169\.254\.1\.1/) });
      expect(await node.extraHostLinks()).toEqual([]);
      expect(await node.podRoutes()).toEqual([]);
      expect(node.allocations('tnet')).toEqual([]);
      expect(await CniNode.podLinks(pod)).toEqual(['tnx1', 'tnx0']);
    } finally {
      await pod.ip('link', 'del', 'tnx0');
    }
  });

  it('STATUS: 50 without node state, ready once the agent has written it, 50 when stale', async () => {
    const status = { ...base, command: 'STATUS' };
    await expectError(status, 50, /not ready/);
    const file = join(node.dataDir, 'node.json');
    writeFileSync(file, JSON.stringify({ version: 1, nodeName: 'n1', podCIDRs: ['10.77.0.0/24'], updatedAt: new Date().toISOString() }));
    const ok = await node.call(status);
    expect(ok.exitCode, ok.stdout).toBe(0);
    expect(ok.stdout).toBe('');
    writeFileSync(file, JSON.stringify({ version: 1, nodeName: 'n1', podCIDRs: ['10.77.0.0/24'], updatedAt: new Date(Date.now() - 3600_000).toISOString() }));
    await expectError({ ...status, config: { ...conf, nodeStateMaxAgeSeconds: 60 } }, 50, /not ready/);
    writeFileSync(file, '{"version": 1, "nodeName": ');
    await expectError(status, 50, /not ready/);
  });

  it('VERSION answers with the supported versions', async () => {
    const r = await node.call({ command: 'VERSION', config: { cniVersion: '1.0.0' } });
    expect(r.exitCode).toBe(0);
    expect(r.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
  });
});
