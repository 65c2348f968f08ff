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
 *   WINDOW in flight, packed PER_SEND to a sendmsg, only the last of which asks for an ack (the
 *   kernel reports failures regardless, in order, so that ack vouches for the rest).
 * - Bursts: the monitor socket has a 32 MiB receive buffer and is drained by the relay, not by our
 *   event loop; if it still overflows the kernel says ENOBUFS, the relay reports it, and the
 *   controller does a full resync (see route-controller.ts). Our own changes are dropped from
 *   the monitor stream in the kernel (a socket filter on the sender's port id), so a 100k-route
 *   install does not flood it.
 */
import { ensureHelper } from './helper-binary.ts';
import { KernelError, type Kernel, type KernelEvent, type OpResult, type RouteOps } from './kernel.ts';
import { RelayProcess, errnoName } from './relay-process.ts';
import { decodeMessages, encodeLinkDump, encodeRouteDump, encodeRouteOp, Flag, MsgType, NlWriter, type KernelLink, type KernelRoute } from './netlink.ts';

const Tag = { HELLO: 0, REQUEST: 1, MONITOR: 2, MONITOR_LOST: 3, REQUEST_FAILED: 4, SYSCTL: 5, ACK_RUN: 6 } as const;
const InTag = { NETLINK: 1, SYSCTL: 2 } as const;
/** Requests in flight at once: bounded so that acks (a few hundred bytes of buffer each) fit. */
const WINDOW = 8192;
/** Requests packed into one sendmsg. */
const PER_SEND = 256;

const OK: OpResult = Object.freeze({ errno: 0 });

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

/**
 * One sendmsg's worth of a batch: operations `from` .. `to - 1`, framed for the relay. Only the
 * last request asks for an ack; when it comes (or its error), every earlier request of the chunk
 * without an error has succeeded, since the kernel answers one socket in order.
 */
interface Chunk {
  batch: Batch;
  from: number;
  to: number;
  lastSeq: number;
  frame: Buffer;
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
  private relay: RelayProcess | undefined;
  private readonly opts: NetlinkKernelOptions;
  private listeners: Array<(e: KernelEvent) => void> = [];
  private seq = 1;
  private dumps = new Map<number, Dump>();
  /** Batches with operations in flight (few at a time: acks are matched by sequence range). */
  private batches = new Set<Batch>();
  private sysctls = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  /** Chunks waiting for the window, and chunks sent and not yet acknowledged, both in order. */
  private queue: Chunk[] = [];
  private sent: Chunk[] = [];
  private inFlight = 0;
  private closed = false;
  private ready: Promise<void> | undefined;
  private readonly writer = new NlWriter(1 << 20);

  constructor(opts: NetlinkKernelOptions = {}) {
    this.opts = opts;
  }

  /** PID of the running relay, if any (tests stop it to check recovery). */
  get helperPid(): number | undefined {
    return this.relay?.pid;
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
    const relay = new RelayProcess(
      path,
      args,
      {
        frame: (tag, p) => this.onFrame(tag, p),
        drained: () => this.pump(),
        exit: (err) => {
          this.relay = undefined;
          this.ready = undefined;
          this.failAll(err);
          if (!this.closed) this.emit({ kind: 'lost', reason: err.message });
        },
      },
      (kind, message) => new KernelError(kind === 'start' ? 'TORTIE_NL_HELPER_START' : 'TORTIE_NL_HELPER_EXIT', message),
    );
    this.relay = relay;
    this.ready = relay.ready;
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
    this.sent = [];
    this.inFlight = 0;
  }

  private onFrame(tag: number, p: Buffer): void {
    switch (tag) {
      case Tag.REQUEST:
        for (const m of decodeMessages(p)) {
          if (m.kind === 'error') {
            const batch = this.batchOf(m.seq);
            if (batch) {
              const index = m.seq - batch.firstSeq;
              if (batch.results[index] === undefined) {
                batch.results[index] = m.errno ? { errno: m.errno, message: m.message } : OK;
                batch.remaining--;
              }
              this.acked(m.seq, m.seq);
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
      case Tag.ACK_RUN:
        // first..last were acked (the relay folds good acks into runs).
        this.acked(p.readUInt32LE(0), p.readUInt32LE(4));
        break;
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

  /**
   * Requests first..last were answered: every sent chunk up to the last one whose final request
   * is among them is complete, and its requests without an error succeeded.
   */
  private acked(first: number, last: number): void {
    const inRun = (c: Chunk) => c.lastSeq >= first && c.lastSeq <= last;
    // Replies come in order, so the chunk answered is nearly always the oldest one.
    let upto = this.sent.findIndex(inRun);
    if (upto < 0) return;
    while (upto + 1 < this.sent.length && inRun(this.sent[upto + 1])) upto++;
    for (const c of this.sent.splice(0, upto + 1)) {
      const b = c.batch;
      let done = 0;
      for (let i = c.from; i < c.to; i++) {
        if (b.results[i] === undefined) {
          b.results[i] = OK;
          done++;
        }
      }
      this.inFlight -= c.to - c.from;
      b.remaining -= done;
      if (b.remaining === 0 && this.batches.delete(b)) b.resolve(b.results);
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
    this.relay!.send(tag, payload);
  }

  /** Sends queued route requests while the window allows, in one write where it can. */
  private pump(): void {
    const relay = this.relay;
    if (!relay || !this.queue.length) return;
    let n = 0;
    while (n < this.queue.length && this.inFlight + (this.queue[n].to - this.queue[n].from) <= WINDOW) {
      const c = this.queue[n++];
      this.inFlight += c.to - c.from;
      this.sent.push(c);
    }
    if (n === 0) return;
    const chunks = this.queue.splice(0, n);
    // Chunks of one slice sit back to back in one buffer: send them as one view when they do.
    const first = chunks[0].frame;
    const last = chunks[n - 1].frame;
    if (n > 1 && first.buffer === last.buffer && last.byteOffset + last.length - first.byteOffset === chunks.reduce((t, c) => t + c.frame.length, 0)) {
      relay.write(Buffer.from(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset));
    } else {
      for (const c of chunks) relay.write(c.frame);
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

  async apply(ops: RouteOps): Promise<OpResult[]> {
    const n = ops.kinds.length;
    if (n === 0) return [];
    await this.start();
    // A batch takes a contiguous range of sequence numbers, so acks find it by arithmetic. The
    // whole range is taken now: a dump or sysctl between two slices must not land inside it.
    if (this.seq + n >= 0xfffffff0) this.seq = 0;
    let batch!: Batch;
    const done = new Promise<OpResult[]>((resolve, reject) => {
      batch = { firstSeq: this.seq + 1, results: new Array(n), remaining: n, resolve, reject };
    });
    this.seq += n;
    this.batches.add(batch);
    // Encode a slice, send it, and let acks in before the next one: the kernel (in the relay's
    // process, on another core) inserts routes while we are still encoding. A slice is encoded
    // into one buffer, a relay frame (one sendmsg) per PER_SEND requests, acked on the last.
    for (let start = 0; start < n; start += PER_SEND * 16) {
      const end = Math.min(n, start + PER_SEND * 16);
      this.encodeSlice(ops, batch, start, end);
      this.pump();
      if (end < n) await new Promise((r) => setImmediate(r));
      if (!this.batches.has(batch)) break; // the relay died and failAll rejected the batch
    }
    return done;
  }

  /**
   * Encodes operations start..end-1 into one buffer and queues them as chunks (a plain method,
   * not a loop inside the async apply, so V8 optimizes it once rather than on the stack per call).
   */
  private encodeSlice(ops: RouteOps, batch: Batch, start: number, end: number): void {
    const w = this.writer;
    const frames: Array<{ at: number; from: number; to: number }> = [];
    for (let at = start; at < end; at += PER_SEND) {
      const stop = Math.min(end, at + PER_SEND);
      const frameAt = w.len;
      w.reserve(8);
      w.len += 8;
      for (let index = at; index < stop; index++) encodeRouteOp(w, ops.kinds[index], ops.routes[index], batch.firstSeq + index, index === stop - 1);
      w.buf.writeUInt32LE(w.len - frameAt - 8, frameAt);
      w.buf.writeUInt32LE(InTag.NETLINK, frameAt + 4); // tag, then 3 zero bytes
      frames.push({ at: frameAt, from: at, to: stop });
    }
    const bytes = w.take();
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      const next = i + 1 < frames.length ? frames[i + 1].at : bytes.length;
      this.queue.push({ batch, from: f.from, to: f.to, lastSeq: batch.firstSeq + f.to - 1, frame: bytes.subarray(f.at, next) });
    }
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
    await this.relay?.stop();
  }
}
