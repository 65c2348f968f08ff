import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeStateAgeSeconds, readNodeState, writeNodeState } from '../../src/cni/node-state.ts';

describe('node state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-node-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is written atomically by the agent and read back by the plugin', () => {
    const file = join(dir, 'sub', 'node.json');
    const at = new Date('2026-01-01T00:00:00Z');
    writeNodeState(file, { nodeName: 'n1', podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'], updatedAt: at });
    const s = readNodeState(file);
    expect(s).toEqual({ version: 1, nodeName: 'n1', podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'], updatedAt: at.toISOString() });
    expect(nodeStateAgeSeconds(s, new Date('2026-01-01T00:01:00Z'))).toBe(60);
  });

  it('says whether it is missing or invalid, and why', () => {
    expect(() => readNodeState(join(dir, 'none.json'))).toThrow(expect.objectContaining({ code: 'missing' }));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ version: 1, nodeName: 'n1', podCIDRs: ['10.244.1.1/24'], updatedAt: new Date().toISOString() }));
    expect(() => readNodeState(file)).toThrow(expect.objectContaining({ code: 'invalid', message: expect.stringContaining('host bits') }));
    expect(() => writeNodeState(file, { nodeName: '', podCIDRs: [] })).toThrow(/nodeName/);
  });
});
