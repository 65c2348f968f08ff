/**
 * `npm run lab`: a small cluster's pod network in network namespaces, left running to explore.
 *
 *   npm run lab                                   up, with 3 nodes and BIRD
 *   npm run lab -- up --nodes N --router bird|frr|gobgp [--ipv6] [--prefix NAME]
 *   npm run lab -- status                         drawing, tortie status per node, router's view
 *   npm run lab -- down                           removes everything the lab made
 *
 * Needs root. State (the state file, datastores, logs, control sockets) lives in `.lab/`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { drawTopology } from './draw.ts';
import { Lab, REPO_ROOT, type PingResult } from './lab.ts';
import { DEFAULT_OPTIONS, LabOptionError, type RouterKind } from './plan.ts';
import { LabStateError } from './state.ts';
import { MissingToolsError, NotRootError } from './tools.ts';

export const USAGE = `usage: npm run lab -- [up|status|down] [options]

  up        build the lab and prove its network (the default)
  status    draw the running lab, with each node's tortie status and the router's view
  down      remove everything the lab made (namespaces, processes, files under .lab/)

options for up:
  --nodes N                 nodes (default ${DEFAULT_OPTIONS.nodes})
  --router bird|frr|gobgp   the top-of-rack router's daemon (default ${DEFAULT_OPTIONS.router})
  --ipv6                    dual stack: IPv6 underlay, pod CIDRs and sessions too
  --pods N                  pods per node (default ${DEFAULT_OPTIONS.podsPerNode})
  --hold-time SECONDS       BGP hold time of every session (default ${DEFAULT_OPTIONS.holdTime})
  --prefix NAME             namespace names start with it (default ${DEFAULT_OPTIONS.prefix})
  --agent-arg=FLAG          pass FLAG to every tortie agent (repeatable), e.g. --agent-arg=--advertise-pod-routes
options for all:
  --state-dir DIR           where the lab keeps its state (default .lab in the repository)
`;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** A path as a person would type it from here: relative inside the working directory, else absolute. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel.startsWith('..') ? p : rel;
}

/** The ping matrix as a grid: rows ping columns; ✓ answered, ✗ not, · self. */
export function formatPingMatrix(results: PingResult[], pods: string[]): string {
  const ok = new Map<string, boolean>();
  for (const r of results) {
    const k = `${r.from}>${r.to}`;
    ok.set(k, (ok.get(k) ?? true) && r.ok);
  }
  const w = Math.max(...pods.map((p) => p.length));
  const lines = [`${' '.repeat(w)}  ${pods.map((_, i) => String(i + 1).padStart(2)).join(' ')}`];
  pods.forEach((from, i) => {
    const cells = pods.map((to) => (to === from ? ' ·' : ok.get(`${from}>${to}`) === undefined ? '  ' : ok.get(`${from}>${to}`) ? ' ✓' : ' ✗'));
    lines.push(`${from.padEnd(w)}  ${cells.join(' ')}   ${i + 1}`);
  });
  return lines.join('\n');
}

async function show(lab: Lab): Promise<void> {
  say('');
  say(drawTopology(await lab.view()));
  for (const n of lab.plan.nodes) {
    say(`── tortie status on ${n.name} (tortie status --control-socket ${shown(lab.controlSocket(n))})`);
    say((await lab.agentStatusText(n)).trimEnd());
    say('');
  }
  if (lab.routerView) {
    say(`── the router's view (${lab.plan.router.kind} in ${lab.plan.router.netns})`);
    say((await lab.routerView.describe()).trimEnd());
    say('');
  }
}

async function up(lab: Lab): Promise<number> {
  await lab.waitForAgents();
  say('\nwaiting for the router to see every node Established ...');
  const routerUp = await lab.waitForRouterSessions(60_000);
  say(routerUp ? 'router: every session Established' : 'router: not every session came up within 60 s (see the drawing below)');
  // The routes follow the sessions: wait for every node's blocks before copying them (FRR, GoBGP)
  // or pinging through them.
  const routesIn = await lab.waitForRouterRoutes(30_000);
  if (!routesIn) say("router: not every node's pod CIDRs in its table within 30 s");
  const synced = await lab.routerView?.syncKernel();
  if (synced) say(`router: ${synced} BGP route(s) copied into its kernel (${lab.plan.router.kind} keeps them out of it)`);

  const pods = lab.pods();
  say(`\nping matrix: every pod pings every other pod${lab.plan.options.ipv6 ? ' (IPv4 and IPv6)' : ''}; rows ping columns`);
  const results = await lab.pingMatrixUntilFull(30_000);
  say(formatPingMatrix(results, pods.map((p) => p.name)));
  const sameNode = results.filter((r) => pods.find((p) => p.name === r.from)?.nodeName === pods.find((p) => p.name === r.to)?.nodeName);
  const crossNode = results.filter((r) => !sameNode.includes(r));
  say(`same node: ${sameNode.filter((r) => r.ok).length}/${sameNode.length} answered; across nodes: ${crossNode.filter((r) => r.ok).length}/${crossNode.length} answered`);

  const target = pods[0];
  let clientOk = true;
  if (target) {
    for (const address of target.ips) {
      const ok = await lab.clientPing(address);
      clientOk &&= ok;
      const from = address.includes(':') ? lab.plan.client.ipv6 : lab.plan.client.ipv4;
      say(`client ${from} -> ${target.name} ${address} through the router: ${ok ? 'answered' : 'no answer'}`);
    }
  }
  await show(lab);
  const proved = results.every((r) => r.ok) && clientOk;
  say(proved ? 'the network is proved: every pod reaches every pod, and the client reaches the pods.' : 'the network is NOT fully proved (see above); the lab stays up to explore: npm run lab -- status, npm run lab -- down');
  say(`explore: ip netns exec ${lab.plan.nodes[0]?.netns} ip route; ip netns exec ${target?.netns} ping ...; logs in ${shown(lab.stateDir)}/*/agent.log`);
  return proved ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [maybeCommand, ...rest] = argv;
  const command = maybeCommand === undefined || maybeCommand.startsWith('-') ? 'up' : maybeCommand;
  const args = maybeCommand === undefined || maybeCommand.startsWith('-') ? argv : rest;
  if (command === 'help' || args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        nodes: { type: 'string' },
        router: { type: 'string' },
        ipv6: { type: 'boolean' },
        pods: { type: 'string' },
        'hold-time': { type: 'string' },
        prefix: { type: 'string' },
        'agent-arg': { type: 'string', multiple: true },
        'state-dir': { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`lab: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const stateDir = path.resolve(values['state-dir'] ?? path.join(REPO_ROOT, '.lab'));
  const num = (name: string, v: string | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v)) throw new LabOptionError(name, `must be a whole number, not '${v}'`);
    return Number(v);
  };
  try {
    switch (command) {
      case 'up': {
        const lab = await Lab.up({
          stateDir,
          log: (l) => say(`  ${l}`),
          nodes: num('nodes', values.nodes, DEFAULT_OPTIONS.nodes),
          router: (values.router ?? DEFAULT_OPTIONS.router) as RouterKind,
          ipv6: values.ipv6 ?? false,
          podsPerNode: num('pods', values.pods, DEFAULT_OPTIONS.podsPerNode),
          holdTime: num('hold-time', values['hold-time'], DEFAULT_OPTIONS.holdTime),
          prefix: values.prefix ?? DEFAULT_OPTIONS.prefix,
          agentArgs: values['agent-arg'] ?? [],
        });
        return await up(lab);
      }
      case 'status': {
        const lab = Lab.open(stateDir);
        await show(lab);
        return 0;
      }
      case 'down': {
        const lab = Lab.open(stateDir);
        const r = await lab.down();
        say(`stopped: ${r.stopped.join(', ') || 'nothing running'}`);
        if (r.strays.length) say(`also stopped, found inside the lab's namespaces: pids ${r.strays.join(', ')}`);
        say(`namespaces removed: ${r.namespaces.join(', ') || 'none left'}`);
        say(`state removed: ${stateDir}`);
        return 0;
      }
      default:
        process.stderr.write(`lab: unknown command '${command}' (one of: up, status, down)\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof MissingToolsError || e instanceof NotRootError || e instanceof LabOptionError || e instanceof LabStateError) {
      process.stderr.write(`lab: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
