// Delegated IPAM against a delegate that stops at cniVersion 1.0.0 (as host-local does): the
// version dance runs once per delegate, and a long-lived caller (the agent's CNI server) reuses it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDelegate } from '../../src/cni/ipam/delegate.ts';

const dir = mkdtempSync(join(tmpdir(), 'tortie-delegate-'));
const log = join(dir, 'calls');
const plugin = join(dir, 'old-ipam');
// Logs "COMMAND VERSION" per call; refuses 1.1.0 with the spec's code 1.
writeFileSync(
  plugin,
  `#!/bin/sh
in=$(cat)
v=$(printf '%s' "$in" | sed -n 's/.*"cniVersion":"\\([^"]*\\)".*/\\1/p')
echo "$CNI_COMMAND $v" >> ${log}
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'; exit 0; fi
if [ "$v" = 1.1.0 ]; then echo '{"cniVersion":"1.1.0","code":1,"msg":"incompatible CNI versions"}'; exit 1; fi
if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}'; fi
exit 0
`,
  { mode: 0o755 },
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('delegated IPAM version negotiation', () => {
  it('falls back to the newest common version once, then calls the delegate with it directly', async () => {
    const config = { cniVersion: '1.1.0', name: 'n', type: 'tortie-cni', ipam: { type: 'old-ipam' } };
    const env = { PATH: process.env.PATH };
    expect((await runDelegate(plugin, 'ADD', config, env))?.ips?.[0].address).toBe('10.1.2.3/24');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['ADD 1.1.0', 'VERSION 1.1.0', 'ADD 1.0.0']);
    writeFileSync(log, '');
    expect((await runDelegate(plugin, 'ADD', config, env))?.ips?.[0].address).toBe('10.1.2.3/24');
    await runDelegate(plugin, 'DEL', config, env);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['ADD 1.0.0', 'DEL 1.0.0']);
  });
});
