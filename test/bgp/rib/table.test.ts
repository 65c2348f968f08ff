import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PrefixIndex, V4Table } from '../../../src/bgp/rib/table.ts';
import { v4Key } from '../../../src/bgp/rib/prefix.ts';

describe('V4Table (IPv4 route table over a shared prefix index)', () => {
  it('behaves like a Map under any sequence of sets and deletes (property)', () => {
    const op = fc.record({ del: fc.boolean(), addr: fc.integer({ min: 0, max: 63 }).map((x) => (x * 0x01000000) >>> 0), len: fc.integer({ min: 0, max: 32 }), v: fc.integer() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const t = new V4Table<number>();
        const m = new Map<number, number>();
        for (const o of ops) {
          const k = v4Key(o.addr, o.len);
          if (o.del) expect(t.delete(k)).toBe(m.delete(k));
          else {
            t.set(k, o.v);
            m.set(k, o.v);
          }
          expect(t.size).toBe(m.size);
        }
        for (const [k, v] of m) expect(t.get(k)).toBe(v);
        expect([...t.entries()].sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([...m.entries()].sort((a, b) => a[0] - b[0]));
      }),
    );
  });

  it('tells prefixes with the same address and different lengths apart', () => {
    const t = new V4Table<string>();
    t.set(v4Key(0x0a000000, 8), 'a');
    t.set(v4Key(0x0a000000, 16), 'b');
    t.set(v4Key(0xffffff00, 24), 'c');
    expect(t.get(v4Key(0x0a000000, 8))).toBe('a');
    expect(t.get(v4Key(0x0a000000, 16))).toBe('b');
    expect(t.get(v4Key(0xffffff00, 24))).toBe('c');
    expect(t.get(v4Key(0x0a000000, 24))).toBeUndefined();
  });

  it('a live iterator sees every entry present throughout, even when the table grows meanwhile', () => {
    const t = new V4Table<number>();
    for (let i = 0; i < 100; i++) t.set(v4Key(i << 8, 24), i);
    const seen = new Set<number>();
    let n = 100;
    for (const k of t.keys()) {
      seen.add(k as number);
      if (n < 5000) t.set(v4Key(n++ << 8, 24), n);
    }
    for (let i = 0; i < 100; i++) expect(seen.has(v4Key(i << 8, 24))).toBe(true);
  });

  it('with small integer values, stores them in 2 bytes and refuses anything else', () => {
    const op = fc.record({ del: fc.boolean(), addr: fc.integer({ min: 0, max: 63 }).map((x) => (x * 0x00010000) >>> 0), len: fc.integer({ min: 16, max: 32 }), v: fc.integer({ min: 1, max: 0xffff }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const t = new V4Table<number>({ smallIntegers: true });
        const m = new Map<number, number>();
        for (const o of ops) {
          const k = v4Key(o.addr, o.len);
          if (o.del) expect(t.delete(k)).toBe(m.delete(k));
          else {
            t.set(k, o.v);
            m.set(k, o.v);
          }
        }
        expect(t.size).toBe(m.size);
        for (const [k, v] of m) expect(t.get(k)).toBe(v);
      }),
    );
    const t = new V4Table<number>({ smallIntegers: true });
    expect(() => t.set(v4Key(0, 0), 70000)).toThrow(RangeError);
  });

  it('tables sharing an index each see only their own entries, and a prefix keeps its slot until the last table lets go (property)', () => {
    const op = fc.record({ table: fc.integer({ min: 0, max: 2 }), del: fc.boolean(), addr: fc.integer({ min: 0, max: 31 }).map((x) => (x * 0x01000000) >>> 0), len: fc.integer({ min: 0, max: 32 }), v: fc.integer({ min: 1, max: 0xffff }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const index = new PrefixIndex();
        const tables = [new V4Table<number>({ index }), new V4Table<number>({ index }), new V4Table<number>({ index, smallIntegers: true })];
        const maps = [new Map<number, number>(), new Map<number, number>(), new Map<number, number>()];
        for (const o of ops) {
          const k = v4Key(o.addr, o.len);
          if (o.del) expect(tables[o.table].delete(k)).toBe(maps[o.table].delete(k));
          else {
            tables[o.table].set(k, o.v);
            maps[o.table].set(k, o.v);
          }
          expect(index.size).toBe(new Set(maps.flatMap((m) => [...m.keys()])).size);
        }
        for (let i = 0; i < 3; i++) {
          expect([...tables[i].entries()].sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([...maps[i].entries()].sort((a, b) => a[0] - b[0]));
        }
        tables[0].clear();
        tables[1].clear();
        expect(index.size).toBe(maps[2].size);
        expect(tables[2].size).toBe(maps[2].size);
      }),
    );
  });

  it('hands out dense slots and reuses freed ones, so a table of N prefixes spans about N slots', () => {
    const index = new PrefixIndex();
    const a = new V4Table<string>({ index });
    for (let i = 0; i < 1000; i++) a.set(v4Key(i << 8, 24), 'x');
    expect(index.slotLimit).toBe(1000);
    for (let i = 0; i < 500; i++) a.delete(v4Key(i << 8, 24));
    for (let i = 1000; i < 1500; i++) a.set(v4Key(i << 8, 24), 'y');
    expect(index.slotLimit).toBe(1000);
    expect(index.size).toBe(1000);
    expect(a.get(v4Key(1499 << 8, 24))).toBe('y');
    expect(a.get(v4Key(0, 24))).toBeUndefined();
  });

  it('a table dropped without clear() lets its prefixes go once it is collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const index = new PrefixIndex();
    const kept = new V4Table<number>({ index });
    kept.set(v4Key(0x0a000000, 8), 1);
    (() => {
      const dropped = new V4Table<number>({ index });
      for (let i = 0; i < 100; i++) dropped.set(v4Key(0x0b000000 + (i << 8), 24), 1);
    })();
    expect(index.size).toBe(101);
    for (let i = 0; i < 100 && index.size > 1; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(index.size).toBe(1);
    expect(kept.get(v4Key(0x0a000000, 8))).toBe(1);
  });
});
