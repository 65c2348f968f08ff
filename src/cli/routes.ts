/**
 * `tortie routes [PREFIX] [--json]`: the Loc-RIB, every path with whether it is best and why, and
 * what the kernel holds for each prefix.
 */
import { parseArgs } from 'node:util';
import { controlRequest, type RoutesResult } from '../agent/control.ts';
import type { KernelRoute } from '../agent/sources.ts';
import { CONTROL_SOCKET_HELP, controlSocketPath, reportError, usageError } from './control-client.ts';
import { plainTable } from './table.ts';

export const ROUTES_HELP = `usage: tortie routes [PREFIX] [--json] [--control-socket PATH]

Shows the Loc-RIB: every path to each prefix, the best one marked, with the reason the decision
process (RFC 4271 section 9.1) gave, and the kernel's routes for the same prefix.

  PREFIX
      ADDR/LEN shows that prefix exactly; a bare ADDR shows the longest prefix covering it.
  --json
      Print a list of {"prefix", "nextHop", "peer", "asPath", "best", "reason", "kernel": [...]}.
${CONTROL_SOCKET_HELP}
`;

export function formatKernelRoute(k: KernelRoute): string {
  const parts = [k.type === 'unicast' ? k.prefix : `${k.type} ${k.prefix}`];
  if (k.gateway) parts.push(`via ${k.gateway}`);
  if (k.dev) parts.push(`dev ${k.dev}`);
  parts.push(`proto ${k.protocol}`);
  if (k.table !== 254) parts.push(`table ${k.table}`);
  parts.push(k.owned ? '(tortie)' : '(foreign)');
  return parts.join(' ');
}

/** The text form: a table of paths, then the kernel's view per prefix. */
export function formatRoutes(r: RoutesResult): string {
  if (r.routes.length === 0) return 'No routes.\n';
  const rows = r.routes.map((p) => [p.prefix, p.nextHop ?? 'local', p.peer ?? '-', p.asPath || '-', p.best ? '*' : '', p.reason]);
  const out = [plainTable(['PREFIX', 'NEXT HOP', 'PEER', 'AS PATH', 'BEST', 'REASON'], rows).trimEnd(), '', 'Kernel:'];
  const seen = new Set<string>();
  for (const p of r.routes) {
    if (seen.has(p.prefix)) continue;
    seen.add(p.prefix);
    out.push(p.kernel.length === 0 ? `  ${p.prefix}: not in the kernel` : p.kernel.map((k) => `  ${formatKernelRoute(k)}`).join('\n'));
  }
  return out.join('\n') + '\n';
}

export async function routesCommand(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' }, 'control-socket': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }));
  } catch (e) {
    return usageError('routes', e, ROUTES_HELP);
  }
  if (values.help) {
    process.stdout.write(ROUTES_HELP);
    return 0;
  }
  if (positionals.length > 1) return usageError('routes', new Error(`expected at most one PREFIX, got ${positionals.length}`), ROUTES_HELP);
  try {
    const result = (await controlRequest(controlSocketPath(values['control-socket']), 'routes', positionals[0] !== undefined ? { prefix: positionals[0] } : {})) as RoutesResult;
    process.stdout.write(values.json ? JSON.stringify(result.routes, null, 2) + '\n' : formatRoutes(result));
    return 0;
  } catch (e) {
    return reportError('routes', e);
  }
}
