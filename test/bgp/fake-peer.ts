/**
 * A scripted BGP peer on loopback for unit tests: it accepts one connection (or dials), records
 * every message it receives, and sends whatever the test tells it to, byte for byte through the
 * codec. It runs no FSM of its own, so a test can make it misbehave at will.
 */
import net, { type Server, type Socket } from 'node:net';
import { Framer, decodeMessage, defaultCodecContext, encodeMessage } from '../../src/bgp/wire/index.ts';
import { buildOpen } from '../../src/bgp/session/open.ts';
import { Afi } from '../../src/bgp/wire/constants.ts';
import type { CodecContext, Message } from '../../src/bgp/wire/types.ts';

export class FakePeer {
  readonly received: Message[] = [];
  socket: Socket | null = null;
  closed = false;
  private server: Server | null = null;
  private readonly ctx: CodecContext;
  readonly address: string;
  port = 0;

  constructor(address: string, ctx: Partial<CodecContext> = {}) {
    this.address = address;
    this.ctx = defaultCodecContext({ fourOctetAs: true, ...ctx });
  }

  async listen(): Promise<void> {
    this.server = net.createServer((s) => this.attach(s));
    await new Promise<void>((r) => this.server!.listen({ host: this.address, port: 0 }, () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async dial(host: string, port: number): Promise<void> {
    const s = net.connect({ host, port, localAddress: this.address });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    this.attach(s);
  }

  private attach(s: Socket): void {
    this.socket = s;
    this.closed = false;
    const framer = new Framer();
    s.on('data', (chunk: Buffer) => {
      for (const m of framer.push(chunk).messages) {
        const r = decodeMessage(m, this.ctx);
        if (r.ok) this.received.push(r.value);
      }
    });
    s.on('close', () => (this.closed = true));
    s.on('error', () => undefined);
  }

  send(msg: Message): void {
    this.socket!.write(encodeMessage(msg, this.ctx));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket!.write(bytes);
  }

  /** OPEN then KEEPALIVE, as a well-behaved peer would. */
  handshake(opts: { asn: number; bgpId: number; holdTime: number; families?: Afi[] }): void {
    this.send(buildOpen({ localAsn: opts.asn, routerId: opts.bgpId, holdTime: opts.holdTime, families: opts.families ?? [Afi.IPv4, Afi.IPv6] }));
    this.send({ type: 'keepalive' });
  }

  ofType<T extends Message['type']>(type: T): Extract<Message, { type: T }>[] {
    return this.received.filter((m) => m.type === type) as Extract<Message, { type: T }>[];
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Polls `cond` until it holds or `timeoutMs` passes (real time; tests never assert on timing). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
