import { describe, expect, it } from 'vitest';
import { drawTopology, stateMark, type TopologyView } from '../../src/lab/draw.ts';

function view(nodes: number, state: (i: number) => string): TopologyView {
  return {
    client: { name: 'tortie-client', addresses: ['203.0.113.10'], subnet: '203.0.113.0/24' },
    router: {
      name: 'tortie-router',
      kind: 'bird',
      asNumber: 64600,
      addresses: ['198.51.100.1'],
      sessions: Array.from({ length: nodes }, (_, i) => ({ label: `tortie-node${i + 1}`, address: `198.51.100.${11 + i}`, state: state(i) })),
    },
    switch: { name: 'tortie-switch', subnet: '198.51.100.0/24' },
    nodes: Array.from({ length: nodes }, (_, i) => ({
      name: `tortie-node${i + 1}`,
      addresses: [`198.51.100.${11 + i}`],
      asNumber: 64512,
      podCIDRs: [`10.244.${i + 1}.0/24`],
      agent: 'running',
      sessions: [{ label: 'router', address: '198.51.100.1', state: state(i) }],
      pods: [
        { name: `pod-${i + 1}-a`, ips: [`10.244.${i + 1}.1`] },
        { name: `pod-${i + 1}-b`, ips: [`10.244.${i + 1}.2`] },
      ],
    })),
  };
}

const width = (l: string) => [...l].length;

describe('topology drawing', () => {
  it('draws client, router, switch and one box per node with sessions, states and pods', () => {
    const text = drawTopology(view(3, (i) => ['Established', 'Active', 'Idle'][i]));
    expect(text).toContain('client tortie-client');
    expect(text).toContain('BIRD  AS 64600  198.51.100.1');
    expect(text).toContain('switch tortie-switch  198.51.100.0/24');
    expect(text).toMatch(/● tortie-node1\s+198\.51\.100\.11\s+Established/);
    expect(text).toMatch(/◐ tortie-node2\s+198\.51\.100\.12\s+Active/);
    expect(text).toMatch(/○ tortie-node3\s+198\.51\.100\.13\s+Idle/);
    for (let i = 1; i <= 3; i++) {
      expect(text).toContain(`┌─ tortie-node${i} `);
      expect(text).toMatch(new RegExp(`pod-${i}-a\\s+10\\.244\\.${i}\\.1`));
      expect(text).toMatch(new RegExp(`pod-${i}-b\\s+10\\.244\\.${i}\\.2`));
    }
    // Nodes hang off the switch: the last with └, the others with ├.
    expect(text.split('\n').filter((l) => /^ {2}├─ ┌─ tortie-node/.test(l))).toHaveLength(2);
    expect(text.split('\n').filter((l) => /^ {2}└─ ┌─ tortie-node3/.test(l))).toHaveLength(1);
  });

  it('closes every box: right borders line up whatever the content widths', () => {
    const v = view(2, () => 'Established');
    v.nodes[1].pods.push({ name: 'a-pod-with-a-much-longer-name', ips: ['10.244.2.3', 'fd00:10:244:2::3'] });
    const lines = drawTopology(v).split('\n');
    // Box lines end in a right border; the switch's bus line (starting "  ┌") and bare trunk lines do not count.
    const boxLines = lines.filter((l) => /[┐│┘]$/.test(l) && !l.startsWith('  ┌') && width(l) > 10);
    const client = boxLines.filter((l) => /^ {4}[┌│└]/.test(l));
    const nodes = boxLines.filter((l) => /^ {2}(├─ |└─ |│ {2}| {3})[┌│└]/.test(l));
    expect(client.length + nodes.length).toBe(boxLines.length);
    expect(new Set(client.map(width)).size).toBe(1);
    expect(new Set(nodes.map(width)).size).toBe(1);
    // Node boxes sit one column further right (after "  ├─ ") than the client's and router's ("    ").
    expect(width(nodes[0]) - width(client[0])).toBe(1);
    expect(lines.some((l) => l.includes('a-pod-with-a-much-longer-name  10.244.2.3  fd00:10:244:2::3'))).toBe(true);
  });

  it('says so when there are no sessions or pods yet', () => {
    const v = view(1, () => 'Idle');
    v.nodes[0].sessions = [];
    v.nodes[0].pods = [];
    v.nodes[0].agent = 'stopped';
    const text = drawTopology(v);
    expect(text).toContain('agent stopped');
    expect(text.match(/\(none\)/g)).toHaveLength(2);
  });

  it('marks states as RFC 4271 names them', () => {
    expect(stateMark('Established')).toBe('●');
    for (const s of ['Connect', 'Active', 'OpenSent', 'OpenConfirm']) expect(stateMark(s)).toBe('◐');
    expect(stateMark('Idle')).toBe('○');
    expect(stateMark('unknown')).toBe('○');
  });
});
