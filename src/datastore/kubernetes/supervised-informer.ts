/**
 * A client-node informer (ListWatch) under supervision.
 *
 * ListWatch lists, then watches from the list's resourceVersion, follows bookmarks, and relists on
 * 410 Gone. But it stops for good on any other error (a refused connection, a failed list, a
 * 403) and it can go quiet without reporting anything (a list that never answers). Here:
 *
 * - every error retires the ListWatch and starts a fresh one after a jittered exponential backoff
 *   (reset once a list succeeds);
 * - a watchdog retires it when nothing at all (event, bookmark, connect, list) has been seen for
 *   twice `silenceTimeoutMs`; the watch request itself is also cut after `silenceTimeoutMs` of
 *   silence, which ListWatch answers by re-watching from its last resourceVersion;
 * - each ListWatch is a generation: callbacks from a retired one are ignored, so a late event from
 *   an old connection can never reach the model twice or out of order;
 * - the list result is handed over whole (`onList`), so the owner can reconcile: delete what is
 *   gone, keep what is still there. Nothing is dropped while the server is away.
 */
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface SupervisedInformerOptions<T extends KubernetesObject> {
  /** For messages: "Node", "Pod", ... */
  name: string;
  kubeConfig: KubeConfig;
  /** Collection path to watch, e.g. /api/v1/nodes. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  silenceTimeoutMs: number;
  backoff: Backoff;
  /** Randomness for jitter; injected for tests. */
  random?: () => number;
  /**
   * A full list arrived. `why`: the first ever (`initial`), the first after the informer was
   * restarted (`restart`), or one ListWatch made on 410 Gone (`expired`).
   */
  onList: (items: readonly T[], why: 'initial' | 'restart' | 'expired') => void;
  onUpsert: (obj: T) => void;
  onDelete: (obj: T) => void;
  /** A failure the informer recovers from; `silent` marks a watchdog restart. */
  onProblem: (err: unknown, kind: 'failed' | 'silent') => void;
}

type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type DoneCallback = (err: unknown) => void;

export class SupervisedInformer<T extends KubernetesObject> {
  readonly #o: SupervisedInformerOptions<T>;
  readonly #random: () => number;
  #generation = 0;
  #current: ListWatch<T> | null = null;
  #attempts = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #lastActivity = Date.now();
  #running = false;
  #synced = false;
  /** Generations started: 1 + restarts. For tests and metrics. */
  starts = 0;

  constructor(options: SupervisedInformerOptions<T>) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  get synced(): boolean {
    return this.#synced;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#spawn();
    const period = Math.max(50, Math.floor(this.#o.silenceTimeoutMs / 4));
    this.#watchdog = setInterval(() => this.#checkSilence(), period);
    this.#watchdog.unref();
  }

  stop(): void {
    this.#running = false;
    this.#retire();
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #touch(): void {
    this.#lastActivity = Date.now();
  }

  #checkSilence(): void {
    if (!this.#running || this.#current === null) return;
    const silentFor = Date.now() - this.#lastActivity;
    if (silentFor < 2 * this.#o.silenceTimeoutMs) return;
    this.#o.onProblem(new Error(`${this.#o.name} informer silent for ${silentFor} ms`), 'silent');
    this.#retire();
    this.#scheduleRestart();
  }

  #retire(): void {
    this.#generation++;
    const lw = this.#current;
    this.#current = null;
    if (lw) void lw.stop();
  }

  #scheduleRestart(): void {
    if (!this.#running || this.#restartTimer) return;
    // Exponential backoff with jitter between half and the whole step, so that many agents
    // losing the same API server do not come back in lockstep.
    const step = Math.min(this.#o.backoff.maxMs, this.#o.backoff.initialMs * 2 ** this.#attempts);
    const delay = Math.round(step * (0.5 + this.#random() / 2));
    this.#attempts = Math.min(this.#attempts + 1, 30);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#running) this.#spawn();
    }, delay);
    this.#restartTimer.unref();
  }

  #spawn(): void {
    const gen = ++this.#generation;
    const live = () => gen === this.#generation && this.#running;
    this.starts++;
    this.#touch();

    const inner = new Watch(this.#o.kubeConfig);
    // Cut a watch that has been silent this long; ListWatch then re-watches from its resourceVersion.
    // The field is private in the typings, public in the implementation.
    (inner as unknown as { requestTimeoutMs: number }).requestTimeoutMs = this.#o.silenceTimeoutMs;
    const watch = {
      watch: async (path: string, params: Record<string, unknown>, cb: WatchCallback, done: DoneCallback): Promise<AbortController> => {
        // A retired generation must not open a connection (ListWatch does not re-check after a list).
        if (!live()) return new AbortController();
        try {
          return await inner.watch(path, { ...params, allowWatchBookmarks: true }, (phase, obj, raw) => {
            if (!live()) return;
            this.#touch();
            cb(phase, obj, raw);
          }, (err) => {
            if (live()) done(err);
          });
        } catch (err) {
          // Failures before the request (no cluster, auth plugin): report them like a failed watch.
          queueMicrotask(() => { if (live()) done(err); });
          return new AbortController();
        }
      },
    };

    let listsInGeneration = 0;
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await this.#o.list();
      if (!live()) throw new Error('retired informer generation');
      this.#touch();
      this.#attempts = 0;
      const why = listsInGeneration++ > 0 ? 'expired' : this.#synced ? 'restart' : 'initial';
      this.#synced = true;
      this.#o.onList(result.items ?? [], why);
      return result;
    };

    // ListWatch waits between re-watches; an unref'd timer so that it never holds the process at exit.
    const delayFn = (ms: number) => new Promise<void>((resolve) => { setTimeout(resolve, ms).unref(); });
    const lw = new ListWatch<T>(this.#o.path, watch as unknown as Watch, list, false, undefined, this.#o.fieldSelector, { delayFn });
    lw.on('add', (obj) => { if (live()) this.#o.onUpsert(obj); });
    lw.on('update', (obj) => { if (live()) this.#o.onUpsert(obj); });
    lw.on('delete', (obj) => { if (live()) this.#o.onDelete(obj); });
    lw.on('connect', () => { if (live()) this.#touch(); });
    lw.on('error', (err) => {
      if (!live()) return;
      this.#o.onProblem(err, 'failed');
      this.#retire();
      this.#scheduleRestart();
    });
    this.#current = lw;
    lw.start().catch((err: unknown) => {
      if (!live()) return;
      this.#o.onProblem(err, 'failed');
      this.#retire();
      this.#scheduleRestart();
    });
  }
}
