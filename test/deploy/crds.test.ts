import { describe, expect, it } from 'vitest';
import { baseManifests, customResourceValidators, loadYamlDocuments } from './manifest-schemas.ts';
import type { CustomResourceValidator, KubeObject } from './manifest-schemas.ts';

const crds = baseManifests().map((d) => d.object).filter((o) => o.kind === 'CustomResourceDefinition');
const validators = customResourceValidators(crds);

function validator(kind: string): CustomResourceValidator {
  const v = validators.get(`tortie.dev/v1alpha1 ${kind}`);
  if (v === undefined) throw new Error(`no CRD for ${kind}`);
  return v;
}

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; [key: string]: unknown };
type CrdSpec = {
  group: string;
  scope: string;
  names: { kind: string; plural: string };
  versions: { name: string; served: boolean; storage: boolean; subresources?: Record<string, unknown>; additionalPrinterColumns: { name: string; type: string; jsonPath: string }[]; schema: { openAPIV3Schema: Schema } }[];
};
const crdSpec = (kind: string): CrdSpec => (crds.find((c) => (c.spec as CrdSpec).names.kind === kind)?.spec as CrdSpec);

/** Kubernetes' structural schema rules that ajv cannot know: every node typed, no $ref. */
function structuralViolations(schema: Schema, at: string): string[] {
  const found: string[] = [];
  if (schema.type === undefined && schema['x-kubernetes-int-or-string'] !== true && schema['x-kubernetes-preserve-unknown-fields'] !== true) found.push(`${at}: no type`);
  for (const banned of ['$ref', 'definitions', 'dependencies', 'additionalItems', 'patternProperties']) {
    if (banned in schema) found.push(`${at}: ${banned} is not allowed in a structural schema`);
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) found.push(...structuralViolations(child, `${at}.${name}`));
  if (schema.items !== undefined) found.push(...structuralViolations(schema.items, `${at}[]`));
  return found;
}

/** The schema node a printer column's simple JSONPath (.a.b.c) points at. */
function schemaAt(root: Schema, jsonPath: string): Schema | undefined {
  let node: Schema | undefined = root;
  for (const part of jsonPath.split('.').slice(1)) node = part === 'metadata' && node?.properties?.metadata ? { type: 'object', properties: { creationTimestamp: { type: 'string', format: 'date-time' } } } : node?.properties?.[part];
  return node;
}

function object(kind: string, name: string, body: Record<string, unknown>): KubeObject {
  return { apiVersion: 'tortie.dev/v1alpha1', kind, metadata: { name }, ...body };
}

const goodPeer = { peerIP: '192.0.2.1', asNumber: 64600 };
const peer = (spec: Record<string, unknown>) => object('BGPPeer', 'p', { spec });

describe('the CRDs', () => {
  it('define BGPConfiguration, BGPPeer and BGPStatus in tortie.dev/v1alpha1, cluster-scoped', () => {
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(['bgpconfigurations.tortie.dev', 'bgppeers.tortie.dev', 'bgpstatuses.tortie.dev']);
    for (const crd of crds) {
      const spec = crd.spec as CrdSpec;
      expect(crd.metadata.name).toBe(`${spec.names.plural}.${spec.group}`);
      expect(spec.group).toBe('tortie.dev');
      expect(spec.scope).toBe('Cluster');
      expect(spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
    }
  });

  it('have structural schemas and printer columns that point at typed fields', () => {
    const columnTypes: Record<string, string[]> = { integer: ['integer'], boolean: ['boolean'], string: ['string'], date: ['string'] };
    for (const crd of crds) {
      const version = (crd.spec as CrdSpec).versions[0];
      expect(structuralViolations(version.schema.openAPIV3Schema, crd.metadata.name)).toEqual([]);
      for (const column of version.additionalPrinterColumns) {
        const target = schemaAt(version.schema.openAPIV3Schema, column.jsonPath);
        expect(target, `${crd.metadata.name} column ${column.name}`).toBeDefined();
        expect(columnTypes[column.type], `${crd.metadata.name} column ${column.name}`).toContain(target?.type);
      }
    }
  });

  it('give BGPStatus a status subresource and the Established, Total and Age columns', () => {
    const version = crdSpec('BGPStatus').versions[0];
    expect(crdSpec('BGPStatus').names.plural).toBe('bgpstatuses');
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.filter((c) => !('priority' in c)).map((c) => [c.name, c.jsonPath])).toEqual([
      ['Established', '.status.established'], ['Total', '.status.total'], ['Age', '.metadata.creationTimestamp'],
    ]);
  });
});

describe('custom resources against their CRD schema', () => {
  it('accepts the examples in manifests/examples and the compose lab\'s cluster', () => {
    const examples = [
      ...loadYamlDocuments('manifests/examples/bgpconfiguration-default.yaml'),
      ...loadYamlDocuments('manifests/examples/bgppeer-lab-router.yaml'),
      ...loadYamlDocuments('compose/tortie/cluster.yaml').filter((d) => d.object.apiVersion === 'tortie.dev/v1alpha1'),
    ];
    expect(examples.map((d) => d.object.kind).sort()).toEqual(['BGPConfiguration', 'BGPConfiguration', 'BGPPeer', 'BGPPeer', 'BGPPeer', 'BGPPeer']);
    for (const { file, index, object: o } of examples) expect(validator(o.kind).errors(o), `${file} #${index}`).toEqual([]);
  });

  it('fills in BGPConfiguration defaults as the API server would', () => {
    const config = object('BGPConfiguration', 'default', {});
    expect(validator('BGPConfiguration').errors(config)).toEqual([]);
    expect(config.spec).toEqual({ asNumber: 64512, nodeToNodeMeshEnabled: true, listenPort: 179, logSeverity: 'Info' });
    const own = object('BGPConfiguration', 'default', { spec: { asNumber: 65001, nodeToNodeMeshEnabled: false } });
    validator('BGPConfiguration').errors(own);
    expect(own.spec).toMatchObject({ asNumber: 65001, nodeToNodeMeshEnabled: false, listenPort: 179 });
  });

  it('rejects BGPConfiguration fields of the wrong type or out of range, naming the field', () => {
    const errors = (spec: Record<string, unknown>) => validator('BGPConfiguration').errors(object('BGPConfiguration', 'default', { spec }));
    expect(errors({ asNumber: '64512' })).toEqual(['/spec/asNumber must be integer']);
    expect(errors({ asNumber: 4294967296 })).toEqual(['/spec/asNumber must be <= 4294967295']);
    expect(errors({ listenPort: 0 })).toEqual(['/spec/listenPort must be >= 1']);
    expect(errors({ logSeverity: 'Verbose' })).toEqual(['/spec/logSeverity must be equal to one of the allowed values']);
    expect(errors({ serviceClusterIPs: [{ cidr: '10.96.0.0/33' }] })).toEqual(['/spec/serviceClusterIPs/0/cidr must match pattern "' + patternOf('BGPConfiguration', 'serviceClusterIPs') + '"']);
    expect(errors({ serviceExternalIPs: [{}] })).toEqual(["/spec/serviceExternalIPs/0 must have required property 'cidr'"]);
    expect(errors({ communities: [{ name: 'x', value: 'no-export' }] })[0]).toMatch(/^\/spec\/communities\/0\/value must match pattern/);
  });

  it('accepts every form of peer address and rejects malformed ones', () => {
    for (const peerIP of ['192.0.2.1', '192.0.2.1:1179', '2001:db8::1', '::1', '[2001:db8::1]:1179', 'fe80::1:2:3']) {
      expect(validator('BGPPeer').errors(peer({ ...goodPeer, peerIP })), peerIP).toEqual([]);
    }
    for (const peerIP of ['256.0.0.1', '192.0.2', '192.0.2.1:65536', '192.0.2.1:0', '[2001:db8::1]', 'router.lab', '2001:db8::1/64', '']) {
      expect(validator('BGPPeer').errors(peer({ ...goodPeer, peerIP })).join('\n'), peerIP).toMatch(/^\/spec\/peerIP must match pattern/);
    }
  });

  it('rejects a BGPPeer with a field of the wrong type, a required field missing or a bad enum', () => {
    const errors = (spec: Record<string, unknown>) => validator('BGPPeer').errors(peer(spec));
    expect(errors({ ...goodPeer, asNumber: '64600' })).toEqual(['/spec/asNumber must be integer']);
    expect(errors({ ...goodPeer, routeReflectorClient: 'yes' })).toEqual(['/spec/routeReflectorClient must be boolean']);
    expect(errors({ ...goodPeer, maxPrefixes: 0 })).toEqual(['/spec/maxPrefixes must be >= 1']);
    expect(errors({ ...goodPeer, holdTime: '90' })[0]).toMatch(/^\/spec\/holdTime must match pattern/);
    expect(errors({ ...goodPeer, password: { secretKeyRef: { name: 'bgp-passwords' } } })).toEqual(["/spec/password/secretKeyRef must have required property 'key'"]);
    expect(errors({ ...goodPeer, sourceAddress: 'Auto' })).toEqual(['/spec/sourceAddress must be equal to one of the allowed values']);
    expect(errors({ ...goodPeer, importFilters: [{ cidr: '10.0.0.0/8', matchOperator: 'Like', action: 'Accept' }] }))
      .toEqual(['/spec/importFilters/0/matchOperator must be equal to one of the allowed values']);
    expect(errors({ ...goodPeer, exportFilters: [{ cidr: '10.0.0.0/8', matchOperator: 'In', action: 'Drop' }] }))
      .toEqual(['/spec/exportFilters/0/action must be equal to one of the allowed values']);
    expect(errors({ ...goodPeer, exportFilters: [{ cidr: '10.0.0.0/8', matchOperator: 'In' }] }))
      .toEqual(["/spec/exportFilters/0 must have required property 'action'"]);
    expect(validator('BGPPeer').errors(object('BGPPeer', 'p', {}))).toEqual(["/ must have required property 'spec'"]);
  });

  it('requires a peer address with its AS or a peer selector, and forbids mixing exclusive fields', () => {
    const errors = (spec: Record<string, unknown>) => validator('BGPPeer').errors(peer(spec)).join('\n');
    expect(errors({ peerSelector: "role == 'rr'" })).toBe('');
    expect(errors({ ...goodPeer, node: 'n1' })).toBe('');
    expect(errors({ ...goodPeer, nodeSelector: 'all()' })).toBe('');
    expect(errors({ peerIP: '192.0.2.1' })).toMatch(/must have required property 'asNumber'/);
    expect(errors({ ...goodPeer, peerSelector: 'all()' })).toBe('/spec must NOT be valid');
    expect(errors({ ...goodPeer, node: 'n1', nodeSelector: 'all()' })).toBe('/spec must NOT be valid');
  });

  it('sets a BGPPeer\'s defaults', () => {
    const p = peer({ ...goodPeer });
    expect(validator('BGPPeer').errors(p)).toEqual([]);
    expect(p.spec).toEqual({ ...goodPeer, sourceAddress: 'UseNodeIP', routeReflectorClient: false });
  });

  it('accepts a node\'s BGPStatus and rejects unknown session types and states', () => {
    const status = (peers: Record<string, unknown>[]) => object('BGPStatus', 'node-1', {
      status: { established: 1, total: 2, updated: '2026-01-02T03:04:05Z', peers },
    });
    const good = [
      { address: '192.0.2.1', asNumber: 64600, type: 'global', state: 'Established', since: '2026-01-02T03:00:00Z' },
      { address: '198.51.100.12', asNumber: 64512, type: 'mesh', state: 'Active', since: '2026-01-02T03:00:00.5+01:00', lastError: 'connection refused' },
    ];
    expect(validator('BGPStatus').errors(status(good))).toEqual([]);
    expect(validator('BGPStatus').errors(status([{ ...good[0], state: 'Up' }]))).toEqual(['/status/peers/0/state must be equal to one of the allowed values']);
    expect(validator('BGPStatus').errors(status([{ ...good[0], type: 'external' }]))).toEqual(['/status/peers/0/type must be equal to one of the allowed values']);
    expect(validator('BGPStatus').errors(status([{ ...good[0], since: '', lastError: '' }]))).toEqual([]);
    const stale = status(good);
    (stale.status as { updated: string }).updated = 'yesterday';
    expect(validator('BGPStatus').errors(stale)).toEqual(['/status/updated must match format "date-time"']);
    expect(validator('BGPStatus').errors(object('BGPStatus', 'n', { status: { established: -1, total: 0, peers: [] } }))).toEqual(['/status/established must be >= 0']);
  });
});

function patternOf(kind: string, list: string): string {
  const spec = crdSpec(kind).versions[0].schema.openAPIV3Schema.properties?.spec;
  return String(spec?.properties?.[list].items?.properties?.cidr.pattern);
}
