import { describe, expect, it } from 'vitest';
import { warmUpReceivePath } from '../../src/bgp/warmup.ts';
import { ipv4Index } from '../../src/bgp/rib/table.ts';

describe('warming up the receive path', () => {
  it('leaves no prefix behind in the shared IPv4 index, and runs once per process', () => {
    warmUpReceivePath();
    expect(ipv4Index.size).toBe(0);
    expect(ipv4Index.slotLimit).toBe(0);
    warmUpReceivePath();
    expect(ipv4Index.size).toBe(0);
  });
});
