/**
 * NETLINK_ROUTE sockets in any network namespace, through one long-lived tortie-nl relay
 * (native/tortie-nl.c, started with --no-monitor). The relay opens a namespace file (e.g. a pod's
 * /proc/PID/ns/net) and a socket inside it, and keeps the file open so that its descriptor can name
 * the namespace in later requests (IFLA_NET_NS_FD). Requests are built with netlink.ts; each
 * `request` is one sendmsg whose replies all come back before the next request's (the relay reads
 * the socket empty after each send, see its tag 9), so callers match replies by sequence number.
 *
 * For the CNI server: wiring a pod this way costs a few pipe round trips instead of `ip` processes.
 */
import { ensureHelper } from './helper-binary.ts';
import { decodeMessages, NlWriter, type Decoded } from './netlink.ts';
import { RelayProcess, errnoName } from './relay-process.ts';

const OutTag = { HELLO: 0, SYSCTL: 5, OPENED: 7, DATAGRAM: 8, END: 9 } as const;
const InTag = { SYSCTL: 2, OPEN: 3, SEND: 4, CLOSE: 5 } as const;

export const NetlinkNamespaceErrorCode = {
  /** The namespace file could not be opened or is not a network namespace. */
  OpenFailed: 'TORTIE_NETNS_OPEN_FAILED',
  /** The relay could not start, or exited with requests in flight. */
  RelayFailed: 'TORTIE_NL_RELAY_FAILED',
  /** sendmsg on the namespace socket failed as a whole (no per-message answer). */
  SendFailed: 'TORTIE_NETLINK_SEND_FAILED',
  SysctlFailed: 'TORTIE_SYSCTL_FAILED',
} as const;

export class NetlinkNamespaceError extends Error {
  readonly code: string;
  /** The errno behind it, when there is one (ENOENT: no such namespace file). */
  readonly errno: number;

  constructor(code: string, message: string, errno = 0) {
    super(message);
    this.name = 'NetlinkNamespaceError';
    this.code = code;
    this.errno = errno;
  }
}


/** A socket in one namespace; valid until closed or until the relay that made it exits. */
export interface NamespaceSocket {
  /** The relay's descriptor of the namespace file (-1 for the relay's own namespace). */
  readonly netnsFd: number;
  readonly socket: number;
  /** Which relay process made it: sockets do not survive a restart. */
  readonly generation: number;
}

interface Pending {
  datagrams: Buffer[];
  resolve: (frame: Buffer, datagrams: Buffer[]) => void;
  reject: (e: Error) => void;
}

export class NetlinkNamespaces {
  private relay: RelayProcess | undefined;
  private ready: Promise<void> | undefined;
  private generation = 0;
  /** Replies come in the order of requests: the head waits for the next OPENED or END frame. */
  private pending: Pending[] = [];
  private seq = 1;
  private own: Promise<NamespaceSocket> | undefined;
  private readonly helperPath: string | undefined;
  private readonly netns: string | undefined;

  /**
   * `netns`: a namespace file the relay enters first and calls its own (tests run it in theirs);
   * default: the caller's namespace.
   */
  constructor(opts: { helperPath?: string; netns?: string } = {}) {
    this.helperPath = opts.helperPath;
    this.netns = opts.netns;
  }

  /** PID of the running relay, if any (tests stop it to check recovery). */
  get relayPid(): number | undefined {
    return this.relay?.pid;
  }

  nextSeq(): number {
    this.seq = this.seq >= 0x7ffffff0 ? 1 : this.seq + 1;
    return this.seq;
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const path = this.helperPath ?? ensureHelper();
    const relay = new RelayProcess(
      path,
      ['--no-monitor', ...(this.netns ? [this.netns] : [])],
      {
        frame: (tag, p) => this.onFrame(tag, p),
        exit: (err) => {
          this.relay = undefined;
          this.ready = undefined;
          this.own = undefined;
          for (const p of this.pending.splice(0)) p.reject(err);
        },
      },
      (_kind, message) => new NetlinkNamespaceError(NetlinkNamespaceErrorCode.RelayFailed, message),
    );
    this.relay = relay;
    this.generation++;
    this.ready = relay.ready;
    return this.ready;
  }

  private onFrame(tag: number, p: Buffer): void {
    const head = this.pending[0];
    if (head && tag === OutTag.DATAGRAM) head.datagrams.push(p.subarray(4));
    else if (head && (tag === OutTag.OPENED || tag === OutTag.END || tag === OutTag.SYSCTL)) {
      this.pending.shift();
      head.resolve(p, head.datagrams);
    }
  }

  private async exchange(tag: number, payload: Buffer): Promise<{ frame: Buffer; datagrams: Buffer[] }> {
    await this.start();
    return new Promise((resolve, reject) => {
      this.pending.push({ datagrams: [], resolve: (frame, datagrams) => resolve({ frame, datagrams }), reject });
      this.relay!.send(tag, payload);
    });
  }

  /** Opens `path` (a network namespace file) and a socket in it. */
  async open(path: string): Promise<NamespaceSocket> {
    const p = Buffer.from(`\0\0\0\0${path}\0`, 'utf8');
    const { frame } = await this.exchange(InTag.OPEN, p);
    const errno = frame.readInt32LE(4);
    if (errno) throw new NetlinkNamespaceError(NetlinkNamespaceErrorCode.OpenFailed, `cannot open network namespace ${path || '(own)'}: ${errnoName(errno)}`, errno);
    return { netnsFd: frame.readInt32LE(8), socket: frame.readInt32LE(12), generation: this.generation };
  }

  /** A socket in the relay's own namespace (the agent's), opened once and kept. */
  ownNamespace(): Promise<NamespaceSocket> {
    if (!this.own) {
      this.own = this.open('');
      this.own.catch(() => (this.own = undefined));
    }
    return this.own;
  }

  /** Sends what `build` writes as one sendmsg on `s`; resolves with every reply, decoded. */
  async request(s: NamespaceSocket, build: (w: NlWriter) => void): Promise<Decoded[]> {
    if (s.generation !== this.generation || !this.relay) {
      throw new NetlinkNamespaceError(NetlinkNamespaceErrorCode.RelayFailed, 'the netlink relay was restarted: the namespace socket is gone');
    }
    const w = new NlWriter(1024);
    w.u32(s.socket);
    build(w);
    const { frame, datagrams } = await this.exchange(InTag.SEND, w.take());
    const errno = frame.readInt32LE(4);
    if (errno) throw new NetlinkNamespaceError(NetlinkNamespaceErrorCode.SendFailed, `netlink request failed: ${errnoName(errno)}`, errno);
    return datagrams.flatMap((d) => decodeMessages(d));
  }

  /** Writes /proc/sys/`path` in the relay's own namespace. */
  async writeSysctl(path: string, value: string): Promise<void> {
    const p = Buffer.from(`\0\0\0\0${path}\0${value}`, 'latin1');
    const { frame } = await this.exchange(InTag.SYSCTL, p);
    const errno = frame.readInt32LE(4);
    if (errno) throw new NetlinkNamespaceError(NetlinkNamespaceErrorCode.SysctlFailed, `sysctl ${path}=${value}: ${errnoName(errno)}`, errno);
  }

  /** Closes a socket from `open` and its namespace file. */
  close(s: NamespaceSocket): void {
    if (s.generation !== this.generation || !this.relay) return;
    const p = Buffer.alloc(16);
    p.writeUInt32LE(8, 0);
    p[4] = InTag.CLOSE;
    p.writeInt32LE(s.netnsFd, 8);
    p.writeInt32LE(s.socket, 12);
    this.relay.write(p);
  }

  /** Stops the relay (its sockets and namespace files close with it). */
  async stop(): Promise<void> {
    await this.relay?.stop();
  }
}

/** The ack of request `seq` in `replies`: errno 0 for success, undefined if none came. */
export function ackOf(replies: Decoded[], seq: number): { errno: number; message?: string } | undefined {
  for (const m of replies) if (m.kind === 'error' && m.seq === seq) return { errno: m.errno, message: m.message };
  return undefined;
}
