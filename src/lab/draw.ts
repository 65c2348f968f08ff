/**
 * The lab's topology drawn with box-drawing characters: the client, the router and its sessions,
 * the switch, and every node with its sessions (and their states) and its pods. Pure: it draws
 * whatever view it is given, so tests can check it and `status` can draw a lab half down.
 *
 *   ┌─ client ──────┐
 *   └───────┬───────┘
 *           │ 203.0.113.0/24
 *   ┌─ router ──────┐
 *   └───────┬───────┘
 *           │ switch
 *   ├── ┌─ node1 ─┐
 *   └── ┌─ node2 ─┐
 */

export interface SessionView {
  /** Who the peer is: `router`, a node name. */
  label: string;
  address: string;
  /** RFC 4271 state name, or `unknown` when it could not be read. */
  state: string;
}

export interface NodeView {
  name: string;
  addresses: string[];
  asNumber: number;
  podCIDRs: string[];
  /** `running`, `stopped`, or what went wrong reading it. */
  agent: string;
  sessions: SessionView[];
  pods: Array<{ name: string; ips: string[] }>;
}

export interface TopologyView {
  client: { name: string; addresses: string[]; subnet: string };
  router: { name: string; kind: string; asNumber: number; addresses: string[]; sessions: SessionView[] };
  switch: { name: string; subnet: string };
  nodes: NodeView[];
}

const KIND_NAMES: Record<string, string> = { bird: 'BIRD', frr: 'FRR', gobgp: 'GoBGP' };

/** ● up, ◐ on its way (Connect, Active, OpenSent, OpenConfirm), ○ down or unknown. */
export function stateMark(state: string): string {
  if (state === 'Established') return '●';
  if (['Connect', 'Active', 'OpenSent', 'OpenConfirm'].includes(state)) return '◐';
  return '○';
}

/** Display width: every character used here takes one column. */
function width(s: string): number {
  return [...s].length;
}

function pad(s: string, n: number): string {
  return s + ' '.repeat(Math.max(0, n - width(s)));
}

/** A box of `inner` columns between the borders, the title set into the top border. */
function box(title: string, lines: string[], inner: number): string[] {
  const top = `┌─ ${title} ${'─'.repeat(Math.max(0, inner - width(title) - 3))}┐`;
  return [top, ...lines.map((l) => `│ ${pad(l, inner - 2)} │`), `└${'─'.repeat(inner)}┘`];
}

/** The same box with a connector leaving the middle of its bottom border. */
function withStem(lines: string[]): string[] {
  const last = lines[lines.length - 1];
  const mid = Math.floor(width(last) / 2);
  const chars = [...last];
  chars[mid] = '┬';
  return [...lines.slice(0, -1), chars.join('')];
}

function sessionLines(sessions: SessionView[]): string[] {
  if (sessions.length === 0) return ['  (none)'];
  const labelW = Math.max(...sessions.map((s) => width(s.label)));
  const addrW = Math.max(...sessions.map((s) => width(s.address)));
  return sessions.map((s) => `  ${stateMark(s.state)} ${pad(s.label, labelW)}  ${pad(s.address, addrW)}  ${s.state}`);
}

function nodeLines(n: NodeView): { title: string; lines: string[] } {
  const lines = [`${n.addresses.join('  ')}  AS ${n.asNumber}`, `agent ${n.agent}`, `pod CIDRs ${n.podCIDRs.join('  ')}`, 'sessions', ...sessionLines(n.sessions), 'pods'];
  if (n.pods.length === 0) lines.push('  (none)');
  const nameW = Math.max(0, ...n.pods.map((p) => width(p.name)));
  for (const p of n.pods) lines.push(`  ${pad(p.name, nameW)}  ${p.ips.join('  ')}`);
  return { title: n.name, lines };
}

export function drawTopology(view: TopologyView): string {
  const client = { title: `client ${view.client.name}`, lines: [view.client.addresses.join('  ')] };
  const router = {
    title: `router ${view.router.name}`,
    lines: [`${KIND_NAMES[view.router.kind] ?? view.router.kind}  AS ${view.router.asNumber}  ${view.router.addresses.join('  ')}`, 'sessions', ...sessionLines(view.router.sessions)],
  };
  const nodes = view.nodes.map(nodeLines);
  // One width for every box, so that they line up.
  const all = [client, router, ...nodes];
  const inner = Math.max(...all.flatMap((b) => [width(b.title) + 4, ...b.lines.map((l) => width(l) + 2)]));

  const out: string[] = [];
  const indent = '    ';
  const clientBox = withStem(box(client.title, client.lines, inner));
  const stemCol = indent.length + Math.floor(width(clientBox[clientBox.length - 1]) / 2);
  const stem = (label: string) => `${' '.repeat(stemCol)}│${label ? ` ${label}` : ''}`;
  out.push(...clientBox.map((l) => indent + l));
  out.push(stem(view.client.subnet));
  const routerBox = box(router.title, router.lines, inner);
  // The router's top border takes the stem from above.
  const rTop = [...routerBox[0]];
  if (rTop[stemCol - indent.length] === '─') rTop[stemCol - indent.length] = '┴';
  routerBox[0] = rTop.join('');
  out.push(...withStem(routerBox).map((l) => indent + l));
  out.push(stem(`switch ${view.switch.name}  ${view.switch.subnet}`));
  // The switch: a bus from the left margin to the stem, the nodes hanging off it.
  out.push(`  ┌${'─'.repeat(stemCol - 3)}┘`);
  nodes.forEach((n, i) => {
    const lastNode = i === nodes.length - 1;
    const b = box(n.title, n.lines, inner);
    out.push('  │');
    b.forEach((l, j) => {
      if (j === 0) out.push(`  ${lastNode ? '└' : '├'}─ ${l}`);
      else out.push(`  ${lastNode ? ' ' : '│'}  ${l}`);
    });
  });
  if (nodes.length === 0) out.push('  └─ (no nodes)');
  out.push('', '  ● Established   ◐ connecting (Connect, Active, OpenSent, OpenConfirm)   ○ Idle or unknown');
  return out.join('\n') + '\n';
}
