/**
 * tortie's own IPAM: allocates one address per family from the node's blocks and keeps the
 * allocations on disk, one file per address named by the address and holding its owner
 * (`containerID\nifname\n`), like the reference host-local plugin.
 *
 * Safe under concurrent ADDs without a lock: a claim is `link(2)` of a fully written temporary
 * file onto the address's name, which the kernel makes atomic and which fails with EEXIST when
 * another process got there first; the loser moves on to the next address. A file therefore
 * never exists half-written, and a crash leaves at worst a `.tmp-*` file that GC removes.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { threadId } from 'node:worker_threads';
import { join } from 'node:path';
import { CniCode, CniError } from '../errors.ts';
import { familyBits, formatAddress, formatPrefix, parseAddress, prefixContains, prefixSize, type Family, type Prefix } from '../ip.ts';
import type { Attachment } from '../types.ts';

export interface Allocation {
  family: Family;
  /** The bare address, e.g. `10.244.1.7`. */
  address: string;
  /** The block it came from. */
  block: Prefix;
}

/** How many candidates one ADD tries in a block before calling it full (bounds IPv6 /64 scans). */
const MAX_PROBES_PER_BLOCK = 1 << 16;
/** A temporary file older than this belongs to a process that died mid-claim. */
const STALE_TMP_MS = 60_000;

export class BlockAllocator {
  readonly dir: string;
  readonly blocks: Prefix[];

  /** `dir` is the directory for one network (dataDir/NETWORK); blocks in preference order. */
  constructor(dir: string, blocks: Prefix[]) {
    this.dir = dir;
    this.blocks = blocks;
  }

  /**
   * Claims one address in every family that has a block. Either all claims succeed or none is
   * kept. Throws code 100 when the blocks of a family are full.
   */
  allocate(containerId: string, ifname: string): Allocation[] {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const tmp = join(this.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(tmp, `${containerId}\n${ifname}\n`);
    const claimed: Allocation[] = [];
    try {
      for (const family of [4, 6] as const) {
        const blocks = this.blocks.filter((b) => b.family === family);
        if (blocks.length === 0) continue;
        const got = this.claimOne(tmp, family, blocks);
        if (!got) {
          throw new CniError(CniCode.NoAddressAvailable, `no free IPv${family} address in ${blocks.map(formatPrefix).join(', ')}`, 'release addresses (DEL, GC) or give the node more blocks');
        }
        claimed.push(got);
      }
    } catch (e) {
      for (const a of claimed) this.unlinkQuiet(join(this.dir, a.address));
      throw e;
    } finally {
      this.unlinkQuiet(tmp);
    }
    return claimed;
  }

  /** Releases what the attachment holds; returns the addresses freed (none is not an error). */
  release(containerId: string, ifname: string): string[] {
    const freed: string[] = [];
    for (const [address, owner] of this.owners()) {
      if (owner.containerID === containerId && owner.ifname === ifname) {
        this.unlinkQuiet(join(this.dir, address));
        freed.push(address);
      }
    }
    return freed;
  }

  /** Releases the given addresses if, and only if, this attachment holds them. */
  releaseAddresses(containerId: string, ifname: string, addresses: string[]): string[] {
    const freed: string[] = [];
    for (const address of addresses) {
      let owner: string;
      try {
        owner = readFileSync(join(this.dir, address), 'utf8');
      } catch {
        continue;
      }
      if (owner === `${containerId}\n${ifname}\n`) {
        this.unlinkQuiet(join(this.dir, address));
        freed.push(address);
      }
    }
    return freed;
  }

  /** The addresses an attachment holds. */
  find(containerId: string, ifname: string): string[] {
    return [...this.owners()].filter(([, o]) => o.containerID === containerId && o.ifname === ifname).map(([a]) => a);
  }

  /** CNI 1.1 GC: releases every allocation whose attachment is not in `valid`. */
  gc(valid: Attachment[]): string[] {
    const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
    const freed: string[] = [];
    for (const [address, owner] of this.owners()) {
      if (!keep.has(`${owner.containerID}\n${owner.ifname}`)) {
        this.unlinkQuiet(join(this.dir, address));
        freed.push(address);
      }
    }
    for (const name of this.list()) {
      if (!name.startsWith('.tmp-')) continue;
      try {
        if (Date.now() - statSync(join(this.dir, name)).mtimeMs > STALE_TMP_MS) this.unlinkQuiet(join(this.dir, name));
      } catch {
        // Gone already: its owner finished.
      }
    }
    return freed;
  }

  /** Every allocation on disk: address -> owner. */
  owners(): Map<string, Attachment> {
    const out = new Map<string, Attachment>();
    for (const name of this.list()) {
      if (!isIP(name)) continue;
      let text: string;
      try {
        text = readFileSync(join(this.dir, name), 'utf8');
      } catch {
        continue; // released concurrently
      }
      const [containerID = '', ifname = ''] = text.split('\n');
      out.set(name, { containerID, ifname });
    }
    return out;
  }

  private claimOne(tmp: string, family: Family, blocks: Prefix[]): Allocation | undefined {
    const hintFile = join(this.dir, `last-reserved-ip.${family}`);
    const hint = this.readHint(hintFile, family);
    // Continue after the last address handed out rather than reusing the lowest free one, so a
    // released address rests a while before a new pod gets it (stale conntrack, caches).
    const start = Math.max(0, blocks.findIndex((b) => hint !== undefined && prefixContains(b, family, hint)));
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[(start + i) % blocks.length];
      for (const value of candidates(block, i === 0 ? hint : undefined)) {
        const address = formatAddress(family, value);
        try {
          linkSync(tmp, join(this.dir, address));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
          throw e;
        }
        this.writeHint(hintFile, address);
        return { family, address, block };
      }
    }
    return undefined;
  }

  private readHint(file: string, family: Family): bigint | undefined {
    try {
      const parsed = parseAddress(readFileSync(file, 'utf8').trim());
      return parsed.family === family ? parsed.value : undefined;
    } catch {
      return undefined;
    }
  }

  private writeHint(file: string, address: string): void {
    // Only a hint: concurrent writers may overwrite each other; any value is safe. The temporary
    // name is per thread, as the agent's CNI server runs ADDs in several worker threads at once.
    const tmp = `${file}.${process.pid}-${threadId}`;
    try {
      writeFileSync(tmp, address);
      renameSync(tmp, file);
    } catch {
      this.unlinkQuiet(tmp);
    }
  }

  private list(): string[] {
    try {
      return readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  private unlinkQuiet(file: string): void {
    try {
      unlinkSync(file);
    } catch {
      // Already gone: releasing is idempotent.
    }
  }
}

/**
 * Usable addresses of a block, starting after `after` (when inside the block) and wrapping. IPv4
 * skips the network and broadcast addresses and IPv6 the subnet-router anycast address
 * (RFC 4291 2.6.1), which some hosts treat specially; tiny blocks (/31, /32, /127, /128) use all.
 */
function* candidates(block: Prefix, after: bigint | undefined): Generator<bigint> {
  const size = prefixSize(block);
  const bits = familyBits(block.family);
  const first = block.network + (block.length <= bits - 2 ? 1n : 0n);
  const last = block.network + size - 1n - (block.family === 4 && block.length <= 30 ? 1n : 0n);
  const count = last - first + 1n;
  if (count <= 0n) return;
  let offset = after !== undefined && after >= first && after <= last ? after - first + 1n : 0n;
  const probes = count < BigInt(MAX_PROBES_PER_BLOCK) ? count : BigInt(MAX_PROBES_PER_BLOCK);
  for (let i = 0n; i < probes; i++) {
    if (offset >= count) offset = 0n;
    yield first + offset;
    offset++;
  }
}
