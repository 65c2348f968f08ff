import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { FileDatastore, KubernetesDatastore, openDatastore, parseDatastoreSpec } from '../../src/datastore/index.ts';

describe('--datastore', () => {
  it('parses kubernetes and file:PATH, and names a bad value', () => {
    expect(parseDatastoreSpec('kubernetes')).toEqual({ type: 'kubernetes' });
    expect(parseDatastoreSpec('file:/etc/tortie/cluster.yaml')).toEqual({ type: 'file', path: '/etc/tortie/cluster.yaml' });
    for (const bad of ['etcd', 'file:', 'File:/x', '']) {
      expect(() => parseDatastoreSpec(bad)).toThrow(expect.objectContaining({ code: 'TK_DS_BAD_SPEC' }));
    }
  });

  it('opens either datastore behind the one interface', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tk-open-'));
    try {
      const file = join(dir, 'c.yaml');
      await writeFile(file, 'apiVersion: v1\nkind: Node\nmetadata: {name: a}\n');
      const f = openDatastore(parseDatastoreSpec(`file:${file}`), { nodeName: 'a' });
      expect(f).toBeInstanceOf(FileDatastore);
      await f.start();
      expect([...f.snapshot().nodes.keys()]).toEqual(['a']);
      await f.stop();
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
      const k = openDatastore({ type: 'kubernetes' }, { nodeName: 'a', kubeConfig: kc });
      expect(k).toBeInstanceOf(KubernetesDatastore);
      expect(k.isSynced).toBe(false);
      expect(() => openDatastore({ type: 'kubernetes' }, { nodeName: '', kubeConfig: kc })).toThrow(/node name is required/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
