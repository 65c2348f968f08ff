import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { FileDatastore, openDatastore, parseDatastoreSpec } from '../../src/datastore/index.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/kubernetes-datastore.ts';

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
      const f = await openDatastore(parseDatastoreSpec(`file:${file}`), { nodeName: 'a' });
      expect(f).toBeInstanceOf(FileDatastore);
      await f.start();
      expect([...f.snapshot().nodes.keys()]).toEqual(['a']);
      await f.stop();
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
      const k = await openDatastore({ type: 'kubernetes' }, { nodeName: 'a', kubeConfig: kc });
      expect(k).toBeInstanceOf(KubernetesDatastore);
      expect(k.isSynced).toBe(false);
      await expect(openDatastore({ type: 'kubernetes' }, { nodeName: '', kubeConfig: kc })).rejects.toThrow(/node name is required/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves the Kubernetes client unloaded in an agent on the file datastore', async () => {
    // A child process records every module it resolves; the agent's whole import graph is loaded.
    const hook = `import { registerHooks } from 'node:module';
registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.includes('@kubernetes/client-node')) process.stdout.write('loaded ' + c.parentURL + '\\n'); return r; } });`;
    const script = `await import(${JSON.stringify(new URL('../../src/cli/main.ts', import.meta.url).href)});
const { openDatastore } = await import(${JSON.stringify(new URL('../../src/datastore/index.ts', import.meta.url).href)});
await import(${JSON.stringify(new URL('../../src/agent/wiring.ts', import.meta.url).href)});
process.stdout.write('file\\n');
await openDatastore({ type: 'kubernetes' }, { nodeName: 'a' }).catch(() => undefined);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, '--input-type=module', '-e', script]);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('file');
    // Asked for, it is there.
    expect(lines.slice(1).some((l) => l.includes('kubernetes-datastore.ts'))).toBe(true);
  });
});
