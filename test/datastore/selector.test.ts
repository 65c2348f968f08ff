import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSelector, selectorMatches } from '../../src/datastore/selector.ts';
import { nodesSelectedAsPeers, peerAppliesToNode } from '../../src/datastore/peers.ts';
import { validateBGPPeer, validateNode } from '../../src/datastore/validate.ts';

const labels = { rack: 'r1', zone: 'eu-1', 'tortie.dev/spine': '' };

describe('selectors (Calico syntax)', () => {
  it.each([
    ["rack == 'r1'", true],
    ['rack == "r1"', true],
    ["rack=='r2'", false],
    ["rack != 'r2'", true],
    ["missing != 'x'", true],
    ["rack in {'r1', 'r2'}", true],
    ["rack in {'r2','r3'}", false],
    ['rack in {}', false],
    ["rack not in {'r2'}", true],
    ["missing not in {'r2'}", true],
    ["rack not in {'r1'}", false],
    ['has(tortie.dev/spine)', true],
    ['!has(tortie.dev/spine)', false],
    ['!has(missing)', true],
    ['has(missing)', false],
    ["zone contains 'u-'", true],
    ["zone starts with 'eu'", true],
    ["zone ends with '-2'", false],
    ["missing contains ''", false],
    ["rack == 'r1' && zone in {'eu-1'} && !has(missing)", true],
    ["rack == 'r1' && zone == 'us'", false],
    ["rack == 'x' || zone == 'eu-1'", true],
    ["rack == 'x' || zone == 'eu-1' && has(missing)", false],
    ["(rack == 'x' || zone == 'eu-1') && !has(missing)", true],
    ["!(rack == 'r1')", false],
    ['', true],
    ['all()', true],
    ['global()', true],
  ])('%s → %s', (sel, expected) => {
    expect(parseSelector(sel).matches(labels)).toBe(expected);
  });

  it.each([
    ['rack=r1', /Calico selectors compare with == and quote values/],
    ['rack == r1', /expected a quoted value \(write 'r1'\)/],
    ["rack in {'r1'", /expected '}' before the end/],
    ["(rack == 'r1'", /expected '\)'/],
    ['rack', /expected ==, !=, in, not in/],
    ["rack == 'r1' &&", /unexpected end/],
    ["rack == 'r1' zone", /unexpected 'zone'/],
    ["rack == 'r1", /unterminated string/],
    ['rack ~ x', /unexpected '~'/],
  ])('rejects %s', (sel, message) => {
    expect(() => parseSelector(sel)).toThrow(message);
    expect(() => parseSelector(sel)).toThrow(expect.objectContaining({ code: 'TK_DS_BAD_SELECTOR' }));
  });

  it('null (field absent) selects nothing', () => {
    expect(selectorMatches(null, labels)).toBe(false);
  });

  it('equality and set membership agree with direct comparison for any value', () => {
    fc.assert(fc.property(fc.string({ maxLength: 12 }).filter((v) => !v.includes("'")), fc.string({ maxLength: 12 }), (value, other) => {
      expect(parseSelector(`k == '${value}'`).matches({ k: other })).toBe(other === value);
      expect(parseSelector(`k != '${value}'`).matches({ k: other })).toBe(other !== value);
      expect(parseSelector(`k in {'${value}'}`).matches({ k: other })).toBe(other === value);
    }));
  });
});

describe('which peers apply to which nodes', () => {
  const node = (name: string, l: Record<string, string>) => {
    const r = validateNode({ metadata: { name, labels: l } });
    if (!r.ok) throw new Error('bad fixture');
    return r.object;
  };
  const peer = (spec: Record<string, unknown>) => {
    const r = validateBGPPeer({ metadata: { name: 'p' }, spec });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.object;
  };
  const n1 = node('n1', { rack: 'r1' });
  const n2 = node('n2', { rack: 'r2', rr: 'true' });

  it('node, nodeSelector or every node', () => {
    const global = peer({ peerIP: '192.0.2.1', asNumber: 65000 });
    const one = peer({ peerIP: '192.0.2.1', asNumber: 65000, node: 'n2' });
    const racked = peer({ peerIP: '192.0.2.1', asNumber: 65000, nodeSelector: "rack == 'r1'" });
    expect([n1, n2].filter((n) => peerAppliesToNode(global, n)).map((n) => n.name)).toEqual(['n1', 'n2']);
    expect([n1, n2].filter((n) => peerAppliesToNode(one, n)).map((n) => n.name)).toEqual(['n2']);
    expect([n1, n2].filter((n) => peerAppliesToNode(racked, n)).map((n) => n.name)).toEqual(['n1']);
  });

  it('peerSelector picks nodes as peers', () => {
    const toRR = peer({ nodeSelector: '!has(rr)', peerSelector: "rr == 'true'" });
    expect(nodesSelectedAsPeers(toRR, [n1, n2]).map((n) => n.name)).toEqual(['n2']);
    expect(peerAppliesToNode(toRR, n1)).toBe(true);
    expect(peerAppliesToNode(toRR, n2)).toBe(false);
  });
});
