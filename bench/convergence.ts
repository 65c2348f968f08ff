/**
 * `npm run bench -- convergence [--nodes 3,6] [--pods 20] [--router bird]`: on labs of 3 and 6
 * nodes, the time from a pod being wired (tortie-cni ADD returned and the Pod recorded in the
 * datastores, as the kubelet reports it) to its /32 being in the kernel of every other node.
 *
 * The agents run with --advertise-pod-routes: a pod inside its node's block is otherwise covered
 * by the block's aggregate, and nothing changes elsewhere. Arrival is seen through `ip monitor
 * route` in every node (an event per route, no polling), timestamped when the line reaches us.
 * Needs root and the wired agent.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab } from '../src/lab/lab.ts';
import type { RouterKind } from '../src/lab/plan.ts';
import { Netns, uniqueName } from '../src/netns/netns.ts';
import type { BenchReport } from './lib/report.ts';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
}

/** Watches a node's routing table; resolves waiters when a route to an address appears. */
class RouteWatch {
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, (t: number) => void>();
  private buffer = '';
  readonly child: ChildProcess;

  constructor(ns: Netns) {
    this.child = ns.spawn('ip', ['-4', 'monitor', 'route']);
    this.child.stdout!.on('data', (d: Buffer) => {
      const now = performance.now();
      this.buffer += d.toString();
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('Deleted')) continue;
        const address = line.split(' ')[0];
        if (!this.seen.has(address)) this.seen.set(address, now);
        this.waiters.get(address)?.(now);
        this.waiters.delete(address);
      }
    });
  }

  /** When a route to `address` (a /32, printed bare) appeared. */
  arrival(address: string, timeoutMs: number): Promise<number> {
    const t = this.seen.get(address);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no route to ${address} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(address, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}

async function measure(nodes: number, pods: number, router: RouterKind): Promise<number[]> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'tortie-bench-convergence-'));
  const lab = await Lab.up({ stateDir, prefix: uniqueName('tl'), nodes, router, podsPerNode: 0, agentArgs: ['--advertise-pod-routes'] });
  const watches: RouteWatch[] = [];
  try {
    await lab.waitForAgents();
    await lab.waitForSessions(120_000);
    const origin = lab.node(1);
    for (const n of lab.plan.nodes.filter((x) => x !== origin)) watches.push(new RouteWatch(await Netns.attach(n.netns)));
    const latencies: number[] = [];
    for (let i = 0; i < pods; i++) {
      const pod = await lab.addPod(origin);
      const wired = performance.now();
      const arrivals = await Promise.all(watches.map((w) => w.arrival(pod.ips[0], 30_000)));
      latencies.push(Math.max(...arrivals) - wired);
    }
    return latencies;
  } finally {
    for (const w of watches) w.stop();
    await lab.down();
  }
}

export async function run(args: string[]): Promise<BenchReport> {
  const sizes = flag(args, 'nodes', '3,6').split(',').map(Number);
  const pods = Number(flag(args, 'pods', '20'));
  const router = flag(args, 'router', 'bird') as RouterKind;
  const rows: BenchReport['rows'] = [];
  for (const n of sizes) {
    const l = (await measure(n, pods, router)).sort((a, b) => a - b);
    // A route can land before ADD's bookkeeping returns to us: a negative time reads as 0.
    const ms = (v: number) => Math.max(0, v);
    rows.push([n, pods, ms(percentile(l, 50)), ms(percentile(l, 99)), ms(l[l.length - 1])]);
  }
  return {
    title: `Pod wired -> /32 in the kernel of every other node (lab with ${router}, --advertise-pod-routes), ms`,
    columns: ['nodes', 'pods', 'p50 ms', 'p99 ms', 'max ms'],
    rows,
    notes: ['Shared 2-core machine: numbers are noisy; run it a few times.', 'Wired = tortie-cni ADD returned and the Pod was written to every datastore file.'],
  };
}
