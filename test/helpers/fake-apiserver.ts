/**
 * A Kubernetes API server in miniature, on node:http, for driving clients through the real
 * list/watch protocol and the ways it fails:
 *
 * - list: `GET /api/v1/nodes` → `{kind, metadata: {resourceVersion}, items}`; a list at a
 *   resourceVersion older than the compacted history → 410 Gone (reason Expired).
 * - watch: `?watch=true&resourceVersion=R` → 200 and newline-delimited JSON events
 *   (`{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":...}`), replaying history
 *   after R, then live. R older than the compacted history → an ERROR event carrying a Status
 *   with code 410 (what a real apiserver does), or a plain HTTP 410 with `goneMode: 'http'`.
 *   Bookmarks only go to watches that asked (`allowWatchBookmarks=true`).
 * - field selectors `a.b=v` / `a.b!=v` (comma = AND) on lists and watches, e.g. spec.nodeName=n1.
 * - writes: POST (create), PUT (replace), PUT .../status (the status subresource), DELETE, GET.
 *   For collections in `statusSubresource`, create and replace ignore `status` as Kubernetes does.
 *
 * Faults (each optionally limited to one collection path): `dropWatches()` (sockets destroyed mid-stream), `closeWatches()` (clean end, as at a
 * server-side timeout), `sendGone()` (ERROR 410 mid-stream, then end), `stallWatches()` (open
 * watches go silent: events stop reaching them, the connection stays), `compact()`, `failLists()`,
 * `hangLists()`, and `stop()`/`start()` for the whole server going away on the same port.
 *
 * Resource paths: `/api/v1/[namespaces/NS/]PLURAL[/NAME[/status]]` and
 * `/apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME[/status]]`. Any plural works; nothing is
 * registered in advance. Used by the datastore tests and, later, the agent's.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

type Json = Record<string, unknown>;
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Route {
  /** "api/v1" or "apis/tortie.dev/v1alpha1" */
  prefix: string;
  namespace: string | null;
  plural: string;
  name: string | null;
  subresource: string | null;
}

interface HistoryEntry {
  rv: number;
  collection: string;
  type: EventType;
  object: Json;
}

interface WatchConn {
  /** Request path, e.g. /api/v1/nodes: faults can target one collection. */
  path: string;
  collection: string;
  namespace: string | null;
  selector: FieldSelector;
  bookmarks: boolean;
  res: ServerResponse;
  stalled: boolean;
  closed: boolean;
}

type FieldSelector = (obj: Json) => boolean;

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface FakeApiServerOptions {
  /** Collections (plural names) whose `status` is a subresource. Default: bgpstatuses. */
  statusSubresource?: string[];
  /** How a watch from a compacted resourceVersion fails: ERROR event (default) or HTTP 410. */
  goneMode?: 'event' | 'http';
}

function parseRoute(pathname: string): Route | null {
  const parts = pathname.split('/').filter((p) => p !== '');
  let prefixLen: number;
  if (parts[0] === 'api' && parts[1] === 'v1') prefixLen = 2;
  else if (parts[0] === 'apis' && parts.length >= 3) prefixLen = 3;
  else return null;
  const prefix = parts.slice(0, prefixLen).join('/');
  let rest = parts.slice(prefixLen);
  let namespace: string | null = null;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return null;
  return { prefix, namespace, plural: rest[0], name: rest[1] ?? null, subresource: rest[2] ?? null };
}

function compileFieldSelector(text: string | undefined): FieldSelector | string {
  if (!text) return () => true;
  const terms = text.split(',').map((t) => {
    const m = /^([\w.]+)(!=|==|=)(.*)$/.exec(t.trim());
    if (!m) return null;
    const path = m[1].split('.');
    return { path, negate: m[2] === '!=', value: m[3] };
  });
  if (terms.some((t) => t === null)) return `unable to parse field selector '${text}'`;
  return (obj) =>
    terms.every((t) => {
      let cur: unknown = obj;
      for (const p of t!.path) cur = cur && typeof cur === 'object' ? (cur as Json)[p] : undefined;
      const actual = cur === undefined || cur === null ? '' : String(cur);
      return t!.negate ? actual !== t!.value : actual === t!.value;
    });
}

function status(code: number, reason: string, message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const clone = <T>(o: T): T => structuredClone(o);

export class FakeApiServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<WatchConn>();
  /** collection key (`prefix|plural`) → "ns/name" → object */
  readonly #store = new Map<string, Map<string, Json>>();
  readonly #history: HistoryEntry[] = [];
  readonly #statusSubresource: Set<string>;
  #rv = 100;
  /** Watches and lists older than this resourceVersion get 410 Gone. */
  #compactedBefore = 0;
  #failLists = 0;
  #failStatus = 500;
  #hangLists = 0;
  readonly #hungResponses = new Set<ServerResponse>();
  #port = 0;
  #listening = false;
  goneMode: 'event' | 'http';
  readonly requests: RequestRecord[] = [];

  constructor(options: FakeApiServerOptions = {}) {
    this.#statusSubresource = new Set(options.statusSubresource ?? ['bgpstatuses']);
    this.goneMode = options.goneMode ?? 'event';
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 60_000;
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Listens on 127.0.0.1 (an ephemeral port the first time, the same port after a stop). */
  async start(): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as { port: number }).port;
    this.#listening = true;
  }

  /** The API server goes away: the listener closes and every connection is cut. */
  async stop(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const res of this.#hungResponses) res.destroy();
    this.#hungResponses.clear();
    for (const s of this.#sockets) s.destroy();
    this.#watches.clear();
    await closed;
  }

  /** A KubeConfig pointing at this server, built in code. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  // -------------------------------------------------------------------------------------------
  // Data, as a controller or kubectl would change it

  /** Creates or replaces an object at a collection path such as `/api/v1/nodes`. Returns it with its new resourceVersion. */
  apply(collectionPath: string, object: Json): Json {
    const route = parseRoute(collectionPath);
    if (!route) throw new Error(`bad collection path ${collectionPath}`);
    const meta = (object.metadata ?? {}) as Json;
    const ns = (meta.namespace as string | undefined) ?? route.namespace ?? '';
    const key = this.#collectionKey(route);
    const exists = this.#objects(key).has(`${ns}/${meta.name as string}`);
    return this.#write(key, exists ? 'MODIFIED' : 'ADDED', clone(object), ns);
  }

  /** Deletes an object; returns false when it did not exist. */
  remove(collectionPath: string, name: string, namespace = ''): boolean {
    const route = parseRoute(collectionPath);
    if (!route) throw new Error(`bad collection path ${collectionPath}`);
    const key = this.#collectionKey(route);
    const existing = this.#objects(key).get(`${namespace}/${name}`);
    if (!existing) return false;
    this.#write(key, 'DELETED', clone(existing), namespace);
    return true;
  }

  get(collectionPath: string, name: string, namespace = ''): Json | undefined {
    const route = parseRoute(collectionPath);
    if (!route) throw new Error(`bad collection path ${collectionPath}`);
    const o = this.#objects(this.#collectionKey(route)).get(`${namespace}/${name}`);
    return o ? clone(o) : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  /** Destroys the sockets of every open watch, mid-stream. */
  dropWatches(path?: string): void {
    for (const w of this.#watches) {
      if (path !== undefined && w.path !== path) continue;
      w.closed = true;
      w.res.socket?.destroy();
      this.#watches.delete(w);
    }
  }

  /** Ends every open watch cleanly, as a server-side watch timeout does. */
  closeWatches(path?: string): void {
    for (const w of this.#watches) {
      if (path !== undefined && w.path !== path) continue;
      w.closed = true;
      w.res.end();
      this.#watches.delete(w);
    }
  }

  /** Sends an ERROR event with a 410 Status on every open watch, then ends it. */
  sendGone(path?: string): void {
    for (const w of this.#watches) {
      if (path !== undefined && w.path !== path) continue;
      w.closed = true;
      w.res.end(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }) + '\n');
      this.#watches.delete(w);
    }
  }

  /** Open watches stop receiving anything; their connections stay open. New watches work. */
  stallWatches(path?: string): void {
    for (const w of this.#watches) if (path === undefined || w.path === path) w.stalled = true;
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that allow bookmarks. */
  bookmark(): void {
    for (const w of this.#watches) {
      if (!w.bookmarks || w.stalled) continue;
      this.#send(w, { type: 'BOOKMARK', object: { metadata: { resourceVersion: String(this.#rv) } } });
    }
  }

  /** Forgets the event history: any resourceVersion before now is too old (410 Gone). */
  compact(): void {
    this.#compactedBefore = this.#rv;
    this.#history.length = 0;
  }

  /** The next `count` list requests fail with `code`. */
  failLists(count: number, code = 500): void {
    this.#failLists = count;
    this.#failStatus = code;
  }

  /** The next `count` list requests never get an answer (until the server stops). */
  hangLists(count: number): void {
    this.#hangLists = count;
  }

  openWatchCount(): number {
    let n = 0;
    for (const w of this.#watches) if (!w.stalled) n++;
    return n;
  }

  // -------------------------------------------------------------------------------------------

  #collectionKey(route: Route): string {
    return `${route.prefix}|${route.plural}`;
  }

  #objects(key: string): Map<string, Json> {
    let m = this.#store.get(key);
    if (!m) {
      m = new Map();
      this.#store.set(key, m);
    }
    return m;
  }

  #write(key: string, type: EventType, object: Json, namespace: string): Json {
    const meta = { ...((object.metadata ?? {}) as Json) };
    if (namespace !== '') meta.namespace = namespace;
    meta.resourceVersion = String(++this.#rv);
    object.metadata = meta;
    const id = `${namespace}/${meta.name as string}`;
    if (type === 'DELETED') this.#objects(key).delete(id);
    else this.#objects(key).set(id, object);
    const entry: HistoryEntry = { rv: this.#rv, collection: key, type, object: clone(object) };
    this.#history.push(entry);
    for (const w of this.#watches) {
      if (w.collection === key && !w.stalled) this.#deliver(w, entry);
    }
    return clone(object);
  }

  #deliver(w: WatchConn, e: HistoryEntry): void {
    if (w.namespace !== null && (e.object.metadata as Json).namespace !== w.namespace) return;
    if (!w.selector(e.object)) return;
    this.#send(w, { type: e.type, object: e.object });
  }

  #send(w: WatchConn, event: Json): void {
    if (w.closed) return;
    w.res.write(JSON.stringify(event) + '\n');
  }

  #json(res: ServerResponse, code: number, body: Json): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query });
    const route = parseRoute(url.pathname);
    if (!route) return this.#json(res, 404, status(404, 'NotFound', `no route for ${url.pathname}`));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Json | null = null;
      if (chunks.length > 0) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
        } catch {
          return this.#json(res, 400, status(400, 'BadRequest', 'body is not JSON'));
        }
      }
      this.#route(req.method ?? 'GET', route, query, body, res);
    });
  }

  #route(method: string, route: Route, query: Record<string, string>, body: Json | null, res: ServerResponse): void {
    const key = this.#collectionKey(route);
    const objects = this.#objects(key);
    const ns = route.namespace ?? '';
    if (route.name === null) {
      if (method === 'GET' && query.watch === 'true') return this.#watch(route, query, res);
      if (method === 'GET') return this.#list(route, query, res);
      if (method === 'POST' && body) {
        const meta = (body.metadata ?? {}) as Json;
        if (typeof meta.name !== 'string') return this.#json(res, 422, status(422, 'Invalid', 'metadata.name: Required value'));
        if (objects.has(`${ns}/${meta.name}`)) return this.#json(res, 409, status(409, 'AlreadyExists', `${route.plural} "${meta.name}" already exists`));
        const obj = clone(body);
        if (this.#statusSubresource.has(route.plural)) delete obj.status;
        return this.#json(res, 201, this.#write(key, 'ADDED', obj, ns));
      }
      return this.#json(res, 405, status(405, 'MethodNotAllowed', `${method} not allowed on a collection`));
    }
    const id = `${ns}/${route.name}`;
    const existing = objects.get(id);
    if (method === 'GET') {
      if (!existing) return this.#json(res, 404, status(404, 'NotFound', `${route.plural} "${route.name}" not found`));
      return this.#json(res, 200, existing);
    }
    if (method === 'DELETE') {
      if (!existing) return this.#json(res, 404, status(404, 'NotFound', `${route.plural} "${route.name}" not found`));
      return this.#json(res, 200, this.#write(key, 'DELETED', clone(existing), ns));
    }
    if (method === 'PUT' && body) {
      if (!existing) return this.#json(res, 404, status(404, 'NotFound', `${route.plural} "${route.name}" not found`));
      const rv = ((body.metadata ?? {}) as Json).resourceVersion;
      if (rv === undefined && route.prefix.startsWith('apis/')) {
        // Custom resources allow no unconditional update (as in the real apiserver).
        return this.#json(res, 422, status(422, 'Invalid', 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'));
      }
      const currentRv = (existing.metadata as Json).resourceVersion;
      if (rv !== undefined && rv !== currentRv) {
        return this.#json(res, 409, status(409, 'Conflict', `the object has been modified; please apply your changes to the latest version`));
      }
      let next: Json;
      if (route.subresource === 'status') next = { ...clone(existing), status: clone(body.status) };
      else if (route.subresource === null) {
        next = clone(body);
        if (this.#statusSubresource.has(route.plural)) next.status = clone(existing.status);
      } else return this.#json(res, 404, status(404, 'NotFound', `no subresource ${route.subresource}`));
      return this.#json(res, 200, this.#write(key, 'MODIFIED', next, ns));
    }
    return this.#json(res, 405, status(405, 'MethodNotAllowed', `${method} not allowed`));
  }

  #tooOld(rvText: string | undefined): boolean {
    if (rvText === undefined || rvText === '' || rvText === '0') return false;
    return Number(rvText) < this.#compactedBefore;
  }

  #list(route: Route, query: Record<string, string>, res: ServerResponse): void {
    if (this.#hangLists > 0) {
      this.#hangLists--;
      this.#hungResponses.add(res);
      res.on('close', () => this.#hungResponses.delete(res));
      return;
    }
    if (this.#failLists > 0) {
      this.#failLists--;
      return this.#json(res, this.#failStatus, status(this.#failStatus, 'InternalError', 'injected list failure'));
    }
    const selector = compileFieldSelector(query.fieldSelector);
    if (typeof selector === 'string') return this.#json(res, 400, status(400, 'BadRequest', selector));
    if (this.#tooOld(query.resourceVersion)) {
      return this.#json(res, 410, status(410, 'Expired', `resourceVersion ${query.resourceVersion} is too old`));
    }
    const items = [...this.#objects(this.#collectionKey(route)).values()]
      .filter((o) => route.namespace === null || (o.metadata as Json).namespace === route.namespace)
      .filter(selector);
    this.#json(res, 200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) }, items });
  }

  #watch(route: Route, query: Record<string, string>, res: ServerResponse): void {
    const selector = compileFieldSelector(query.fieldSelector);
    if (typeof selector === 'string') return this.#json(res, 400, status(400, 'BadRequest', selector));
    const from = query.resourceVersion;
    if (this.#tooOld(from)) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.#compactedBefore})`);
      if (this.goneMode === 'http') return this.#json(res, 410, gone);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const key = this.#collectionKey(route);
    const w: WatchConn = {
      path: `/${route.prefix}/${route.namespace !== null ? `namespaces/${route.namespace}/` : ''}${route.plural}`,
      collection: key,
      namespace: route.namespace,
      selector,
      bookmarks: query.allowWatchBookmarks === 'true',
      res,
      stalled: false,
      closed: false,
    };
    if (from === undefined || from === '' || from === '0') {
      // No starting point: the current state as ADDED events, then live (Kubernetes' semantics for rv "0"/"").
      for (const o of this.#objects(key).values()) this.#deliver(w, { rv: this.#rv, collection: key, type: 'ADDED', object: o });
    } else {
      for (const e of this.#history) if (e.collection === key && e.rv > Number(from)) this.#deliver(w, e);
    }
    this.#watches.add(w);
    res.on('close', () => {
      w.closed = true;
      this.#watches.delete(w);
    });
  }
}
