/**
 * Opening a datastore from the `--datastore` setting: `kubernetes` or `file:PATH`.
 * Everything downstream sees only the Datastore interface (model.ts).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { DatastoreError, DatastoreErrorCode } from './errors.ts';
import type { Datastore } from './model.ts';
import { FileDatastore } from './file/file-datastore.ts';
import type { FileDatastoreOptions } from './file/file-datastore.ts';
import { KubernetesDatastore } from './kubernetes/kubernetes-datastore.ts';
import type { KubernetesDatastoreOptions } from './kubernetes/kubernetes-datastore.ts';
import type { Logger } from './logger.ts';

export type DatastoreSpec = { type: 'kubernetes' } | { type: 'file'; path: string };

export function parseDatastoreSpec(text: string): DatastoreSpec {
  if (text === 'kubernetes') return { type: 'kubernetes' };
  if (text.startsWith('file:') && text.length > 'file:'.length) return { type: 'file', path: text.slice('file:'.length) };
  throw new DatastoreError(DatastoreErrorCode.BadDatastoreSpec, `datastore '${text}'`, `expected 'kubernetes' or 'file:PATH'`);
}

export interface OpenDatastoreOptions {
  nodeName: string;
  logger?: Logger;
  secretNamespace?: string;
  /** Kubernetes only: defaults to the in-cluster config, else $KUBECONFIG / ~/.kube/config. */
  kubeConfig?: KubeConfig;
  kubernetes?: Partial<KubernetesDatastoreOptions>;
  file?: Partial<FileDatastoreOptions>;
}

export function openDatastore(spec: DatastoreSpec, options: OpenDatastoreOptions): Datastore {
  if (spec.type === 'file') {
    return new FileDatastore({ ...options.file, path: spec.path, nodeName: options.nodeName, secretNamespace: options.secretNamespace, logger: options.logger });
  }
  let kubeConfig = options.kubeConfig;
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
  }
  return new KubernetesDatastore({ ...options.kubernetes, kubeConfig, nodeName: options.nodeName, secretNamespace: options.secretNamespace, logger: options.logger });
}

export type * from './model.ts';
export { Defaults, Kind, NodeAnnotation, Redacted, TORTIE_API_VERSION, TORTIE_GROUP, TORTIE_VERSION } from './model.ts';
export { DatastoreError, DatastoreErrorCode, formatIssue } from './errors.ts';
export { FileDatastore } from './file/file-datastore.ts';
export { KubernetesDatastore } from './kubernetes/kubernetes-datastore.ts';
export { parseSelector, selectorMatches } from './selector.ts';
export { nodesSelectedAsPeers, passwordSecretReferences, peerAppliesToNode, resolvePassword, resolvePeerPassword } from './peers.ts';
export type { Logger } from './logger.ts';
