/**
 * Writes each node's BGP status to a cluster-scoped BGPStatus object (tortie.dev/v1alpha1,
 * plural bgpstatuses, named after the node), in its status subresource, so that
 * `kubectl get bgpstatuses` shows which sessions are up.
 *
 * Writes are coalesced per node: only the latest status is kept, and at most one write per node
 * per `minIntervalMs`. A failed write is reported and retried at the next interval unless a newer
 * status replaces it. Nothing here throws at the caller.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { TORTIE_API_VERSION, TORTIE_GROUP, TORTIE_VERSION } from '../model.ts';
import type { NodeBGPStatus } from '../model.ts';

export const BGP_STATUS_PLURAL = 'bgpstatuses';
export const BGP_STATUS_KIND = 'BGPStatus';

interface Pending {
  status: NodeBGPStatus | null;
  lastWrite: number;
  timer: NodeJS.Timeout | null;
  writing: boolean;
}

function httpCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (e && typeof e.code === 'number') return e.code;
  if (e && typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export class StatusWriter {
  readonly #api: CustomObjectsApi;
  readonly #minIntervalMs: number;
  readonly #onError: (nodeName: string, err: unknown) => void;
  readonly #nodes = new Map<string, Pending>();
  #stopped = false;
  /** Successful writes, for tests and metrics. */
  writes = 0;

  constructor(kubeConfig: KubeConfig, minIntervalMs: number, onError: (nodeName: string, err: unknown) => void) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#minIntervalMs = minIntervalMs;
    this.#onError = onError;
  }

  write(nodeName: string, status: NodeBGPStatus): void {
    if (this.#stopped) return;
    let p = this.#nodes.get(nodeName);
    if (!p) {
      p = { status: null, lastWrite: 0, timer: null, writing: false };
      this.#nodes.set(nodeName, p);
    }
    p.status = { ...status, updated: status.updated || new Date().toISOString() };
    this.#schedule(nodeName, p);
  }

  stop(): void {
    this.#stopped = true;
    for (const p of this.#nodes.values()) if (p.timer) clearTimeout(p.timer);
  }

  #schedule(nodeName: string, p: Pending): void {
    if (p.timer || p.writing || p.status === null || this.#stopped) return;
    const wait = Math.max(0, p.lastWrite + this.#minIntervalMs - Date.now());
    p.timer = setTimeout(() => {
      p.timer = null;
      void this.#flush(nodeName, p);
    }, wait);
    p.timer.unref();
  }

  async #flush(nodeName: string, p: Pending): Promise<void> {
    const status = p.status;
    if (status === null || this.#stopped) return;
    p.status = null;
    p.writing = true;
    p.lastWrite = Date.now();
    try {
      await this.#put(nodeName, status);
      this.writes++;
    } catch (err) {
      this.#onError(nodeName, err);
      // Retry this status at the next interval unless a newer one arrived meanwhile.
      if (p.status === null) p.status = status;
    } finally {
      p.writing = false;
      this.#schedule(nodeName, p);
    }
  }

  async #put(nodeName: string, status: NodeBGPStatus): Promise<void> {
    const base = { group: TORTIE_GROUP, version: TORTIE_VERSION, plural: BGP_STATUS_PLURAL };
    // Custom resources allow no unconditional update: the PUT must carry the current
    // resourceVersion. On a conflict (someone wrote in between) read again and retry once.
    for (let attempt = 0; ; attempt++) {
      let current: { metadata?: { resourceVersion?: string } };
      try {
        current = await this.#api.getClusterCustomObject({ ...base, name: nodeName });
      } catch (err) {
        if (httpCode(err) !== 404) throw err;
        // Status is ignored on create when the CRD has a status subresource; it is set below.
        try {
          current = await this.#api.createClusterCustomObject({
            ...base,
            body: { apiVersion: TORTIE_API_VERSION, kind: BGP_STATUS_KIND, metadata: { name: nodeName } },
          });
        } catch (err2) {
          if (httpCode(err2) !== 409 || attempt > 0) throw err2;
          continue; // another writer created it first: read it
        }
      }
      const body = {
        apiVersion: TORTIE_API_VERSION,
        kind: BGP_STATUS_KIND,
        metadata: { name: nodeName, resourceVersion: current.metadata?.resourceVersion },
        status,
      };
      try {
        await this.#api.replaceClusterCustomObjectStatus({ ...base, name: nodeName, body });
        return;
      } catch (err) {
        if (httpCode(err) !== 409 || attempt > 0) throw err;
      }
    }
  }
}
