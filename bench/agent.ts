/**
 * The whole agent path a user sees: an external router announces N routes over eBGP to a node, and
 * we time until every one is in the node's kernel, then drop the session and time until every one
 * is gone. The node is, in turn:
 *   tortie - a real `tortie agent` process (bin/tortie, file datastore, the BGPPeer for the feeder):
 *            speaker -> `best` events -> src/agent -> route controller -> tortie-nl -> kernel;
 *   bird   - BIRD 2 with a BGP protocol and a kernel protocol exporting everything, as Calico's
 *            BIRD does on a node.
 * The feeder is bench/lib/feeder-child.ts (N /24s from 16.0.0.0, packed UPDATEs, itself as next
 * hop on the node's subnet), in its own namespace on a bridge. Each node starts fresh in the run.
 *
 *   npm run bench -- agent [sizes=10000,100000] [nodes=tortie,bird]
 *
 * Both clocks start at the feeder's Established. "In the kernel" is read by dumping the node's main
 * table over netlink (learned routes: our protocol, with a gateway) every ~20 ms; a 100k dump
 * takes some tens of ms, so the resolution is coarser there. CPU is user + system seconds of the
 * node's processes (the agent and its tortie-nl relay; bird) from Established to the full table.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netns, Switch, stopPid, uniqueName } from '../src/netns/netns.ts';
import { NetlinkKernel } from '../src/dataplane/kernel-netlink.ts';
import { DEFAULT_PROTOCOL } from '../src/dataplane/index.ts';
import { controlRequest } from '../src/agent/control.ts';
import { Bird } from '../src/lab/peers/bird.ts';
import type { BenchReport } from './lib/report.ts';
import { Feeder, tortieEnv } from './lib/feeder.ts';

const FEEDER = { v4: '198.51.100.99', asn: 65100 };
const NODE = { name: 'ap-bench-node', v4: '198.51.100.1', asn: 64512 };
const BIRD_PROTO = 12;
const bin = new URL('../bin/tortie', import.meta.url).pathname;

/** utime + stime of a process and, recursively, of its live children, in seconds (USER_HZ = 100). */
function treeCpu(pid: number, children = true): number {
  let ticks = 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks = Number(fields[11]) + Number(fields[12]);
    for (const task of children ? readdirSync(`/proc/${pid}/task`) : []) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const kid of kids ? kids.split(' ') : []) ticks += treeCpu(Number(kid)) * 100;
    }
  } catch {
    // The process went away while we read: it counts for nothing more.
  }
  return ticks / 100;
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs: number, everyMs = 20): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface NodeUnderTest {
  name: string;
  /** The process whose RSS we report; CPU counts it and its children. */
  pid: number;
  protocol: number;
  stop(): Promise<void>;
}

function datastoreYaml(): string {
  return [
    `apiVersion: tortie.dev/v1alpha1\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  asNumber: ${NODE.asn}\n  nodeToNodeMeshEnabled: true\n`,
    `apiVersion: v1\nkind: Node\nmetadata:\n  name: ${NODE.name}\nspec:\n  podCIDRs: [10.67.0.0/24]\nstatus:\n  addresses:\n    - type: InternalIP\n      address: ${NODE.v4}\n`,
    `apiVersion: tortie.dev/v1alpha1\nkind: BGPPeer\nmetadata:\n  name: feeder\nspec:\n  peerIP: ${FEEDER.v4}\n  asNumber: ${FEEDER.asn}\n  node: ${NODE.name}\n  holdTime: 240\n`,
  ].join('---\n');
}

async function startAgent(ns: Netns, dir: string, env: Record<string, string>): Promise<NodeUnderTest & { child: ChildProcess; sock: string }> {
  const sock = join(dir, `tortie-${Date.now()}.sock`);
  const child = ns.spawn(bin, ['agent', '--node-name', NODE.name, '--datastore', `file:${join(dir, 'cluster.yaml')}`, '--control-socket', sock, '--cni-socket', 'off', '--metrics-listen', 'off', '--health-listen', 'off', '--log-level', 'warn', '--log-format', 'json'], {
    // AP_AGENT_NODE_OPTIONS adds Node flags to the agent (e.g. --cpu-prof --cpu-prof-dir=DIR to profile it).
    env: { ...process.env, ...env, NODE_OPTIONS: [env.NODE_OPTIONS, process.env.AP_AGENT_NODE_OPTIONS].filter(Boolean).join(' ') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor('the agent\'s control socket', () => controlRequest(sock, 'ping'), 60_000, 50);
  return {
    name: 'tortie agent',
    pid: child.pid!,
    protocol: DEFAULT_PROTOCOL,
    child,
    sock,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) await stopPid(child.pid!, 1000);
    },
  };
}

async function startBird(ns: Netns): Promise<NodeUnderTest> {
  const b = await Bird.start({
    ns,
    routerId: NODE.v4,
    asn: NODE.asn,
    neighbors: [{ name: 'feeder', address: FEEDER.v4, asn: FEEDER.asn, localAddress: NODE.v4, passive: true, families: ['ipv4'], holdTime: 240 }],
    // What Calico's BIRD does with learned routes: its kernel protocol exports them (proto bird).
    extra: 'protocol kernel k4 { ipv4 { import none; export all; }; scan time 3600; learn off; }',
  });
  return { name: 'BIRD 2', pid: b.pid, protocol: BIRD_PROTO, stop: () => b.stop() };
}

export async function run(args: string[]): Promise<BenchReport> {
  const sizes = (args[0] ?? '10000,100000').split(',').map(Number);
  const kinds = (args[1] ?? 'tortie,bird').split(',');
  const rows: BenchReport['rows'] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ap-bench-agent-'));
  writeFileSync(join(dir, 'cluster.yaml'), datastoreYaml());
  const sw = await Switch.create(uniqueName('ap'));
  const nsF = await Netns.create(uniqueName('ap'));
  const nsN = await Netns.create(uniqueName('ap'));
  const kernel = new NetlinkKernel({ netns: nsN.name });
  try {
    await sw.connect(nsF, 'eth0', [`${FEEDER.v4}/24`]);
    await sw.connect(nsN, 'eth0', [`${NODE.v4}/24`]);
    const env = await tortieEnv();
    if (kinds.includes('tortie')) {
      // Fills the compile cache, as the image build does: measured starts load no type stripping.
      await (await startAgent(nsN, dir, env)).stop();
      process.stderr.write(`tortie agent runs with ${JSON.stringify(env)}\n`);
    }
    const learned = async (protocol: number) => {
      let n = 0;
      for (const r of await kernel.dumpRoutes(254)) if (r.protocol === protocol && r.nexthops.some((h) => h.gateway)) n++;
      return n;
    };
    for (const n of sizes) {
      const feeder = new Feeder(nsF, { ...FEEDER, count: n });
      await feeder.ready;
      try {
        for (const kind of kinds) {
          if (kind !== 'tortie' && kind !== 'bird') throw new Error(`unknown node ${kind}: use tortie, bird`);
          const node = kind === 'tortie' ? await startAgent(nsN, dir, env) : await startBird(nsN);
          try {
            if ((await learned(node.protocol)) !== 0) throw new Error(`${node.name}: learned routes in the kernel before the feeder started`);
            const rssBefore = rssMiB(node.pid);
            const cpu0 = treeCpu(node.pid);
            const own0 = treeCpu(node.pid, false);
            const t = await waitFor('the feeder\'s session', () => feeder.feed(NODE.v4, NODE.asn), 60_000, 200);
            const full = await waitFor('every route in the kernel', async () => ((await learned(node.protocol)) >= n ? Date.now() : undefined), 600_000);
            const installCpu = treeCpu(node.pid) - cpu0;
            const installOwn = treeCpu(node.pid, false) - own0;
            const rssFull = rssMiB(node.pid);
            const cpu1 = treeCpu(node.pid);
            const closed = Date.now();
            await feeder.close(NODE.v4);
            const gone = await waitFor('every route gone from the kernel', async () => ((await learned(node.protocol)) === 0 ? Date.now() : undefined), 600_000);
            const withdrawCpu = treeCpu(node.pid) - cpu1;
            const install = (full - t.established) / 1000;
            const withdraw = (gone - closed) / 1000;
            rows.push([n, node.name, install, installCpu, withdraw, withdrawCpu, Math.round(rssBefore), Math.round(rssFull)]);
            process.stderr.write(`agent ${n} -> ${node.name}: in kernel ${install.toFixed(2)} s (${installCpu.toFixed(2)} CPU s, ${installOwn.toFixed(2)} in the main process), gone ${withdraw.toFixed(2)} s (${withdrawCpu.toFixed(2)} CPU s), RSS ${rssBefore.toFixed(0)} -> ${rssFull.toFixed(0)} MiB\n`);
          } finally {
            await node.stop();
          }
        }
      } finally {
        await feeder.stop();
      }
    }
  } finally {
    await kernel.close();
    await nsF.destroy();
    await nsN.destroy();
    await sw.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    title: 'Agent path: an eBGP router announces N /24s to a node; seconds until all are in the node\'s kernel, and until all are gone after the session drops',
    columns: ['routes', 'node', 'seconds to kernel', 'CPU s (install)', 'seconds to withdraw', 'CPU s (withdraw)', 'RSS MiB before', 'RSS MiB full'],
    rows,
    notes: [
      'tortie: a `tortie agent` process (file datastore, Dockerfile Node settings, warm compile cache) whose BGPPeer is the feeder;',
      'BIRD 2: bgp + kernel protocol (export all), as Calico\'s BIRD. Clocks start at the feeder\'s Established (install) and at',
      'the feeder closing its socket (withdraw); done when a netlink dump of the node\'s main table shows all (none) of the routes.',
      'CPU: user + system seconds of the node\'s processes (agent + tortie-nl relay; bird). Shared 2-core machine: noisy; run twice.',
    ],
  };
}
