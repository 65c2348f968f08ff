/**
 * Controls a tortie Speaker running in a child process inside a namespace (speaker-child.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Netns } from '../../../src/netns/netns.ts';
import { stopPid } from '../../../src/netns/netns.ts';
import type { PeerConfig, PeerStatus, SpeakerOptions } from '../../../src/bgp/speaker.ts';
import type { AttrInput } from '../../../src/bgp/rib/attrs.ts';

export interface RouteView {
  family: 'ipv4' | 'ipv6';
  prefix: string;
  peer: string | null;
  nextHop?: string;
  asPath?: Array<{ type: number; asns: number[] }>;
  med?: number;
  localPref?: number;
  communities?: number[];
  largeCommunities?: Array<[number, number, number]>;
}

const CHILD = new URL('./speaker-child.ts', import.meta.url).pathname;

export class SpeakerProcess {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  stderr = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { id?: number; ok?: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      const w = msg.id !== undefined ? this.waiting.get(msg.id) : undefined;
      if (!w) return;
      this.waiting.delete(msg.id!);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new Error(msg.error));
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-8000)));
    child.on('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error(`speaker process exited: ${this.stderr}`));
      this.waiting.clear();
    });
  }

  /** Starts a speaker inside `ns`. */
  static async start(ns: Netns, options: SpeakerOptions, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<SpeakerProcess> {
    const child = ns.spawn(process.execPath, [...nodeArgs, CHILD], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const p = new SpeakerProcess(child);
    await p.call('start', options);
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  addPeer(cfg: PeerConfig): Promise<void> {
    return this.call('addPeer', cfg);
  }

  /** Policy-only changes on a live peer (false: anything else changed). */
  reconfigurePeer(cfg: PeerConfig): Promise<boolean> {
    return this.call('reconfigurePeer', cfg);
  }

  /** Selection deferral state and the deferral / enhanced refresh events so far. */
  events(): Promise<{ deferred: boolean; events: Array<Record<string, unknown> & { event: string; at: number }> }> {
    return this.call('events');
  }

  removePeer(address: string): Promise<boolean> {
    return this.call('removePeer', address);
  }

  originate(prefix: string, attrs: AttrInput = {}): Promise<void> {
    return this.call('originate', prefix, attrs);
  }

  withdraw(prefix: string): Promise<boolean> {
    return this.call('withdraw', prefix);
  }

  refresh(address: string, family: 'ipv4' | 'ipv6'): Promise<boolean> {
    return this.call('refresh', address, family);
  }

  status(): Promise<PeerStatus[]> {
    return this.call('status');
  }

  async peer(address: string): Promise<PeerStatus | undefined> {
    return (await this.status()).find((s) => s.address === address);
  }

  routes(): Promise<RouteView[]> {
    return this.call('routes');
  }

  async route(prefix: string): Promise<RouteView | undefined> {
    return (await this.routes()).find((r) => r.prefix === prefix);
  }

  count(): Promise<{ ipv4: number; ipv6: number }> {
    return this.call('count');
  }

  /** Graceful stop (Cease to every peer), then make sure the process is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await Promise.race([this.call('stop').catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    await stopPid(this.pid, 3000);
  }

  /** Dies without a word (a crash, or a restart that keeps forwarding state). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((r) => {
      this.child.once('exit', () => r());
      this.child.kill('SIGKILL');
    });
  }
}

/** Polls an async condition until it holds (real time, generous deadline). */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}${lastErr ? `; last error: ${String(lastErr)}` : ''}`);
}
