/**
 * The Kubernetes datastore: supervised informers on Nodes, this node's Pods
 * (fieldSelector spec.nodeName=NAME), BGPConfigurations and BGPPeers, feeding the shared
 * ModelStore; the Secrets that BGPPeer passwords name are read by name (secret-reader.ts).
 *
 * Per object, an invalid version is refused and reported (code TK_DS_INVALID_OBJECT, naming the
 * field); the last valid version of that object stays in the model. A relist deletes only objects
 * that are absent from the new list; one present but invalid is kept.
 *
 * Permissions needed: list/watch nodes, pods, bgpconfigurations, bgppeers (cluster); get secrets
 * in the secret namespace; get/create bgpstatuses and update bgpstatuses/status.
 */
import { EventEmitter } from 'node:events';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { DatastoreError, DatastoreErrorCode } from '../errors.ts';
import { Defaults, Kind, TORTIE_GROUP, TORTIE_VERSION } from '../model.ts';
import type { Datastore, DatastoreEvents, DatastoreStats, ModelObject, NodeBGPStatus, Snapshot } from '../model.ts';
import { ModelStore } from '../store.ts';
import { validateBGPConfiguration, validateBGPPeer, validateNode, validatePod } from '../validate.ts';
import type { ValidationResult } from '../validate.ts';
import { silentLogger } from '../logger.ts';
import type { Logger } from '../logger.ts';
import { SupervisedInformer } from './supervised-informer.ts';
import type { Backoff } from './supervised-informer.ts';
import { StatusWriter } from './status-writer.ts';
import { SecretReader } from './secret-reader.ts';
import { counters, emitChange } from '../emit.ts';

export interface KubernetesDatastoreOptions {
  kubeConfig: KubeConfig;
  /** This node: its pods are watched. */
  nodeName: string;
  /** Where BGPPeer password Secrets live. Default tortie-system. */
  secretNamespace?: string;
  /** A watch silent this long is re-opened; twice this long with no sign of life at all, the informer restarts. Default 120 s. */
  silenceTimeoutMs?: number;
  /** Restart backoff after failures. Default 500 ms doubling to 30 s, jittered. */
  backoff?: Backoff;
  /** Referenced Secrets are re-read this often (and whenever BGPPeers change). Default 60 s. */
  secretRefreshMs?: number;
  /** At most one status write per node per interval. Default 5 s. */
  statusMinIntervalMs?: number;
  logger?: Logger;
  random?: () => number;
}

interface KindSpec {
  kind: Kind;
  /** Keyed "namespace/name" (Pods) rather than "name". */
  namespaced: boolean;
  path: string;
  fieldSelector?: string;
  list: () => Promise<KubernetesListObject<KubernetesObject>>;
  validate: (raw: unknown) => ValidationResult<ModelObject>;
}

/** One line about an error. Client errors carry the whole response body; keep it short. */
function errorSummary(err: unknown): string {
  let text = String(err);
  if (err instanceof Error) {
    const code = (err as { code?: unknown; statusCode?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
    text = code !== undefined && typeof code !== 'object' ? `${err.message} (${String(code)})` : err.message;
  }
  text = text.replace(/\s+/g, ' ');
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

function keyOf(raw: KubernetesObject, namespaced: boolean): string {
  const name = raw.metadata?.name ?? '';
  return namespaced ? `${raw.metadata?.namespace ?? ''}/${name}` : name;
}

export class KubernetesDatastore extends EventEmitter<DatastoreEvents> implements Datastore {
  readonly type = 'kubernetes';
  readonly #store: ModelStore;
  readonly #informers: SupervisedInformer<KubernetesObject>[] = [];
  readonly #statusWriter: StatusWriter;
  readonly #secrets: SecretReader;
  readonly #kinds: Kind[] = [];
  readonly #log: Logger;
  /** Last resourceVersion seen per object, valid or not. */
  readonly #seen = new Map<Kind, Map<string, string>>([Kind.Node, Kind.Pod, Kind.BGPConfiguration, Kind.BGPPeer].map((k) => [k, new Map()]));
  #synced = false;
  #syncing = false;
  #resolveSynced!: () => void;
  readonly synced: Promise<void>;

  constructor(options: KubernetesDatastoreOptions) {
    super();
    this.#log = options.logger ?? silentLogger;
    if (!options.nodeName) {
      throw new DatastoreError(DatastoreErrorCode.BadDatastoreSpec, 'Kubernetes datastore', 'a node name is required (its pods are selected by spec.nodeName)');
    }
    this.#store = new ModelStore((event) => {
      emitChange(this, this.#log, event);
      // A password reference may have changed: read the Secrets named now.
      if ((event.kind === Kind.BGPPeer || event.kind === Kind.BGPConfiguration) && this.#syncing) void this.#secrets.refresh();
    });
    this.synced = new Promise((resolve) => { this.#resolveSynced = resolve; });
    const secretNamespace = options.secretNamespace ?? Defaults.secretNamespace;
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    const customList = (plural: string) => () =>
      custom.listClusterCustomObject({ group: TORTIE_GROUP, version: TORTIE_VERSION, plural }) as Promise<KubernetesListObject<KubernetesObject>>;
    const podSelector = `spec.nodeName=${options.nodeName}`;
    const specs: KindSpec[] = [
      { kind: Kind.Node, namespaced: false, path: '/api/v1/nodes', list: () => core.listNode(), validate: validateNode },
      {
        kind: Kind.Pod, namespaced: true, path: '/api/v1/pods', fieldSelector: podSelector,
        list: () => core.listPodForAllNamespaces({ fieldSelector: podSelector }), validate: validatePod,
      },
      {
        kind: Kind.BGPConfiguration, namespaced: false, path: `/apis/${TORTIE_GROUP}/${TORTIE_VERSION}/bgpconfigurations`,
        list: customList('bgpconfigurations'), validate: validateBGPConfiguration,
      },
      {
        kind: Kind.BGPPeer, namespaced: false, path: `/apis/${TORTIE_GROUP}/${TORTIE_VERSION}/bgppeers`,
        list: customList('bgppeers'), validate: validateBGPPeer,
      },
    ];
    for (const spec of specs) {
      const informer: SupervisedInformer<KubernetesObject> = new SupervisedInformer({
        name: spec.kind,
        kubeConfig: options.kubeConfig,
        path: spec.path,
        list: spec.list,
        fieldSelector: spec.fieldSelector,
        silenceTimeoutMs: options.silenceTimeoutMs ?? 120_000,
        backoff: options.backoff ?? { initialMs: 500, maxMs: 30_000 },
        random: options.random,
        onList: (items, why) => {
          if (why !== 'initial') {
            counters(this).resyncs++;
            this.emit('resync', { kind: spec.kind, reason: why });
          }
          this.#relist(spec, items);
          this.#checkSynced();
        },
        onUpsert: (raw) => this.#upsert(spec, raw),
        onDelete: (raw) => {
          const key = keyOf(raw, spec.namespaced);
          this.#seen.get(spec.kind)!.delete(key);
          this.#store.delete(spec.kind, key);
        },
        onProblem: (err, how) => {
          const code = how === 'silent' ? DatastoreErrorCode.WatchSilent : DatastoreErrorCode.WatchFailed;
          const problem = new DatastoreError(code, `${spec.kind} informer`,
            how === 'silent' ? `no sign of life from the API server; restarting the watch` : `list/watch failed: ${errorSummary(err)}; restarting with backoff, serving the last known state`,
            [], { cause: err });
          this.#problem(problem);
        },
      });
      this.#informers.push(informer);
      this.#kinds.push(spec.kind);
    }
    this.#secrets = new SecretReader(core, secretNamespace, this.#store, options.secretRefreshMs ?? 60_000, {
      onMissing: (name, peers) => this.#problem(new DatastoreError(DatastoreErrorCode.SecretMissing, `Secret ${secretNamespace}/${name}`,
        `not found; ${peers.join(', ')} cannot get its password`)),
      onInvalid: (name, issues) => this.#problem(new DatastoreError(DatastoreErrorCode.InvalidObject, `Secret ${secretNamespace}/${name}`, 'refused; keeping its last valid version', issues)),
      onFailed: (name, err) => this.#problem(new DatastoreError(DatastoreErrorCode.WatchFailed, `Secret ${secretNamespace}/${name}`,
        `read failed: ${errorSummary(err)}; keeping the last known password`, [], { cause: err })),
    });
    this.#statusWriter = new StatusWriter(options.kubeConfig, options.statusMinIntervalMs ?? 5_000, (nodeName, err) => {
      this.#problem(new DatastoreError(DatastoreErrorCode.StatusWriteFailed, `BGPStatus ${nodeName}`, `status write failed: ${errorSummary(err)}`, [], { cause: err }));
    });
  }

  get isSynced(): boolean {
    return this.#synced;
  }

  /** How many times each informer has been (re)started, by kind. For tests and metrics. */
  informerStarts(): Record<string, number> {
    return Object.fromEntries(this.#informers.map((inf, i) => [this.#kinds[i], inf.starts]));
  }

  get statusWrites(): number {
    return this.#statusWriter.writes;
  }

  async start(): Promise<void> {
    for (const inf of this.#informers) inf.start();
    this.#secrets.start();
  }

  async stop(): Promise<void> {
    for (const inf of this.#informers) inf.stop();
    this.#secrets.stop();
    this.#statusWriter.stop();
  }

  snapshot(): Snapshot {
    return this.#store.snapshot();
  }

  writeStatus(nodeName: string, status: NodeBGPStatus): void {
    this.#statusWriter.write(nodeName, status);
  }

  #checkSynced(): void {
    if (this.#synced || this.#syncing || !this.#informers.every((i) => i.synced)) return;
    // Synced includes the passwords of the peers known so far, so that no session starts without one.
    this.#syncing = true;
    void this.#secrets.refresh().then(() => {
      this.#synced = true;
      this.#resolveSynced();
      this.emit('synced');
    });
  }

  stats(): DatastoreStats {
    return { ...counters(this) };
  }

  #problem(err: DatastoreError): void {
    counters(this).problems++;
    this.#log.warn({ code: err.code, subject: err.subject, err: err.message }, 'datastore problem');
    this.emit('problem', err);
  }

  #validated(spec: KindSpec, raw: KubernetesObject): ModelObject | null {
    const result = spec.validate(raw);
    if (result.ok) return result.object;
    const ns = raw.metadata?.namespace;
    const subject = `${spec.kind} ${ns ? `${ns}/` : ''}${raw.metadata?.name ?? '(unnamed)'}`;
    this.#problem(new DatastoreError(DatastoreErrorCode.InvalidObject, subject, 'refused; keeping its last valid version', result.issues));
    return null;
  }

  #upsert(spec: KindSpec, raw: KubernetesObject): void {
    // ListWatch hands over the items of a list we have already reconciled in #relist; a version
    // seen before is skipped so that an invalid object is reported once, not twice.
    const key = keyOf(raw, spec.namespaced);
    const rv = raw.metadata?.resourceVersion;
    const seen = this.#seen.get(spec.kind)!;
    if (rv !== undefined && seen.get(key) === rv) return;
    if (rv !== undefined) seen.set(key, rv);
    const obj = this.#validated(spec, raw);
    if (obj) this.#store.upsert(obj);
  }

  /** A full list: delete what is gone, then add and update. Invalid objects that are present stay as they were. */
  #relist(spec: KindSpec, items: readonly KubernetesObject[]): void {
    const present = new Set(items.map((i) => keyOf(i, spec.namespaced)));
    for (const key of this.#store.keys(spec.kind)) if (!present.has(key)) this.#store.delete(spec.kind, key);
    const seen = this.#seen.get(spec.kind)!;
    for (const key of seen.keys()) if (!present.has(key)) seen.delete(key);
    for (const raw of items) this.#upsert(spec, raw);
  }
}
