import { describe, expect, it } from 'vitest';
import { CniCallError, cniArgs, pluginConfig, resultAddresses, type Conflist } from '../../src/lab/kubelet.ts';

const list: Conflist = {
  cniVersion: '1.1.0',
  name: 'k8s-pod-network',
  plugins: [
    { type: 'tortie-cni', mtu: 1500, ipam: { type: 'tortie-ipam' } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

describe('calling CNI as the kubelet does', () => {
  it("expands a conflist's plugin into its network configuration, as libcni does", () => {
    expect(pluginConfig(list, 0)).toEqual({ type: 'tortie-cni', mtu: 1500, ipam: { type: 'tortie-ipam' }, cniVersion: '1.1.0', name: 'k8s-pod-network' });
    const prev = { cniVersion: '1.1.0', ips: [{ address: '10.244.1.1/32' }] };
    expect(pluginConfig(list, 1, prev)).toEqual({ type: 'portmap', capabilities: { portMappings: true }, cniVersion: '1.1.0', name: 'k8s-pod-network', prevResult: prev });
  });

  it('passes the pod identity in CNI_ARGS', () => {
    expect(cniArgs({ containerId: 'c1', netnsPath: '/var/run/netns/x', ifname: 'eth0', podNamespace: 'default', podName: 'pod-1-a' })).toBe(
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-1-a;K8S_POD_INFRA_CONTAINER_ID=c1',
    );
  });

  it("reads the pod's addresses from a result", () => {
    expect(resultAddresses({ ips: [{ address: '10.244.1.1/32' }, { address: 'fd00:10:244:1::1/128' }] })).toEqual(['10.244.1.1', 'fd00:10:244:1::1']);
    expect(resultAddresses(undefined)).toEqual([]);
  });

  it("reports the plugin's error JSON with its code", () => {
    const e = new CniCallError('ADD', '/opt/cni/bin/tortie-cni', 1, '{"cniVersion":"1.1.0","code":11,"msg":"pod CIDR not known yet","details":"no node state"}', '');
    expect(e.cniCode).toBe(11);
    expect(e.code).toBe('TK_LAB_CNI_FAILED');
    expect(e.message).toContain('code 11: pod CIDR not known yet (no node state)');
    expect(new CniCallError('DEL', 'x', 2, 'garbage', 'stderr text').cniCode).toBeNull();
  });
});
