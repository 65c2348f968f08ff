/**
 * One running tortie-nl (native/tortie-nl.c) and its pipe framing, for both of its users: the route
 * controller's kernel channel (kernel-netlink.ts) and the CNI's namespace sockets
 * (netlink-namespaces.ts). Frames go both ways as: payload length (u32 LE), a tag byte, three spare
 * bytes, the payload. What the tags mean is each user's business.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';

const EMPTY = Buffer.alloc(0);

export const errnoName = (e: number): string => Object.entries(osConstants.errno).find(([, v]) => v === e)?.[0] ?? `errno ${e}`;

export interface RelayEvents {
  /** Each whole frame from the relay, in order. */
  frame(tag: number, payload: Buffer): void;
  /** After the frames of one read from the pipe: a chance to send more. */
  drained?(): void;
  /** The relay exited; `err` says how (made by the user's `error`). */
  exit(err: Error): void;
}

export class RelayProcess {
  readonly child: ChildProcess;
  /** Resolves at the relay's first output (its hello); rejects with why it never came. */
  readonly ready: Promise<void>;
  private inbuf: Buffer = EMPTY;
  private readonly events: RelayEvents;

  /** `error` makes the user's own error type for a relay that cannot start or that exits. */
  constructor(path: string, args: string[], events: RelayEvents, error: (kind: 'start' | 'exit', message: string) => Error) {
    this.events = events;
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
      child.on('error', (e) => reject(error('start', `cannot start ${path}: ${e.message}`)));
      child.on('exit', (code, signal) => {
        const err = error('exit', `${path} exited (${signal ?? code}): ${stderr.trim() || 'no message'}`);
        if (!hello) reject(err);
        this.inbuf = EMPTY;
        events.exit(err);
      });
      child.stdin!.on('error', () => undefined); // reported through 'exit'
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Bytes already framed (several frames back to back are fine). */
  write(framed: Buffer): void {
    this.child.stdin!.write(framed);
  }

  send(tag: number, payload: Buffer): void {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(payload.length, 0);
    h[4] = tag;
    this.write(Buffer.concat([h, payload]));
  }

  /** Closes its input, which ends it; killed if it has not exited 2 s later. */
  stop(): Promise<void> {
    const child = this.child;
    return new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.stdin!.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }

  private onData(d: Buffer): void {
    const buf = this.inbuf.length ? Buffer.concat([this.inbuf, d]) : d;
    let off = 0;
    while (buf.length - off >= 8) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off < 8 + len) break;
      this.events.frame(buf[off + 4], buf.subarray(off + 8, off + 8 + len));
      off += 8 + len;
    }
    // A partial frame waits for the next chunk; stream chunks are never reused, so no copy.
    this.inbuf = off < buf.length ? buf.subarray(off) : EMPTY;
    this.events.drained?.();
  }
}
