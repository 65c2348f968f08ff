import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { customResourceValidators, loadYamlDocuments, repoRoot } from '../deploy/manifest-schemas.ts';
import type { CustomResourceValidator } from '../deploy/manifest-schemas.ts';
import { parseObjectsFile } from '../../src/datastore/file/parse.ts';
import { formatIssue } from '../../src/datastore/errors.ts';
import { validateBGPConfiguration, validateBGPPeer } from '../../src/datastore/validate.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.ts';
import { FakeApiServer } from '../helpers/fake-apiserver.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { STATUSES } from './fixtures.ts';

/**
 * The datastore's validation and the CRDs in manifests/ are written separately from one
 * description; here they are held to agree: what one accepts the other accepts, and what the
 * repository ships (examples, the compose lab's cluster file) passes both.
 */
let validators: Map<string, CustomResourceValidator>;
const crdErrors = (object: Record<string, unknown>) => {
  const v = validators.get(`${object.apiVersion as string} ${object.kind as string}`);
  if (!v) throw new Error(`no CRD for ${object.apiVersion as string} ${object.kind as string}`);
  return v.errors(structuredClone(object));
};

beforeAll(() => {
  const crds = ['bgpconfigurations', 'bgppeers', 'bgpstatuses'].flatMap((p) => loadYamlDocuments(`manifests/crds/tortie.dev_${p}.yaml`).map((d) => d.object));
  validators = customResourceValidators(crds);
});

describe('datastore validation agrees with the CRDs', () => {
  it.each(['compose/tortie/cluster.yaml', 'manifests/examples/bgppeer-lab-router.yaml', 'manifests/examples/bgpconfiguration-default.yaml'])(
    '%s is read by the file datastore', (file) => {
      const result = parseObjectsFile(readFileSync(path.join(repoRoot, file), 'utf8'), file);
      expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([]);
      if (result.ok) expect(result.objects.length).toBeGreaterThan(0);
    });

  const peer = (spec: Record<string, unknown>) => ({ apiVersion: 'tortie.dev/v1alpha1', kind: 'BGPPeer', metadata: { name: 'p' }, spec });
  const config = (spec: Record<string, unknown>) => ({ apiVersion: 'tortie.dev/v1alpha1', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec });

  it.each([
    peer({ peerIP: '192.0.2.1', asNumber: 65000 }),
    peer({ peerIP: '[2001:db8::1]:1179', asNumber: 4200000000, nodeSelector: "rack == 'r1'", holdTime: '90s', keepaliveTime: '30s' }),
    peer({ peerSelector: "has(route-reflector)", node: 'n1', routeReflectorClient: true }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, password: { secretKeyRef: { name: 's', key: 'k' } }, sourceAddress: 'None', maxPrefixes: 10, maxRestartTime: '2m' }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, importFilters: [{ cidr: '10.0.0.0/8', matchOperator: 'NotIn', action: 'Reject', community: '65000:1' }] }),
    config({ asNumber: 65001, nodeToNodeMeshEnabled: false, listenPort: 1179, logSeverity: 'Debug', serviceClusterIPs: [{ cidr: '10.96.0.0/12' }], communities: [{ name: 'c', value: '1:2:3' }] }),
    config({}),
    config({ nodeMeshPassword: { secretKeyRef: { name: 'bgp', key: 'mesh' } }, nodeMeshMaxRestartTime: '120s' }),
  ])('both accept %j', (object) => {
    expect(crdErrors(object)).toEqual([]);
    const mine = object.kind === 'BGPPeer' ? validateBGPPeer(object) : validateBGPConfiguration(object);
    expect(mine.ok ? [] : mine.issues).toEqual([]);
  });

  it.each([
    peer({ peerIP: '192.0.2.1' }),
    peer({ asNumber: 65000 }),
    peer({ peerIP: '192.0.2.1', asNumber: 65000, peerSelector: 'all()' }),
    peer({ peerIP: '192.0.2.1', asNumber: 65000, node: 'a', nodeSelector: 'all()' }),
    peer({ peerIP: '192.0.2.1', asNumber: 0 }),
    peer({ peerIP: '192.0.2.1:70000', asNumber: 1 }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, sourceAddress: 'Other' }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, holdTime: 'soon' }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, password: { secretKeyRef: { name: 's' } } }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, exportFilters: [{ cidr: '10.0.0.0/8', matchOperator: 'NotEqual', action: 'Accept' }] }),
    peer({ peerIP: '192.0.2.1', asNumber: 1, exportFilters: [{ cidr: '10.0.0.0/8', action: 'Accept' }] }),
    config({ listenPort: 0 }),
    config({ logSeverity: 'Loud' }),
    config({ communities: [{ name: 'c' }] }),
    config({ serviceClusterIPs: [{ cidr: 'ten' }] }),
    config({ nodeMeshPassword: { secretKeyRef: { name: 'bgp' } } }),
    config({ nodeMeshMaxRestartTime: 'soon' }),
  ])('both refuse %j', (object) => {
    expect(crdErrors(object)).not.toEqual([]);
    const mine = object.kind === 'BGPPeer' ? validateBGPPeer(object) : validateBGPConfiguration(object);
    expect(mine.ok).toBe(false);
  });
});

describe('BGPStatus as the Kubernetes datastore writes it', () => {
  const server = new FakeApiServer();
  let ds: KubernetesDatastore;
  beforeAll(async () => {
    await server.start();
    ds = new KubernetesDatastore({ kubeConfig: server.kubeConfig(), nodeName: 'n1', statusMinIntervalMs: 10 });
  });
  afterAll(async () => {
    await ds.stop();
    await server.stop();
  });

  it('passes the BGPStatus CRD schema', async () => {
    ds.writeStatus('n1', {
      established: 1, total: 2, updated: '',
      peers: [
        { address: '192.0.2.2', asNumber: 64512, type: 'mesh', state: 'Established', since: '2026-01-01T00:00:00.000Z', lastError: '' },
        { address: '192.0.2.254:1179', asNumber: 65000, type: 'global', state: 'Active', since: '2026-01-01T00:00:05.000Z', lastError: 'connection refused' },
      ],
    });
    const obj = await waitFor('status written', () => {
      const o = server.get(STATUSES, 'n1');
      return o?.status ? o : undefined;
    });
    expect(crdErrors(obj)).toEqual([]);
  });
});
