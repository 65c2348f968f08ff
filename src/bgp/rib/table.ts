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

const EMPTY = 0;
const DELETED = 0xff;

export class V4Table<V> implements RouteTable<V> {
  private addrs: Uint32Array;
  /** 0: empty; 0xff: deleted; otherwise prefix length + 1. */
  private tags: Uint8Array;
  private vals: Array<V | undefined>;
  private mask: number;
  private count = 0;
  /** Live and deleted slots: what probing has to walk past. */
  private used = 0;
  /** Bumped on every rehash, so that iterators know to start over. */
  private generation = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.addrs = new Uint32Array(cap);
    this.tags = new Uint8Array(cap);
    this.vals = new Array<V | undefined>(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  private static hash(addr: number, len: number): number {
    let h = Math.imul(addr ^ Math.imul(len + 1, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** The slot holding the key, or -1. */
  private find(addr: number, tag: number): number {
    const tags = this.tags;
    const addrs = this.addrs;
    const mask = this.mask;
    let i = V4Table.hash(addr, tag) & mask;
    for (;;) {
      const t = tags[i];
      if (t === EMPTY) return -1;
      if (t === tag && addrs[i] === addr) return i;
      i = (i + 1) & mask;
    }
  }

  get(key: RouteKey): V | undefined {
    const k = key as number;
    const i = this.find(Math.floor(k / 64), (k % 64) + 1);
    return i < 0 ? undefined : this.vals[i];
  }

  has(key: RouteKey): boolean {
    const k = key as number;
    return this.find(Math.floor(k / 64), (k % 64) + 1) >= 0;
  }

  set(key: RouteKey, value: V): this {
    const k = key as number;
    const addr = Math.floor(k / 64);
    const tag = (k % 64) + 1;
    const tags = this.tags;
    const mask = this.mask;
    let i = V4Table.hash(addr, tag) & mask;
    let free = -1;
    for (;;) {
      const t = tags[i];
      if (t === EMPTY) break;
      if (t === DELETED) {
        if (free < 0) free = i;
      } else if (t === tag && this.addrs[i] === addr) {
        this.vals[i] = value;
        return this;
      }
      i = (i + 1) & mask;
    }
    if (free >= 0) {
      i = free;
    } else {
      this.used++;
    }
    tags[i] = tag;
    this.addrs[i] = addr;
    this.vals[i] = value;
    this.count++;
    if (this.used * 10 > (mask + 1) * 7) this.rehash(this.count * 2 > mask + 1 ? (mask + 1) * 2 : mask + 1);
    return this;
  }

  delete(key: RouteKey): boolean {
    const k = key as number;
    const i = this.find(Math.floor(k / 64), (k % 64) + 1);
    if (i < 0) return false;
    this.tags[i] = DELETED;
    this.vals[i] = undefined;
    this.count--;
    if (this.count === 0) this.clear();
    return true;
  }

  clear(): void {
    if (this.used === 0) return;
    this.addrs = new Uint32Array(16);
    this.tags = new Uint8Array(16);
    this.vals = new Array<V | undefined>(16);
    this.mask = 15;
    this.count = 0;
    this.used = 0;
    this.generation++;
  }

  private rehash(cap: number): void {
    const { addrs, tags, vals } = this;
    this.addrs = new Uint32Array(cap);
    this.tags = new Uint8Array(cap);
    this.vals = new Array<V | undefined>(cap);
    this.mask = cap - 1;
    this.used = this.count;
    this.generation++;
    for (let j = 0; j < tags.length; j++) {
      const t = tags[j];
      if (t === EMPTY || t === DELETED) continue;
      let i = V4Table.hash(addrs[j], t) & this.mask;
      while (this.tags[i] !== EMPTY) i = (i + 1) & this.mask;
      this.tags[i] = t;
      this.addrs[i] = addrs[j];
      this.vals[i] = vals[j];
    }
  }

  private *iterate<T>(pick: (key: number, value: V) => T): IterableIterator<T> {
    let gen = this.generation;
    for (let i = 0; i <= this.mask; i++) {
      if (gen !== this.generation) {
        gen = this.generation;
        i = -1;
        continue;
      }
      const t = this.tags[i];
      if (t === EMPTY || t === DELETED) continue;
      yield pick(this.addrs[i] * 64 + (t - 1), this.vals[i] as V);
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
