/**
 * `npm run bench -- mesh [--sizes 100,200,500] [--routes 3] [--mesh-max 100]`: many tortie BGP
 * speakers in this one process, each on its own loopback address (127.1.x.y, port 1790; no
 * address is added anywhere: Linux routes all of 127/8 to lo), each originating a /24 block and a
 * few /32s. No kernel routes: the speakers alone. Measured per topology: the time until every
 * speaker's Loc-RIB holds every route (full convergence), the sessions, and memory.
 *
 *   full mesh        every pair of speakers peers over iBGP: n(n-1)/2 sessions (Calico's default)
 *   route reflectors two reflectors, every other speaker a client of both: about 2n sessions
 *
 * Beyond --mesh-max speakers only route reflectors run: a full mesh of 200 needs ~40k sockets in
 * one process, past the usual file descriptor limit, and is exactly what reflectors are for.
 * Writes bench/results/mesh.svg, the convergence time against speakers for both topologies.
 */
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Speaker } from '../src/bgp/speaker.ts';
import { Afi } from '../src/bgp/wire/constants.ts';
import type { BenchReport } from './lib/report.ts';

const ASN = 64512;

// A full collection before each memory reading, so that what is measured is what the speakers
// retain, not garbage from the round before.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const PORT = 1790;

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
}

/** Speaker i's loopback address; i from 0. */
function address(i: number): string {
  return `127.1.${(i + 1) >> 8}.${(i + 1) & 255}`;
}

/** Speaker i's block and /32s: 10.(64 + i/256).(i%256).0/24 and its first addresses. */
function routesOf(i: number, extra: number): string[] {
  const base = `10.${64 + (i >> 8)}.${i & 255}`;
  return [`${base}.0/24`, ...Array.from({ length: extra }, (_, k) => `${base}.${k + 1}/32`)];
}

interface Result {
  topology: 'full mesh' | 'route reflectors';
  speakers: number;
  sessions: number;
  seconds: number;
  rssMiB: number;
  heapMiB: number;
}

async function converge(topology: Result['topology'], n: number, extra: number, timeoutMs: number): Promise<Result> {
  gc();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const speakers: Speaker[] = [];
  const reflectors = topology === 'route reflectors' ? 2 : 0;
  const sessions = topology === 'full mesh' ? (n * (n - 1)) / 2 : reflectors * (n - reflectors) + (reflectors * (reflectors - 1)) / 2;
  try {
    for (let i = 0; i < n; i++) {
      // Both reflectors share one cluster ID (RFC 4456 7); clients must not carry it, or they
      // would take reflected routes for loops.
      const s = new Speaker({ localAsn: ASN, routerId: address(i), ...(i < reflectors ? { clusterId: '127.1.255.255' } : {}), listen: { host: address(i), port: PORT }, families: ['ipv4'], holdTime: 90, connectRetryTime: 1 });
      await s.start();
      speakers.push(s);
    }
    const t0 = performance.now();
    const peer = (a: number, b: number, rrClient = false) =>
      speakers[a].addPeer({ address: address(b), asn: ASN, port: PORT, localAddress: address(a), mode: 'mesh', families: ['ipv4'], routeReflectorClient: rrClient });
    for (let i = 0; i < n; i++) {
      if (topology === 'full mesh') {
        for (let j = 0; j < n; j++) if (j !== i) peer(i, j);
      } else if (i < reflectors) {
        for (let j = 0; j < n; j++) if (j !== i) peer(i, j, j >= reflectors);
      } else {
        for (let r = 0; r < reflectors; r++) peer(i, r);
      }
      for (const p of routesOf(i, extra)) speakers[i].originate(p);
    }
    const expected = n * (1 + extra);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (speakers.every((s) => s.rib.locRibSize(Afi.IPv4) >= expected)) break;
      if (Date.now() > deadline) {
        const short = speakers.filter((s) => s.rib.locRibSize(Afi.IPv4) < expected).length;
        throw new Error(`${topology} of ${n}: ${short} speakers short of ${expected} routes after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    gc();
    const mem = process.memoryUsage();
    return { topology, speakers: n, sessions, seconds, rssMiB: (mem.rss - rss0) / 2 ** 20, heapMiB: (mem.heapUsed - heap0) / 2 ** 20 };
  } finally {
    await Promise.all(speakers.map((s) => s.stop()));
    // Let the sockets close before the next round binds the same addresses.
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A small line chart: convergence seconds against speakers, one line per topology. */
export function chartSvg(results: Result[]): string {
  const W = 640;
  const H = 400;
  const m = { l: 60, r: 170, t: 40, b: 50 };
  const xs = results.map((r) => r.speakers);
  const maxX = Math.max(...xs);
  const maxY = Math.max(...results.map((r) => r.seconds)) * 1.1 || 1;
  const x = (v: number) => m.l + (v / maxX) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - (v / maxY) * (H - m.t - m.b);
  const colors: Record<Result['topology'], string> = { 'full mesh': '#c0392b', 'route reflectors': '#2471a3' };
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="14">tortie speakers in one process: time to full convergence</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">speakers</text>`,
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">seconds</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = (maxY * k) / 4;
    out.push(`<line x1="${m.l - 4}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`);
  }
  for (const v of [...new Set(xs)].sort((a, b) => a - b)) out.push(`<text x="${x(v)}" y="${H - m.b + 18}" text-anchor="middle">${v}</text>`);
  let legend = 0;
  for (const topology of ['full mesh', 'route reflectors'] as const) {
    const pts = results.filter((r) => r.topology === topology).sort((a, b) => a.speakers - b.speakers);
    if (pts.length === 0) continue;
    out.push(`<polyline fill="none" stroke="${colors[topology]}" stroke-width="2" points="${pts.map((p) => `${x(p.speakers)},${y(p.seconds)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${x(p.speakers)}" cy="${y(p.seconds)}" r="4" fill="${colors[topology]}"><title>${topology}, ${p.speakers} speakers: ${p.seconds.toFixed(2)} s</title></circle>`);
    out.push(`<rect x="${W - m.r + 15}" y="${m.t + legend * 20}" width="12" height="12" fill="${colors[topology]}"/>`, `<text x="${W - m.r + 32}" y="${m.t + legend * 20 + 11}">${topology}</text>`);
    legend += 1;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export async function run(args: string[]): Promise<BenchReport> {
  const sizes = flag(args, 'sizes', '100,200,500').split(',').map(Number);
  const extra = Number(flag(args, 'routes', '3'));
  const meshMax = Number(flag(args, 'mesh-max', '100'));
  const timeoutMs = Number(flag(args, 'timeout', '600')) * 1000;
  const results: Result[] = [];
  for (const n of sizes) {
    if (n <= meshMax) results.push(await converge('full mesh', n, extra, timeoutMs));
    results.push(await converge('route reflectors', n, extra, timeoutMs));
  }
  const svg = new URL('./results/mesh.svg', import.meta.url);
  writeFileSync(svg, chartSvg(results));
  return {
    title: `tortie speakers on loopback in one process, each originating 1 block + ${extra} /32s (IPv4, iBGP, no kernel routes)`,
    columns: ['topology', 'speakers', 'sessions', 'routes per speaker', 'convergence s', 'RSS growth MiB', 'heap retained MiB'],
    rows: results.map((r) => [r.topology, r.speakers, r.sessions, r.speakers * (1 + extra), r.seconds, r.rssMiB, r.heapMiB]),
    notes: [
      'Convergence: from the first peer configured to every speaker holding every route in its Loc-RIB (polled every 20 ms).',
      `Full mesh only up to ${meshMax} speakers (n(n-1) sockets in one process); route reflectors: 2 reflectors, the rest clients of both.`,
      'Shared 2-core machine, all speakers on one event loop: numbers are noisy and pessimistic; chart in bench/results/mesh.svg.',
    ],
  };
}
