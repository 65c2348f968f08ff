import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildCni } from '../../scripts/build-cni.ts';

// `npm run build:cni` makes one self-contained executable for /opt/cni/bin. Build it and talk
// to it the way a runtime first does: VERSION, with nothing but the CNI variables set.
describe('tortie-cni single executable', () => {
  it('builds, and answers VERSION with no Node installation on PATH', async () => {
    const { executable } = await buildCni();
    const r = spawnSync(executable!, [], { input: '{"cniVersion":"1.0.0"}', env: { CNI_COMMAND: 'VERSION', PATH: '/nonexistent' }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    // And an error the spec's way, from the bundle too.
    const bad = spawnSync(executable!, [], { input: '', env: { CNI_COMMAND: 'ADD' }, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_CONTAINERID') });
  });
});
