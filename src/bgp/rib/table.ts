/**
 * Route tables keyed by compact prefix keys (prefix.ts). A JS Map costs about 60 bytes per entry,
 * and IPv4 keys (addr * 64 + len, past the small-integer range) are boxed numbers on top: at a
 * million routes per table that is most of the speaker's memory.
 *
 * IPv4 tables share one `PrefixIndex`, which numbers every prefix that some table holds with a
 * dense slot (0, 1, 2, ... in order of first appearance, freed slots reused). A table is then
 * just a column indexed by slot: a JS array of values (4 bytes a slot) or, for the Loc-RIB's
 * source indices, a Uint16Array (2 bytes). What this buys on the receive path: a prefix is hashed
 * once, not once per table (Adj-RIB-In, Loc-RIB, each peer's Adj-RIB-Out); the index remembers the
 * last key asked, so the half-dozen lookups the RIB makes for one prefix cost one probe; prefixes
 * that arrive in order land in neighbouring slots, so the columns are walked, not jumped through;
 * and growing moves only the index's hash array, never a table's values. IPv6 tables stay Maps of
 * 9-character strings.
 *
 * Iterators are live, like a Map's: entries added during iteration may be visited, deleted ones
 * are not (slots never move, so growth does not disturb an iteration).
 */
import { Afi } from '../wire/constants.ts';
import type { RouteKey } from './prefix.ts';

/** The subset of Map the RIB uses. */
export interface RouteTable<V> {
  readonly size: number;
  get(key: RouteKey): V | undefined;
  set(key: RouteKey, value: V): this;
  has(key: RouteKey): boolean;
  delete(key: RouteKey): boolean;
  clear(): void;
  keys(): IterableIterator<RouteKey>;
  values(): IterableIterator<V>;
  entries(): IterableIterator<[RouteKey, V]>;
  [Symbol.iterator](): IterableIterator<[RouteKey, V]>;
}

export function newRouteTable<V>(afi: Afi): RouteTable<V> {
  return afi === Afi.IPv4 ? new V4Table<V>() : (new Map<string, V>() as unknown as RouteTable<V>);
}

/** A table whose values are small integers (1-65535), kept in a Uint16Array: 2 bytes a slot. */
export function newIndexTable(afi: Afi): RouteTable<number> {
  return afi === Afi.IPv4 ? new V4Table<number>({ smallIntegers: true }) : (new Map<string, number>() as unknown as RouteTable<number>);
}

/**
 * Hash array entries: 0 empty, DELETED a tombstone, otherwise 8 bits of the key's hash (a
 * fingerprint: a probe passing other keys' entries rarely has to read their keys, each read a
 * cache miss) above slot + 1 in the low 24 bits.
 */
const EMPTY = 0;
const DELETED = 0xffffffff;
const SLOT_BITS = 0xffffff;
/** The last slot an entry can name without being mistaken for DELETED: 16M prefixes. */
const MAX_SLOT = 0xfffffd;
/** Grow the hash past 3/4 full (live and tombstones), by half: a million keys sit at 50-75%. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;

function grown<T extends Uint8Array | Uint16Array | Uint32Array>(a: T, min: number, make: (n: number) => T): T {
  const b = make(Math.max(min, Math.ceil(a.length * GROWTH), 16));
  b.set(a);
  return b;
}

/**
 * IPv4 prefixes numbered by dense slots, shared by every IPv4 table of the process (the tables of
 * one speaker hold mostly the same prefixes). A slot lives while some table holds its prefix: each
 * table holding it counts one reference. Open addressing with linear probing over a Uint32Array
 * of slot numbers; the keys themselves live once, in per-slot arrays.
 */
export class PrefixIndex {
  /** Per slot: the prefix's address, its length + 1 (0: the slot is free), references. */
  private addrs = new Uint32Array(16);
  private tags = new Uint8Array(16);
  private refs = new Uint32Array(16);
  /** Slots handed out so far (the high-water mark); freed ones wait in `free`. */
  private top = 0;
  private readonly free: number[] = [];
  private hash = new Uint32Array(16);
  /** Live and tombstone entries in `hash`: what probing has to walk past. */
  private used = 0;
  private count = 0;
  /**
   * The last key asked about and its slot, or -1 when absent (the RIB asks about one prefix
   * several times in a row). Kept true by `intern` and `unref`, the only ways a key comes or goes.
   */
  private lastKey = -1;
  private lastSlot = -1;

  /** Prefixes held by some table. */
  get size(): number {
    return this.count;
  }

  /** Slots handed out so far: every slot number is below this. */
  get slotLimit(): number {
    return this.top;
  }

  /**
   * MurmurHash3's 32-bit finalizer over the address mixed with the length (prefixes of one length
   * differ only in their high bits). Its high bits pick the first entry to probe, scaled to the
   * capacity by multiplication (Lemire's fastrange: exact in doubles, since h * cap < 2^53); its
   * low bits are the fingerprint.
   */
  private static hash(addr: number, tag: number): number {
    let h = addr ^ Math.imul(tag, 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** The entry naming `slot` for a key of hash `h`: the fingerprint is the hash's low bits. */
  private static entry(h: number, slot: number): number {
    return (((h & 0xff) << 24) | (slot + 1)) >>> 0;
  }

  /** The slot of a key (addr * 64 + len), or -1. */
  find(key: number): number {
    if (key === this.lastKey) return this.lastSlot;
    const addr = Math.floor(key / 64);
    const tag = (key % 64) + 1;
    const hash = this.hash;
    const cap = hash.length;
    const h = PrefixIndex.hash(addr, tag);
    const fp = h & 0xff;
    let i = Math.floor((h * cap) / 4294967296);
    let slot = -1;
    for (;;) {
      const e = hash[i];
      if (e === EMPTY) break;
      if (e >>> 24 === fp && e !== DELETED) {
        const s = (e & SLOT_BITS) - 1;
        if (this.tags[s] === tag && this.addrs[s] === addr) {
          slot = s;
          break;
        }
      }
      if (++i === cap) i = 0;
    }
    this.lastKey = key;
    this.lastSlot = slot;
    return slot;
  }

  /** The slot of a key, numbering it first if no table holds it (with no references yet). */
  intern(key: number): number {
    if (key === this.lastKey && this.lastSlot >= 0) return this.lastSlot;
    const addr = Math.floor(key / 64);
    const tag = (key % 64) + 1;
    const hash = this.hash;
    const cap = hash.length;
    const h = PrefixIndex.hash(addr, tag);
    const fp = h & 0xff;
    let i = Math.floor((h * cap) / 4294967296);
    // One walk: the key's entry, or where it goes (the first tombstone passed, or the empty end).
    let free = -1;
    for (;;) {
      const e = hash[i];
      if (e === EMPTY) break;
      if (e === DELETED) {
        if (free < 0) free = i;
      } else if (e >>> 24 === fp) {
        const s = (e & SLOT_BITS) - 1;
        if (this.tags[s] === tag && this.addrs[s] === addr) {
          this.lastKey = key;
          this.lastSlot = s;
          return s;
        }
      }
      if (++i === cap) i = 0;
    }
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.top > MAX_SLOT) throw new RangeError(`PrefixIndex: more than ${MAX_SLOT + 1} IPv4 prefixes at once`);
      slot = this.top++;
      if (slot >= this.addrs.length) {
        this.addrs = grown(this.addrs, slot + 1, (n) => new Uint32Array(n));
        this.tags = grown(this.tags, slot + 1, (n) => new Uint8Array(n));
        this.refs = grown(this.refs, slot + 1, (n) => new Uint32Array(n));
      }
    }
    this.addrs[slot] = addr;
    this.tags[slot] = tag;
    this.refs[slot] = 0;
    this.count++;
    if (free >= 0) {
      hash[free] = PrefixIndex.entry(h, slot);
    } else {
      hash[i] = PrefixIndex.entry(h, slot);
      if (++this.used > cap * MAX_LOAD) this.rehash(this.count > (cap * MAX_LOAD) / GROWTH ? Math.ceil(cap * GROWTH) : cap);
    }
    this.lastKey = key;
    this.lastSlot = slot;
    return slot;
  }

  /** Rebuilds the hash array from the per-slot keys (tombstones swept out). */
  private rehash(cap: number): void {
    const hash = new Uint32Array(cap);
    const { addrs, tags } = this;
    for (let slot = 0; slot < this.top; slot++) {
      const tag = tags[slot];
      if (tag === 0) continue;
      const h = PrefixIndex.hash(addrs[slot], tag);
      let i = Math.floor((h * cap) / 4294967296);
      while (hash[i] !== EMPTY) if (++i === cap) i = 0;
      hash[i] = PrefixIndex.entry(h, slot);
    }
    this.hash = hash;
    this.used = this.count;
  }

  /** The key held in a slot (the slot must be live). */
  keyAt(slot: number): number {
    return this.addrs[slot] * 64 + (this.tags[slot] - 1);
  }

  /** A table now holds the slot's prefix. */
  ref(slot: number): void {
    this.refs[slot]++;
  }

  /** A table let go of the slot's prefix: the last one to do so frees the slot. */
  unref(slot: number): void {
    if (--this.refs[slot] > 0) return;
    const addr = this.addrs[slot];
    const tag = this.tags[slot];
    const hash = this.hash;
    const cap = hash.length;
    const h = PrefixIndex.hash(addr, tag);
    const entry = PrefixIndex.entry(h, slot);
    let i = Math.floor((h * cap) / 4294967296);
    while (hash[i] !== entry) if (++i === cap) i = 0;
    hash[i] = DELETED;
    this.tags[slot] = 0;
    this.count--;
    if (this.lastKey === addr * 64 + (tag - 1)) this.lastKey = this.lastSlot = -1;
    if (this.count === 0) {
      // Everything was let go: start small again (a table cleared after a full feed, in tests).
      this.addrs = new Uint32Array(16);
      this.tags = new Uint8Array(16);
      this.refs = new Uint32Array(16);
      this.hash = new Uint32Array(16);
      this.top = this.used = 0;
      this.free.length = 0;
      this.lastKey = this.lastSlot = -1;
    } else {
      this.free.push(slot);
    }
  }
}

/** The index every IPv4 table shares unless given its own (tests). */
export const ipv4Index = new PrefixIndex();

interface Column {
  index: PrefixIndex;
  vals: unknown[];
  small: Uint16Array | null;
}

/**
 * A table dropped without clear() (a speaker replaced by a new one) still holds references to its
 * slots: they are let go when the table is collected.
 */
const droppedTables = new FinalizationRegistry<Column>((c) => {
  if (c.small) {
    for (let slot = 0; slot < c.small.length; slot++) if (c.small[slot] !== 0) c.index.unref(slot);
  } else {
    for (let slot = 0; slot < c.vals.length; slot++) if (c.vals[slot] !== undefined) c.index.unref(slot);
  }
});

/** An IPv4 route table: a column over a `PrefixIndex`, holding a value per slot. */
export class V4Table<V> implements RouteTable<V> {
  private readonly index: PrefixIndex;
  /** Values by slot; undefined: not in this table. Unused with `smallIntegers`. */
  private vals: Array<V | undefined>;
  /** With `smallIntegers`: the values by slot, 0 standing for none. */
  private small: Uint16Array | null;
  private count = 0;
  /** The current columns again, for `droppedTables` (which must not hold the table itself). */
  private readonly column: Column;

  constructor(opts: { smallIntegers?: boolean; index?: PrefixIndex } = {}) {
    this.index = opts.index ?? ipv4Index;
    this.small = opts.smallIntegers ? new Uint16Array(0) : null;
    this.vals = [];
    this.column = { index: this.index, vals: this.vals, small: this.small };
    droppedTables.register(this, this.column);
  }

  get size(): number {
    return this.count;
  }

  private value(slot: number): V | undefined {
    const small = this.small;
    if (small) return (slot < small.length && small[slot] !== 0 ? small[slot] : undefined) as V | undefined;
    return slot < this.vals.length ? this.vals[slot] : undefined;
  }

  get(key: RouteKey): V | undefined {
    const slot = this.index.find(key as number);
    return slot < 0 ? undefined : this.value(slot);
  }

  has(key: RouteKey): boolean {
    return this.get(key) !== undefined;
  }

  set(key: RouteKey, value: V): this {
    const small = this.small;
    if (small) {
      const n = value as unknown as number;
      if (!(Number.isInteger(n) && n >= 1 && n <= 0xffff)) throw new RangeError(`V4Table: ${String(value)} is not a small integer (1-65535)`);
    }
    const slot = this.index.intern(key as number);
    if (small) {
      const n = value as unknown as number;
      if (slot >= small.length) this.small = this.column.small = grown(small, this.index.slotLimit, (c) => new Uint16Array(c));
      if (this.small![slot] === 0) this.held(slot);
      this.small![slot] = n;
    } else if (slot < this.vals.length) {
      if (this.vals[slot] === undefined) this.held(slot);
      this.vals[slot] = value;
    } else {
      // Slots are handed out densely, so a new one is usually the end: appending lets V8 grow
      // the array in place. A gap (slots other tables took) is filled with undefined, never left
      // as a hole past the end, which would turn the array into a dictionary.
      const vals = this.vals;
      while (vals.length < slot) vals.push(undefined);
      vals.push(value);
      this.held(slot);
    }
    return this;
  }

  private held(slot: number): void {
    this.index.ref(slot);
    this.count++;
  }

  delete(key: RouteKey): boolean {
    const slot = this.index.find(key as number);
    if (slot < 0 || this.value(slot) === undefined) return false;
    if (this.small) this.small[slot] = 0;
    else this.vals[slot] = undefined;
    this.count--;
    this.index.unref(slot);
    return true;
  }

  clear(): void {
    if (this.count > 0) {
      const end = this.small ? this.small.length : this.vals.length;
      for (let slot = 0; slot < end; slot++) if (this.value(slot) !== undefined) this.index.unref(slot);
    }
    this.vals = this.column.vals = [];
    if (this.small) this.small = this.column.small = new Uint16Array(0);
    this.count = 0;
  }

  private *iterate<T>(pick: (key: number, value: V) => T): IterableIterator<T> {
    // The column may be replaced by a bigger one meanwhile; slots keep their place.
    for (let slot = 0; slot < (this.small ? this.small.length : this.vals.length); slot++) {
      const v = this.value(slot);
      if (v !== undefined) yield pick(this.index.keyAt(slot), v);
    }
  }

  keys(): IterableIterator<RouteKey> {
    return this.iterate((k) => k);
  }

  values(): IterableIterator<V> {
    return this.iterate((_k, v) => v);
  }

  entries(): IterableIterator<[RouteKey, V]> {
    return this.iterate((k, v) => [k, v] as [RouteKey, V]);
  }

  [Symbol.iterator](): IterableIterator<[RouteKey, V]> {
    return this.entries();
  }
}
