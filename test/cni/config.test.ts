import { describe, expect, it } from 'vitest';
import { parseNetConf } from '../../src/cni/config.ts';
import { parseCniArgs, parseEnv } from '../../src/cni/env.ts';
import { substitutePodCidr } from '../../src/cni/ipam/delegate.ts';
import { resultForVersion } from '../../src/cni/types.ts';
import { CniError } from '../../src/cni/errors.ts';
import { readFileSync } from 'node:fs';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof CniError ? { code: e.code, msg: e.message } : { code: -1, msg: String(e) };
  }
  return undefined;
};

describe('network configuration', () => {
  const good = { cniVersion: '1.1.0', name: 'k8s-pod-network', type: 'tortie-cni', ipam: { type: 'tortie-ipam' } };

  it('fills defaults', () => {
    const c = parseNetConf(JSON.stringify(good), 'ADD');
    expect(c).toMatchObject({ mtu: 1500, nodeStateFile: '/var/run/tortie/node.json', ipam: { kind: 'builtin', dataDir: '/var/lib/tortie/ipam' } });
    expect(parseNetConf(JSON.stringify({ ...good, ipam: { type: 'host-local' } }), 'ADD').ipam).toEqual({ kind: 'delegate', type: 'host-local' });
  });

  it('names what is wrong, with the spec codes', () => {
    expect(codeOf(() => parseNetConf('nope', 'ADD'))).toMatchObject({ code: 6 });
    expect(codeOf(() => parseNetConf(JSON.stringify({ ...good, cniVersion: '0.3.1' }), 'ADD'))).toMatchObject({ code: 1 });
    expect(codeOf(() => parseNetConf(JSON.stringify({ ...good, name: 'a b' }), 'ADD'))).toMatchObject({ code: 7, msg: expect.stringContaining('"name"') });
    expect(codeOf(() => parseNetConf(JSON.stringify({ ...good, mtu: 1.5 }), 'ADD'))).toMatchObject({ code: 7, msg: expect.stringContaining('"mtu"') });
    expect(codeOf(() => parseNetConf(JSON.stringify({ ...good, ipam: { type: 'tortie-ipam', blocks: [] } }), 'ADD'))).toMatchObject({ code: 7 });
    expect(codeOf(() => parseNetConf(JSON.stringify({ ...good, ipam: { type: 'tortie-ipam', dataDir: 'relative' } }), 'ADD'))).toMatchObject({ code: 7 });
    expect(codeOf(() => parseNetConf(JSON.stringify({ ...good, 'cni.dev/valid-attachments': [{ containerID: 1 }] }), 'GC'))).toMatchObject({ code: 7 });
  });

  it('the shipped conflist template parses for every command', () => {
    const list = JSON.parse(readFileSync(new URL('../../src/cni/10-tortie.conflist', import.meta.url), 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    const plugin = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] };
    for (const cmd of ['ADD', 'DEL', 'CHECK', 'STATUS']) expect(parseNetConf(JSON.stringify(plugin), cmd).type).toBe('tortie-cni');
  });
});

describe('environment', () => {
  it('reads CNI_ARGS and checks what each command needs', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=shop')).toEqual(
      new Map([
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAME', 'web-0'],
        ['K8S_POD_NAMESPACE', 'shop'],
      ]),
    );
    expect(codeOf(() => parseCniArgs('novalue'))).toMatchObject({ code: 4 });
    expect(parseEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0' }).netns).toBe('');
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0' }))).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_NETNS') });
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_IFNAME: 'a-name-longer-than-15', CNI_NETNS: '/x' }))).toMatchObject({ code: 4 });
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: '-bad', CNI_IFNAME: 'eth0', CNI_NETNS: '/x' }))).toMatchObject({ code: 4 });
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0', CNI_NETNS: 'relative' }))).toMatchObject({ code: 4 });
  });
});

describe('usePodCidr and result versions', () => {
  it('replaces the placeholders anywhere in the IPAM section', () => {
    const ipam = { type: 'host-local', ranges: [[{ subnet: 'usePodCidr' }], [{ subnet: 'usePodCidrIPv6' }]], routes: [{ dst: '0.0.0.0/0' }] };
    expect(substitutePodCidr(ipam, ['10.244.3.0/24', 'fd00:3::/64'])).toEqual({ ...ipam, ranges: [[{ subnet: '10.244.3.0/24' }], [{ subnet: 'fd00:3::/64' }]] });
    expect(codeOf(() => substitutePodCidr(ipam, ['10.244.3.0/24']))).toMatchObject({ code: 11 });
  });

  it('0.4.0 results carry the IP version; 1.x results do not', () => {
    const r = { cniVersion: '1.1.0', ips: [{ address: '10.0.0.1/32' }, { address: 'fd00::1/128' }] };
    expect(resultForVersion(r, '0.4.0').ips).toEqual([
      { address: '10.0.0.1/32', version: '4' },
      { address: 'fd00::1/128', version: '6' },
    ]);
    expect(resultForVersion({ ...r, ips: [{ address: '10.0.0.1/32', version: '4' }] }, '1.0.0')).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/32' }] });
  });

  it('interface mtu appears only from 1.1.0', () => {
    const r = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mtu: 1400, sandbox: '/x' }] };
    expect(resultForVersion(r, '1.1.0').interfaces).toEqual([{ name: 'eth0', mtu: 1400, sandbox: '/x' }]);
    expect(resultForVersion(r, '1.0.0').interfaces).toEqual([{ name: 'eth0', sandbox: '/x' }]);
  });
});
