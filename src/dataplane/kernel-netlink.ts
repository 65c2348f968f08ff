/**
 * The real kernel: NETLINK_ROUTE through `tortie-nl`, a ~250-line C relay (native/tortie-nl.c).
 *
 * Why this and not the alternatives (measured on these machines, see bench/dataplane.ts):
 * - Node cannot open AF_NETLINK sockets, so something native has to.
 * - iproute2 children (`ip -batch -`, `ip -json route show`, `ip monitor`) need nothing built, but
 *   `ip -batch` waits for one ack per route (~35k routes/s) and JSON dumps cost more to parse than
 *   the binary form; BIRD installs about twice as fast because it does not round-trip per route.
 * - An N-API addon would need Node headers at build time (none offline; `node-api-headers` could
 *   supply them) and would run inside our event loop: a burst of notifications while the loop is
 *   busy is exactly what made the `netlink` npm addon abort its process.
 * - A separate C process built by `cc` needs no Node headers, cannot crash the agent, enters any
 *   namespace with setns(2) (tests never touch the root namespace), and leaves all message
 *   encoding to TypeScript (netlink.ts), where it is unit-tested. Requests are pipelined: up to
 *   WINDOW in flight, packed many to a sendmsg, acks collected as they come.
 * - Bursts: the monitor socket has a 32 MiB receive buffer and is drained by the relay, not by our
 *   event loop; if it still overflows the kernel says ENOBUFS, the relay reports it, and the
 *   controller does a full resync (see route-controller.ts). Our own changes are filtered out of
 *   the monitor stream by port id, so a 100k-route install does not flood it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ensureHelper } from './helper-binary.ts';
import { KernelError, type Kernel, type KernelEvent, type OpResult, type RouteOp } from './kernel.ts';
import { decodeMessages, encodeLinkDump, encodeRouteDump, encodeRouteOp, Flag, MsgType, NlWriter, type KernelLink, type KernelRoute } from './netlink.ts';

const Tag = { HELLO: 0, REQUEST: 1, MONITOR: 2, MONITOR_LOST: 3, REQUEST_FAILED: 4, SYSCTL: 5, ACK_RUN: 6 } as const;
const InTag = { NETLINK: 1, SYSCTL: 2 } as const;
/** Requests in flight at once: bounded so that acks (a few hundred bytes of buffer each) fit. */
const WINDOW = 8192;
/** Requests packed into one sendmsg. */
const PER_SEND = 256;

const OK: OpResult = Object.freeze({ errno: 0 });
const EMPTY = Buffer.alloc(0);
const errnoName = (e: number) => Object.entries(osConstants.errno).find(([, v]) => v === e)?.[0] ?? `errno ${e}`;

interface Dump {
  routes: KernelRoute[];
  links: KernelLink[];
  interrupted: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Batch {
  /** Sequence numbers firstSeq .. firstSeq + results.length - 1, one per operation. */
  firstSeq: number;
  results: OpResult[];
  remaining: number;
  resolve: (r: OpResult[]) => void;
  reject: (e: Error) => void;
}

export interface NetlinkKernelOptions {
  /** A namespace name (`/run/netns/NAME`) or path; absent: the agent's own namespace. */
  netns?: string;
  /** Path of the relay binary; default: built from native/tortie-nl.c. */
  helperPath?: string;
  /** Receive buffer of the notification socket (default 32 MiB); tests shrink it to force ENOBUFS. */
  monitorBufferBytes?: number;
}

export class NetlinkKernel implements Kernel {
  private child: ChildProcess | undefined;
  private readonly opts: NetlinkKernelOptions;
  private listeners: Array<(e: KernelEvent) => void> = [];
  private seq = 1;
  private inbuf: Buffer = EMPTY;
  private dumps = new Map<number, Dump>();
  /** Batches with operations in flight (few at a time: acks are matched by sequence range). */
  private batches = new Set<Batch>();
  private sysctls = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private queue: Buffer[] = [];
  private queueCounts: number[] = [];
  private inFlight = 0;
  private closed = false;
  private ready: Promise<void> | undefined;
  private readonly writer = new NlWriter(1 << 20);

  constructor(opts: NetlinkKernelOptions = {}) {
    this.opts = opts;
  }

  /** PID of the running relay, if any (tests stop it to check recovery). */
  get helperPid(): number | undefined {
    return this.child?.pid;
  }

  onEvent(listener: (e: KernelEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: KernelEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Starts the relay if it is not running (again, after a crash). */
  private start(): Promise<void> {
    if (this.closed) return Promise.reject(new KernelError('TORTIE_KERNEL_CLOSED', 'the kernel channel was closed'));
    if (this.ready) return this.ready;
    const path = this.opts.helperPath ?? ensureHelper();
    const args = this.opts.monitorBufferBytes ? ['--monitor-rcvbuf', String(this.opts.monitorBufferBytes)] : [];
    if (this.opts.netns) args.push(this.opts.netns.includes('/') ? this.opts.netns : `/run/netns/${this.opts.netns}`);
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    this.ready = new Promise<void>((resolve, reject) => {
      let hello = false;
      child.stdout!.on('data', (d: Buffer) => {
        if (!hello) {
          hello = true;
          resolve();
        }
        this.onData(d);
      });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (e) => reject(new KernelError('TORTIE_NL_HELPER_START', `cannot start ${path}: ${e.message}`)));
      child.on('exit', (code, signal) => {
        const err = new KernelError('TORTIE_NL_HELPER_EXIT', `${path} exited (${signal ?? code}): ${stderr.trim() || 'no message'}`);
        if (!hello) reject(err);
        this.child = undefined;
        this.ready = undefined;
        this.inbuf = EMPTY;
        this.failAll(err);
        if (!this.closed) this.emit({ kind: 'lost', reason: err.message });
      });
      child.stdin!.on('error', () => undefined); // reported through 'exit'
    });
    return this.ready;
  }

  private failAll(err: Error): void {
    for (const d of this.dumps.values()) d.reject(err);
    this.dumps.clear();
    const batches = [...this.batches];
    this.batches.clear();
    for (const b of batches) b.reject(err);
    for (const s of this.sysctls.values()) s.reject(err);
    this.sysctls.clear();
    this.queue = [];
    this.queueCounts = [];
    this.inFlight = 0;
  }

  private onData(d: Buffer): void {
    const buf = this.inbuf.length ? Buffer.concat([this.inbuf, d]) : d;
    let off = 0;
    while (buf.length - off >= 8) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off < 8 + len) break;
      this.onFrame(buf[off + 4], buf.subarray(off + 8, off + 8 + len));
      off += 8 + len;
    }
    // A partial frame waits for the next chunk; stream chunks are never reused, so no copy.
    this.inbuf = off < buf.length ? buf.subarray(off) : EMPTY;
    this.pump();
  }

  private onFrame(tag: number, p: Buffer): void {
    switch (tag) {
      case Tag.REQUEST:
        for (const m of decodeMessages(p)) {
          if (m.kind === 'error') {
            const batch = this.batchOf(m.seq);
            if (batch) {
              const index = m.seq - batch.firstSeq;
              if (batch.results[index] !== undefined) continue;
              this.inFlight--;
              batch.results[index] = m.errno ? { errno: m.errno, message: m.message } : OK;
              if (--batch.remaining === 0) {
                this.batches.delete(batch);
                batch.resolve(batch.results);
              }
              continue;
            }
            const dump = this.dumps.get(m.seq);
            if (dump) {
              this.dumps.delete(m.seq);
              dump.reject(new KernelError('TORTIE_DUMP_FAILED', `dump failed: ${errnoName(m.errno)} ${m.message ?? ''}`.trim(), m.errno));
            }
          } else if (m.kind === 'route' || m.kind === 'link') {
            const dump = this.dumps.get(m.seq);
            if (!dump) continue;
            if (m.kind === 'route' && m.route) dump.routes.push(m.route);
            if (m.kind === 'link') dump.links.push(m.link);
          } else if (m.kind === 'done') {
            const dump = this.dumps.get(m.seq);
            if (!dump) continue;
            this.dumps.delete(m.seq);
            dump.interrupted ||= m.interrupted;
            dump.resolve();
          }
        }
        break;
      case Tag.MONITOR:
        for (const m of decodeMessages(p)) {
          if (m.kind === 'route' && m.route) {
            this.emit(m.type === MsgType.NEWROUTE ? { kind: 'route-new', route: m.route, replace: (m.flags & Flag.REPLACE) !== 0 } : { kind: 'route-del', route: m.route });
          } else if (m.kind === 'link') {
            this.emit({ kind: m.type === MsgType.NEWLINK ? 'link-new' : 'link-del', link: m.link });
          }
        }
        break;
      case Tag.ACK_RUN: {
        // first..last all succeeded (the relay folds good acks into runs).
        let seq = p.readUInt32LE(0);
        const last = p.readUInt32LE(4);
        while (seq <= last) {
          const batch = this.batchOf(seq);
          if (!batch) {
            seq++;
            continue;
          }
          const end = Math.min(last, batch.firstSeq + batch.results.length - 1);
          let done = 0;
          for (let i = seq - batch.firstSeq, stop = end - batch.firstSeq; i <= stop; i++) {
            if (batch.results[i] === undefined) {
              batch.results[i] = OK;
              done++;
            }
          }
          this.inFlight -= done;
          batch.remaining -= done;
          if (batch.remaining === 0) {
            this.batches.delete(batch);
            batch.resolve(batch.results);
          }
          seq = end + 1;
        }
        break;
      }
      case Tag.MONITOR_LOST:
        this.emit({ kind: 'lost', reason: 'route notifications lost: netlink receive buffer overflowed (ENOBUFS)' });
        break;
      case Tag.REQUEST_FAILED: {
        const errno = p.readUInt32LE(0);
        // Acks or dump parts may be gone: nothing in flight can be trusted.
        this.failAll(new KernelError('TORTIE_NETLINK_REQUEST_LOST', `netlink request socket: ${errnoName(errno)}; replies may be lost`, errno));
        this.emit({ kind: 'lost', reason: `request socket ${errnoName(errno)}` });
        break;
      }
      case Tag.SYSCTL: {
        const id = p.readUInt32LE(0);
        const errno = p.readInt32LE(4);
        const s = this.sysctls.get(id);
        if (!s) break;
        this.sysctls.delete(id);
        if (errno) s.reject(new KernelError('TORTIE_SYSCTL_FAILED', `sysctl write failed: ${errnoName(errno)}`, errno));
        else s.resolve();
        break;
      }
    }
  }

  private batchOf(seq: number): Batch | undefined {
    for (const b of this.batches) if (seq >= b.firstSeq && seq < b.firstSeq + b.results.length) return b;
    return undefined;
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0xfffffff0 ? 1 : this.seq + 1;
    return this.seq;
  }

  private send(tag: number, payload: Buffer): void {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(payload.length, 0);
    h[4] = tag;
    this.child!.stdin!.write(Buffer.concat([h, payload]));
  }

  /** Sends queued route requests while the window allows. */
  private pump(): void {
    while (this.queue.length && this.inFlight + this.queueCounts[0] <= WINDOW && this.child) {
      this.inFlight += this.queueCounts.shift()!;
      this.send(InTag.NETLINK, this.queue.shift()!);
    }
  }

  private async dump(encode: (w: NlWriter, seq: number) => void): Promise<Dump> {
    for (let attempt = 1; ; attempt++) {
      await this.start();
      const seq = this.nextSeq();
      const w = new NlWriter(256);
      encode(w, seq);
      const d = await new Promise<Dump>((resolve, reject) => {
        const dump: Dump = { routes: [], links: [], interrupted: false, resolve: () => resolve(dump), reject };
        this.dumps.set(seq, dump);
        this.send(InTag.NETLINK, w.take());
      });
      // NLM_F_DUMP_INTR: the table changed during the dump, so it may be inconsistent: again.
      if (!d.interrupted || attempt >= 5) return d;
    }
  }

  async dumpRoutes(table: number): Promise<KernelRoute[]> {
    // One dump for both families (AF_UNSPEC): one round trip fewer per resync.
    const d = await this.dump((w, seq) => encodeRouteDump(w, 0, table, seq));
    return d.routes.filter((r) => r.table === table);
  }

  async dumpLinks(): Promise<KernelLink[]> {
    return (await this.dump((w, seq) => encodeLinkDump(w, seq))).links;
  }

  async apply(ops: RouteOp[]): Promise<OpResult[]> {
    if (ops.length === 0) return [];
    await this.start();
    // A batch takes a contiguous range of sequence numbers, so acks find it by arithmetic.
    if (this.seq + ops.length >= 0xfffffff0) this.seq = 1;
    let batch!: Batch;
    const done = new Promise<OpResult[]>((resolve, reject) => {
      batch = { firstSeq: this.seq + 1, results: new Array(ops.length), remaining: ops.length, resolve, reject };
    });
    this.batches.add(batch);
    // Encode a slice, send it, and let acks in before the next one: the kernel (in the relay's
    // process, on another core) inserts routes while we are still encoding.
    const w = this.writer;
    for (let start = 0; start < ops.length; start += PER_SEND * 16) {
      const end = Math.min(ops.length, start + PER_SEND * 16);
      for (let at = start; at < end; at += PER_SEND) {
        const stop = Math.min(end, at + PER_SEND);
        for (let index = at; index < stop; index++) {
          encodeRouteOp(w, ops[index].op, ops[index].route, this.nextSeq());
        }
        this.queue.push(w.take());
        this.queueCounts.push(stop - at);
      }
      this.pump();
      if (end < ops.length) await new Promise((r) => setImmediate(r));
      if (!this.batches.has(batch)) break; // the relay died and failAll rejected the batch
    }
    return done;
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    await this.start();
    const id = this.nextSeq();
    const p = Buffer.from(`\0\0\0\0${path}\0${value}`, 'latin1');
    p.writeUInt32LE(id, 0);
    return new Promise<void>((resolve, reject) => {
      this.sysctls.set(id, {
        resolve,
        reject: (e) => reject(new KernelError((e as KernelError).code ?? 'TORTIE_SYSCTL_FAILED', `${path}=${value}: ${e.message}`, (e as KernelError).errno)),
      });
      this.send(InTag.SYSCTL, p);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.stdin!.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }
}
