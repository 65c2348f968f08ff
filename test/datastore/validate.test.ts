import { describe, expect, it } from 'vitest';
import { validateAny, validateBGPConfiguration, validateBGPPeer, validateNode, validatePod, validateSecret } from '../../src/datastore/validate.ts';
import type { ValidationResult } from '../../src/datastore/validate.ts';
import { parseAsNumber, parseCidr, parseDurationSeconds, parseHostPort } from '../../src/datastore/net.ts';

function issues<T>(r: ValidationResult<T>): string[] {
  return r.ok ? [] : r.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function ok<T>(r: ValidationResult<T>): T {
  if (!r.ok) throw new Error(issues(r).join('\n'));
  return r.object;
}

const peer = (spec: Record<string, unknown>) => validateBGPPeer({ metadata: { name: 'p' }, spec });

describe('address and value parsing', () => {
  it.each([
    ['192.0.2.1', { address: '192.0.2.1', port: null }],
    ['192.0.2.1:1179', { address: '192.0.2.1', port: 1179 }],
    ['2001:db8::1', { address: '2001:db8::1', port: null }],
    ['[2001:db8::1]:179', { address: '2001:db8::1', port: 179 }],
    ['[2001:db8::1]', { address: '2001:db8::1', port: null }],
  ])('host:port %s', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });

  it.each(['192.0.2.1:0', '192.0.2.1:70000', '[192.0.2.1]:179', 'host:179', '2001:db8::1:179:x', '[2001:db8::1]:'])('rejects host:port %s', (text) => {
    expect(typeof parseHostPort(text)).toBe('string');
  });

  it('CIDRs: host bits, lengths, IPv6 compression in the hint', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ family: 4, address: '10.0.0.0', prefixLength: 8 });
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ prefixLength: 0 });
    expect(parseCidr('2001:db8::/32')).toMatchObject({ family: 6 });
    expect(parseCidr('10.1.2.3/8')).toMatch(/did you mean 10\.0\.0\.0\/8/);
    expect(parseCidr('2001:db8:0:0:1::/32')).toMatch(/did you mean 2001:db8::\/32/);
    expect(parseCidr('10.0.0.0/33')).toMatch(/0\.\.32/);
    expect(parseCidr('10.0.0.0')).toMatch(/not a CIDR/);
    expect(parseCidr('::ffff:10.0.0.0/120')).toMatchObject({ family: 6, prefixLength: 120 });
  });

  it('AS numbers: plain, string, asdot; 0 reserved', () => {
    expect(parseAsNumber(64512)).toBe(64512);
    expect(parseAsNumber('4200000000')).toBe(4200000000);
    expect(parseAsNumber('1.10')).toBe(65546);
    expect(parseAsNumber(0)).toMatch(/RFC 7607/);
    expect(parseAsNumber(4294967296)).toMatch(/1\.\.4294967295/);
    expect(parseAsNumber('65536.1')).toMatch(/above 65535/);
    expect(parseAsNumber(true)).toMatch(/must be an AS number/);
  });

  it('durations', () => {
    expect(parseDurationSeconds('90s')).toBe(90);
    expect(parseDurationSeconds('1m30s')).toBe(90);
    expect(parseDurationSeconds('1h')).toBe(3600);
    expect(parseDurationSeconds('500ms')).toBe(0.5);
    expect(parseDurationSeconds(30)).toBe(30);
    expect(parseDurationSeconds('90')).toMatch(/not a duration/);
    expect(parseDurationSeconds('1x')).toMatch(/not a duration/);
  });
});

describe('BGPPeer', () => {
  it('reads a full peer', () => {
    const p = ok(peer({
      peerIP: '192.0.2.254:1179', asNumber: '65000', nodeSelector: "rack == 'r1'", password: { secretKeyRef: { name: 's', key: 'k' } },
      sourceAddress: 'none', holdTime: '90s', keepaliveTime: 30, maxPrefixes: 1000, maxRestartTime: '2m', routeReflectorClient: true,
      importFilters: [{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'In', community: '65000:666' }],
      exportFilters: [{ action: 'accept', cidr: '2001:db8::/32', matchOperator: 'notin', community: 'big' }],
    }));
    expect(p).toMatchObject({
      peerIP: '192.0.2.254', port: 1179, asNumber: 65000, node: null, nodeSelector: "rack == 'r1'", sourceAddress: 'None',
      holdTime: 90, keepaliveTime: 30, maxPrefixes: 1000, maxRestartTime: 120, routeReflectorClient: true,
      password: { secretKeyRef: { name: 's', key: 'k' } },
      importFilters: [{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'In', community: '65000:666' }],
      exportFilters: [{ action: 'Accept', cidr: '2001:db8::/32', matchOperator: 'NotIn', community: 'big' }],
    });
    expect(Object.isFrozen(p) && Object.isFrozen(p.importFilters[0])).toBe(true);
  });

  it.each([
    [{ asNumber: 65000 }, ['spec.peerIP: is required (or spec.peerSelector)']],
    [{ peerIP: '192.0.2.1' }, ['spec.asNumber: is required with spec.peerIP']],
    [{ peerIP: '192.0.2.1', asNumber: 0 }, ['spec.asNumber: AS number 0 must be 1..4294967295 (0 is reserved, RFC 7607)']],
    [{ peerIP: '192.0.2.1', asNumber: 1, node: 'a', nodeSelector: 'all()' }, ['spec.nodeSelector: cannot be set together with spec.node']],
    [{ peerIP: '192.0.2.1', asNumber: 1, peerSelector: 'all()' }, [
      'spec.peerIP: cannot be set together with spec.peerSelector',
      "spec.asNumber: cannot be set together with spec.peerSelector (the selected nodes' AS numbers apply)"]],
    [{ peerIP: '192.0.2.1', asNumber: 1, holdTime: '2s' }, ['spec.holdTime: must be 0 or 3s..65535s (RFC 4271 4.2)']],
    [{ peerIP: '192.0.2.1', asNumber: 1, holdTime: '9s', keepaliveTime: '9s' }, ['spec.keepaliveTime: must be shorter than holdTime (9s); RFC 4271 4.4 suggests a third of it']],
    [{ peerIP: '192.0.2.1', asNumber: 1, password: 'plain' }, ['spec.password: must be an object, got string "plain"']],
    [{ peerIP: '192.0.2.1', asNumber: 1, password: { secretKeyRef: { name: 's' } } }, ['spec.password.secretKeyRef.key: is required']],
    [{ peerIP: '192.0.2.1', asNumber: 1, sourceAddress: 'Elsewhere' }, ["spec.sourceAddress: must be one of UseNodeIP, None, got 'Elsewhere'"]],
    [{ peerIP: '192.0.2.1', asNumber: 1, nodeSelector: 'rack=a' }, [/^spec.nodeSelector: selector "rack=a": '=' at offset 4: Calico selectors compare with ==/]],
    [{ peerIP: '192.0.2.1', asNumber: 1, exportFilters: [{ cidr: '10.0.0.1/8' }] }, [
      /^spec.exportFilters.0.cidr: '10.0.0.1\/8' has host bits set/, 'spec.exportFilters.0.action: is required (Accept or Reject)',
      'spec.exportFilters.0.matchOperator: is required (Equal, In or NotIn)']],
    [{ peerIP: '192.0.2.1', asNumber: 1, importFilters: [{ action: 'Accept', cidr: '10.0.0.0/8', matchOperator: 'NotEqual', community: '1:2:3:4' }] }, [
      "spec.importFilters.0.matchOperator: must be one of Equal, In, NotIn, got 'NotEqual'",
      "spec.importFilters.0.community: '1:2:3:4' is not a community: write aa:nn (RFC 1997) or aa:nn:mm (RFC 8092)"]],
  ])('names the field: %j', (spec, expected) => {
    const got = issues(peer(spec));
    expect(got).toHaveLength(expected.length);
    expected.forEach((e, i) => (typeof e === 'string' ? expect(got[i]).toBe(e) : expect(got[i]).toMatch(e)));
  });
});

describe('BGPConfiguration', () => {
  it('defaults and full spec', () => {
    expect(ok(validateBGPConfiguration({ metadata: { name: 'default' } }))).toMatchObject({
      asNumber: 64512, nodeToNodeMeshEnabled: true, listenPort: 179, logSeverity: 'Info',
    });
    const c = ok(validateBGPConfiguration({
      metadata: { name: 'default' },
      spec: {
        asNumber: 65001, nodeToNodeMeshEnabled: false, listenPort: 1179, logSeverity: 'debug',
        serviceClusterIPs: [{ cidr: '10.96.0.0/12' }], serviceExternalIPs: [{ cidr: '2001:db8:1::/48' }], serviceLoadBalancerIPs: [],
        communities: [{ name: 'big', value: '65001:100:200' }, { name: 'std', value: '65001:100' }],
      },
    }));
    expect(c).toMatchObject({ listenPort: 1179, logSeverity: 'Debug', serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] });
  });

  it('names bad fields', () => {
    expect(issues(validateBGPConfiguration({
      metadata: { name: 'node.n1' },
      spec: {
        listenPort: 0, communities: [{ name: 'x', value: '70000:1' }],
        logSeverity: 'loud', nodeToNodeMeshEnabled: 'yes',
      },
    }))).toEqual([
      "metadata.name: only the BGPConfiguration named 'default' is read; per-node settings are Node annotations (tortie.dev/*)",
      "spec.communities.0.value: '70000:1': each part must be at most 65535",
      'spec.nodeToNodeMeshEnabled: must be true or false, got string "yes"',
      'spec.listenPort: must be an integer 1..65535, got number 0',
      "spec.logSeverity: must be one of Debug, Info, Warning, Error, Fatal, got 'loud'",
    ]);
  });
});

describe('BGPConfiguration mesh password and restart time', () => {
  const config = (spec: Record<string, unknown>) => validateBGPConfiguration({ metadata: { name: 'default' }, spec });

  it('reads nodeMeshPassword as a Secret reference and nodeMeshMaxRestartTime as seconds; both default to unset', () => {
    expect(ok(config({}))).toMatchObject({ nodeMeshPassword: null, nodeMeshMaxRestartTime: null });
    expect(ok(config({ nodeMeshPassword: { secretKeyRef: { name: 'bgp', key: 'mesh' } }, nodeMeshMaxRestartTime: '2m' }))).toMatchObject({
      nodeMeshPassword: { secretKeyRef: { name: 'bgp', key: 'mesh' } }, nodeMeshMaxRestartTime: 120,
    });
  });

  it('names what is wrong with them', () => {
    expect(issues(config({ nodeMeshPassword: 'plain', nodeMeshMaxRestartTime: '5000s' }))).toEqual([
      'spec.nodeMeshPassword: must be an object, got string "plain"',
      'spec.nodeMeshMaxRestartTime: must be whole seconds, at most 4095 (RFC 4724 3: 12-bit restart time)',
    ]);
    expect(issues(config({ nodeMeshPassword: {}, nodeMeshMaxRestartTime: 'soon' }))).toEqual([
      'spec.nodeMeshPassword.secretKeyRef: is required: the password comes from a Secret ({name, key})',
      'spec.nodeMeshPassword.secretKeyRef.name: is required',
      'spec.nodeMeshPassword.secretKeyRef.key: is required',
      expect.stringMatching(/^spec\.nodeMeshMaxRestartTime: /),
    ]);
    expect(issues(config({ nodeMeshPassword: { secretKeyRef: { name: 'bgp', key: '' } } }))).toEqual(['spec.nodeMeshPassword.secretKeyRef.key: must not be empty']);
  });

  it('refuses them while the mesh is off, as Calico does', () => {
    expect(issues(config({ nodeToNodeMeshEnabled: false, nodeMeshPassword: { secretKeyRef: { name: 'bgp', key: 'mesh' } }, nodeMeshMaxRestartTime: '60s' }))).toEqual([
      'spec.nodeMeshPassword: cannot be set while spec.nodeToNodeMeshEnabled is false',
      'spec.nodeMeshMaxRestartTime: cannot be set while spec.nodeToNodeMeshEnabled is false',
    ]);
  });
});

describe('Node, Pod, Secret', () => {
  it('reads node addresses, CIDRs and annotations', () => {
    const n = ok(validateNode({
      metadata: {
        name: 'n1', labels: { rack: 'r1' },
        annotations: { 'tortie.dev/bgp-ipv4-address': '192.0.2.1/24', 'tortie.dev/bgp-ipv6-address': '2001:db8::1', 'tortie.dev/as-number': '65101', 'tortie.dev/route-reflector-cluster-id': '224.0.0.1' },
      },
      spec: { podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'] },
      status: { addresses: [{ type: 'ExternalIP', address: '203.0.113.1' }, { type: 'InternalIP', address: '192.0.2.1' }, { type: 'Hostname', address: 'n1' }] },
    }));
    expect(n.internalIPs).toEqual(['192.0.2.1']);
    expect(n.podCIDRs).toEqual(['10.244.0.0/24', 'fd00:244::/64']);
    expect(n.bgp).toEqual({
      ipv4Address: { address: '192.0.2.1', prefixLength: 24 }, ipv6Address: { address: '2001:db8::1', prefixLength: null },
      asNumber: 65101, routeReflectorClusterId: '224.0.0.1',
    });
  });

  it('names bad node annotations', () => {
    expect(issues(validateNode({
      metadata: { name: 'n1', annotations: { 'tortie.dev/bgp-ipv4-address': '2001:db8::1', 'tortie.dev/as-number': 'x', 'tortie.dev/route-reflector-cluster-id': '1' } },
    }))).toEqual([
      'metadata.annotations.tortie.dev/as-number: must be an AS number (1..4294967295 or asdot), got "x"',
      "metadata.annotations.tortie.dev/route-reflector-cluster-id: '1' must be a dotted quad like 224.0.0.1 (RFC 4456 7)",
      "metadata.annotations.tortie.dev/bgp-ipv4-address: '2001:db8::1' is not an IPv4 address (optionally with /length)",
    ]);
  });

  it('reads pods, including deletion and host network', () => {
    const p = ok(validatePod({
      metadata: { name: 'web', namespace: 'shop', deletionTimestamp: '2026-01-01T00:00:00Z' },
      spec: { nodeName: 'n1', hostNetwork: true }, status: { phase: 'Running', podIPs: [{ ip: '10.244.0.5' }, { ip: 'fd00:244::5' }] },
    }));
    expect(p).toMatchObject({ namespace: 'shop', nodeName: 'n1', podIPs: ['10.244.0.5', 'fd00:244::5'], deleting: true, hostNetwork: true });
    expect(issues(validatePod({ metadata: { name: 'x' }, status: { podIPs: [{ ip: '10.0.0.300' }] } }))).toEqual(["status.podIPs.0.ip: '10.0.0.300' is not an IP address"]);
  });

  it('decodes secrets without echoing bad values', () => {
    const s = ok(validateSecret({ metadata: { name: 'bgp' }, data: { a: Buffer.from('pw-a').toString('base64') }, stringData: { b: 'pw-b' } }));
    expect(s.namespace).toBe('tortie-system');
    expect(s.data.a.reveal()).toBe('pw-a');
    expect(s.data.b.reveal()).toBe('pw-b');
    const bad = issues(validateSecret({ metadata: { name: 'bgp' }, data: { a: 'not base64 !! secretvalue' } }));
    expect(bad).toEqual(['data.a: must be a base64 string']);
  });

  it('dispatches on apiVersion and kind', () => {
    expect(issues(validateAny({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }))[0]).toMatch(/^kind: v1 ConfigMap is not read here; expected one of v1 Node, v1 Pod/);
    expect(issues(validateAny({ kind: 'Node' }))).toEqual(['apiVersion: is required']);
    expect(issues(validateAny('text'))).toEqual([': must be an object with apiVersion and kind, got string "text"']);
  });
});
