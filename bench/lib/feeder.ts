/**
 * What the BGP benchmarks share: the feeder (bench/lib/feeder-child.ts in a namespace of its own,
 * driven over JSON lines) and the Node settings tortie runs with in its image.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopPid, type Netns } from '../../src/netns/netns.ts';

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

export async function tortieEnv(): Promise<Record<string, string>> {
  const image = imageNodeEnv(await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8'));
  const env: Record<string, string> = { NODE_COMPILE_CACHE: join(tmpdir(), 'tortie-bench-compile-cache') };
  for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']) if (image[name] !== undefined) env[name] = image[name];
  return env;
}

/** A feeder announcing `count` /24s from 16.0.0.0 with itself (`v4`) as next hop. */
export class Feeder {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (v: { ok: boolean; result?: unknown; error?: string }) => void>();
  readonly ready: Promise<void>;

  constructor(ns: Netns, cfg: { v4: string; asn: number; count: number }) {
    const script = new URL('./feeder-child.ts', import.meta.url).pathname;
    this.child = ns.spawn(process.execPath, [script, JSON.stringify({ localAddress: cfg.v4, asn: cfg.asn, count: cfg.count })], { stdio: ['pipe', 'pipe', 'inherit'] });
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

