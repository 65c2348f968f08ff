import { describe, expect, it } from 'vitest';
import { hostVethName, hostVethNameForContainer } from '../../src/cni/veth-name.ts';

describe('host veth names', () => {
  it('are tor + 11 hex characters, within the 15-byte limit', () => {
    for (const name of [hostVethName('default', 'web-0'), hostVethName('kube-system', 'coredns-5d78c9869d-abcde'), hostVethNameForContainer('f00d')]) {
      expect(name).toMatch(/^tor[0-9a-f]{11}$/);
      expect(name.length).toBeLessThanOrEqual(15);
    }
  });

  it('are the same for the same pod, whoever computes them, and differ between pods', () => {
    expect(hostVethName('shop', 'web-0')).toBe(hostVethName('shop', 'web-0'));
    expect(hostVethName('shop', 'web-0')).not.toBe(hostVethName('shop', 'web-1'));
    expect(hostVethName('a', 'bc')).not.toBe(hostVethName('ab', 'c'));
    expect(hostVethName('shop', 'web-0')).not.toBe(hostVethNameForContainer('shop.web-0'));
  });

  it('are SHA-1 of namespace.name (a fixed vector, so agent and plugin cannot drift apart)', () => {
    // printf 'default.web-0' | sha1sum
    expect(hostVethName('default', 'web-0')).toBe('tor' + '0d7763386da');
  });
});
