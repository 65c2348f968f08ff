import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { V4Table } from '../../../src/bgp/rib/table.ts';
import { v4Key } from '../../../src/bgp/rib/prefix.ts';

describe('V4Table (IPv4 route table in typed arrays)', () => {
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
});
