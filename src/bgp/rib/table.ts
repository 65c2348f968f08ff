/**
 * Route tables keyed by compact prefix keys (prefix.ts). A JS Map costs about 60 bytes per entry,
 * and IPv4 keys (addr * 64 + len, past the small-integer range) are boxed numbers on top: at a
 * million routes per table that is most of the speaker's memory. `V4Table` keeps IPv4 keys in
 * typed arrays (an open-addressing hash with linear probing) and only the values in a JS array:
 * about 13 bytes per slot, 20-40 per entry. IPv6 tables stay Maps of 9-character strings.
 *
 * Iterators are live, like a Map's: entries added during iteration may be visited, deleted ones
 * are not. If the table grows during an iteration, the iterator starts over (visiting some entries
 * twice, which the RIB's consumers tolerate: they compare wanted and sent state per prefix).
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

/** A table whose values are small integers (1-65535), kept in a Uint16Array: 7 bytes a slot. */
export function newIndexTable(afi: Afi): RouteTable<number> {
  return afi === Afi.IPv4 ? new V4Table<number>({ smallIntegers: true }) : (new Map<string, number>() as unknown as RouteTable<number>);
}

const EMPTY = 0;
const DELETED = 0xff;
/** Grow past 3/4 full, by half: a table of a million sits between 50 and 75% full, not at 48%. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;

export class V4Table<V> implements RouteTable<V> {
  private addrs: Uint32Array;
  /** 0: empty; 0xff: deleted; otherwise prefix length + 1. */
  private tags: Uint8Array;
  private vals: Array<V | undefined>;
  /** With `smallIntegers`: the values, 0 standing for none. */
  private small: Uint16Array | null;
  private cap: number;
  private count = 0;
  /** Live and deleted slots: what probing has to walk past. */
  private used = 0;
  /** Bumped on every rehash, so that iterators know to start over. */
  private generation = 0;

  constructor(opts: { capacity?: number; smallIntegers?: boolean } = {}) {
    this.cap = Math.max(16, Math.ceil((opts.capacity ?? 16) / MAX_LOAD));
    this.addrs = new Uint32Array(this.cap);
    this.tags = new Uint8Array(this.cap);
    this.small = opts.smallIntegers ? new Uint16Array(this.cap) : null;
    this.vals = this.small ? [] : new Array<V | undefined>(this.cap);
  }

  private value(i: number): V | undefined {
    const small = this.small;
    if (small) return (small[i] === 0 ? undefined : small[i]) as V | undefined;
    return this.vals[i];
  }

  private store(i: number, v: V | undefined): void {
    if (this.small) this.small[i] = v === undefined ? 0 : (v as unknown as number);
    else this.vals[i] = v;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The first slot to probe: MurmurHash3's 32-bit finalizer over the address mixed with the
   * length (prefixes of one length differ only in their high bits), scaled to the capacity by
   * multiplication (Lemire's fastrange: exact in doubles, since h * cap stays under 2^53).
   */
  private start(addr: number, len: number): number {
    let h = addr ^ Math.imul(len, 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
    return Math.floor((h * this.cap) / 4294967296);
  }

  /** The slot holding the key, or -1. */
  private find(addr: number, tag: number): number {
    const tags = this.tags;
    const addrs = this.addrs;
    const cap = this.cap;
    let i = this.start(addr, tag);
    for (;;) {
      const t = tags[i];
      if (t === EMPTY) return -1;
      if (t === tag && addrs[i] === addr) return i;
      if (++i === cap) i = 0;
    }
  }

  get(key: RouteKey): V | undefined {
    const k = key as number;
    const i = this.find(Math.floor(k / 64), (k % 64) + 1);
    return i < 0 ? undefined : this.value(i);
  }

  has(key: RouteKey): boolean {
    const k = key as number;
    return this.find(Math.floor(k / 64), (k % 64) + 1) >= 0;
  }

  set(key: RouteKey, value: V): this {
    if (this.small) {
      const n = value as unknown as number;
      if (!(Number.isInteger(n) && n >= 1 && n <= 0xffff)) throw new RangeError(`V4Table: ${String(value)} is not a small integer (1-65535)`);
    }
    const k = key as number;
    const addr = Math.floor(k / 64);
    const tag = (k % 64) + 1;
    const tags = this.tags;
    const cap = this.cap;
    let i = this.start(addr, tag);
    let free = -1;
    for (;;) {
      const t = tags[i];
      if (t === EMPTY) break;
      if (t === DELETED) {
        if (free < 0) free = i;
      } else if (t === tag && this.addrs[i] === addr) {
        this.store(i, value);
        return this;
      }
      if (++i === cap) i = 0;
    }
    if (free >= 0) {
      i = free;
    } else {
      this.used++;
    }
    tags[i] = tag;
    this.addrs[i] = addr;
    this.store(i, value);
    this.count++;
    if (this.used > cap * MAX_LOAD) {
      // Grow when live entries fill it; otherwise just sweep the tombstones out.
      this.rehash(this.count > (cap * MAX_LOAD) / GROWTH ? Math.ceil(cap * GROWTH) : cap);
    }
    return this;
  }

  delete(key: RouteKey): boolean {
    const k = key as number;
    const i = this.find(Math.floor(k / 64), (k % 64) + 1);
    if (i < 0) return false;
    this.tags[i] = DELETED;
    this.store(i, undefined);
    this.count--;
    if (this.count === 0) this.clear();
    return true;
  }

  clear(): void {
    if (this.used === 0) return;
    this.cap = 16;
    this.addrs = new Uint32Array(16);
    this.tags = new Uint8Array(16);
    if (this.small) this.small = new Uint16Array(16);
    else this.vals = new Array<V | undefined>(16);
    this.count = 0;
    this.used = 0;
    this.generation++;
  }

  private rehash(cap: number): void {
    const { addrs, tags, vals, small } = this;
    this.cap = cap;
    this.addrs = new Uint32Array(cap);
    this.tags = new Uint8Array(cap);
    if (small) this.small = new Uint16Array(cap);
    else this.vals = new Array<V | undefined>(cap);
    this.used = this.count;
    this.generation++;
    for (let j = 0; j < tags.length; j++) {
      const t = tags[j];
      if (t === EMPTY || t === DELETED) continue;
      let i = this.start(addrs[j], t);
      while (this.tags[i] !== EMPTY) if (++i === cap) i = 0;
      this.tags[i] = t;
      this.addrs[i] = addrs[j];
      if (small) this.small![i] = small[j];
      else this.vals[i] = vals[j];
    }
  }

  private *iterate<T>(pick: (key: number, value: V) => T): IterableIterator<T> {
    let gen = this.generation;
    for (let i = 0; i < this.cap; i++) {
      if (gen !== this.generation) {
        gen = this.generation;
        i = -1;
        continue;
      }
      const t = this.tags[i];
      if (t === EMPTY || t === DELETED) continue;
      yield pick(this.addrs[i] * 64 + (t - 1), this.value(i) as V);
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
