/**
 * The file datastore (`--datastore file:PATH`): the same objects as the Kubernetes datastore —
 * v1 Node, v1 Pod, v1 Secret (for BGP passwords, optional), tortie.dev/v1alpha1
 * BGPConfiguration and BGPPeer — from one multi-document YAML file, followed live.
 *
 * - Changes are noticed by fs.watch on the file's directory (so an editor that writes a new file
 *   and renames it over the old one is seen) and by polling the file's stat as a fallback (network
 *   filesystems, bind mounts, and watchers that miss events).
 * - An edit is all or nothing: the whole file is parsed and validated first; any error (reported
 *   with file, document, field and line) leaves the last good state running. A valid file is
 *   diffed against the model object by object and only what changed is emitted.
 * - A missing file (deleted, or mid-rename) or an empty one (a truncating writer, mid-write)
 *   keeps the last state and is retried; a file is read only once it has been quiet for
 *   `debounceMs`. A file holding only comments does empty the model.
 * - Like the Kubernetes datastore, only this node's pods, and only the Secrets of the secret
 *   namespace that a BGPPeer names, enter the model.
 * - Status: `writeStatus` keeps the latest status per node in memory (`status(node)`) and, unless
 *   `statusFiles` is false, writes it to `PATH.NODE.status.yaml` next to the file (atomically,
 *   at most once per `statusMinIntervalMs`). A failed write (read-only mount) is reported once as
 *   a problem and never stops anything.
 */
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { stringify } from 'yaml';
import { DatastoreError, DatastoreErrorCode } from '../errors.ts';
import { Defaults, Kind, TORTIE_API_VERSION } from '../model.ts';
import type { Datastore, DatastoreEvents, DatastoreStats, ModelObject, NodeBGPStatus, Snapshot } from '../model.ts';
import { ModelStore } from '../store.ts';
import { silentLogger } from '../logger.ts';
import type { Logger } from '../logger.ts';
import { parseObjectsFile } from './parse.ts';
import { counters, emitChange } from '../emit.ts';
import { passwordSecretReferences } from '../peers.ts';

export interface FileDatastoreOptions {
  path: string;
  nodeName: string;
  secretNamespace?: string;
  /** Stat polling period, the fallback when fs.watch misses a change. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Quiet time after a change before the file is read, so that a write in several steps is read once. Default 50 ms. */
  debounceMs?: number;
  /** Use fs.watch as well as polling. Default true; false leaves polling alone (tests, odd filesystems). */
  fsWatch?: boolean;
  statusFiles?: boolean;
  statusMinIntervalMs?: number;
  logger?: Logger;
}

/** Kinds in the order a re-read applies them: secrets before the peers that use them, nodes before pods. */
const APPLY_ORDER: readonly Kind[] = [Kind.Secret, Kind.BGPConfiguration, Kind.Node, Kind.BGPPeer, Kind.Pod];

export class FileDatastore extends EventEmitter<DatastoreEvents> implements Datastore {
  readonly type = 'file';
  readonly path: string;
  readonly #o: Required<Omit<FileDatastoreOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #store: ModelStore;
  #watcher: FSWatcher | null = null;
  #poll: NodeJS.Timeout | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #statSig = '';
  #lastText: string | null = null;
  #lastBadText: string | null = null;
  #missingReported = false;
  #current: Promise<void> | null = null;
  #readAgain = false;
  #running = false;
  #synced = false;
  #resolveSynced!: () => void;
  readonly synced: Promise<void>;
  readonly #statuses = new Map<string, NodeBGPStatus>();
  readonly #statusTimers = new Map<string, NodeJS.Timeout>();
  readonly #statusLastWrite = new Map<string, number>();
  #statusFailed = false;
  /** Successful re-reads that changed something, for tests and metrics. */
  reloads = 0;

  constructor(options: FileDatastoreOptions) {
    super();
    this.path = resolve(options.path);
    this.#o = {
      path: this.path,
      nodeName: options.nodeName,
      secretNamespace: options.secretNamespace ?? Defaults.secretNamespace,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      debounceMs: options.debounceMs ?? 50,
      fsWatch: options.fsWatch ?? true,
      statusFiles: options.statusFiles ?? true,
      statusMinIntervalMs: options.statusMinIntervalMs ?? 1000,
    };
    this.#log = options.logger ?? silentLogger;
    this.#store = new ModelStore((event) => emitChange(this, this.#log, event));
    this.synced = new Promise((r) => { this.#resolveSynced = r; });
  }

  get isSynced(): boolean {
    return this.#synced;
  }

  /** Reads the file once; rejects with a DatastoreError (naming file, document, field, line) when it is missing or bad. */
  async start(): Promise<void> {
    if (this.#running) return;
    // Before reading: a change made while we read then shows up as a new signature.
    this.#statSig = await this.#signature();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw new DatastoreError(DatastoreErrorCode.FileUnreadable, this.path, `cannot read the datastore file: ${(err as Error).message}`, [], { cause: err });
    }
    const problem = this.#apply(text);
    if (problem) throw problem;
    this.#running = true;
    this.#synced = true;
    this.#resolveSynced();
    this.emit('synced');
    this.#startWatching();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    for (const t of this.#statusTimers.values()) clearTimeout(t);
    this.#statusTimers.clear();
  }

  snapshot(): Snapshot {
    return this.#store.snapshot();
  }

  /** The last status written for a node (kept in memory whatever `statusFiles` says). */
  status(nodeName: string): NodeBGPStatus | undefined {
    return this.#statuses.get(nodeName);
  }

  statusPath(nodeName: string): string {
    return `${this.path}.${nodeName}.status.yaml`;
  }

  writeStatus(nodeName: string, status: NodeBGPStatus): void {
    this.#statuses.set(nodeName, { ...status, updated: status.updated || new Date().toISOString() });
    if (!this.#o.statusFiles || this.#statusTimers.has(nodeName)) return;
    const wait = Math.max(0, (this.#statusLastWrite.get(nodeName) ?? 0) + this.#o.statusMinIntervalMs - Date.now());
    const timer = setTimeout(() => {
      this.#statusTimers.delete(nodeName);
      this.#statusLastWrite.set(nodeName, Date.now());
      void this.#writeStatusFile(nodeName);
    }, wait);
    timer.unref();
    this.#statusTimers.set(nodeName, timer);
  }

  async #writeStatusFile(nodeName: string): Promise<void> {
    const status = this.#statuses.get(nodeName);
    if (!status) return;
    const target = this.statusPath(nodeName);
    const tmp = `${target}.tmp-${process.pid}`;
    const doc = { apiVersion: TORTIE_API_VERSION, kind: 'BGPStatus', metadata: { name: nodeName }, status };
    try {
      await writeFile(tmp, stringify(doc));
      await rename(tmp, target);
      this.#statusFailed = false;
    } catch (err) {
      if (this.#statusFailed) return; // reported already; a read-only mount stays read-only
      this.#statusFailed = true;
      this.#problem(new DatastoreError(DatastoreErrorCode.StatusWriteFailed, target, `cannot write status: ${(err as Error).message}; status stays in memory`, [], { cause: err }));
    }
  }

  stats(): DatastoreStats {
    return { ...counters(this) };
  }

  /** Re-reads the file now (SIGHUP); resolves when done. Changes and problems are emitted as usual. */
  async reload(): Promise<void> {
    if (!this.#running) return;
    await this.#reload();
  }

  #problem(err: DatastoreError): void {
    counters(this).problems++;
    this.#log.warn({ code: err.code, subject: err.subject, err: err.message }, 'datastore problem');
    this.emit('problem', err);
  }

  /** Parses and applies `text`; returns the problem instead when it is refused. */
  #apply(text: string): DatastoreError | null {
    const parsed = parseObjectsFile(text, this.path);
    if (!parsed.ok) {
      const code = parsed.syntax ? DatastoreErrorCode.InvalidYaml : DatastoreErrorCode.InvalidObject;
      return new DatastoreError(code, this.path, 'refused; the last good state stays in force', parsed.issues);
    }
    // As in the Kubernetes datastore: this node's pods, and only the Secrets a password names
    // (a BGPPeer's, or the mesh's in BGPConfiguration default).
    const referenced = passwordSecretReferences(parsed.objects.map((p) => p.object));
    const wanted = (o: ModelObject) =>
      (o.kind !== Kind.Pod || o.nodeName === this.#o.nodeName) &&
      (o.kind !== Kind.Secret || (o.namespace === this.#o.secretNamespace && referenced.has(o.name)));
    const byKind = new Map<Kind, ModelObject[]>(APPLY_ORDER.map((k) => [k, []]));
    for (const { object } of parsed.objects) if (wanted(object)) byKind.get(object.kind)!.push(object);
    for (const kind of APPLY_ORDER) this.#store.replaceKind(kind, byKind.get(kind)!);
    this.#lastText = text;
    this.#lastBadText = null;
    return null;
  }

  #startWatching(): void {
    const dir = dirname(this.path);
    const name = basename(this.path);
    if (this.#o.fsWatch) {
      try {
        this.#watcher = watch(dir, { persistent: false }, (_event, filename) => {
          // filename can be missing on some platforms: then any change in the directory counts.
          // A ConfigMap volume updates by swapping its "..data" symlink, not the file's name.
          if (filename === null || filename === name || filename.startsWith('..')) this.#schedule();
        });
        this.#watcher.on('error', (err) => {
          this.#log.warn({ err: String(err), dir }, 'fs.watch failed; polling only');
          this.#watcher?.close();
          this.#watcher = null;
        });
      } catch (err) {
        this.#log.warn({ err: String(err), dir }, 'fs.watch unavailable; polling only');
      }
    }
    this.#poll = setInterval(() => {
      void this.#signature().then((sig) => {
        if (sig !== this.#statSig) this.#schedule();
      });
    }, this.#o.pollIntervalMs);
    this.#poll.unref();
  }

  async #signature(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      void this.#reload();
    }, this.#o.debounceMs);
    this.#debounce.unref();
  }

  #reload(): Promise<void> {
    if (this.#current) {
      // One more pass after the current one; the caller waits for both.
      this.#readAgain = true;
      return this.#current;
    }
    this.#current = this.#readLoop().finally(() => { this.#current = null; });
    return this.#current;
  }

  async #readLoop(): Promise<void> {
    do {
      this.#readAgain = false;
      // A writer may be mid-way (truncate, then write): wait until the file has been quiet
      // for the debounce time before believing it.
      const modified = await stat(this.path).then((st) => st.mtimeMs, () => 0);
      const age = Date.now() - modified;
      // (A modification time in the future, from a skewed clock, counts as quiet.)
      if (age >= 0 && age < this.#o.debounceMs) {
        await new Promise((r) => setTimeout(r, this.#o.debounceMs - age));
        this.#readAgain = true;
        continue;
      }
      this.#statSig = await this.#signature();
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (err) {
        if (!this.#missingReported) {
          this.#missingReported = true;
          this.#problem(new DatastoreError(DatastoreErrorCode.FileUnreadable, this.path, `cannot read the datastore file: ${(err as Error).message}; keeping the last good state`, [], { cause: err }));
        }
        continue;
      }
      this.#missingReported = false;
      if (!this.#running || text === this.#lastText || text === this.#lastBadText) continue;
      if (text.trim() === '') {
        // An empty file is what a truncating writer leaves for a moment; applying it would
        // delete every object. Emptying the model takes a file with at least a comment.
        this.#lastBadText = text;
        this.#problem(new DatastoreError(DatastoreErrorCode.FileUnreadable, this.path, 'the file is empty; keeping the last good state (write a comment line to really remove everything)'));
        continue;
      }
      const problem = this.#apply(text);
      if (problem) {
        this.#lastBadText = text; // report a bad edit once, not on every poll
        this.#problem(problem);
      } else {
        this.reloads++;
        counters(this).resyncs++;
        this.emit('resync', { kind: 'file', reason: 'file' });
        this.#log.info({ path: this.path }, 'datastore file re-read');
      }
    } while (this.#readAgain && this.#running);
  }
}
