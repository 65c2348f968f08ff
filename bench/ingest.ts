/**
 * Ingest: one feeder announces N /24 prefixes over eBGP to a receiver; we time from Established
 * until every prefix is in the receiver's table, and read the receiver's RSS. Receivers: tortie,
 * BIRD, FRR (bgpd), GoBGP, one after another in the same run, each started fresh, each in its own
 * namespace on one bridge.
 *
 *   npm run bench -- ingest [sizes=10000,100000,1000000] [receivers=tortie,bird,frr,gobgp:100000]
 *
 * A receiver may carry a size cap (`gobgp:100000`): GoBGP takes minutes for 1M on a loaded machine.
 *
 * Polling resolution: about 20 ms for tortie and BIRD, 100 ms for FRR and GoBGP (their CLIs cost
 * 50 ms and more per call), which matters only for the 10k case.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Netns, Switch, stopPid, uniqueName } from '../src/netns/netns.ts';
import { Bird } from '../src/lab/peers/bird.ts';
import { Frr } from '../src/lab/peers/frr.ts';
import { Gobgp } from '../src/lab/peers/gobgp.ts';
import { SpeakerProcess } from '../test/interop/harness/speaker-process.ts';
import type { BenchReport } from './lib/report.ts';

const FEEDER = { v4: '198.51.100.99', asn: 65100 };
/**
 * How tortie's process runs: with the Node settings of the agent's image (the final stage's ENV in
 * the Dockerfile: NODE_OPTIONS, MALLOC_ARENA_MAX, and a compile cache filled before the first
 * measured start, as the image fills its own at build time). Why they matter: src/bgp/NOTES.md.
 */
function imageNodeEnv(dockerfile: string): Record<string, string> {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim());
  const finalStage = lines.slice(lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
  const env: Record<string, string> = {};
  for (const line of finalStage.filter((l) => /^ENV\s/i.test(l))) {
    for (const m of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return env;
}

async function tortieEnv(): Promise<Record<string, string>> {
  const image = imageNodeEnv(await readFile(new URL('../Dockerfile', import.meta.url), 'utf8'));
  const env: Record<string, string> = { NODE_COMPILE_CACHE: join(tmpdir(), 'tortie-bench-compile-cache') };
  for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) if (image[name] !== undefined) env[name] = image[name];
  return env;
}

const RECEIVER = { v4: '198.51.100.1', asn: 64512 };

const mib = (m: NodeJS.MemoryUsage) => JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v / 2 ** 20)])));

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

class Feeder {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (v: { ok: boolean; result?: unknown; error?: string }) => void>();
  readonly ready: Promise<void>;

  constructor(ns: Netns, count: number) {
    const script = new URL('./lib/feeder-child.ts', import.meta.url).pathname;
    this.child = ns.spawn(process.execPath, [script, JSON.stringify({ localAddress: FEEDER.v4, asn: FEEDER.asn, count })], { stdio: ['pipe', 'pipe', 'inherit'] });
    let resolveReady: () => void;
    this.ready = new Promise((r) => (resolveReady = r));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: number; ready?: boolean; ok: boolean; result?: unknown; error?: string };
      if (msg.ready) resolveReady();
      else if (msg.id !== undefined) this.waiting.get(msg.id)?.(msg);
    });
  }

  feed(address: string, asn: number): Promise<{ established: number; sent: number }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (m) => (m.ok ? resolve(m.result as { established: number; sent: number }) : reject(new Error(m.error))));
      this.child.stdin!.write(JSON.stringify({ id, op: 'feed', address, asn }) + '\n');
    });
  }

  async close(address: string): Promise<void> {
    this.child.stdin!.write(JSON.stringify({ id: 0, op: 'close', address }) + '\n');
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.pid) await stopPid(this.child.pid, 2000);
  }
}

interface Receiver {
  name: string;
  pid(): number;
  count(): Promise<number>;
  pollMs: number;
  settle?(): Promise<void>;
  stop(): Promise<void>;
}

const neighbor = { name: 'feeder', address: FEEDER.v4, asn: FEEDER.asn, localAddress: RECEIVER.v4, passive: true, families: ['ipv4' as const], holdTime: 240 };

async function startReceiver(kind: string, ns: Netns, nodeEnv: Record<string, string>): Promise<Receiver> {
  switch (kind) {
    case 'tortie': {
      const t = await SpeakerProcess.start(ns, { localAsn: RECEIVER.asn, routerId: RECEIVER.v4, families: ['ipv4'], holdTime: 240 }, [], nodeEnv);
      process.stderr.write(`tortie memory before any route: ${mib(await t.call<NodeJS.MemoryUsage>('memory'))} MiB\n`);
      await t.addPeer({ address: FEEDER.v4, asn: FEEDER.asn, localAddress: RECEIVER.v4, mode: 'passive', families: ['ipv4'] });
      return {
        name: 'tortie',
        pid: () => t.pid,
        count: async () => (await t.count()).ipv4,
        pollMs: 20,
        // A daemon's steady state: garbage from decoding collected (the daemons free theirs as they go).
        settle: () => t.call<NodeJS.MemoryUsage>('memory').then((m) => void process.stderr.write(`tortie memory after GC: ${mib(m)} MiB\n`)),
        stop: () => t.stop(),
      };
    }
    case 'bird': {
      const b = await Bird.start({ ns, routerId: RECEIVER.v4, asn: RECEIVER.asn, neighbors: [neighbor] });
      return {
        name: 'BIRD 2',
        pid: () => b.pid,
        count: async () => Number(/(\d+) of \d+ routes/.exec(await b.birdc('show', 'route', 'count'))?.[1] ?? 0),
        pollMs: 20,
        stop: () => b.stop(),
      };
    }
    case 'frr': {
      const f = await Frr.start({ ns, routerId: RECEIVER.v4, asn: RECEIVER.asn, neighbors: [neighbor] });
      return { name: 'FRR bgpd', pid: () => f.bgpdPid, count: () => f.count('ipv4'), pollMs: 100, stop: () => f.stop() };
    }
    case 'gobgp': {
      const g = await Gobgp.start({ ns, routerId: RECEIVER.v4, asn: RECEIVER.asn, neighbors: [neighbor] });
      return {
        name: 'GoBGP',
        pid: () => g.pid,
        count: async () => Number(/Destination:\s*(\d+)/.exec(await g.cli('global', 'rib', 'summary', '-a', 'ipv4'))?.[1] ?? 0),
        pollMs: 100,
        stop: () => g.stop(),
      };
    }
    default:
      throw new Error(`unknown receiver ${kind}: use tortie, bird, frr, gobgp`);
  }
}

export async function run(args: string[]): Promise<BenchReport> {
  const sizes = (args[0] ?? '10000,100000,1000000').split(',').map(Number);
  const kinds = (args[1] ?? 'tortie,bird,frr,gobgp:100000').split(',').map((k) => {
    const [kind, cap] = k.split(':');
    return { kind, cap: cap ? Number(cap) : Infinity };
  });
  const rows: BenchReport['rows'] = [];
  const sw = await Switch.create(uniqueName('tsw'));
  const nsF = await Netns.create(uniqueName('tsf'));
  const nsR = await Netns.create(uniqueName('tsr'));
  try {
    await sw.connect(nsF, 'eth0', [`${FEEDER.v4}/24`]);
    await sw.connect(nsR, 'eth0', [`${RECEIVER.v4}/24`]);
    const nodeEnv = await tortieEnv();
    if (kinds.some((k) => k.kind === 'tortie')) {
      // Fills the compile cache, as the image build does: measured starts load no type stripping.
      await (await SpeakerProcess.start(nsR, { localAsn: RECEIVER.asn, routerId: RECEIVER.v4, families: ['ipv4'] }, [], nodeEnv)).stop();
      process.stderr.write(`tortie runs with ${JSON.stringify(nodeEnv)}\n`);
    }
    for (const n of sizes) {
      const feeder = new Feeder(nsF, n);
      await feeder.ready;
      try {
        for (const { kind, cap } of kinds) {
          if (n > cap) continue;
          const r = await startReceiver(kind, nsR, nodeEnv);
          try {
            let t: { established: number; sent: number } | null = null;
            for (let attempt = 0; !t; attempt++) {
              try {
                t = await feeder.feed(RECEIVER.v4, RECEIVER.asn);
              } catch (e) {
                if (attempt > 50) throw e;
                await new Promise((res) => setTimeout(res, 200));
              }
            }
            const deadline = Date.now() + 600_000;
            let done = 0;
            while (Date.now() < deadline) {
              if ((await r.count()) >= n) {
                done = Date.now();
                break;
              }
              await new Promise((res) => setTimeout(res, r.pollMs));
            }
            await r.settle?.();
            const rss = await rssMiB(r.pid());
            rows.push([n, r.name, done ? (done - t.established) / 1000 : 'timeout', (t.sent - t.established) / 1000, Math.round(rss)]);
            process.stderr.write(`ingest ${n} -> ${r.name}: ${done ? ((done - t.established) / 1000).toFixed(2) : 'timeout'} s, ${rss.toFixed(0)} MiB\n`);
            await feeder.close(RECEIVER.v4);
          } finally {
            await r.stop();
          }
        }
      } finally {
        await feeder.stop();
      }
    }
  } finally {
    await nsF.destroy();
    await nsR.destroy();
    await sw.destroy();
  }
  return {
    title: 'BGP ingest: one eBGP feeder, N /24 prefixes in packed 4096-octet UPDATEs, into the receiver\'s table',
    columns: ['prefixes', 'receiver', 'seconds to full table', 'feeder send seconds', 'receiver RSS MiB'],
    rows,
    notes: [
      'Seconds from Established until the receiver\'s table holds every prefix (polled: ~20 ms tortie/BIRD, ~100 ms FRR/GoBGP).',
      'RSS of the receiving process (bird, bgpd without zebra, gobgpd, the node process running tortie\'s Speaker,',
      'read after one full GC; tortie\'s speaker runs with the Node settings of the agent\'s image (Dockerfile ENV:',
      'NODE_OPTIONS=--max-semi-space-size=2, MALLOC_ARENA_MAX=2, a warm compile cache): ~54 MiB at start, ~65 MiB',
      'once the receive path is warmed up (src/bgp/warmup.ts), before any route. The agent\'s own process loads more (Kubernetes client).',
      'Shared 2-core machine: numbers are noisy; run twice.',
    ],
  };
}
