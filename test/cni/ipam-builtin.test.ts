import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockAllocator } from '../../src/cni/ipam/builtin.ts';
import { CniError } from '../../src/cni/errors.ts';
import { parsePrefix } from '../../src/cni/ip.ts';

describe('built-in IPAM (file per address)', () => {
  let dir: string;
  const alloc = (...blocks: string[]) => new BlockAllocator(join(dir, 'net'), blocks.map((b) => parsePrefix(b)));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-ipam-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('skips network and broadcast addresses and records the owner on disk', () => {
    const a = alloc('10.1.0.0/30');
    expect(a.allocate('c1', 'eth0').map((x) => x.address)).toEqual(['10.1.0.1']);
    expect(a.allocate('c2', 'eth0').map((x) => x.address)).toEqual(['10.1.0.2']);
    expect(readFileSync(join(dir, 'net', '10.1.0.1'), 'utf8')).toBe('c1\neth0\n');
    const full = (() => {
      try {
        a.allocate('c3', 'eth0');
      } catch (e) {
        return e;
      }
    })();
    expect(full).toBeInstanceOf(CniError);
    expect(full).toMatchObject({ code: 100, message: expect.stringContaining('10.1.0.0/30') });
    // A failed allocation leaves no temporary file behind.
    expect(readdirSync(join(dir, 'net')).filter((f) => f.startsWith('.tmp'))).toEqual([]);
  });

  it('continues after the last address handed out, so released ones rest before reuse', () => {
    const a = alloc('10.1.0.0/29');
    const first = a.allocate('c1', 'eth0')[0].address;
    a.release('c1', 'eth0');
    const second = a.allocate('c2', 'eth0')[0].address;
    expect(first).toBe('10.1.0.1');
    expect(second).toBe('10.1.0.2');
    for (const id of ['c3', 'c4', 'c5', 'c6']) a.allocate(id, 'eth0');
    // Wrapped around to the start of the block: .1 is free again.
    expect(a.allocate('c7', 'eth0')[0].address).toBe('10.1.0.1');
  });

  it('moves on to the next block when one is full, and gives one address per family', () => {
    const a = alloc('10.1.0.0/31', '10.2.0.0/30', 'fd00:1::/120');
    const got = [a.allocate('c1', 'eth0'), a.allocate('c2', 'eth0'), a.allocate('c3', 'eth0')].map((g) => g.map((x) => x.address));
    expect(got).toEqual([
      ['10.1.0.0', 'fd00:1::1'],
      ['10.1.0.1', 'fd00:1::2'],
      ['10.2.0.1', 'fd00:1::3'],
    ]);
  });

  it('releases by container and interface; releasing twice is fine', () => {
    const a = alloc('10.1.0.0/24');
    a.allocate('c1', 'eth0');
    a.allocate('c1', 'net1');
    expect(a.release('c1', 'eth0')).toEqual(['10.1.0.1']);
    expect(a.release('c1', 'eth0')).toEqual([]);
    expect(a.find('c1', 'net1')).toEqual(['10.1.0.2']);
    expect(new BlockAllocator(join(dir, 'nothing-yet'), []).release('c1', 'eth0')).toEqual([]);
    // Undoing one ADD frees only what that ADD took, and only if the attachment owns it.
    const again = a.allocate('c1', 'net1')[0].address;
    expect(a.releaseAddresses('c1', 'net1', [again, '10.1.0.200'])).toEqual([again]);
    expect(a.releaseAddresses('someone-else', 'net1', ['10.1.0.2'])).toEqual([]);
    expect(a.find('c1', 'net1')).toEqual(['10.1.0.2']);
  });

  it('GC keeps valid attachments, frees the rest and removes stale temporary files', () => {
    const a = alloc('10.1.0.0/24');
    a.allocate('keep', 'eth0');
    a.allocate('drop', 'eth0');
    const stale = join(dir, 'net', '.tmp-1-abc');
    writeFileSync(stale, 'x\ny\n');
    utimesSync(stale, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    expect(a.gc([{ containerID: 'keep', ifname: 'eth0' }])).toEqual(['10.1.0.2']);
    expect([...a.owners().keys()]).toEqual(['10.1.0.1']);
    expect(readdirSync(join(dir, 'net')).filter((f) => f.startsWith('.tmp'))).toEqual([]);
  });

  it('survives a restart: a new allocator sees what an earlier one handed out', () => {
    alloc('10.1.0.0/24').allocate('c1', 'eth0');
    expect(alloc('10.1.0.0/24').allocate('c2', 'eth0')[0].address).toBe('10.1.0.2');
  });
});
