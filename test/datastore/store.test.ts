import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ModelStore, sameContent } from '../../src/datastore/store.ts';
import { Kind, Redacted } from '../../src/datastore/model.ts';
import type { ChangeEvent, ModelObject } from '../../src/datastore/model.ts';
import { validateNode } from '../../src/datastore/validate.ts';

function node(name: string, rack: string, rv: string): ModelObject {
  const r = validateNode({ metadata: { name, labels: { rack }, resourceVersion: rv } });
  if (!r.ok) throw new Error('fixture');
  return r.object;
}

type Op =
  | { op: 'upsert'; name: string; rack: string }
  | { op: 'delete'; name: string }
  | { op: 'replace'; items: { name: string; rack: string }[] };

const name = fc.constantFrom('a', 'b', 'c', 'd');
const rack = fc.constantFrom('r1', 'r2');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('upsert' as const), name, rack }),
  fc.record({ op: fc.constant('delete' as const), name }),
  fc.record({ op: fc.constant('replace' as const), items: fc.uniqueArray(fc.record({ name, rack }), { selector: (i) => i.name, maxLength: 4 }) }),
);

describe('model store', () => {
  it('events replayed by a consumer rebuild the store exactly, and every event is a real change', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const mirror = new Map<string, ModelObject>();
      const events: ChangeEvent[] = [];
      const store = new ModelStore((e) => {
        events.push(e);
        const before = mirror.get(e.key);
        if (e.type === 'added') expect(before).toBeUndefined();
        if (e.type === 'updated') expect(sameContent(before, e.object)).toBe(false);
        if (e.type === 'deleted') expect(before).toBeDefined();
        if (e.type === 'deleted') mirror.delete(e.key);
        else mirror.set(e.key, e.object!);
      });
      let rv = 0;
      for (const o of ops) {
        if (o.op === 'upsert') store.upsert(node(o.name, o.rack, String(++rv)));
        else if (o.op === 'delete') store.delete(Kind.Node, o.name);
        else store.replaceKind(Kind.Node, o.items.map((i) => node(i.name, i.rack, String(++rv))));
      }
      const snap = store.snapshot().nodes;
      expect([...mirror.keys()].sort()).toEqual([...snap.keys()].sort());
      for (const [k, v] of snap) expect(sameContent(mirror.get(k), v)).toBe(true);
    }));
  });

  it('a new resourceVersion with the same content is no change; secrets compare by value', () => {
    const events: ChangeEvent[] = [];
    const store = new ModelStore((e) => events.push(e));
    store.upsert(node('a', 'r1', '1'));
    store.upsert(node('a', 'r1', '2'));
    expect(events.map((e) => e.type)).toEqual(['added']);
    expect(store.get(Kind.Node, 'a')!.resourceVersion).toBe('2');
    expect(sameContent({ p: new Redacted('x') }, { p: new Redacted('x') })).toBe(true);
    expect(sameContent({ p: new Redacted('x') }, { p: new Redacted('y') })).toBe(false);
  });
});
