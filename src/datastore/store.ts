/**
 * The model's state, shared by both datastores. It turns "this object now looks like X" and
 * "this object is gone" into change events, emitting one only when the model content changed:
 * that is what makes delivery exactly-once across relists, reconnects and re-reads of a file,
 * where the same object is seen again.
 */
import { ALL_KINDS, Defaults, Kind, Redacted, objectKey } from './model.ts';
import type { BGPConfiguration, ChangeEvent, EffectiveBGPConfiguration, ModelObject, ObjectOfKind, Snapshot } from './model.ts';

/** Content equality, ignoring resourceVersion (a new version with the same content is no change). */
export function sameContent(a: unknown, b: unknown, top = true): boolean {
  if (a === b) return true;
  if (a instanceof Redacted || b instanceof Redacted) {
    return a instanceof Redacted && b instanceof Redacted && a.equals(b);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => !(top && k === 'resourceVersion'));
  const kb = Object.keys(b).filter((k) => !(top && k === 'resourceVersion'));
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!sameContent((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], false)) return false;
  }
  return true;
}

export function effectiveBGPConfiguration(obj: BGPConfiguration | undefined): EffectiveBGPConfiguration {
  if (!obj) {
    return {
      fromObject: false,
      asNumber: Defaults.asNumber,
      nodeToNodeMeshEnabled: Defaults.nodeToNodeMeshEnabled,
      listenPort: Defaults.listenPort,
      logSeverity: Defaults.logSeverity,
      serviceClusterIPs: [],
      serviceExternalIPs: [],
      serviceLoadBalancerIPs: [],
      communities: [],
      nodeMeshPassword: null,
      nodeMeshMaxRestartTime: null,
    };
  }
  const { kind: _k, name: _n, resourceVersion: _r, labels: _l, annotations: _a, ...spec } = obj;
  return { fromObject: true, ...spec };
}

export class ModelStore {
  readonly #maps = new Map<Kind, Map<string, ModelObject>>(ALL_KINDS.map((k) => [k, new Map()]));
  readonly #emit: (event: ChangeEvent) => void;

  constructor(emit: (event: ChangeEvent) => void) {
    this.#emit = emit;
  }

  get<K extends Kind>(kind: K, key: string): ObjectOfKind[K] | undefined {
    return this.#maps.get(kind)!.get(key) as ObjectOfKind[K] | undefined;
  }

  keys(kind: Kind): string[] {
    return [...this.#maps.get(kind)!.keys()];
  }

  /** Adds or replaces an object; emits added/updated when the content is new. Returns whether it emitted. */
  upsert(object: ModelObject): boolean {
    const map = this.#maps.get(object.kind)!;
    const key = objectKey(object);
    const previous = map.get(key);
    if (previous && sameContent(previous, object)) {
      // Keep the newest resourceVersion without telling anyone: nothing they see changed.
      map.set(key, object);
      return false;
    }
    map.set(key, object);
    this.#emit({ kind: object.kind, type: previous ? 'updated' : 'added', key, object, previous: previous ?? null } as ChangeEvent);
    return true;
  }

  /** Removes an object if present; emits deleted. */
  delete(kind: Kind, key: string): boolean {
    const map = this.#maps.get(kind)!;
    const previous = map.get(key);
    if (!previous) return false;
    map.delete(key);
    this.#emit({ kind, type: 'deleted', key, object: null, previous } as ChangeEvent);
    return true;
  }

  /**
   * Makes one kind hold exactly `objects`: deletes what is missing, then adds and updates.
   * Used for a relist and for a re-read file.
   */
  replaceKind(kind: Kind, objects: readonly ModelObject[]): void {
    const present = new Set(objects.map(objectKey));
    for (const key of this.keys(kind)) if (!present.has(key)) this.delete(kind, key);
    for (const o of objects) this.upsert(o);
  }

  snapshot(): Snapshot {
    const m = <K extends Kind>(k: K) => new Map(this.#maps.get(k)!) as Map<string, ObjectOfKind[K]>;
    const configs = m(Kind.BGPConfiguration);
    return {
      nodes: m(Kind.Node),
      pods: m(Kind.Pod),
      bgpConfigurations: configs,
      bgpConfiguration: effectiveBGPConfiguration(configs.get(Defaults.bgpConfigurationName)),
      bgpPeers: m(Kind.BGPPeer),
      secrets: m(Kind.Secret),
    };
  }
}
