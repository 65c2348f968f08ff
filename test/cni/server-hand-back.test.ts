// Which requests the agent's CNI server hands back to the front end (src/cni/server.ts
// handBackReason): the front end then runs the standalone plugin, which sees the node as the
// kubelet does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CALLER_PIDNS_VAR, handBackReason } from '../../src/cni/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'tortie-handback-'));
writeFileSync(join(dir, 'host-local'), '#!/bin/sh\n', { mode: 0o755 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const builtin = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'tortie-cni', ipam: { type: 'tortie-ipam' } });
const delegated = (type: string) => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'tortie-cni', ipam: { type } });
const PIDNS = '4026531836';

describe('CNI server hand-back', () => {
  it('serves /proc/PID/ns/net only for a caller in its own PID namespace', () => {
    const env = { CNI_COMMAND: 'ADD', CNI_NETNS: '/proc/self/ns/net', CNI_PATH: dir };
    expect(handBackReason({ ...env, [CALLER_PIDNS_VAR]: PIDNS }, builtin, PIDNS)).toBeUndefined();
    expect(handBackReason({ ...env, [CALLER_PIDNS_VAR]: '4026532000' }, builtin, PIDNS)).toMatch(/PID namespace the agent does not share/);
    expect(handBackReason(env, builtin, PIDNS)).toMatch(/PID namespace/);
    expect(handBackReason({ ...env, [CALLER_PIDNS_VAR]: PIDNS }, builtin, undefined)).toMatch(/PID namespace/);
  });

  it('hands back a namespace path the agent cannot see, for the commands that enter it', () => {
    const env = { CNI_NETNS: '/var/run/netns/c2-no-such-namespace', CNI_PATH: dir };
    for (const command of ['ADD', 'DEL', 'CHECK']) expect(handBackReason({ ...env, CNI_COMMAND: command }, builtin, PIDNS)).toMatch(/not visible to the agent/);
    expect(handBackReason({ ...env, CNI_COMMAND: 'VERSION' }, builtin, PIDNS)).toBeUndefined();
  });

  it('hands back a delegated IPAM plugin missing from CNI_PATH as the agent sees it', () => {
    const env = { CNI_COMMAND: 'DEL', CNI_NETNS: '/proc/self/ns/net', CNI_PATH: `/nonexistent:${dir}`, [CALLER_PIDNS_VAR]: PIDNS };
    expect(handBackReason(env, delegated('host-local'), PIDNS)).toBeUndefined();
    expect(handBackReason(env, delegated('dhcp'), PIDNS)).toMatch(/IPAM plugin dhcp is not in CNI_PATH/);
    expect(handBackReason({ ...env, CNI_COMMAND: 'GC' }, delegated('dhcp'), PIDNS)).toMatch(/IPAM plugin dhcp/);
    // Malformed configurations are the plugin's to report, with its error codes.
    expect(handBackReason(env, '{"ipam": ', PIDNS)).toBeUndefined();
  });
});
