import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parse } from 'yaml';
import { FileDatastore } from '../../src/datastore/file/file-datastore.ts';
import type { DatastoreError } from '../../src/datastore/errors.ts';
import { resolvePassword, resolvePeerPassword } from '../../src/datastore/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { describeEvent } from './fixtures.ts';

const NODE_A = `apiVersion: v1
kind: Node
metadata:
  name: a
  labels: {rack: r1}
  annotations:
    tortie.dev/as-number: "65101"
spec:
  podCIDRs: [10.244.0.0/24]
status:
  addresses:
    - {type: InternalIP, address: 192.0.2.1}
`;
const NODE_B = `apiVersion: v1
kind: Node
metadata: {name: b}
spec: {podCIDR: 10.244.1.0/24}
status:
  addresses: [{type: InternalIP, address: 192.0.2.2}]
`;
const POD_A = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {nodeName: a}
status: {phase: Running, podIPs: [{ip: 10.244.0.5}]}
`;
const POD_B = `apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop}
spec: {nodeName: b}
status: {phase: Running, podIP: 10.244.1.5}
`;
const PEER = `apiVersion: tortie.dev/v1alpha1
kind: BGPPeer
metadata: {name: tor}
spec:
  peerIP: "[2001:db8::1]:1179"
  asNumber: 65000
  nodeSelector: "rack in {'r1', 'r2'}"
  holdTime: 1m30s
  password:
    secretKeyRef: {name: bgp, key: tor}
`;
const SECRET = `apiVersion: v1
kind: Secret
metadata: {name: bgp, namespace: tortie-system}
stringData: {tor: hunter2-pw}
`;

const docs = (...d: string[]) => d.join('---\n');

describe('file datastore', () => {
  let dir: string;
  let file: string;
  let ds: FileDatastore;
  let events: string[];
  let problems: DatastoreError[];
  let logLines: string[];

  async function open(text: string, options: { fsWatch?: boolean } = {}): Promise<void> {
    await writeFile(file, text);
    logLines = [];
    const log = (level: string) => (obj: object, msg?: string) => logLines.push(JSON.stringify({ level, ...obj, msg }));
    ds = new FileDatastore({
      path: file, nodeName: 'a', pollIntervalMs: 100, debounceMs: 20, statusMinIntervalMs: 50, ...options,
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    });
    ds.on('change', (e) => events.push(describeEvent(e)));
    ds.on('problem', (p) => problems.push(p));
    await ds.start();
    events.length = 0;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-fileds-'));
    file = join(dir, 'cluster.yaml');
    events = [];
    problems = [];
  });

  afterEach(async () => {
    await ds?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every kind, this node\'s pods only, with defaults where nothing is said', async () => {
    await open(docs(NODE_A, NODE_B, POD_A, POD_B, PEER, SECRET));
    const snap = ds.snapshot();
    expect(ds.isSynced).toBe(true);
    expect([...snap.nodes.keys()]).toEqual(['a', 'b']);
    expect(snap.nodes.get('a')!.bgp.asNumber).toBe(65101);
    expect(snap.nodes.get('b')!.podCIDRs).toEqual(['10.244.1.0/24']);
    expect([...snap.pods.keys()]).toEqual(['shop/web']);
    const tor = snap.bgpPeers.get('tor')!;
    expect([tor.peerIP, tor.port, tor.holdTime]).toEqual(['2001:db8::1', 1179, 90]);
    expect(snap.bgpConfiguration).toMatchObject({ fromObject: false, asNumber: 64512, nodeToNodeMeshEnabled: true, listenPort: 179 });
    expect(resolvePeerPassword(snap, tor)).toEqual({ ok: true, password: 'hunter2-pw' });
  });

  it('applies only what changed in a live edit', async () => {
    await open(docs(NODE_A, NODE_B, POD_A, PEER));
    await writeFile(file, docs(NODE_A.replace('rack: r1', 'rack: r2'), NODE_B, POD_A.replace('10.244.0.5', '10.244.0.6'),
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {asNumber: 65001, nodeToNodeMeshEnabled: false}\n`));
    await waitFor('edit applied', () => events.length >= 4);
    await waitFor('quiet', () => ds.reloads === 1);
    expect(events).toEqual([
      'added BGPConfiguration default as65001 mesh=false',
      'updated Node a 192.0.2.1 {"rack":"r2"}',
      'deleted BGPPeer tor',
      'updated Pod shop/web 10.244.0.6 Running',
    ]);
    expect(ds.snapshot().bgpConfiguration).toMatchObject({ fromObject: true, asNumber: 65001 });
    // Rewriting identical content is no change at all.
    await writeFile(file, await readFile(file, 'utf8'));
    await writeFile(file, docs(NODE_B, NODE_A.replace('rack: r1', 'rack: r2'), POD_A.replace('10.244.0.5', '10.244.0.6'),
      `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {asNumber: 65001, nodeToNodeMeshEnabled: false}\n`));
    await waitFor('reordered file read', () => ds.reloads === 2);
    expect(events).toHaveLength(4);
  });

  it('keeps the last good state on a bad edit and says where the error is', async () => {
    await open(docs(NODE_A, PEER));
    const before = ds.snapshot();
    // Document 1, the peer: a bad address on line 5 of that document (line 18 of the file).
    await writeFile(file, docs(NODE_A.replace('rack: r1', 'rack: r9'), PEER.replace('"[2001:db8::1]:1179"', '300.1.1.1')));
    // (writeFile truncates first: an empty-file problem may come before, and is harmless.)
    const bad = await waitFor('problem', () => problems.find((p) => p.code === 'TK_DS_INVALID_OBJECT'));
    expect(bad.issues).toHaveLength(1);
    const issue = bad.issues[0];
    expect(issue.path).toEqual(['spec', 'peerIP']);
    expect(issue.position).toMatchObject({ file, document: 1, line: 18, column: 11 });
    expect(bad.message).toContain(`${file}:18:11 (document 1) spec.peerIP:`);
    expect(bad.message).toContain('300.1.1.1');
    // Nothing applied, not even the valid half of the edit.
    expect(events).toEqual([]);
    expect(ds.snapshot().nodes.get('a')).toBe(before.nodes.get('a'));
    // YAML that does not parse: the line is named too.
    await writeFile(file, docs(NODE_A, 'apiVersion: v1\nkind: Node\nmetadata: {name: [oops\n'));
    const syntax = await waitFor('syntax problem', () => problems.find((p) => p.code === 'TK_DS_INVALID_YAML'));
    expect(syntax.issues[0].position).toMatchObject({ document: 1 });
    expect(syntax.issues[0].position!.line).toBeGreaterThanOrEqual(15);
    expect(syntax.message).toMatch(/YAML/);
    expect(events).toEqual([]);
    // A fix applies.
    await writeFile(file, docs(NODE_A.replace('rack: r1', 'rack: r9'), PEER));
    await waitFor('fixed', () => events.length === 1);
    expect(events).toEqual(['updated Node a 192.0.2.1 {"rack":"r9"}']);
    expect(problems.filter((p) => p.code === 'TK_DS_INVALID_OBJECT' || p.code === 'TK_DS_INVALID_YAML')).toHaveLength(2);
  });

  it('refuses duplicates and unknown kinds, naming the documents', async () => {
    await open(docs(NODE_A));
    await writeFile(file, docs(NODE_A, NODE_A, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n'));
    const p = await waitFor('problem', () => problems.find((x) => x.code === 'TK_DS_INVALID_OBJECT'));
    expect(p.issues.map((i) => [i.position!.document, i.path.join('.')])).toEqual([[1, 'metadata.name'], [2, 'kind']]);
    expect(p.issues[0].message).toContain('already defined in document 0');
  });

  it('follows an editor that replaces the file by rename', async () => {
    await open(docs(NODE_A, NODE_B));
    const tmp = join(dir, '.cluster.yaml.swp');
    await writeFile(tmp, docs(NODE_A));
    await rename(tmp, file);
    await waitFor('b deleted', () => events.includes('deleted Node b'));
    await writeFile(tmp, docs(NODE_A, POD_A));
    await rename(tmp, file);
    await waitFor('pod added', () => events.some((e) => e.startsWith('added Pod shop/web')));
    expect(events).toEqual(['deleted Node b', 'added Pod shop/web 10.244.0.5 Running']);
  });

  it('keeps its state while the file is missing and picks it up again', async () => {
    await open(docs(NODE_A, NODE_B));
    await unlink(file);
    const p = await waitFor('missing problem', () => problems.find((x) => x.code === 'TK_DS_FILE_UNREADABLE'));
    expect(p.message).toContain('ENOENT');
    expect([...ds.snapshot().nodes.keys()]).toEqual(['a', 'b']);
    await writeFile(file, docs(NODE_B));
    await waitFor('a deleted', () => events.includes('deleted Node a'));
    expect(events).toEqual(['deleted Node a']);
  });

  it('does not take an empty file for "delete everything", but a comment-only file empties the model', async () => {
    await open(docs(NODE_A, NODE_B));
    await writeFile(file, '');
    const p = await waitFor('empty problem', () => problems.find((x) => x.message.includes('empty')));
    expect(p.code).toBe('TK_DS_FILE_UNREADABLE');
    expect(events).toEqual([]);
    await writeFile(file, '# nothing here any more\n');
    await waitFor('emptied', () => events.length === 2);
    expect(events).toEqual(['deleted Node a', 'deleted Node b']);
  });

  it('re-reads on demand (SIGHUP) and counts what it did', async () => {
    await open(docs(NODE_A), { fsWatch: false });
    const resyncs: unknown[] = [];
    ds.on('resync', (r) => resyncs.push(r));
    expect(ds.stats()).toEqual({ changes: 1, resyncs: 0, problems: 0 });
    await writeFile(file, docs(NODE_A, NODE_B));
    // reload() waits out the quiet time, reads, and resolves once the change is applied.
    await ds.reload();
    expect(events).toEqual(['added Node b 192.0.2.2 {}']);
    expect(ds.stats()).toEqual({ changes: 2, resyncs: 1, problems: 0 });
    expect(resyncs).toEqual([{ kind: 'file', reason: 'file' }]);
  });

  it('reads a file whose modification time is in the future (a skewed clock) without waiting for it', async () => {
    const { utimes } = await import('node:fs/promises');
    await open(docs(NODE_A), { fsWatch: false });
    await writeFile(file, docs(NODE_A, NODE_B));
    const future = new Date(Date.now() + 3600_000);
    await utimes(file, future, future);
    await waitFor('b added', () => events.includes('added Node b 192.0.2.2 {}'));
  });

  it('notices edits by polling alone', async () => {
    await open(docs(NODE_A), { fsWatch: false });
    await writeFile(file, docs(NODE_A, NODE_B));
    await waitFor('b added by polling', () => events.some((e) => e.startsWith('added Node b')));
  });

  it('refuses to start on a bad file, with the line', async () => {
    await writeFile(file, docs(NODE_A, NODE_B.replace('10.244.1.0/24', '10.244.1.7/24')));
    ds = new FileDatastore({ path: file, nodeName: 'a' });
    const err = await ds.start().then(() => null, (e: DatastoreError) => e);
    expect(err?.code).toBe('TK_DS_INVALID_OBJECT');
    expect(err?.issues[0]).toMatchObject({ path: ['spec', 'podCIDR'], position: { document: 1, line: 17 } });
    expect(err?.message).toContain('did you mean 10.244.1.0/24');
    const missing = new FileDatastore({ path: join(dir, 'nope.yaml'), nodeName: 'a' });
    await expect(missing.start()).rejects.toMatchObject({ code: 'TK_DS_FILE_UNREADABLE' });
  });

  it('writes status next to the file and keeps it in memory', async () => {
    await open(docs(NODE_A));
    const peers = [{ address: '192.0.2.2', asNumber: 64512, type: 'mesh', state: 'Established', since: '2026-01-01T00:00:00Z', lastError: '' }];
    ds.writeStatus('a', { established: 0, total: 1, peers: [], updated: '' });
    ds.writeStatus('a', { established: 1, total: 1, peers, updated: '' });
    expect(ds.status('a')!.established).toBe(1);
    const doc = await waitFor('status file with the latest status', async () => {
      const text = await readFile(ds.statusPath('a'), 'utf8').catch(() => '');
      const d = text ? (parse(text) as { kind: string; status: { established: number; peers: unknown[] } }) : undefined;
      return d?.status.established === 1 ? d : undefined;
    });
    expect(doc.kind).toBe('BGPStatus');
    expect(doc.status.peers).toEqual(peers);
    // The status file sits next to the datastore file but is not read as part of it.
    expect(events).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('holds the Secret nodeMeshPassword names, only while it is named, and gives the line of a refused mesh field', async () => {
    const config = (spec: string) => `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata: {name: default}\nspec:\n${spec}`;
    const MESH = config('  nodeMeshPassword:\n    secretKeyRef: {name: mesh, key: pw}\n  nodeMeshMaxRestartTime: 90s\n');
    const MESH_SECRET = 'apiVersion: v1\nkind: Secret\nmetadata: {name: mesh, namespace: tortie-system}\nstringData: {pw: m3sh-pw}\n';
    await open(docs(NODE_A, MESH_SECRET));
    expect(ds.snapshot().secrets.size).toBe(0);
    await writeFile(file, docs(MESH, NODE_A, MESH_SECRET));
    await waitFor('mesh secret read', () => events.includes('added Secret tortie-system/mesh pw'));
    const snap = ds.snapshot();
    expect(snap.bgpConfiguration).toMatchObject({ nodeMeshPassword: { secretKeyRef: { name: 'mesh', key: 'pw' } }, nodeMeshMaxRestartTime: 90 });
    expect(resolvePassword(snap, snap.bgpConfiguration.nodeMeshPassword)).toEqual({ ok: true, password: 'm3sh-pw' });
    // The mesh turned off with its password still set: refused with file, document and line.
    await writeFile(file, docs(config('  nodeToNodeMeshEnabled: false\n  nodeMeshPassword:\n    secretKeyRef: {name: mesh, key: pw}\n'), NODE_A, MESH_SECRET));
    const bad = await waitFor('problem', () => problems.find((p) => p.code === 'TK_DS_INVALID_OBJECT'));
    expect(bad.issues.map((i) => [i.path.join('.'), i.position!.document, i.position!.line])).toEqual([['spec.nodeMeshPassword', 0, 7]]);
    expect(bad.message).toContain('cannot be set while spec.nodeToNodeMeshEnabled is false');
    expect(ds.snapshot().bgpConfiguration.nodeMeshPassword).not.toBeNull();
    // No longer named: the Secret leaves the model.
    await writeFile(file, docs(NODE_A, MESH_SECRET));
    await waitFor('mesh secret dropped', () => events.includes('deleted Secret tortie-system/mesh'));
    expect(JSON.stringify(problems.map((p) => p.message)) + logLines.join('\n')).not.toContain('m3sh');
  });

  it('never shows a password in logs, snapshots or errors', async () => {
    await open(docs(NODE_A, PEER, SECRET));
    await writeFile(file, docs(NODE_A, PEER, SECRET.replace('hunter2-pw', 'hunter3-pw'), 'kind: Node\n'));
    await waitFor('problem', () => problems.find((x) => x.code === 'TK_DS_INVALID_OBJECT'));
    await writeFile(file, docs(NODE_A, PEER, SECRET.replace('hunter2-pw', 'hunter3-pw')));
    await waitFor('secret updated', () => events.some((e) => e.startsWith('updated Secret')));
    const snap = ds.snapshot();
    const shown = [JSON.stringify([...snap.secrets.values()]), inspect(snap, { depth: 10 }), logLines.join('\n'), problems.map((p) => p.message).join('\n')].join('\n');
    expect(shown).not.toMatch(/hunter/);
    expect(shown).toContain('[redacted]');
    expect(resolvePeerPassword(snap, snap.bgpPeers.get('tor')!)).toEqual({ ok: true, password: 'hunter3-pw' });
  });
});

describe('file datastore in a ConfigMap-style volume', () => {
  it('follows the "..data" symlink swap a ConfigMap update makes', async () => {
    const { symlink } = await import('node:fs/promises');
    const { mkdir } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'tk-fileds-cm-'));
    const ds = new FileDatastore({ path: join(dir, 'cluster.yaml'), nodeName: 'a', pollIntervalMs: 60_000, debounceMs: 20 });
    try {
      // The kubelet's layout: cluster.yaml -> ..data/cluster.yaml, ..data -> ..v1
      await mkdir(join(dir, '..v1'));
      await writeFile(join(dir, '..v1', 'cluster.yaml'), NODE_A);
      await symlink('..v1', join(dir, '..data'));
      await symlink(join('..data', 'cluster.yaml'), join(dir, 'cluster.yaml'));
      const events: string[] = [];
      ds.on('change', (e) => events.push(describeEvent(e)));
      await ds.start();
      await mkdir(join(dir, '..v2'));
      await writeFile(join(dir, '..v2', 'cluster.yaml'), docs(NODE_A, NODE_B));
      await symlink('..v2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      // Polling is slowed to a minute: only the directory watch can see this in time.
      await waitFor('b added', () => events.includes('added Node b 192.0.2.2 {}'));
    } finally {
      await ds.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
