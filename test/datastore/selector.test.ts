import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSelector, selectorMatches } from '../../src/datastore/selector.ts';
import { nodesSelectedAsPeers, peerAppliesToNode } from '../../src/datastore/peers.ts';
import { validateBGPPeer, validateNode } from '../../src/datastore/validate.ts';

const labels = { rack: 'r1', zone: 'eu-1', 'tortie.dev/spine': '' };

describe('label selectors', () => {
  it.each([
    ['rack=r1', true],
    ['rack==r1', true],
    ['rack = r1', true],
    ['rack=r2', false],
    ['rack!=r2', true],
    ['missing!=x', true],
    ['rack in (r1, r2)', true],
    ['rack in (r2,r3)', false],
    ['rack notin (r2)', true],
    ['missing notin (r2)', true],
    ['rack notin (r1)', false],
    ['tortie.dev/spine', true],
    ['!tortie.dev/spine', false],
    ['!missing', true],
    ['missing', false],
    ['rack=r1,zone in (eu-1),!missing', true],
    ['rack=r1,zone=us', false],
    ['', true],
    ['all()', true],
  ])('%s → %s', (sel, expected) => {
    expect(parseSelector(sel).matches(labels)).toBe(expected);
  });

  it.each([
    ["rack == 'r1'", /Calico selector syntax/],
    ['has(rack)', /Calico selector syntax/],
    ['a && b', /Calico selector syntax/],
    ['rack in (r1', /unbalanced/],
    ['rack=r1,,zone=a', /empty requirement/],
    ['rack=bad value!', /not a valid label value/],
    ['-rack', /not a valid label key/],
  ])('rejects %s', (sel, message) => {
    expect(() => parseSelector(sel)).toThrow(message);
    try {
      parseSelector(sel);
    } catch (err) {
      expect((err as { code: string }).code).toBe('TK_DS_BAD_SELECTOR');
    }
  });

  it('null (field absent) selects nothing', () => {
    expect(selectorMatches(null, labels)).toBe(false);
  });

  it('equality agrees with a direct comparison for any label value', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?$/), fc.stringMatching(/^[a-z0-9]{1,8}$/), (value, other) => {
      const sel = parseSelector(`k=${value}`);
      expect(sel.matches({ k: value })).toBe(true);
      expect(sel.matches({ k: other })).toBe(other === value);
      expect(parseSelector(`k!=${value}`).matches({ k: other })).toBe(other !== value);
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
    const racked = peer({ peerIP: '192.0.2.1', asNumber: 65000, nodeSelector: 'rack=r1' });
    expect([n1, n2].filter((n) => peerAppliesToNode(global, n)).map((n) => n.name)).toEqual(['n1', 'n2']);
    expect([n1, n2].filter((n) => peerAppliesToNode(one, n)).map((n) => n.name)).toEqual(['n2']);
    expect([n1, n2].filter((n) => peerAppliesToNode(racked, n)).map((n) => n.name)).toEqual(['n1']);
  });

  it('peerSelector picks nodes as peers', () => {
    const toRR = peer({ nodeSelector: '!rr', peerSelector: 'rr=true' });
    expect(nodesSelectedAsPeers(toRR, [n1, n2]).map((n) => n.name)).toEqual(['n2']);
    expect(peerAppliesToNode(toRR, n1)).toBe(true);
    expect(peerAppliesToNode(toRR, n2)).toBe(false);
  });
});
