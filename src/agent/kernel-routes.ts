/**
 * What the kernel holds for some prefixes, for `tortie routes`: read with `ip -json route show`
 * in the agent's own namespace. A query answered by a short-lived `ip` keeps the route
 * controller's netlink channel to itself (one dump at a time per socket).
 */
import { run } from '../netns/netns.ts';
import { canonicalPrefix } from './desired.ts';
import type { KernelRoute } from './sources.ts';

interface IpRouteJson {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string | number;
  table?: string | number;
  nexthops?: { gateway?: string; dev?: string }[];
}

/** iproute2's names for the kernel's protocol numbers (rtnetlink.h), as `ip -json` prints them. */
const PROTOCOL_NUMBERS: Record<string, number> = { redirect: 1, kernel: 2, boot: 3, static: 4 };
const TABLE_NUMBERS: Record<string, number> = { main: 254, local: 255, default: 253 };

function normalizeDst(dst: string, family: 4 | 6): string | null {
  const text = dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`;
  try {
    return canonicalPrefix(text);
  } catch {
    return null;
  }
}

export async function readKernelRoutes(prefixes: string[], own: { protocol: number; table: number }): Promise<KernelRoute[]> {
  const wanted = new Set(prefixes.map((p) => {
    try {
      return canonicalPrefix(p);
    } catch {
      return p;
    }
  }));
  const out: KernelRoute[] = [];
  for (const family of [4, 6] as const) {
    if (![...wanted].some((p) => (family === 6) === p.includes(':'))) continue;
    let list: IpRouteJson[];
    try {
      const { stdout } = await run('ip', [`-${family}`, '-json', 'route', 'show', 'table', 'all']);
      list = JSON.parse(stdout) as IpRouteJson[];
    } catch {
      continue;
    }
    for (const r of list) {
      const prefix = normalizeDst(r.dst, family);
      if (!prefix || !wanted.has(prefix)) continue;
      const protocol = r.protocol === undefined ? 3 : typeof r.protocol === 'number' ? r.protocol : (PROTOCOL_NUMBERS[r.protocol] ?? (/^\d+$/.test(r.protocol) ? Number(r.protocol) : r.protocol));
      const table = r.table === undefined ? 254 : typeof r.table === 'number' ? r.table : (TABLE_NUMBERS[r.table] ?? Number(r.table));
      const type = r.type === undefined || r.type === 'unicast' ? 'unicast' : r.type === 'blackhole' || r.type === 'unreachable' ? r.type : 'other';
      out.push({
        prefix,
        type,
        gateway: r.gateway ?? r.nexthops?.[0]?.gateway ?? null,
        dev: r.dev ?? r.nexthops?.[0]?.dev ?? null,
        protocol,
        table,
        owned: protocol === own.protocol && table === own.table,
      });
    }
  }
  return out;
}
