/**
 * `tortie status [--json]`: the agent's BGP sessions, like `calicoctl node status`, with an IPv4 and
 * an IPv6 section. States are spelled as RFC 4271 section 8.2.2 names them.
 */
import { parseArgs } from 'node:util';
import { addressFamily } from '../agent/addr.ts';
import { controlRequest, type StatusResult } from '../agent/control.ts';
import { CONTROL_SOCKET_HELP, controlSocketPath, reportError, usageError } from './control-client.ts';
import { boxTable } from './table.ts';

export const STATUS_HELP = `usage: tortie status [--json] [--control-socket PATH]

Shows this node's BGP sessions: for each peer its address, AS, why we peer with it (node-to-node
mesh, a global BGPPeer, or a BGPPeer for this node), the session state as RFC 4271 names it, since
when, and the prefix counts or the last error.

  --json
      Print {"node": {...}, "peers": [{"address", "asNumber", "type", "state", "since",
      "prefixesReceived", "prefixesAccepted", "prefixesAdvertised", "lastError"}]}.
${CONTROL_SOCKET_HELP}
`;

const TYPE_NAMES: Record<string, string> = { mesh: 'node-to-node mesh', global: 'global', node: 'node specific' };

type StatusPeer = StatusResult['peers'][number];

function since(iso: string): string {
  // 2026-11-26T02:30:04.123Z -> 2026-11-26 02:30:04 (UTC, as the JSON).
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, '');
}

function info(p: StatusPeer): string {
  if (p.state === 'Established') return `${p.prefixesReceived} received, ${p.prefixesAccepted} accepted, ${p.prefixesAdvertised} advertised`;
  return p.lastError ?? '';
}

/** The text form of `tortie status`. */
export function formatStatus(s: StatusResult): string {
  const n = s.node;
  const out = [
    `tortie agent is running on node ${n.name} (AS ${n.asNumber ?? 'not known yet'}, router id ${n.routerId ?? 'unset'}, version ${n.version}, up since ${since(n.startedAt)} UTC)`,
    `node addresses: IPv4 ${n.ipv4Address ?? 'none'}, IPv6 ${n.ipv6Address ?? 'none'}`,
  ];
  if (s.readiness) {
    const failed = s.readiness.checks.filter((c) => !c.ok);
    out.push(s.readiness.ok ? 'ready: yes' : `ready: no (${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')})`);
  }
  for (const family of [4, 6] as const) {
    const peers = s.peers.filter((p) => addressFamily(p.address) === family);
    out.push('', `IPv${family} BGP status`);
    if (peers.length === 0) {
      out.push(`No IPv${family} peers found.`);
      continue;
    }
    const rows = peers.map((p) => [p.port ? `${family === 6 ? `[${p.address}]` : p.address}:${p.port}` : p.address, String(p.asNumber), TYPE_NAMES[p.type] ?? p.type, p.state, since(p.since), info(p)]);
    out.push(boxTable(['PEER ADDRESS', 'AS', 'PEER TYPE', 'STATE', 'SINCE (UTC)', 'INFO'], rows).trimEnd());
  }
  return out.join('\n') + '\n';
}

/** The JSON form: exactly the documented fields, in a stable order. */
export function statusJson(s: StatusResult): unknown {
  return {
    node: s.node,
    peers: s.peers.map((p) => ({
      address: p.address,
      ...(p.port ? { port: p.port } : {}),
      asNumber: p.asNumber,
      type: p.type,
      state: p.state,
      since: p.since,
      prefixesReceived: p.prefixesReceived,
      prefixesAccepted: p.prefixesAccepted,
      prefixesAdvertised: p.prefixesAdvertised,
      lastError: p.lastError,
    })),
  };
}

export async function statusCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { json: { type: 'boolean' }, 'control-socket': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    return usageError('status', e, STATUS_HELP);
  }
  if (values.help) {
    process.stdout.write(STATUS_HELP);
    return 0;
  }
  try {
    const result = (await controlRequest(controlSocketPath(values['control-socket']), 'status')) as StatusResult;
    process.stdout.write(values.json ? JSON.stringify(statusJson(result), null, 2) + '\n' : formatStatus(result));
    return 0;
  } catch (e) {
    return reportError('status', e);
  }
}
