import { describe, expect, it } from 'vitest';
import { sharedSubnetTest } from '../../src/agent/shared-subnet.ts';

describe('sharedSubnetTest', () => {
  const shared = sharedSubnetTest(['198.51.100.0/24', '2001:db8::/64']);

  it('is true only when both addresses lie in one of the subnets', () => {
    expect(shared('198.51.100.12', '198.51.100.1')).toBe(true);
    expect(shared('2001:db8::12', '2001:db8::1')).toBe(true);
    expect(shared('198.51.100.12', '192.0.2.1')).toBe(false);
    expect(shared('192.0.2.12', '192.0.2.1')).toBe(false);
    expect(shared('2001:db8:1::12', '2001:db8::1')).toBe(false);
  });

  it('never matches across families, nor for text that is not an address', () => {
    expect(shared('198.51.100.12', '2001:db8::1')).toBe(false);
    expect(shared('not-an-address', '198.51.100.1')).toBe(false);
    expect(shared('198.51.100.12', '')).toBe(false);
  });

  it('with no subnets, never', () => {
    expect(sharedSubnetTest([])('198.51.100.12', '198.51.100.1')).toBe(false);
  });
});
