/**
 * Reads the Secrets that BGP passwords (BGPPeer password, BGPConfiguration nodeMeshPassword)
 * refer to, by name, with GET only: the agent's Role in the secret namespace grants `get` and nothing else, so it can read a Secret it is told about
 * but cannot enumerate or watch the namespace. Passwords change rarely; each referenced Secret is
 * re-read when the set of references changes and every `refreshMs` to pick up rotations.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { Kind } from '../model.ts';
import type { ModelObject } from '../model.ts';
import type { ModelStore } from '../store.ts';
import { validateSecret } from '../validate.ts';
import type { ValidationIssue } from '../errors.ts';
import { passwordSecretReferences } from '../peers.ts';

export interface SecretReaderHooks {
  onMissing: (name: string, referencedBy: string[]) => void;
  onInvalid: (name: string, issues: ValidationIssue[]) => void;
  onFailed: (name: string, err: unknown) => void;
}

function httpCode(err: unknown): number | undefined {
  const e = err as { code?: unknown } | null;
  return e && typeof e.code === 'number' ? e.code : undefined;
}

export class SecretReader {
  readonly #api: CoreV1Api;
  readonly #namespace: string;
  readonly #store: ModelStore;
  readonly #refreshMs: number;
  readonly #hooks: SecretReaderHooks;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  /** Names whose absence has been reported, so that a missing Secret is reported once. */
  readonly #reportedMissing = new Set<string>();

  constructor(api: CoreV1Api, namespace: string, store: ModelStore, refreshMs: number, hooks: SecretReaderHooks) {
    this.#api = api;
    this.#namespace = namespace;
    this.#store = store;
    this.#refreshMs = refreshMs;
    this.#hooks = hooks;
  }

  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => void this.refresh(), this.#refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Secret name → the objects that refer to it (`BGPPeer NAME`, `BGPConfiguration default`). */
  #references(): Map<string, string[]> {
    const objects: ModelObject[] = [];
    for (const kind of [Kind.BGPPeer, Kind.BGPConfiguration]) {
      for (const key of this.#store.keys(kind)) {
        const o = this.#store.get(kind, key);
        if (o) objects.push(o);
      }
    }
    return passwordSecretReferences(objects);
  }

  /** Re-reads every referenced Secret and drops unreferenced ones. Calls made meanwhile coalesce into one more pass. */
  refresh(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  async #pass(): Promise<void> {
    const refs = this.#references();
    for (const key of this.#store.keys(Kind.Secret)) {
      const name = key.slice(key.indexOf('/') + 1);
      if (!refs.has(name)) this.#store.delete(Kind.Secret, key);
    }
    for (const name of this.#reportedMissing) if (!refs.has(name)) this.#reportedMissing.delete(name);
    for (const [name, peers] of refs) {
      if (this.#stopped) return;
      let raw: unknown;
      try {
        raw = await this.#api.readNamespacedSecret({ name, namespace: this.#namespace });
      } catch (err) {
        if (httpCode(err) === 404) {
          this.#store.delete(Kind.Secret, `${this.#namespace}/${name}`);
          if (!this.#reportedMissing.has(name)) {
            this.#reportedMissing.add(name);
            this.#hooks.onMissing(name, peers);
          }
        } else {
          // Keep what we had: a password does not vanish because the API server is away.
          this.#hooks.onFailed(name, err);
        }
        continue;
      }
      this.#reportedMissing.delete(name);
      const result = validateSecret(raw, this.#namespace);
      if (!result.ok) {
        this.#hooks.onInvalid(name, result.issues);
        continue;
      }
      // The reference set may have changed while we waited.
      if (this.#references().has(name)) this.#store.upsert(result.object as ModelObject);
    }
  }
}
