import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { baseManifests, findObject, kubernetesSchemaErrors, kustomizationResources, loadYamlDocuments, repoRoot } from './manifest-schemas.ts';
import type { KubeObject } from './manifest-schemas.ts';

const docs = baseManifests();
const kubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

function yamlFilesUnder(relativeDir: string): string[] {
  return readdirSync(path.join(repoRoot, relativeDir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml') && path.basename(f) !== 'kustomization.yaml')
    .map((f) => path.join(relativeDir, f))
    .sort();
}

describe('manifests against the Kubernetes API schemas', () => {
  it('the base kustomization lists every manifest, the examples kustomization every example', () => {
    const base = kustomizationResources('manifests').sort();
    const examples = kustomizationResources('manifests/examples').sort();
    expect([...base, ...examples].sort()).toEqual(yamlFilesUnder('manifests'));
  });

  it('every object the base installs is valid, with no unknown field', async () => {
    expect(docs.map((d) => d.object.kind).sort()).toEqual([
      'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'CustomResourceDefinition', 'CustomResourceDefinition',
      'CustomResourceDefinition', 'DaemonSet', 'Namespace', 'Role', 'RoleBinding', 'ServiceAccount',
    ]);
    for (const doc of docs) {
      expect(await kubernetesSchemaErrors(doc.object), `${doc.file} #${doc.index} ${doc.object.kind}`).toEqual([]);
    }
  });

  it('every namespaced object is in tortie-system', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
    for (const { object } of docs) {
      if (!clusterScoped.has(object.kind)) expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe('tortie-system');
    }
  });

  it('rejects an object of the wrong type, with a required field missing or with an unknown field', async () => {
    const daemonSet = findObject(docs, 'DaemonSet', 'tortie');
    const broken = (edit: (ds: any) => void): KubeObject => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const copy = structuredClone(daemonSet);
      edit(copy);
      return copy;
    };
    const wrongType = await kubernetesSchemaErrors(broken((ds) => { ds.spec.template.spec.containers[0].ports[0].containerPort = 'nine'; }));
    expect(wrongType.join('\n')).toMatch(/containers\/0\/ports\/0\/containerPort must be integer/);
    const missing = await kubernetesSchemaErrors(broken((ds) => { delete ds.spec.template.spec.containers[0].name; }));
    expect(missing.join('\n')).toMatch(/containers\/0 must have required property '?name'?/);
    const unknown = await kubernetesSchemaErrors(broken((ds) => {
      ds.spec.template.spec.containers[0].volumeMounts[2].mountPropogation = 'HostToContainer';
    }));
    expect(unknown).toEqual(['/spec/template/spec/containers/0/volumeMounts/2/mountPropogation: unknown field of V1VolumeMount']);
    const crd = findObject(docs, 'CustomResourceDefinition', 'bgppeers.tortie.dev');
    const badCrd = structuredClone(crd) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    badCrd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.asNumber.minimum = 'one';
    badCrd.spec.versions[0].additionalPrinterColumns[0].jsonpath = '.spec.peerIP';
    const crdErrors = (await kubernetesSchemaErrors(badCrd)).join('\n');
    expect(crdErrors).toMatch(/asNumber\/minimum must be number/);
    expect(crdErrors).toMatch(/additionalPrinterColumns\/0\/jsonpath: unknown field/);
  });

  it('the ClusterRole reads nodes, pods and tortie configuration and writes only BGP status', () => {
    const role = findObject(docs, 'ClusterRole', 'tortie-agent') as KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] };
    const grants = role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'} ${res} ${v}`)))).sort();
    const read = ['get', 'list', 'watch'];
    expect(grants).toEqual([
      ...read.map((v) => `core nodes ${v}`),
      ...read.map((v) => `core pods ${v}`),
      ...read.map((v) => `tortie.dev bgpconfigurations ${v}`),
      ...read.map((v) => `tortie.dev bgppeers ${v}`),
      ...['create', 'get', 'update'].map((v) => `tortie.dev bgpstatuses ${v}`),
      'tortie.dev bgpstatuses/status update',
    ].sort());
    const secrets = findObject(docs, 'Role', 'tortie-agent-secrets') as KubeObject & { rules: unknown[] };
    expect(secrets.metadata.namespace).toBe('tortie-system');
    expect(secrets.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
  });

  it('the bindings give those roles to the agent\'s ServiceAccount and nothing else', () => {
    const account = findObject(docs, 'ServiceAccount', 'tortie');
    const subject = [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }];
    const clusterBinding = findObject(docs, 'ClusterRoleBinding', 'tortie-agent');
    expect(clusterBinding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tortie-agent' });
    expect(clusterBinding.subjects).toEqual(subject);
    const binding = findObject(docs, 'RoleBinding', 'tortie-agent-secrets');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tortie-agent-secrets' });
    expect(binding.subjects).toEqual(subject);
    const daemonSet = findObject(docs, 'DaemonSet', 'tortie') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(daemonSet.spec.template.spec.serviceAccountName).toBe(account.metadata.name);
  });

  it('the compose lab\'s Nodes are valid v1 Nodes', async () => {
    const nodes = loadYamlDocuments('compose/tortie/cluster.yaml').filter((d) => d.object.kind === 'Node');
    expect(nodes).toHaveLength(3);
    for (const node of nodes) expect(await kubernetesSchemaErrors(node.object)).toEqual([]);
  });

  it.skipIf(!kubectl)('kustomize builds the base and the examples into the same objects (needs kubectl)', () => {
    const built = execFileSync('kubectl', ['kustomize', path.join(repoRoot, 'manifests')], { encoding: 'utf8' });
    const objects = parseAllDocuments(built).map((d) => d.toJS() as KubeObject);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(docs.map((d) => `${d.object.kind}/${d.object.metadata.name}`).sort());
    const examples = execFileSync('kubectl', ['kustomize', path.join(repoRoot, 'manifests/examples')], { encoding: 'utf8' });
    expect(parseAllDocuments(examples).map((d) => (d.toJS() as KubeObject).kind).sort()).toEqual(['BGPConfiguration', 'BGPPeer']);
  });
});
if (!kubectl) console.warn('test/deploy/manifests.test.ts: kubectl not found, skipping the kustomize build check');
