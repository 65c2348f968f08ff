/**
 * npm run bench -- cni [--pods N]: ADD+DEL latency of tortie-cni against the reference `ptp`
 * plugin with `host-local` IPAM (containernetworking-plugins), in the same run and the same
 * namespaces. tortie-cni is measured as shipped (the single executable from `npm run build:cni`,
 * built first), as the bundle run by node, and as the development entry bin/tortie-cni; with its
 * built-in IPAM and delegating to host-local like ptp does. And as nodes run it by default: the C
 * front end (native/tortie-cni-shim.c) forwarding to the CNI server the agent runs
 * (src/cni/server.ts), here started by src/cni/serve.ts in the bench's host namespace.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './lib/report.ts';
import { Netns, run, stopPid, uniqueName } from '../src/netns/netns.ts';
import { ensureShim, SHIM_FALLBACK_NAME } from '../src/cni/shim-binary.ts';
import { buildCni } from '../scripts/build-cni.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run_(args: string[]): Promise<BenchReport> {
  const podsArg = args.indexOf('--pods');
  const count = podsArg >= 0 ? Number(args[podsArg + 1]) : 100;
  const { executable, bundle } = await buildCni();

  const data = mkdtempSync(join(tmpdir(), 'tortie-bench-cni-'));
  const host = await Netns.create(uniqueName('tnb'));
  const pods: Netns[] = [];
  let serverPid: number | undefined;
  try {
    // The shim as installed: a copy, with the standalone plugin beside it as its fallback.
    mkdirSync(join(data, 'bin'));
    const shim = join(data, 'bin', 'tortie-cni');
    copyFileSync(ensureShim(), shim);
    symlinkSync(executable!, join(data, 'bin', SHIM_FALLBACK_NAME));
    const sock = join(data, 'cni.sock');
    serverPid = await startServer(host, sock);
    // Node uplink stub and default route, as on a real node (proxy ARP needs a route).
    await host.ipBatch(['link add tnup0 type veth peer name tnup1', 'link set tnup0 up', 'link set tnup1 up', 'addr add 192.168.255.1/24 dev tnup0', 'route add default via 192.168.255.2 dev tnup0']);
    for (let i = 0; i < count; i += 10) {
      pods.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => Netns.create(uniqueName('tnb'))))));
    }
    const hostLocal = (name: string, subnet: string) => ({ type: 'host-local', dataDir: join(data, 'host-local'), ranges: [[{ subnet }]] });
    const tortie = (name: string, ipam: Record<string, unknown>) => ({ cniVersion: '1.0.0', name, type: 'tortie-cni', mtu: 1500, ipam });
    const builtin = (name: string, block: string) => tortie(name, { type: 'tortie-ipam', dataDir: join(data, 'tortie'), blocks: [block] });
    const variants = [
      { name: 'ptp + host-local (reference)', argv: ['/usr/lib/cni/ptp'], config: { cniVersion: '1.0.0', name: 'bptp', type: 'ptp', ipMasq: false, mtu: 1500, ipam: hostLocal('bptp', '10.91.0.0/24') } },
      { name: 'tortie-cni SEA, built-in IPAM', argv: [executable!], config: builtin('bsea', '10.92.0.0/24') },
      { name: 'tortie-cni SEA + host-local', argv: [executable!], config: tortie('bseahl', hostLocal('bseahl', '10.93.0.0/24')) },
      { name: 'tortie-cni shim -> server, built-in IPAM', argv: [shim], config: { ...builtin('bshim', '10.96.0.0/24'), agentSocket: sock } },
      { name: 'tortie-cni shim -> server + host-local', argv: [shim], config: { ...tortie('bshimhl', hostLocal('bshimhl', '10.97.0.0/24')), agentSocket: sock } },
      { name: 'node tortie-cni.cjs (bundle), built-in IPAM', argv: [process.execPath, bundle], config: builtin('bbundle', '10.94.0.0/24') },
      { name: 'bin/tortie-cni (TS sources), built-in IPAM', argv: [join(root, 'bin/tortie-cni')], config: builtin('bdev', '10.95.0.0/24') },
    ];
    // One warm-up round per variant (page cache, compile cache), not counted.
    await driver(host, pods.slice(0, 1), variants);
    const timings = await driver(host, pods, variants);

    const rows = variants.map((v) => {
      const t = timings[v.name];
      const both = t.add.map((a, i) => a + t.del[i]).sort((a, b) => a - b);
      const add = [...t.add].sort((a, b) => a - b);
      const del = [...t.del].sort((a, b) => a - b);
      const version = [...t.version].sort((a, b) => a - b);
      return [v.name, percentile(add, 50), percentile(add, 99), percentile(del, 50), percentile(del, 99), percentile(both, 50), percentile(both, 99), percentile(version, 50)];
    });
    const ref = rows[0][5] as number;
    const load = (await run('cat', ['/proc/loadavg'])).stdout.trim().split(' ').slice(0, 3).join(' ');
    return {
      title: `CNI ADD+DEL latency over ${count} pods (ms), one at a time, plugin spawned in a host namespace`,
      columns: ['plugin', 'ADD p50', 'ADD p99', 'DEL p50', 'DEL p99', 'ADD+DEL p50', 'ADD+DEL p99', 'VERSION p50 (start-up)'],
      rows,
      notes: [
        `Target: tortie-cni no slower than the reference (ADD+DEL p50 ${ref.toFixed(1)} ms). p50 ratio to the reference: SEA ${((rows[1][5] as number) / ref).toFixed(2)}, shim -> server ${((rows[3][5] as number) / ref).toFixed(2)}, shim -> server + host-local ${((rows[4][5] as number) / ref).toFixed(2)}.`,
        'shim -> server: what nodes run while the agent is up (the SEA is its fallback); the server has 4 worker threads and runs in a child process of the bench, in the host namespace.',
        'shim -> server wires with netlink requests through one tortie-nl relay per worker (src/cni/netlink-wiring.ts); the SEA and the other standalone rows run two `ip -batch` processes per ADD and one per DEL.',
        'Variants are interleaved pod by pod so that background load hits them alike.',
        'VERSION does nothing but start and answer: the gap between tortie-cni and ptp there is the cost of starting Node against a Go binary.',
        `Load average during the run: ${load} (shared 2-core machine: numbers are noisy).`,
      ],
    };
  } finally {
    if (serverPid) await stopPid(serverPid);
    await Promise.all(pods.map((p) => p.destroy()));
    await host.destroy();
    rmSync(data, { recursive: true, force: true });
  }
}

/** The agent's CNI server on its own, in the host namespace; resolves with its pid once it listens. */
async function startServer(host: Netns, sock: string): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', host.name, process.execPath, join(root, 'src/cni/serve.ts'), sock, '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`CNI server exited with ${code}: ${out}`)));
  });
  // Keep draining its per-request log lines.
  child.stdout.resume();
  return child.pid!;
}

async function driver(host: Netns, pods: Netns[], variants: Array<{ name: string; argv: string[]; config: object }>): Promise<Record<string, { add: number[]; del: number[]; version: number[] }>> {
  const job = JSON.stringify({ pods: pods.map((p) => p.name), variants });
  const { stdout } = await host.exec(process.execPath, [join(root, 'bench/lib/cni-driver.ts'), job], { timeoutMs: 1_800_000 });
  return JSON.parse(stdout) as Record<string, { add: number[]; del: number[]; version: number[] }>;
}

export { run_ as run };
