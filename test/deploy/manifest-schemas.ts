// Validation of tortie's manifests against published schemas, shared by the deploy tests:
// - kubernetes-models' validators, generated from the Kubernetes OpenAPI, check types,
//   required fields and formats of every built-in object;
// - @kubernetes/client-node's generated models list every field each kind has, which finds
//   unknown (misspelt) fields as `kubectl apply --validate=strict` would; the OpenAPI
//   validators above accept them silently;
// - ajv checks our own custom resources against the openAPIV3Schema of their CRD.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
};

export type LoadedDocument = { file: string; index: number; object: KubeObject };

/** Every YAML document of a file (relative to the repository), failing on any parse error. */
export function loadYamlDocuments(relativeFile: string): LoadedDocument[] {
  const text = readFileSync(path.join(repoRoot, relativeFile), 'utf8');
  return parseAllDocuments(text).flatMap((doc, index) => {
    if (doc.errors.length > 0) {
      throw new Error(`${relativeFile} document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const object: unknown = doc.toJS();
    if (object === null || object === undefined) return [];
    return [{ file: relativeFile, index, object: object as KubeObject }];
  });
}

/** The files a kustomization.yaml lists under resources, relative to the repository. */
export function kustomizationResources(relativeDir: string): string[] {
  const [doc] = loadYamlDocuments(path.join(relativeDir, 'kustomization.yaml'));
  const resources = (doc.object as unknown as { resources: string[] }).resources;
  return resources.map((r) => path.join(relativeDir, r));
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

type ModelClass = new (data: unknown) => { validate(): void };

/**
 * Errors of a built-in object against the Kubernetes OpenAPI (kubernetes-models) plus its
 * unknown fields (client-node's models); empty when the object is valid.
 */
export async function kubernetesSchemaErrors(object: KubeObject): Promise<string[]> {
  const { group, version } = splitApiVersion(object.apiVersion);
  const modulePath = group === '' ? `kubernetes-models/${version}/${object.kind}` : `kubernetes-models/${group}/${version}/${object.kind}`;
  let Model: ModelClass;
  try {
    const mod = (await import(modulePath)) as Record<string, ModelClass>;
    Model = mod[object.kind];
  } catch {
    return [`no Kubernetes schema for ${object.apiVersion} ${object.kind}`];
  }
  const errors: string[] = [];
  try {
    new Model(object).validate();
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  const typeName = `${version.charAt(0).toUpperCase()}${version.slice(1)}${object.kind}`;
  // Loaded on first use: client-node is large, and only these checks need it.
  clientModels ??= (await import('@kubernetes/client-node')) as unknown as Record<string, ClientModel | undefined>;
  errors.push(...unknownFields(clientModels, object, typeName, ''));
  return errors;
}

type AttributeType = { baseName: string; type: string };
type ClientModel = { getAttributeTypeMap(): AttributeType[] };
let clientModels: Record<string, ClientModel | undefined> | undefined;

/** Paths of fields that the client-node model of `typeName` (and its children) does not have. */
function unknownFields(models: Record<string, ClientModel | undefined>, value: unknown, typeName: string, at: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) {
    return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(models, item, array[1], `${at}/${i}`)) : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    return Object.entries(value).flatMap(([key, item]) => unknownFields(models, item, map[1], `${at}/${key}`));
  }
  const model = models[typeName];
  if (model === undefined || typeof model.getAttributeTypeMap !== 'function') return [];
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([key, item]) => {
    const type = attributes.get(key);
    if (type === undefined) return [`${at}/${key}: unknown field of ${typeName}`];
    // JSONSchemaProps.items is a schema or a list of schemas, typed `any` by the model.
    if (typeName === 'V1JSONSchemaProps' && key === 'items' && type === 'any') return unknownFields(models, item, 'V1JSONSchemaProps', `${at}/${key}`);
    return unknownFields(models, item, type, `${at}/${key}`);
  });
}

// The OpenAPI extensions Kubernetes adds to JSON Schema; ajv must know them as keywords.
const kubernetesKeywords = [
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-map-type',
];

// RFC 3339 date-time, the format metav1.Time uses.
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export type CustomResourceValidator = {
  /** Errors of the object against the CRD schema (ajv instance paths); defaults are applied in place, as the API server does. */
  errors(object: unknown): string[];
};

type CrdVersion = { name: string; schema: { openAPIV3Schema: Record<string, unknown> } };
type Crd = KubeObject & { spec: { group: string; names: { kind: string }; versions: CrdVersion[] } };

/** One validator per `group/version kind` found in the given CRD documents. */
export function customResourceValidators(crds: KubeObject[]): Map<string, CustomResourceValidator> {
  // Kubernetes puts required lists in anyOf/not branches without repeating the properties there.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, strictRequired: false });
  for (const keyword of kubernetesKeywords) ajv.addKeyword(keyword);
  ajv.addFormat('date-time', dateTime);
  const validators = new Map<string, CustomResourceValidator>();
  for (const crd of crds as Crd[]) {
    for (const version of crd.spec.versions) {
      const validate: ValidateFunction = ajv.compile(version.schema.openAPIV3Schema);
      validators.set(`${crd.spec.group}/${version.name} ${crd.spec.names.kind}`, {
        errors(object) {
          if (validate(object)) return [];
          return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
        },
      });
    }
  }
  return validators;
}

/** The manifests of the base kustomization, every document loaded. */
export function baseManifests(): LoadedDocument[] {
  return kustomizationResources('manifests').flatMap((file) => loadYamlDocuments(file));
}

export function findObject(docs: LoadedDocument[], kind: string, name: string): KubeObject {
  const found = docs.find((d) => d.object.kind === kind && d.object.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in the manifests`);
  return found.object;
}
