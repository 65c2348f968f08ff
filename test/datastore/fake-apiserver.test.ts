import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { FakeApiServer } from '../helpers/fake-apiserver.ts';
import { NODES, PODS, STATUSES, node, pod } from './fixtures.ts';

/** The test API server itself, checked at the HTTP level: other tests trust it to be faithful. */

interface Reply { status: number; body: string }

function call(server: FakeApiServer, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Opens a watch and collects its events until `count` arrived or the stream ended. */
function watchEvents(server: FakeApiServer, path: string, count: number, onOpen?: () => void): Promise<{ status: number; events: { type: string; object: { metadata?: { name?: string; resourceVersion?: string }; code?: number } }[] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, (res) => {
      const events: { type: string; object: Record<string, never> }[] = [];
      let buf = '';
      const done = () => { req.destroy(); resolve({ status: res.statusCode ?? 0, events }); };
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
        if (events.length >= count) done();
      });
      res.on('end', done);
      onOpen?.();
    });
    req.on('error', reject);
    req.end();
  });
}

describe('fake API server', () => {
  const server = new FakeApiServer();
  beforeAll(async () => {
    await server.start();
    server.apply(NODES, node('n1', '192.0.2.1'));
    server.apply(PODS, pod('default', 'a', 'n1', '10.0.0.1'));
    server.apply(PODS, pod('default', 'b', 'n2', '10.0.0.2'));
  });
  afterAll(() => server.stop());

  it('lists with a resourceVersion and filters by field selector', async () => {
    const r = await call(server, 'GET', `${PODS}?fieldSelector=spec.nodeName%3Dn1`);
    const list = JSON.parse(r.body);
    expect(r.status).toBe(200);
    expect(list.metadata.resourceVersion).toBe(server.resourceVersion);
    expect(list.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['a']);
    const bad = await call(server, 'GET', `${PODS}?fieldSelector=nonsense`);
    expect(bad.status).toBe(400);
  });

  it('replays history after a resourceVersion, then streams live events; bookmarks only when asked', async () => {
    const from = server.resourceVersion;
    server.apply(NODES, node('n2', '192.0.2.2'));
    const withBookmarks = watchEvents(server, `${NODES}?watch=true&resourceVersion=${from}&allowWatchBookmarks=true`, 3, () => {
      // Headers arrive once the server has registered the watch: changes from here on are live.
      server.remove(NODES, 'n2');
      server.bookmark();
    });
    const r = await withBookmarks;
    expect(r.events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`)).toEqual(['ADDED n2', 'DELETED n2', 'BOOKMARK ']);
    expect(r.events[2].object.metadata?.resourceVersion).toBe(server.resourceVersion);
    const from2 = server.resourceVersion;
    const plain = watchEvents(server, `${NODES}?watch=true&resourceVersion=${from2}`, 1, () => {
      server.bookmark();
      server.apply(NODES, node('n3', '192.0.2.3'));
    });
    expect((await plain).events.map((e) => e.type)).toEqual(['ADDED']);
  });

  it('answers a too-old resourceVersion with 410 Gone: ERROR event on watch, HTTP 410 on list', async () => {
    const old = server.resourceVersion;
    server.apply(NODES, node('n4', '192.0.2.4'));
    server.compact();
    const w = await watchEvents(server, `${NODES}?watch=true&resourceVersion=${old}`, 1);
    expect(w.status).toBe(200);
    expect(w.events[0].type).toBe('ERROR');
    expect(w.events[0].object.code).toBe(410);
    expect((await call(server, 'GET', `${NODES}?resourceVersion=${old}`)).status).toBe(410);
    server.goneMode = 'http';
    expect((await watchEvents(server, `${NODES}?watch=true&resourceVersion=${old}`, 1)).status).toBe(410);
    server.goneMode = 'event';
  });

  it('keeps status a subresource and custom resources conditional on resourceVersion', async () => {
    const created = await call(server, 'POST', STATUSES, { apiVersion: 'tortie.dev/v1alpha1', kind: 'BGPStatus', metadata: { name: 'n1' }, status: { established: 9 } });
    expect(created.status).toBe(201);
    const obj = JSON.parse(created.body);
    expect(obj.status).toBeUndefined();
    expect((await call(server, 'POST', STATUSES, { metadata: { name: 'n1' } })).status).toBe(409);
    expect((await call(server, 'PUT', `${STATUSES}/n1/status`, { metadata: { name: 'n1' }, status: { established: 1 } })).status).toBe(422);
    const ok = await call(server, 'PUT', `${STATUSES}/n1/status`, { metadata: { name: 'n1', resourceVersion: obj.metadata.resourceVersion }, status: { established: 1 } });
    expect(ok.status).toBe(200);
    const stale = await call(server, 'PUT', `${STATUSES}/n1/status`, { metadata: { name: 'n1', resourceVersion: obj.metadata.resourceVersion }, status: { established: 2 } });
    expect(stale.status).toBe(409);
    expect(server.get(STATUSES, 'n1')!.status).toEqual({ established: 1 });
    expect((await call(server, 'GET', `${STATUSES}/missing`)).status).toBe(404);
  });
});
